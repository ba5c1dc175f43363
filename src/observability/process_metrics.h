// Where the process's memory is, read at every scrape: resident and virtual size (/proc/self/
// statm, Prometheus' standard process_* names) and glibc malloc's view (mallinfo2: bytes in use,
// free inside the arenas, and in mmapped chunks). With the caches' own byte gauges
// (sightline_result_cache_bytes, sightline_embedding_cache_bytes) and the models' weights, these
// account for the RSS, and tell fragmentation (free in arenas) from growth (in use).
#pragma once

#include "observability/metrics.h"

namespace sightline::observability {

void RegisterProcessMetrics(MetricsRegistry& registry);

}  // namespace sightline::observability
