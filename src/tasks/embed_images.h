// Batch image embedding (the photo service's "embed these 110 images"): any number of images by
// any way in, each answered in order with its CLIP embedding (and EXIF metadata when asked) or
// its own error, with the per-stage timing breakdown and throughput. With a captioner, each image
// is also captioned (the photo service's optional, most expensive step), after its embedding.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "tasks/caption.h"
#include "tasks/clip.h"
#include "tasks/image_batch.h"

namespace sightline::tasks {

struct EmbedImagesParams {
  bool metadata = false;
  // Set to caption each image with `captioner` (of `captioners`) under `caption_job`.
  const Captioners* captioners = nullptr;
  const CaptionerFamily* captioner = nullptr;
  std::optional<CaptionJob> caption_job;
};

struct EmbeddedImage {
  Status status;  // ok, or this item's error
  Embedding embedding;
  std::optional<media::ImageMetadata> metadata;
  std::optional<std::string> caption;  // with a captioner
  StageTiming timing;
  bool cache_hit = false;
};

struct EmbedImagesResult {
  std::string model;
  std::vector<EmbeddedImage> items;  // in input order
  BatchSummary summary;
};

// `on_item(index, item)` (optional) reports each item as it ends, for streaming; `done` fires
// once with every item. Metadata is read on the work pool, never on the caller's or a batcher
// thread.
void EmbedImages(ClipService& clip, const ClipFamily& family, const ImageTaskDeps& deps,
                 std::vector<sources::ImageSource> images, EmbedImagesParams params,
                 RequestContextPtr context, std::function<void(size_t, const EmbeddedImage&)> on_item,
                 std::function<void(EmbedImagesResult)> done);

}  // namespace sightline::tasks
