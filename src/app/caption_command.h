// `sightline caption FILE... [--prompt P]`: captions image files without a server. Loads the
// model repository and runs the same task /v1/caption runs (encoder batcher, generation
// scheduler: the files are decoded in step with each other), printing one JSON line per file.
#pragma once

#include <string>
#include <vector>

#include "tasks/caption.h"

namespace sightline::app {

struct CaptionOptions {
  std::vector<std::string> inputs;
  std::string model_repository = "models";
  std::string model;  // the captioner's folder; default: the first
  std::string prompt;
  tasks::GenerationOverrides generation;
};

int RunCaption(const CaptionOptions& options);

}  // namespace sightline::app
