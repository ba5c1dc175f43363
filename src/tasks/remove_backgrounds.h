// Background removal of one or many images in one request: each image resolved, then at most
// a few at a time through BackgroundRemoval::Run (decode, ISNet through its batcher, matte,
// effects, encode; the result cache), each answered in order with its outputs or its own error,
// with the stage timing summed over items.
#pragma once

#include <functional>
#include <vector>

#include "tasks/background_removal.h"
#include "tasks/image_batch.h"

namespace sightline::tasks {

struct RemovedBackground {
  Status status;  // ok, or this item's error
  RemoveBackgroundResult result;
  StageTiming timing;
};

struct RemoveBackgroundsResult {
  std::string model;
  std::vector<RemovedBackground> items;  // in input order
  BatchSummary summary;
};

void RemoveBackgrounds(BackgroundRemoval& task, scheduling::ServedModel& model, const ImageTaskDeps& deps,
                       std::vector<sources::ImageSource> images, RemoveBackgroundParams params,
                       RequestContextPtr context, std::function<void(RemoveBackgroundsResult)> done);

}  // namespace sightline::tasks
