// `sightline summarize-video FILE [options]`: the /v1/videos/summarize pipeline on a local file,
// no server — shots, keyframes, duplicates dropped, captions from the repository's first
// captioner (when it has one and --no-captions is not given), safety flags from its safety
// classifier (unless --no-safety), the summary and the timing block —
// printed as the route's JSON answer.
#pragma once

#include <string>

#include "tasks/summarize_video.h"

namespace sightline::app {

struct SummarizeVideoOptions {
  std::string input;
  std::string model_repository = "models";
  std::string detector = "adaptive";
  bool no_captions = false;
  bool no_safety = false;
  std::string keyframes = "none";  // base64 | none
  tasks::SummarizeVideoParams params;
};

int RunSummarizeVideo(const SummarizeVideoOptions& options);

}  // namespace sightline::app
