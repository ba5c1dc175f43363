// Metadata of one or many images (camera, lens, capture time, GPS, exposure; /v1/metadata):
// each source resolved, then read on the work pool, one result or error per image, in order.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "tasks/image_batch.h"

namespace sightline::tasks {

struct ImageMetadataItem {
  Status status;  // ok, or this item's error
  media::ImageMetadata metadata;
  StageTiming timing;
};

struct ImageMetadataResult {
  std::vector<ImageMetadataItem> items;  // in input order
  BatchSummary summary;
};

void ReadImagesMetadata(const ImageTaskDeps& deps, std::vector<sources::ImageSource> images,
                        RequestContextPtr context, std::function<void(ImageMetadataResult)> done);

}  // namespace sightline::tasks
