#pragma once
// This process's memory as the kernel counts it (/proc/self/statm): the one reader for the warm-up
// memory measurement, the process_* metrics and the heap trimmer.

#include <cstdint>

namespace sightline {

struct ProcessMemory {
  int64_t virtual_bytes = 0;
  int64_t resident_bytes = 0;
};
// Zeros when /proc/self/statm cannot be read.
ProcessMemory ReadProcessMemory();
// ReadProcessMemory().resident_bytes.
int64_t ResidentBytes();

}  // namespace sightline
