// The repository's shot-boundary network (TransNetV2, converted at set-up by
// scripts/transnetv2_onnx.py), for detector=transnetv2. A model is one when its sightline.json
// says "task": "shot_boundary_detection"; its first input must be uint8 [batch, 100, 27, 48, 3]
// (RGB frames, 48 wide) and it must have an FP32 output `output` [batch, 100, 1] of per-frame
// transition probabilities. Windows run on the model's batcher like any request, so shot
// detection for several videos batches, and the request's deadline and hang-up reach the queue.
#pragma once

#include "core/request_context.h"
#include "core/status.h"
#include "media/video/transnetv2_detector.h"
#include "scheduling/model_registry.h"

namespace sightline::tasks {

inline constexpr const char* kShotBoundaryTask = "shot_boundary_detection";

// The first shot_boundary_detection model of `models`; null when there is none. Errors:
// kFailedPrecondition naming the file when its signature is not TransNetV2's.
Result<scheduling::ServedModel*> FindShotBoundaryModel(const scheduling::ModelRegistry& models);

// Runs windows on `model` for one request (`context`: its deadline and cancellation).
media::TransNetV2Runner ShotBoundaryRunner(scheduling::ServedModel& model, RequestContextPtr context);

}  // namespace sightline::tasks
