// What the many-image tasks share: the dependencies they resolve and decode with, the timing
// breakdown every such answer carries, and a runner that takes any number of image sources,
// fetches them with the fetch pool's concurrency, and admits only a few at a time into decoding
// and inference (so 1000 images never flood a queue nor sit decoded in memory at once). Each
// item ends with its own result or its own error; one bad item never fails the others.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/request_context.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "media/image_metadata.h"
#include "observability/metrics.h"
#include "sources/source_resolver.h"

namespace sightline::tasks {

// Items of one request in flight through decoding and inference at once.
inline constexpr size_t kImageWindow = 8;

// Reads an image's metadata (media::ReadImageMetadata unless a test injects another).
using MetadataReader = std::function<Result<media::ImageMetadata>(const uint8_t*, size_t)>;

struct ImageTaskDeps {
  const sources::SourceResolver* sources = nullptr;
  ThreadPool* pool = nullptr;    // decoding, metadata, post-processing: the work pool
  MetadataReader read_metadata;  // empty: media::ReadImageMetadata
  // sightline_task_items_total{task, outcome}: items ended, by outcome (ok, error, cancelled).
  // Null: not counted.
  observability::Family<observability::Counter>* items = nullptr;
};

// Per-stage milliseconds. For one item, its own; for a batch, stages summed over items (they
// overlap in wall time) and total_ms the batch's wall time.
struct StageTiming {
  double download_ms = 0, decode_ms = 0, queue_ms = 0, inference_ms = 0, total_ms = 0;
  void Add(const StageTiming& o) {
    download_ms += o.download_ms;
    decode_ms += o.decode_ms;
    queue_ms += o.queue_ms;
    inference_ms += o.inference_ms;
  }
};

struct BatchSummary {
  size_t succeeded = 0, failed = 0, cache_hits = 0;
  StageTiming timing;
  double images_per_s = 0;
};

// Runs `n` items of `task` (its metrics label): item i's source is resolved (fetch pool), then `work(i,
// bytes, finish)` runs on the work pool once one of `width` slots is free; it must call `finish(status,
// timing)` exactly once (any thread). Whatever the items do, `on_item(i, status)` reports each as it ends,
// and `done(summary)` fires once after the last. A cancelled context stops admitting items: those not yet
// started end with kCancelled.
struct ItemRun {
  using Finish = std::function<void(Status, StageTiming, bool cache_hit)>;
  using Work = std::function<void(size_t index, sources::Bytes bytes, Finish finish)>;
  using ItemCallback = std::function<void(size_t index, const Status& status, const StageTiming& timing)>;
  static void Start(const char* task, const ImageTaskDeps& deps, std::vector<sources::ImageSource> sources,
                    size_t width, const RequestContextPtr& context, Work work, ItemCallback on_item,
                    std::function<void(BatchSummary)> done);
};

// The per-item results of a many-image task (Item has `status` and `timing`): the item work
// fills its entry (Update), ItemRun ends it (End: status and timing, then `on_item` with a copy,
// for streaming), and the task takes them all once the last has ended (Take).
template <typename Item>
class ItemResults {
 public:
  using OnItem = std::function<void(size_t, const Item&)>;
  ItemResults(size_t n, OnItem on_item) : items_(n), on_item_(std::move(on_item)) {}

  template <typename F>
  void Update(size_t i, F&& fill) {
    std::lock_guard lock(mu_);
    fill(items_[i]);
  }
  void End(size_t i, const Status& status, const StageTiming& timing) {
    std::unique_lock lock(mu_);
    items_[i].status = status;
    items_[i].timing = timing;
    if (!on_item_) return;
    Item copy = items_[i];
    lock.unlock();
    on_item_(i, copy);
  }
  std::vector<Item> Take() {
    std::lock_guard lock(mu_);
    return std::move(items_);
  }

 private:
  std::mutex mu_;
  std::vector<Item> items_;
  OnItem on_item_;
};

// ItemRun::Start with `results` collecting the items (the work fills them through
// results->Update): `done` gets them all, in order, with the summary.
template <typename Item>
void RunItems(const char* task, std::shared_ptr<ItemResults<Item>> results, const ImageTaskDeps& deps,
              std::vector<sources::ImageSource> sources, size_t width, const RequestContextPtr& context,
              ItemRun::Work work, std::function<void(std::vector<Item>, BatchSummary)> done) {
  ItemRun::Start(
      task, deps, std::move(sources), width, context, std::move(work),
      [results](size_t i, const Status& s, const StageTiming& t) { results->End(i, s, t); },
      [results, done = std::move(done)](BatchSummary summary) { done(results->Take(), summary); });
}

// The metadata of `bytes` through `deps` (its reader or the media one).
Result<media::ImageMetadata> ReadMetadata(const ImageTaskDeps& deps, const std::string& bytes);

double MsSince(std::chrono::steady_clock::time_point t);

}  // namespace sightline::tasks
