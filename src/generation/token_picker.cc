#include "generation/token_picker.h"

#include <algorithm>

#include "generation/logits_processing.h"

namespace sightline::generation {

int64_t TokenPicker::Next(std::span<const float> logits, std::span<const int64_t> sequence,
                          size_t prompt_length) {
  std::vector<double> scores = ToScores(logits);
  ApplyProcessors(scores, sequence, prompt_length, params_);
  if (!params_.do_sample) return Argmax(scores);
  ApplyWarpers(scores, params_);
  return Draw(scores, rng_);
}

bool TokenPicker::IsEos(int64_t id) const {
  return std::find(params_.eos_token_ids.begin(), params_.eos_token_ids.end(), id) !=
         params_.eos_token_ids.end();
}

}  // namespace sightline::generation
