#pragma once
// Names the calling thread (shown by top -H, perf, gdb and /proc/PID/task/*/comm), so an
// operator can tell the I/O threads from the inference threads. Linux keeps 15 characters.

#include <string_view>

namespace sightline {

void NameThisThread(std::string_view name);

}  // namespace sightline
