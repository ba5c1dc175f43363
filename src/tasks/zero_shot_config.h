// The `zero_shot` block of a CLIP folder's sightline.json, the CLIP task's own config:
//   "zero_shot": {"logit_scale": 100, "prompt_template": "a photo of a {}",
//                 "label_sets": {"animals": ["cat", "dog"]},
//                 "ensembles": {"animals": {"classifier": "animals-cnn", "low": 0.3, "high": 0.9,
//                               "priority_labels": ["bird"], "clip_timeout_ms": 1000,
//                               "classifier_outputs_probabilities": false}}}
// Errors name the file and the field, like every config error.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace sightline::tasks {

struct ZeroShotConfig {
  double logit_scale = 100.0;  // CLIP's trained exp(logit_scale) is 100
  std::string prompt_template = "a photo of a {}";
  std::vector<std::pair<std::string, std::vector<std::string>>> label_sets;  // embedded at start-up
  // Confidence-gated ensembles: a label set paired with a conventional classifier model whose
  // outputs are the same labels in the same order. CLIP runs only when the classifier's top-1
  // confidence is in [low, high) or its top label is a priority label.
  struct Ensemble {
    std::string label_set;
    std::string classifier;  // model name in the repository
    double low = 0.3;
    double high = 0.9;
    std::vector<std::string> priority_labels;
    int64_t clip_timeout_ms = 1000;
    bool classifier_outputs_probabilities = false;  // else logits: softmax applied
  };
  std::vector<Ensemble> ensembles;
};

// The block's name in sightline.json.
inline constexpr const char* kZeroShotBlock = "zero_shot";

// `block_json`: the block as JSON text (runtime::ModelConfig::task_blocks); empty: defaults.
Result<ZeroShotConfig> ParseZeroShotConfig(const std::string& block_json, const std::string& file_label);

}  // namespace sightline::tasks
