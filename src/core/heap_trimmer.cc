#include "core/heap_trimmer.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdio>

#include "core/thread_name.h"

namespace sightline {

HeapTrimmer::HeapTrimmer(Options options, OnTrim on_trim) : options_(options), on_trim_(std::move(on_trim)) {
  if (options_.interval.count() > 0) thread_ = std::thread([this] { Run(); });
}

HeapTrimmer::~HeapTrimmer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t HeapTrimmer::ResidentBytes() {
  size_t bytes = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    unsigned long size = 0, rss = 0;
    if (std::fscanf(f, "%lu %lu", &size, &rss) == 2) bytes = rss * static_cast<size_t>(sysconf(_SC_PAGESIZE));
    std::fclose(f);
  }
  return bytes;
}

size_t HeapTrimmer::FreeBytesInArenas() {
  return mallinfo2().fordblks;
}

size_t HeapTrimmer::TrimNow() {
  const size_t before = ResidentBytes();
  malloc_trim(0);
  const size_t after = ResidentBytes();
  return before > after ? before - after : 0;
}

void HeapTrimmer::Run() {
  NameThisThread("sl-heap-trim");
  std::unique_lock lock(mu_);
  while (!wake_.wait_for(lock, options_.interval, [this] { return stopping_; })) {
    if (FreeBytesInArenas() < options_.min_free_bytes) continue;
    lock.unlock();
    const size_t released = TrimNow();
    if (on_trim_) on_trim_(released);
    lock.lock();
  }
}

}  // namespace sightline
