// What a Hugging Face / transformers.js model folder says about itself beyond its ONNX files.
#pragma once

#include <boost/json/value.hpp>

#include <filesystem>
#include <string>

#include "core/status.h"
#include "repository/image_input_config.h"

namespace sightline::repository {

// A JSON file holding an object (config.json, generation_config.json, ...). Errors:
// kFailedPrecondition naming the file.
Result<boost::json::value> ReadJsonObjectFile(const std::filesystem::path& file);

// preprocessor_config.json (Hugging Face image processors: size / crop_size, rescale_factor,
// image_mean, image_std, do_center_crop) as an image_input block for `input`.
Result<ImageInputConfig> ReadPreprocessorConfig(const std::filesystem::path& file, const std::string& input);

// A vision-language model's image token: config.json's image_token_index (LLaVA, FastVLM) or
// image_token_id (Idefics3 / SmolVLM), top level or in text_config. Errors: kFailedPrecondition
// naming the file when neither is there.
Result<int64_t> ReadImageTokenId(const std::filesystem::path& folder);

}  // namespace sightline::repository
