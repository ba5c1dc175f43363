// The sightline.json blocks that tasks own. The model loader keeps these as text for their task
// to parse (with errors naming file and field); any other unknown block stops start-up.
// A task with a config block of its own adds its name here.
#pragma once

#include <set>
#include <string>

#include "tasks/adaptive_quality_config.h"
#include "tasks/image_classifier.h"
#include "tasks/zero_shot_config.h"

namespace sightline::tasks {

inline std::set<std::string> TaskConfigBlocks() {
  return {kZeroShotBlock, kAdaptiveQualityBlock, kClassificationBlock};
}

}  // namespace sightline::tasks
