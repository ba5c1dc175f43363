// What one generation request asks for, in Hugging Face transformers' GenerationConfig terms, and
// where the values come from: the request, else the model's generation_config.json, else the
// defaults below. Unlike transformers, the length is always bounded by max_new_tokens: there is
// no silent 20-token `max_length` default (a model's own max_length is honoured as new tokens
// after the prompt).
#pragma once

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace sightline::generation {

enum class EarlyStopping { kFalse, kTrue, kNever };  // beam search's early_stopping

struct GenerationParams {
  int max_new_tokens = 64;
  int min_new_tokens = 0;  // EOS is forbidden before this many new tokens
  bool do_sample = false;
  double temperature = 1.0;         // > 0; sampling only
  int top_k = 0;                    // 0: off; sampling only
  double top_p = 1.0;               // (0, 1]; sampling only
  std::optional<uint64_t> seed;     // sampling: the same seed gives the same text
  double repetition_penalty = 1.0;  // > 0; 1 = off
  int no_repeat_ngram_size = 0;     // 0 = off
  int num_beams = 1;
  double length_penalty = 1.0;  // beam scores are sum(log p) / new_tokens^length_penalty
  EarlyStopping early_stopping = EarlyStopping::kFalse;
  std::vector<int64_t> eos_token_ids;  // any of these ends a sequence
  std::vector<std::string> stop;       // stop strings: the text ends before the first one found

  // Errors: kInvalidArgument naming the field ("max_new_tokens must be between 1 and 4096").
  Status Validate(int max_new_tokens_limit) const;
};

// The model's defaults from generation_config.json (and config.json's ids where that file has
// none): eos_token_id (one id or a list), max_new_tokens / max_length (less the prompt: taken as
// new tokens), num_beams, do_sample, temperature, top_k, top_p, repetition_penalty,
// no_repeat_ngram_size, length_penalty, early_stopping. Unknown keys are ignored; wrong types are
// kInvalidArgument naming the key.
Result<GenerationParams> ParamsFromGenerationConfig(const boost::json::value& config,
                                                    GenerationParams defaults);

}  // namespace sightline::generation
