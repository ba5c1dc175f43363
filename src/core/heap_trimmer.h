#pragma once
// Gives the free pages inside glibc's malloc arenas back to the OS on a timer.
//
// Why: glibc returns memory to the OS only from the top of an arena (M_TRIM_THRESHOLD) and from
// mmapped chunks. Free chunks in the middle of a fragmented arena stay resident, and under mixed
// traffic (decoded images, tensors, JSON of every size, across ~90 threads) that free space grew
// ~1.2 MB/min for half an hour after the caches were full (issue 11, report 12; bench/run_soak.py).
// malloc_trim(0) walks every arena and madvise(MADV_DONTNEED)s each whole free page, which is the
// only glibc call that reaches them. It takes the arena locks one at a time, so it runs on its own
// thread, never on an I/O or batcher thread, and only when the free bytes warrant it.
//
// Under a sanitizer or another allocator (jemalloc, tcmalloc) malloc_trim has nothing to do and
// the trimmer only costs one wake-up per interval.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>

namespace sightline {

class HeapTrimmer {
 public:
  struct Options {
    // How often the free bytes are looked at; zero or less disables the thread.
    std::chrono::milliseconds interval{10'000};
    // Trim only when at least this much is free inside the arenas (mallinfo2().fordblks): below
    // it a trim releases too little to matter and takes the arena locks for nothing.
    size_t min_free_bytes = 16u << 20;
  };
  // Called after each trim on the trimmer's thread: resident bytes released (may be 0).
  using OnTrim = std::function<void(size_t released_bytes)>;

  HeapTrimmer(Options options, OnTrim on_trim);
  ~HeapTrimmer();  // stops the thread (waking it at once) and joins
  HeapTrimmer(const HeapTrimmer&) = delete;
  HeapTrimmer& operator=(const HeapTrimmer&) = delete;

  // One trim now, on the caller's thread. Returns the resident bytes it released (RSS from
  // /proc/self/statm before minus after; 0 when it grew meanwhile).
  static size_t TrimNow();
  // Bytes free inside malloc's arenas (mallinfo2().fordblks).
  static size_t FreeBytesInArenas();

 private:
  void Run();

  const Options options_;
  const OnTrim on_trim_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sightline
