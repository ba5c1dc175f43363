#include "generation/tensor_rows.h"

#include <cstring>

namespace sightline::generation {

std::string PresentName(const std::string& past) {
  return "present." + past.substr(std::string("past_key_values.").size());
}

Tensor Ids(const std::vector<int64_t>& ids, int64_t rows) {
  Tensor t;
  t.dtype = DataType::kInt64;
  t.shape = {rows, static_cast<int64_t>(ids.size()) / rows};
  t.data.resize(ids.size() * sizeof(int64_t));
  std::memcpy(t.data.data(), ids.data(), t.data.size());
  return t;
}

Tensor GatherRows(DataType dtype, const Shape& shape, const uint8_t* data, size_t bytes,
                  const std::vector<int>& sources) {
  Tensor t;
  t.dtype = dtype;
  t.shape = shape;
  t.shape[0] = static_cast<int64_t>(sources.size());
  const size_t row = shape[0] > 0 ? bytes / static_cast<size_t>(shape[0]) : 0;
  t.data.resize(row * sources.size());
  for (size_t i = 0; i < sources.size(); ++i)
    std::memcpy(t.data.data() + i * row, data + static_cast<size_t>(sources[i]) * row, row);
  return t;
}

Tensor StackRows(const std::vector<const Tensor*>& rows, int repeat) {
  Tensor t;
  t.dtype = rows[0]->dtype;
  t.shape = rows[0]->shape;
  t.shape[0] = static_cast<int64_t>(rows.size()) * repeat;
  const size_t row = rows[0]->data.size();
  t.data.resize(row * rows.size() * static_cast<size_t>(repeat));
  size_t at = 0;
  for (const Tensor* r : rows)
    for (int k = 0; k < repeat; ++k, at += row) std::memcpy(t.data.data() + at, r->data.data(), row);
  return t;
}

Tensor PromptRows(const std::vector<const std::vector<int64_t>*>& prompts, int repeat) {
  Tensor t;
  t.dtype = DataType::kInt64;
  const size_t bytes = prompts[0]->size() * sizeof(int64_t);
  t.shape = {static_cast<int64_t>(prompts.size()) * repeat, static_cast<int64_t>(prompts[0]->size())};
  t.data.resize(bytes * prompts.size() * static_cast<size_t>(repeat));
  size_t at = 0;
  for (const auto* p : prompts)
    for (int k = 0; k < repeat; ++k, at += bytes) std::memcpy(t.data.data() + at, p->data(), bytes);
  return t;
}

Result<StepRows> CheckStepRows(size_t tokens, const std::vector<int>& sources, size_t rows) {
  StepRows r;
  r.next = sources.empty() ? rows : sources.size();
  r.same = sources.empty() || sources.size() == rows;
  for (size_t i = 0; r.same && i < sources.size(); ++i) r.same = sources[i] == static_cast<int>(i);
  if (tokens != r.next)
    return InvalidArgument("decoder step: " + std::to_string(tokens) + " ids for " + std::to_string(r.next) +
                           " rows");
  for (int src : sources)
    if (src < 0 || static_cast<size_t>(src) >= rows)
      return InvalidArgument("decoder step: source row out of range");
  return r;
}

Status CheckKvCacheInput(const runtime::TensorSpec& in) {
  if (in.dtype != DataType::kFp32)
    return FailedPrecondition("decoder input '" + in.name + "' is " + DataTypeName(in.dtype) +
                              "; only fp32 KV caches are supported (use the fp32, _quantized or _q4 "
                              "variant, not _fp16 or _q4f16)");
  if (in.shape.size() != 4 || in.shape[1] <= 0 || in.shape[3] <= 0)
    return FailedPrecondition("decoder input '" + in.name +
                              "' must be [batch, heads, past, head_dim] with fixed heads and head_dim, got " +
                              ShapeToString(in.shape));
  return Status::Ok();
}

Result<StepLogits> ReadStep(const runtime::StatefulSession& session, size_t rows,
                            const std::string& first_present, int64_t& past_length) {
  ASSIGN_OR_RETURN(runtime::TensorView logits, session.Output("logits"));
  if (logits.dtype != DataType::kFp32 || logits.shape.size() != 3 ||
      static_cast<size_t>(logits.shape[0]) != rows)
    return Internal("decoder logits must be fp32 [N,T,V], got " + ShapeToString(logits.shape));
  ASSIGN_OR_RETURN(runtime::TensorView present, session.Output(first_present));
  past_length = present.shape.size() == 4 ? present.shape[2] : 0;
  return StepLogits{reinterpret_cast<const float*>(logits.data), static_cast<size_t>(logits.shape[1]),
                    static_cast<size_t>(logits.shape[2])};
}

}  // namespace sightline::generation
