// How large a batch memory allows: the per-item cost is measured during warm-up (resident memory
// after a batch-1 run against after the largest warm-up batch), the budget is half of what the
// machine (or the cgroup) has available, and the bound is capped at 256.
#pragma once

#include <cstdint>

namespace sightline::runtime {

// Bytes the process could still use: MemAvailable, lowered to the cgroup v2 limit's headroom.
int64_t AvailableMemoryBytes();
// floor(fraction x available / per_item), at least 1, at most cap.
int MemorySafeBatchLimit(int64_t per_item_bytes, int64_t available_bytes, double fraction = 0.5,
                         int cap = 256);

}  // namespace sightline::runtime
