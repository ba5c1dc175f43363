#include "tasks/embed_images.h"

namespace sightline::tasks {

void EmbedImages(ClipService& clip, const ClipFamily& family, const ImageTaskDeps& deps,
                 std::vector<sources::ImageSource> images, EmbedImagesParams params,
                 RequestContextPtr context, std::function<void(size_t, const EmbeddedImage&)> on_item,
                 std::function<void(EmbedImagesResult)> done) {
  auto results = std::make_shared<ItemResults<EmbeddedImage>>(images.size(), std::move(on_item));
  TensorInferOptions opts;
  opts.context = context;
  auto work = [&clip, &family, deps, params, opts, results, context](size_t i, sources::Bytes bytes,
                                                                     ItemRun::Finish finish) {
    // On the work pool: metadata here, then the embedding (decode on the pool, inference on the
    // vision tower's batcher, completion back on the pool).
    std::optional<media::ImageMetadata> md;
    if (params.metadata) {
      auto m = ReadMetadata(deps, *bytes);
      if (m.ok()) md = std::move(m).value();
    }
    clip.EmbedImage(
        family, bytes, opts,
        [results, i, md = std::move(md), finish, params, bytes, deps,
         context](Result<ImageEmbedding> e) mutable {
          StageTiming t;
          if (!e.ok()) return finish(e.status(), t, false);
          t.decode_ms = e->decode_ms;
          t.queue_ms = e->queue_ms;
          t.inference_ms = e->infer_ms;
          const bool hit = e->cache_hit;
          results->Update(i, [&](EmbeddedImage& item) {
            item.embedding = std::move(e.value().embedding);
            item.metadata = std::move(md);
            item.cache_hit = hit;
          });
          if (!params.caption_job) return finish(Status::Ok(), t, hit);
          // Then its caption; a caption that fails fails the item.
          CaptionOne(*params.captioners, *params.captioner, *deps.pool, bytes, *params.caption_job, i,
                     context, [results, i, finish, t, hit](CaptionedImage c, StageTiming ct) mutable {
                       t.Add(ct);
                       if (c.status.ok())
                         results->Update(i, [&](EmbeddedImage& item) { item.caption = std::move(c.text); });
                       finish(c.status, t, hit);
                     });
        });
  };
  RunItems<EmbeddedImage>(
      "embed_images", results, deps, std::move(images), kImageWindow, context, work,
      [model = family.name, done = std::move(done)](std::vector<EmbeddedImage> items, BatchSummary summary) {
        done(EmbedImagesResult{model, std::move(items), summary});
      });
}

}  // namespace sightline::tasks
