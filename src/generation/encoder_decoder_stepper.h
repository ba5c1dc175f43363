// The decoder of a vision-encoder-decoder export (Hugging Face Optimum / transformers.js layout,
// e.g. vit-gpt2-image-captioning), run one step at a time for a group of rows — one request's
// beams, or several requests at the same position — with its KV cache kept bound between steps:
//
//   decoder_model_merged.onnx: input_ids [N,T], encoder_hidden_states [N,S,D],
//     past_key_values.{i}.{key,value} [N,H,P,Dh], use_cache_branch bool[1]
//     -> logits [N,T,V], present.{i}.{key,value} [N,H,P+T,Dh]
//   or decoder_model.onnx (the first step, no past inputs) + decoder_with_past_model.onnx.
//
// The first step feeds zero-length pasts with use_cache_branch false (as transformers.js does);
// later steps hand each present.* output to the matching past_key_values.* input in place
// (StatefulSession::CarryOver: no copy) while the rows stay the same, and gather rows into fresh
// tensors only when they change (beams reordered, rows leaving) or when the split layout moves
// from its first-step session to the with-past one. These exports take no attention mask and no
// position ids (positions continue from the past's length), so every row of a group must be at
// the same position: rows that started apart run as separate groups.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "generation/decoder_stepper.h"
#include "generation/tensor_rows.h"
#include "runtime/backend.h"

namespace sightline::generation {

class EncoderDecoderStepper final : public DecoderStepper {
 public:
  // `merged`, or `first` and `with_past`; the backends must outlive the stepper. Errors:
  // kFailedPrecondition naming what the graphs lack (inputs, outputs, static head sizes).
  static Result<std::unique_ptr<EncoderDecoderStepper>> Open(runtime::Backend* merged,
                                                             runtime::Backend* first,
                                                             runtime::Backend* with_past);

  // DecoderStepper; the context is the encoder's states [N,S,D].
  Status Start(Tensor encoder_states, Tensor input_ids) override;
  Status Next(const std::vector<int64_t>& tokens, const std::vector<int>& sources = {}) override;
  std::span<const float> Logits(size_t row) const override;
  size_t rows() const override { return rows_; }
  size_t vocab() const override { return logits_.vocab; }
  int64_t past_length() const override { return past_length_; }
  size_t kv_bytes() const override;

 private:
  struct Session {
    std::unique_ptr<runtime::StatefulSession> session;
    bool merged = false;
  };
  EncoderDecoderStepper() = default;
  Status RunAndReadLogits(Session& s);
  // Binds every past input of `to` from the last run's presents, gathered by `sources`.
  Status BindGatheredPasts(Session& to, const std::vector<int>& sources);

  Session merged_, first_, with_past_;
  Session* last_ = nullptr;
  std::vector<std::string> past_names_;  // past_key_values.{i}.{key,value}
  int64_t heads_ = 0, head_dim_ = 0;
  Tensor encoder_states_, input_ids_, use_cache_;
  std::vector<Tensor> owned_pasts_;  // gathered pasts, bound while in use
  size_t rows_ = 0;
  int64_t past_length_ = 0;
  StepLogits logits_;
};

}  // namespace sightline::generation
