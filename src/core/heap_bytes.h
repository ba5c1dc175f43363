// What a heap allocation really costs, for caches that report their size: the bytes asked for plus
// the allocator's per-block header and alignment. Without it a cache of many small entries reports
// half of what it holds (a 2 KB embedding is one block; its key, its hash-map node and its list
// node are three more of ~50-100 bytes each).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>

namespace sightline {

// glibc malloc on 64-bit: a chunk is the request plus an 8-byte size field, rounded up to 16, and
// never under 32 bytes (malloc/malloc.c: SIZE_SZ, MALLOC_ALIGNMENT, MINSIZE). jemalloc's size classes
// are at most this wasteful for the sizes caches hold, so the figure is an upper bound there.
constexpr size_t HeapBlockBytes(size_t requested) {
  return std::max<size_t>(32, (requested + 8 + 15) & ~size_t{15});
}

// Heap bytes a std::string owns beyond sizeof(std::string): none while it fits the short-string
// buffer (15 characters in libstdc++), else one block of capacity() + 1.
inline size_t StringHeapBytes(const std::string& s) {
  return s.capacity() > 15 ? HeapBlockBytes(s.capacity() + 1) : 0;
}

}  // namespace sightline
