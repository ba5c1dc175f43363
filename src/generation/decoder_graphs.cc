#include "generation/decoder_graphs.h"

#include "generation/encoder_decoder_stepper.h"
#include "generation/vision_language_stepper.h"

namespace sightline::generation {

Result<std::unique_ptr<DecoderStepper>> DecoderGraphs::OpenStepper() const {
  if (embed_tokens) {
    ASSIGN_OR_RETURN(auto s, VisionLanguageStepper::Open(embed_tokens.get(), merged.get(), image_token_id));
    return std::unique_ptr<DecoderStepper>(std::move(s));
  }
  ASSIGN_OR_RETURN(auto s, EncoderDecoderStepper::Open(merged.get(), first.get(), with_past.get()));
  return std::unique_ptr<DecoderStepper>(std::move(s));
}

}  // namespace sightline::generation
