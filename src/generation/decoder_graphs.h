// The ONNX graphs of one generative decoder, as the repository found them, and the stepper that
// runs them: an encoder-decoder captioner's decoder (merged, or first + with_past) or a
// vision-language model's language model (merged, with embed_tokens and the image token's id).
#pragma once

#include <cstdint>
#include <memory>

#include "core/status.h"
#include "generation/decoder_stepper.h"
#include "runtime/backend.h"

namespace sightline::generation {

struct DecoderGraphs {
  std::unique_ptr<runtime::Backend> merged, first, with_past;
  std::unique_ptr<runtime::Backend> embed_tokens;  // set: a vision-language model
  int64_t image_token_id = -1;

  // A stepper over these graphs (which must outlive it). Errors: kFailedPrecondition naming what
  // the graphs lack.
  Result<std::unique_ptr<DecoderStepper>> OpenStepper() const;
  // The graph whose past_key_values.* inputs size the KV cache.
  const runtime::Backend* past_graph() const { return merged ? merged.get() : with_past.get(); }
};

}  // namespace sightline::generation
