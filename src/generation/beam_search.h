// Beam search for one request, independent of the model: it is told each step's logits (one row
// per beam) and says which beams continue with which token, so whoever runs the decoder reorders
// its KV cache by `sources`. Hugging Face transformers' BeamSearchScorer and BeamHypotheses
// (generation/beam_search.py), step for step:
//  - the first step's rows are identical: beam 0 starts at score 0, the others at -1e9;
//  - candidates are log_softmax(logits) after the processors, plus the beam's score; the best
//    max(2, 1 + #eos) x num_beams of all beams' candidates are taken, best first (ties: lower
//    beam, then lower id);
//  - an EOS candidate ranked within the first num_beams finishes a hypothesis scored
//    sum_logprobs / new_tokens^length_penalty (new tokens counting the EOS); ranked later it is
//    ignored; the others fill the next beams in rank order;
//  - done when num_beams hypotheses are kept and early_stopping says no beam can beat the worst
//    (True: at once; False: best candidate / new_tokens^lp; "never": / max_new_tokens^lp);
//  - at max_new_tokens, the live beams are offered as hypotheses; the best hypothesis wins (the
//    latest kept on ties).
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "generation/generation_params.h"

namespace sightline::generation {

class BeamSearch {
 public:
  // `prompt`: the decoder's ids before the first new token (a captioner's start token).
  BeamSearch(const GenerationParams& params, std::vector<int64_t> prompt);

  int num_beams() const { return params_.num_beams; }
  // Each beam's ids so far, prompt included; the next run continues row i with beams()[i].
  const std::vector<std::vector<int64_t>>& beams() const { return beams_; }

  struct Step {
    bool done = false;
    // For each beam row of the next run: the row of this run it continues (reorder the cache).
    std::vector<int> sources;
    std::vector<int64_t> tokens;  // the id each row appends (the next run's input_ids)
  };
  // `logits`: num_beams rows of `vocab` float32 scores, row i continuing beams()[i].
  Step Advance(std::span<const float> logits, size_t vocab);

  // The winning hypothesis' new ids (EOS included when it ended on one). Call once, when a step
  // said done or after max_new_tokens steps.
  std::vector<int64_t> Finish();

 private:
  struct Hypotheses {
    std::vector<std::pair<double, std::vector<int64_t>>> kept;  // (score, ids), insertion order
    double worst = 1e9;
  };
  void Add(std::vector<int64_t> ids, double sum_logprobs, size_t new_tokens);
  bool IsDone(double best_sum_logprobs, size_t new_tokens) const;

  GenerationParams params_;
  size_t prompt_length_;
  std::vector<std::vector<int64_t>> beams_;
  std::vector<double> scores_;
  Hypotheses hyps_;
  bool done_ = false;
};

}  // namespace sightline::generation
