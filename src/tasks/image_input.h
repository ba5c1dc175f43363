// Encoded images in, model input out: decodes each element of a KServe BYTES tensor (JPEG,
// PNG, WebP, ...), resizes and normalises it as the model's `image_input` config says, and
// stacks the results into the 4-D tensor the model takes. Runs on the decode pool, never on an
// I/O thread.
#pragma once

#include <string_view>

#include "core/status.h"
#include "core/tensor.h"
#include "media/image_decoder.h"
#include "media/preprocess.h"
#include "runtime/model_config.h"

namespace sightline::tasks {

media::PreprocessSpec PreprocessSpecFor(const runtime::ImageInputConfig& config, DataType dtype);

// One encoded image (any format the decoder reads) to the [1,3,H,W] (or NHWC) input `config`
// describes, shrinking on load to what the model needs.
Result<Tensor> EncodedImageToTensor(std::string_view bytes, const runtime::ImageInputConfig& config,
                                    DataType dtype, const media::DecodeLimits& limits);

// `encoded` is a BYTES tensor of N images (shape [N] or [N,1]); the result is named
// config.input with shape [N,3,H,W] (or NHWC). Errors name the failing element.
Result<Tensor> DecodeImageBatch(const Tensor& encoded, const runtime::ImageInputConfig& config,
                                DataType dtype, const media::DecodeLimits& limits);

}  // namespace sightline::tasks
