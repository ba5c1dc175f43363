#include "tasks/image_metadata.h"

namespace sightline::tasks {

void ReadImagesMetadata(const ImageTaskDeps& deps, std::vector<sources::ImageSource> images,
                        RequestContextPtr context, std::function<void(ImageMetadataResult)> done) {
  auto results = std::make_shared<ItemResults<ImageMetadataItem>>(images.size(), nullptr);
  auto work = [deps, results](size_t i, sources::Bytes bytes, ItemRun::Finish finish) {
    const auto t0 = std::chrono::steady_clock::now();
    auto md = ReadMetadata(deps, *bytes);  // on the work pool
    StageTiming t;
    t.decode_ms = MsSince(t0);
    if (!md.ok()) return finish(md.status(), t, false);
    results->Update(i, [&](ImageMetadataItem& item) { item.metadata = std::move(md).value(); });
    finish(Status::Ok(), t, false);
  };
  // Metadata reads no pixels: a wide window.
  RunItems<ImageMetadataItem>("image_metadata", results, deps, std::move(images), 32, context, work,
                              [done](std::vector<ImageMetadataItem> items, BatchSummary summary) {
                                done(ImageMetadataResult{std::move(items), summary});
                              });
}

}  // namespace sightline::tasks
