// Row-wise tensor helpers the decoder steppers share: stacking a group's first inputs, gathering
// KV-cache rows when a group's rows change, and the names Hugging Face exports give the cache.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

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

}  // namespace sightline::generation
