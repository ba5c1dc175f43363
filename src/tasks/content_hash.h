// Content hash of request bytes for cache keys: XXH3-128 as 32 hex digits. 128 bits make
// collisions a non-concern; hashing 10 MB costs ~1 ms.
#pragma once

#include <string>
#include <string_view>

namespace sightline::tasks {

std::string ContentHash(std::string_view bytes);

}  // namespace sightline::tasks
