// Loads the models a repository holds (their folders and layouts are repository/'s): config,
// signature, backend instances, warm-up. Knows nothing of queues, tasks or HTTP.
#pragma once

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "repository/model_folders.h"
#include "runtime/backend.h"
#include "runtime/model_config.h"

namespace sightline::runtime {

// Beside each model file: the engine's optimized graphs (BackendOptions::optimized_graph_dir).
inline constexpr const char* kOptimizedGraphFolder = ".sightline-optimized";

struct LoadedModel {
  ModelConfig config;
  ModelSignature signature;
  std::string platform;
  std::filesystem::path file;
  std::vector<std::unique_ptr<Backend>> instances;
  double load_seconds = 0;
  // Set by WarmUp: seconds of one steady (second) run at batch 1 on the first instance.
  double warm_seconds_per_row = 0;
  GraphSource graph_source = GraphSource::kModelFile;  // the first instance's
  // Set by WarmUp for batching models: measured memory per batch item, the batch size half the
  // available memory allows (capped at 256), and max_batch_size before that bound lowered it (0 if not).
  int64_t per_item_bytes = 0;
  int memory_batch_limit = 0;
  int clamped_from = 0;
};

using repository::ModelEntry;

// Loads one entry: reads sightline.json (and, for a vision tower, preprocessor_config.json as its
// image_input), picks the variant file, creates config.instance_count backend instances and
// completes the config from the signature. `variant`, when not empty, replaces the config's
// (a fallback variant for adaptive quality loads so).
Result<LoadedModel> LoadModel(BackendFactory& factory, const std::filesystem::path& repository,
                              const ModelEntry& entry, const std::string& variant = "",
                              const std::set<std::string>& task_blocks = {});

// An all-zero input for `spec` with the batch dim set to `batch` (other dynamic dims to 1).
Tensor MakeZeroTensor(const TensorSpec& spec, int64_t batch, bool batching);

// Runs every instance twice at each warm-up batch size (1, and the preferred sizes or
// max_batch_size), so first requests do not pay for lazy allocations, and measures memory per
// batch item on the way: max_batch_size is lowered to what half the available memory allows
// (see memory_budget.h). Returns seconds spent.
Result<double> WarmUp(LoadedModel& model);

}  // namespace sightline::runtime
