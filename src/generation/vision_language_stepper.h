// The language model of a decoder-only vision-language model (FastVLM / LLaVA style, the
// transformers.js layout of onnx-community/FastVLM-0.5B-ONNX), run one step at a time for a group
// of rows with its KV cache kept bound between steps:
//
//   embed_tokens.onnx:          input_ids [N,T] -> inputs_embeds [N,T,D]
//   decoder_model_merged.onnx:  inputs_embeds [N,T,D], attention_mask [N,P+T] (int64),
//                               position_ids [N,T] (int64), past_key_values.{i}.{key,value}
//                               [N,H,P,Dh] (use_cache_branch bool[1] where the export has one)
//                               -> logits [N,T,V], present.{i}.{key,value} [N,H,P+T,Dh]
//
// Start takes the image's features [N,F,D] (the vision encoder's image_features) as the context:
// they replace the embedding rows at the prompt's image-token positions, in order, as
// transformers.js and the LLaVA processors do, so each prompt must hold exactly F image tokens
// (the task expands the template's single <image> to F). Positions are the running count
// (position_ids = cumulative attention mask - 1, as transformers.js computes them). Later steps
// embed the chosen ids, hand present.* to past_key_values.* in place, and gather rows only when
// the group's rows change. Absorb() takes in another group's rows whatever their length: each row
// keeps a left padding (masked out, positions not counted), so rows at different positions share
// one decoder run — the continuous batching a maskless encoder-decoder cannot do.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "generation/decoder_stepper.h"
#include "generation/tensor_rows.h"
#include "runtime/backend.h"

namespace sightline::generation {

class VisionLanguageStepper final : public DecoderStepper {
 public:
  // The backends must outlive the stepper; `embed_tokens` is run from the stepper's thread only.
  // Errors: kFailedPrecondition naming what the graphs lack.
  static Result<std::unique_ptr<VisionLanguageStepper>> Open(runtime::Backend* embed_tokens,
                                                             runtime::Backend* decoder,
                                                             int64_t image_token_id);

  // DecoderStepper; the context is the image features [N,F,D]. kInvalidArgument when a prompt
  // does not hold exactly F image tokens.
  Status Start(Tensor image_features, Tensor input_ids) override;
  Status Next(const std::vector<int64_t>& tokens, const std::vector<int>& sources = {}) override;
  std::span<const float> Logits(size_t row) const override;
  size_t rows() const override { return rows_; }
  size_t vocab() const override { return logits_.vocab; }
  int64_t past_length() const override { return past_length_; }
  size_t kv_bytes() const override;
  bool can_absorb() const override { return true; }
  Status Absorb(DecoderStepper& other) override;

 private:
  VisionLanguageStepper() = default;
  // inputs_embeds for `ids` [N,T] into embeds_.
  Status Embed(const Tensor& ids);
  // Binds embeds_, the mask (0 over each row's padding, 1 after) and positions (P - pad ..), runs.
  Status BindAndRun(int64_t past);
  // Binds owned_pasts_ to the past inputs.
  Status BindOwnedPasts();

  runtime::Backend* embed_ = nullptr;
  std::unique_ptr<runtime::StatefulSession> session_;
  bool has_use_cache_ = false;
  int64_t image_token_ = -1;
  std::vector<std::string> past_names_;
  int64_t heads_ = 0, head_dim_ = 0;
  Tensor embeds_, attention_mask_, position_ids_, use_cache_;
  std::vector<Tensor> owned_pasts_;
  size_t rows_ = 0;
  int64_t past_length_ = 0;
  std::vector<int64_t> pad_;  // per row: masked positions at the start of its past
  bool started_ = false;
  bool absorbed_ = false;  // the current cache is owned_pasts_ (bound), not the last run's presents
  StepLogits logits_;
};

}  // namespace sightline::generation
