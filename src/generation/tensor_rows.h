// Row-wise tensor helpers the decoder steppers share: stacking a group's first inputs, gathering
// KV-cache rows when a group's rows change, reading a step's logits, and the names Hugging Face
// exports give the cache.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <span>

#include "core/status.h"
#include "core/tensor.h"
#include "runtime/backend.h"

namespace sightline::generation {

// A group's first inputs: each of `rows` ([1,...] tensors of one shape) `repeat` times, stacked
// into [rows x repeat, ...]; each prompt `repeat` times as int64 [rows x repeat, T] (same T).
Tensor StackRows(const std::vector<const Tensor*>& rows, int repeat);
Tensor PromptRows(const std::vector<const std::vector<int64_t>*>& prompts, int repeat);

// Rows of a [N, ...] tensor picked by `sources` into a new [sources.size(), ...] tensor.
Tensor GatherRows(DataType dtype, const Shape& shape, const uint8_t* data, size_t bytes,
                  const std::vector<int>& sources);

// `ids` as int64 [rows, ids.size() / rows].
Tensor Ids(const std::vector<int64_t>& ids, int64_t rows);

// past_key_values.{i}.{key,value} -> present.{i}.{key,value}
std::string PresentName(const std::string& past);

// A later step's rows: `next` rows (sources.size(), or all of the last step's `rows` when sources
// is empty), `same` when they are the last step's rows in order. kInvalidArgument when `tokens`
// is not one per row or a source is out of range.
struct StepRows {
  size_t next = 0;
  bool same = true;
};
Result<StepRows> CheckStepRows(size_t tokens, const std::vector<int>& sources, size_t rows);

// A decoder's past_key_values.* input must be fp32 [batch, heads, past, head_dim] with fixed heads
// and head_dim; else kFailedPrecondition saying what it is (the fp16-I/O exports, `_fp16` and
// `_q4f16`, are refused at load this way; `_quantized`, `_q4`, `_int8` keep fp32 caches).
Status CheckKvCacheInput(const runtime::TensorSpec& input);

// A decoder run's logits [N,T,V], borrowed from its session until the next run.
struct StepLogits {
  const float* data = nullptr;
  size_t positions = 0, vocab = 0;
  // Row r's logits at its last position.
  std::span<const float> Row(size_t r) const {
    return {data + (r * positions + positions - 1) * vocab, vocab};
  }
};
// The last run's "logits" (fp32, `rows` rows; else kInternal) and, in `past_length`, the length of
// `first_present` (0 when it is not [N,H,P,Dh]).
Result<StepLogits> ReadStep(const runtime::StatefulSession& session, size_t rows,
                            const std::string& first_present, int64_t& past_length);

// Bytes of `tensors` fp32 caches of [rows, heads, past_length, head_dim].
inline size_t KvCacheBytes(size_t tensors, size_t rows, int64_t heads, int64_t head_dim,
                           int64_t past_length) {
  return tensors * rows * static_cast<size_t>(heads * head_dim * past_length) * sizeof(float);
}

}  // namespace sightline::generation
