// Finds models in a repository folder and loads them: config, signature, backend instances,
// warm-up. Knows nothing of queues or HTTP.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "runtime/backend.h"
#include "runtime/model_config.h"

namespace sightline::runtime {

struct LoadedModel {
  ModelConfig config;
  ModelSignature signature;
  std::string platform;
  std::filesystem::path file;
  std::vector<std::unique_ptr<Backend>> instances;
  double load_seconds = 0;
  // Set by WarmUp for batching models: measured memory per batch item, the batch size half the
  // available memory allows (capped at 256), and max_batch_size before that bound lowered it (0 if not).
  int64_t per_item_bytes = 0;
  int memory_batch_limit = 0;
  int clamped_from = 0;
};

// One loadable model. A plain folder (model.onnx or model_<variant>.onnx, optional
// sightline.json) is one model; a Hugging Face / transformers.js folder (config.json,
// preprocessor_config.json, tokenizer.json, onnx/vision_model*.onnx, onnx/text_model*.onnx) is
// two, "<folder>.vision" and "<folder>.text", sharing `family`.
struct ModelEntry {
  std::string name;    // as served
  std::string folder;  // sub-folder of the repository
  std::string family;  // Hugging Face layout: the folder name; empty for plain models
  std::string role;    // "vision" | "text" in a Hugging Face layout
};

// Every model in `repository`, sorted by name.
Result<std::vector<ModelEntry>> ListModels(const std::filesystem::path& repository);

// Loads one entry: reads sightline.json (and, for a vision tower, preprocessor_config.json as its
// image_input), picks the variant file, creates config.instance_count backend instances and
// completes the config from the signature. `variant`, when not empty, replaces the config's
// (adaptive quality loads its fallback so).
Result<LoadedModel> LoadModel(BackendFactory& factory, const std::filesystem::path& repository,
                              const ModelEntry& entry, const std::string& variant = "");

// preprocessor_config.json (Hugging Face image processors: size / crop_size, rescale_factor,
// image_mean, image_std, do_center_crop) as an image_input block for `input`.
Result<ImageInputConfig> ReadPreprocessorConfig(const std::filesystem::path& file, const std::string& input);

// An all-zero input for `spec` with the batch dim set to `batch` (other dynamic dims to 1).
Tensor MakeZeroTensor(const TensorSpec& spec, int64_t batch, bool batching);

// Runs every instance twice at each warm-up batch size (1, and the preferred sizes or
// max_batch_size), so first requests do not pay for lazy allocations, and measures memory per
// batch item on the way: max_batch_size is lowered to what half the available memory allows
// (see memory_budget.h). Returns seconds spent.
Result<double> WarmUp(LoadedModel& model);

}  // namespace sightline::runtime
