#include "core/heap_trimmer.h"

#include <malloc.h>

#include "core/process_memory.h"
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

size_t HeapTrimmer::FreeBytesInArenas() {
  return mallinfo2().fordblks;
}

size_t HeapTrimmer::TrimNow() {
  const int64_t before = ResidentBytes();
  malloc_trim(0);
  const int64_t after = ResidentBytes();
  return before > after ? static_cast<size_t>(before - after) : 0;
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
