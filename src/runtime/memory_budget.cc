#include "runtime/memory_budget.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <string>

namespace sightline::runtime {

int64_t AvailableMemoryBytes() {
  int64_t avail = -1;
  std::ifstream mi("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (mi >> key >> kb >> unit)
    if (key == "MemAvailable:") {
      avail = kb * 1024;
      break;
    }
  // cgroup v2: a container's limit may be far below the host's free memory.
  std::ifstream maxf("/sys/fs/cgroup/memory.max"), curf("/sys/fs/cgroup/memory.current");
  std::string max_s;
  int64_t cur = 0;
  if (maxf >> max_s && max_s != "max" && curf >> cur) {
    const int64_t headroom = std::stoll(max_s) - cur;
    avail = avail < 0 ? headroom : std::min(avail, headroom);
  }
  return avail < 0 ? std::numeric_limits<int64_t>::max() / 4 : std::max<int64_t>(avail, 0);
}

int MemorySafeBatchLimit(int64_t per_item_bytes, int64_t available_bytes, double fraction, int cap) {
  if (per_item_bytes <= 0) return cap;
  const double n = fraction * static_cast<double>(available_bytes) / static_cast<double>(per_item_bytes);
  return static_cast<int>(std::clamp(n, 1.0, static_cast<double>(cap)));
}

}  // namespace sightline::runtime
