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
};

// Sub-folders of `repository` that hold a model file, sorted by name.
Result<std::vector<std::string>> ListModelNames(const std::filesystem::path& repository);

// Loads `repository/name`: reads sightline.json, picks the variant file, creates
// config.instance_count backend instances and completes the config from the signature.
// `variant`, when not empty, replaces the config's (adaptive quality loads its fallback so).
Result<LoadedModel> LoadModel(BackendFactory& factory, const std::filesystem::path& repository,
                              const std::string& name, const std::string& variant = "");

// An all-zero input for `spec` with the batch dim set to `batch` (other dynamic dims to 1).
Tensor MakeZeroTensor(const TensorSpec& spec, int64_t batch, bool batching);

// Runs every instance twice at each warm-up batch size (the preferred sizes, else 1 and
// max_batch_size), so first requests do not pay for lazy allocations. Returns seconds spent.
Result<double> WarmUp(LoadedModel& model);

}  // namespace sightline::runtime
