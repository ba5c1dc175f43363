#include "tasks/remove_backgrounds.h"

namespace sightline::tasks {

void RemoveBackgrounds(BackgroundRemoval& task, scheduling::ServedModel& model, const ImageTaskDeps& deps,
                       std::vector<sources::ImageSource> images, RemoveBackgroundParams params,
                       RequestContextPtr context, std::function<void(RemoveBackgroundsResult)> done) {
  auto results = std::make_shared<ItemResults<RemovedBackground>>(images.size(), nullptr);
  TensorInferOptions opts;
  opts.context = context;
  auto work = [&task, &model, params, opts, results](size_t i, sources::Bytes bytes, ItemRun::Finish finish) {
    task.Run(model, std::move(bytes), params, opts, [results, i, finish](Result<RemoveBackgroundResult> r) {
      StageTiming t;
      if (!r.ok()) return finish(r.status(), t, false);
      const auto& rt = r->timing;
      t.decode_ms = rt.decode_ms + rt.preprocess_ms;
      t.queue_ms = rt.queue_ms;
      t.inference_ms = rt.infer_ms;
      const bool hit = r->cache_hit;
      results->Update(i, [&](RemovedBackground& item) { item.result = std::move(r).value(); });
      finish(Status::Ok(), t, hit);
    });
  };
  RunItems<RemovedBackground>(
      "remove_background", results, deps, std::move(images), kImageWindow, context, work,
      [name = model.config.name, done](std::vector<RemovedBackground> items, BatchSummary summary) {
        done(RemoveBackgroundsResult{name, std::move(items), summary});
      });
}

}  // namespace sightline::tasks
