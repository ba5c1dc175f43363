// One sequence's choice of its next token, greedy or sampled (logits_processing.h), holding the
// sequence's own random stream so a seeded request reproduces whatever else is batched with it.
#pragma once

#include <cstdint>
#include <span>

#include "generation/generation_params.h"
#include "generation/splitmix64.h"

namespace sightline::generation {

class TokenPicker {
 public:
  // `seed` is used when params.do_sample (the request's seed, else one the caller drew).
  TokenPicker(const GenerationParams& params, uint64_t seed) : params_(params), rng_(seed) {}
  // `logits`: the vocabulary row for the sequence's last position; `sequence`: its ids so far
  // (the prompt's `prompt_length` first).
  int64_t Next(std::span<const float> logits, std::span<const int64_t> sequence, size_t prompt_length);
  bool IsEos(int64_t id) const;

 private:
  const GenerationParams& params_;
  SplitMix64 rng_;
};

}  // namespace sightline::generation
