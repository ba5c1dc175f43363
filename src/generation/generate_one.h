// One request generated to the end on its own decoder group, no other requests batched with it:
// greedy, sampled or beam search per `params`. The reference path — the generation scheduler's
// step-level batching must give the same ids (greedy) — and what the offline `sightline caption`
// runs.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "generation/decoder_stepper.h"
#include "generation/generation_params.h"

namespace sightline::generation {

// context: [1,S,D], the encoder's states (captioners) or the image's features (VLMs); prompt: the
// decoder's first ids (a captioner's start token, then any prompt; a VLM's templated prompt with
// its image tokens). Returns the new ids, EOS included when one ended the text.
Result<std::vector<int64_t>> GenerateOne(DecoderStepper& stepper, const Tensor& context,
                                         const std::vector<int64_t>& prompt, const GenerationParams& params,
                                         uint64_t seed);

}  // namespace sightline::generation
