// A generative decoder run one step at a time for a group of rows — one request's beams, or
// several requests decoded together — with its KV cache kept bound between steps. Two kinds:
// encoder-decoder captioners (encoder_decoder_stepper.h: the context is the encoder's states) and
// decoder-only vision-language models (vision_language_stepper.h: the context is the image's
// features, placed at the prompt's image tokens). GenerateOne and the generation scheduler drive
// either through this interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace sightline::generation {

class DecoderStepper {
 public:
  virtual ~DecoderStepper() = default;

  // The first step: each row's context [N,S,D] (fp32) and prompt ids [N,T] (int64).
  virtual Status Start(Tensor context, Tensor input_ids) = 0;
  // A later step: one id per row of the next group; sources[i] is the row of the last step that
  // row i continues (empty: the same rows in the same order).
  virtual Status Next(const std::vector<int64_t>& tokens, const std::vector<int>& sources = {}) = 0;

  // The last step's logits at row i's last position: vocab() floats, valid until the next step.
  virtual std::span<const float> Logits(size_t row) const = 0;
  virtual size_t rows() const = 0;
  virtual size_t vocab() const = 0;
  virtual int64_t past_length() const = 0;
  // KV-cache bytes the group holds now (every layer's keys and values).
  virtual size_t kv_bytes() const = 0;

  // Continuous batching across positions. A stepper whose graph takes an attention mask and
  // position ids can take in another group of the same graphs: after both ran a step, `other`'s
  // rows follow this one's (rows() + i), left-padded to the longer past with masked positions, so
  // the next Next() feeds every row — whatever their lengths — in one run. `other` is spent.
  // Steppers without a mask (encoder-decoder exports) cannot: kUnimplemented.
  virtual bool can_absorb() const { return false; }
  virtual Status Absorb(DecoderStepper& /*other*/) {
    return Status(StatusCode::kUnimplemented, "this decoder cannot batch rows at different positions");
  }
};

}  // namespace sightline::generation
