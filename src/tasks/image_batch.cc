#include "tasks/image_batch.h"

#include <mutex>

#include "core/concurrency_window.h"

namespace sightline::tasks {

double MsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

Result<media::ImageMetadata> ReadMetadata(const ImageTaskDeps& deps, const std::string& bytes) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  return deps.read_metadata ? deps.read_metadata(data, bytes.size())
                            : media::ReadImageMetadata(data, bytes.size());
}

namespace {

// An item's error, named by where the item came from (once: errors made while reading the
// request already start with the label).
Status Labelled(const Status& s, const std::string& label) {
  return s.message().rfind(label, 0) == 0 ? s : s.Prefixed(label + ": ");
}

struct RunState {
  std::mutex mu;
  BatchSummary summary;
  size_t left = 0;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::unique_ptr<ConcurrencyWindow> window;
  ItemRun::ItemCallback on_item;
  std::function<void(BatchSummary)> done;
  observability::Counter* ok = nullptr;
  observability::Counter* error = nullptr;
  observability::Counter* cancelled = nullptr;

  void End(size_t i, const Status& s, const StageTiming& t, bool cache_hit) {
    if (on_item) on_item(i, s, t);
    auto* outcome = s.ok() ? ok : s.code() == StatusCode::kCancelled ? cancelled : error;
    if (outcome) outcome->Inc();
    std::unique_lock lock(mu);
    (s.ok() ? summary.succeeded : summary.failed) += 1;
    summary.cache_hits += cache_hit ? 1 : 0;
    summary.timing.Add(t);
    if (--left > 0) return;
    summary.timing.total_ms = MsSince(start);
    const double secs = summary.timing.total_ms / 1000.0;
    summary.images_per_s = secs > 0 ? static_cast<double>(summary.succeeded + summary.failed) / secs : 0;
    lock.unlock();
    done(summary);
  }
};

}  // namespace

void ItemRun::Start(const char* task, const ImageTaskDeps& deps, std::vector<sources::ImageSource> sources,
                    size_t width, const RequestContextPtr& context, Work work, ItemCallback on_item,
                    std::function<void(BatchSummary)> done) {
  auto st = std::make_shared<RunState>();
  st->left = sources.size();
  st->window = std::make_unique<ConcurrencyWindow>(width);
  st->on_item = std::move(on_item);
  st->done = std::move(done);
  if (deps.items) {
    st->ok = &deps.items->WithLabels({task, "ok"});
    st->error = &deps.items->WithLabels({task, "error"});
    st->cancelled = &deps.items->WithLabels({task, "cancelled"});
  }
  if (sources.empty()) return st->done(st->summary);
  auto shared_work = std::make_shared<Work>(std::move(work));
  ThreadPool* pool = deps.pool;
  for (size_t i = 0; i < sources.size(); ++i) {
    const auto fetch_start = std::chrono::steady_clock::now();
    const std::string label = sources[i].label;
    deps.sources->Resolve(
        std::move(sources[i]), context,
        [st, shared_work, pool, context, i, label, fetch_start](Result<sources::Bytes> bytes) {
          StageTiming t;
          t.download_ms = MsSince(fetch_start);
          if (!bytes.ok()) return st->End(i, Labelled(bytes.status(), label), t, false);
          // Decoding and inference wait for a slot; the start hops to the pool (a slot freed by
          // a batcher completion must not start the next decode on that thread).
          st->window->Acquire([st, shared_work, pool, context, i, label, t, fetch_start,
                               b = std::move(bytes).value()] {
            pool->Submit([st, shared_work, context, i, label, t, fetch_start, b] {
              if (context && context->cancelled()) {
                st->window->Release();
                return st->End(i, Status(StatusCode::kCancelled, label + ": client went away"), t, false);
              }
              if (context && context->expired()) {
                st->window->Release();
                return st->End(
                    i, Status(StatusCode::kDeadlineExceeded, label + ": the request's deadline passed"), t,
                    false);
              }
              (*shared_work)(i, b, [st, i, label, t, fetch_start](Status s, StageTiming own, bool cache_hit) {
                own.download_ms = t.download_ms;
                // The item's own wall time, fetch to answer, where the work did not say.
                if (own.total_ms == 0) own.total_ms = MsSince(fetch_start);
                st->window->Release();
                st->End(i, s.ok() ? s : Labelled(s, label), own, cache_hit);
              });
            });
          });
        });
  }
}

}  // namespace sightline::tasks
