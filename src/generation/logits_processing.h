// Turning one step's logits into the next token, as Hugging Face transformers' generate() does
// (generation/logits_process.py): the processors that apply to every strategy, the warpers that
// shape a sampling distribution, then the choice. Scores are float64 copies of the model's
// float32 logits, so the C++ engine and the Python reference loop (scripts/reference_generate.py)
// agree token for token. Vocabulary-sized spans throughout; ids index them.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "generation/generation_params.h"
#include "generation/splitmix64.h"

namespace sightline::generation {

// In HF's order: repetition_penalty over every id of `sequence` (the decoder's whole input so
// far, prompt and start token included: negative scores x penalty, positive ones / penalty),
// no_repeat_ngram_size (ids that would complete an n-gram already in `sequence` to -inf),
// min_new_tokens (EOS ids to -inf while fewer than that many of `sequence` follow the prompt).
void ApplyProcessors(std::span<double> scores, std::span<const int64_t> sequence, size_t prompt_length,
                     const GenerationParams& params);

// Sampling only, in HF's order: temperature (divide), top_k (scores below the k-th highest to
// -inf; ties with it stay), top_p (ascending by score, ties by id: drop tokens while the
// cumulative probability is <= 1 - top_p, always keeping the most likely).
void ApplyWarpers(std::span<double> scores, const GenerationParams& params);

// The highest score's id; the lowest id on ties.
int64_t Argmax(std::span<const double> scores);

// softmax(scores) in float64 and one uniform draw u: the first id, in id order, whose cumulative
// probability exceeds u (the last possible id if rounding leaves u past the total).
int64_t Draw(std::span<const double> scores, SplitMix64& rng);

// Log-softmax in place (beam search scores log-probabilities).
void LogSoftmax(std::span<double> scores);

// The float32 logits row as float64 scores.
std::vector<double> ToScores(std::span<const float> logits);

}  // namespace sightline::generation
