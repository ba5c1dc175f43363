#include "observability/process_metrics.h"

#include <malloc.h>

#include "core/process_memory.h"

namespace sightline::observability {

void RegisterProcessMetrics(MetricsRegistry& registry) {
  Gauge& resident =
      registry.AddGauge("process_resident_memory_bytes", "Resident memory size in bytes").WithLabels({});
  Gauge& virt =
      registry.AddGauge("process_virtual_memory_bytes", "Virtual memory size in bytes").WithLabels({});
  auto& heap = registry.AddGauge("sightline_malloc_bytes",
                                 "glibc malloc: bytes in use, free inside its arenas, and in mmapped chunks",
                                 {"state"});
  Gauge& in_use = heap.WithLabels({"in_use"});
  Gauge& free_in_arenas = heap.WithLabels({"free_in_arenas"});
  Gauge& mmapped = heap.WithLabels({"mmapped"});
  registry.AddCollector([&resident, &virt, &in_use, &free_in_arenas, &mmapped] {
    if (const ProcessMemory m = ReadProcessMemory(); m.resident_bytes > 0) {
      virt.Set(static_cast<double>(m.virtual_bytes));
      resident.Set(static_cast<double>(m.resident_bytes));
    }
    const struct mallinfo2 mi = mallinfo2();
    in_use.Set(static_cast<double>(mi.uordblks + mi.hblkhd));
    free_in_arenas.Set(static_cast<double>(mi.fordblks));
    mmapped.Set(static_cast<double>(mi.hblkhd));
  });
}

}  // namespace sightline::observability
