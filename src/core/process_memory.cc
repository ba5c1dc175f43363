#include "core/process_memory.h"

#include <unistd.h>

#include <cstdio>

namespace sightline {

ProcessMemory ReadProcessMemory() {
  ProcessMemory m;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    unsigned long size = 0, rss = 0;
    if (std::fscanf(f, "%lu %lu", &size, &rss) == 2) {
      const auto page = static_cast<int64_t>(sysconf(_SC_PAGESIZE));
      m.virtual_bytes = static_cast<int64_t>(size) * page;
      m.resident_bytes = static_cast<int64_t>(rss) * page;
    }
    std::fclose(f);
  }
  return m;
}

int64_t ResidentBytes() {
  return ReadProcessMemory().resident_bytes;
}

}  // namespace sightline
