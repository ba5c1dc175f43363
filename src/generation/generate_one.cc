#include "generation/generate_one.h"

#include "generation/beam_search.h"
#include "generation/tensor_rows.h"
#include "generation/token_picker.h"

namespace sightline::generation {

Result<std::vector<int64_t>> GenerateOne(DecoderStepper& stepper, const Tensor& context,
                                         const std::vector<int64_t>& prompt, const GenerationParams& params,
                                         uint64_t seed) {
  if (prompt.empty()) return InvalidArgument("generation needs at least a start token");
  if (context.shape.empty() || context.shape[0] != 1)
    return InvalidArgument("GenerateOne takes one row of context");
  if (params.num_beams > 1) {
    BeamSearch beams(params, prompt);
    RETURN_IF_ERROR(
        stepper.Start(StackRows({&context}, params.num_beams), PromptRows({&prompt}, params.num_beams)));
    for (int step = 0; step < params.max_new_tokens; ++step) {
      std::vector<float> logits;
      logits.reserve(stepper.rows() * stepper.vocab());
      for (size_t r = 0; r < stepper.rows(); ++r) {
        auto row = stepper.Logits(r);
        logits.insert(logits.end(), row.begin(), row.end());
      }
      BeamSearch::Step s = beams.Advance(logits, stepper.vocab());
      if (s.done || step + 1 == params.max_new_tokens) break;
      RETURN_IF_ERROR(stepper.Next(s.tokens, s.sources));
    }
    return beams.Finish();
  }
  TokenPicker picker(params, seed);
  std::vector<int64_t> sequence = prompt;
  RETURN_IF_ERROR(stepper.Start(context, PromptRows({&prompt}, 1)));
  for (int step = 0; step < params.max_new_tokens; ++step) {
    const int64_t next = picker.Next(stepper.Logits(0), sequence, prompt.size());
    sequence.push_back(next);
    if (picker.IsEos(next) || step + 1 == params.max_new_tokens) break;
    RETURN_IF_ERROR(stepper.Next({next}));
  }
  return std::vector<int64_t>(sequence.begin() + static_cast<std::ptrdiff_t>(prompt.size()), sequence.end());
}

}  // namespace sightline::generation
