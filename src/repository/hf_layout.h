// What a Hugging Face / transformers.js model folder says about itself beyond its ONNX files.
#pragma once

#include <filesystem>
#include <string>

#include "core/status.h"
#include "repository/image_input_config.h"

namespace sightline::repository {

// preprocessor_config.json (Hugging Face image processors: size / crop_size, rescale_factor,
// image_mean, image_std, do_center_crop) as an image_input block for `input`.
Result<ImageInputConfig> ReadPreprocessorConfig(const std::filesystem::path& file, const std::string& input);

}  // namespace sightline::repository
