#include "tasks/embed_images.h"

#include <mutex>

namespace sightline::tasks {

void EmbedImages(ClipService& clip, const ClipFamily& family, const ImageTaskDeps& deps,
                 std::vector<sources::ImageSource> images, EmbedImagesParams params,
                 RequestContextPtr context, std::function<void(size_t, const EmbeddedImage&)> on_item,
                 std::function<void(EmbedImagesResult)> done) {
  struct State {
    std::mutex mu;
    EmbedImagesResult result;
  };
  auto st = std::make_shared<State>();
  st->result.model = family.name;
  st->result.items.resize(images.size());
  TensorInferOptions opts;
  opts.context = context;
  auto work = [&clip, &family, deps, params, opts, st](size_t i, sources::Bytes bytes,
                                                       ItemRun::Finish finish) {
    // On the work pool: metadata here, then the embedding (decode on the pool, inference on the
    // vision tower's batcher, completion back on the pool).
    std::optional<media::ImageMetadata> md;
    if (params.metadata) {
      auto m = ReadMetadata(deps, *bytes);
      if (m.ok()) md = std::move(m).value();
    }
    clip.EmbedImage(family, bytes, opts,
                    [st, i, md = std::move(md), finish](Result<ImageEmbedding> e) mutable {
                      StageTiming t;
                      if (!e.ok()) return finish(e.status(), t, false);
                      t.decode_ms = e->decode_ms;
                      t.queue_ms = e->queue_ms;
                      t.inference_ms = e->infer_ms;
                      {
                        std::lock_guard lock(st->mu);
                        auto& item = st->result.items[i];
                        item.embedding = std::move(e.value().embedding);
                        item.metadata = std::move(md);
                        item.cache_hit = e->cache_hit;
                      }
                      finish(Status::Ok(), t, e->cache_hit);
                    });
  };
  auto report = [st, on_item](size_t i, const Status& s, const StageTiming& t) {
    std::unique_lock lock(st->mu);
    auto& item = st->result.items[i];
    item.status = s;
    item.timing = t;
    if (!on_item) return;
    EmbeddedImage copy = item;
    lock.unlock();
    on_item(i, copy);
  };
  ItemRun::Start(deps, std::move(images), kImageWindow, context, work, report,
                 [st, done = std::move(done)](BatchSummary summary) {
                   std::unique_lock lock(st->mu);
                   st->result.summary = summary;
                   EmbedImagesResult out = std::move(st->result);
                   lock.unlock();
                   done(std::move(out));
                 });
}

}  // namespace sightline::tasks
