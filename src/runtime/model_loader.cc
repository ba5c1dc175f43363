#include "runtime/model_loader.h"

#include "core/process_memory.h"

#include "repository/hf_layout.h"
#include "runtime/memory_budget.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace sightline::runtime {
namespace fs = std::filesystem;

Result<LoadedModel> LoadModel(BackendFactory& factory, const fs::path& repository, const ModelEntry& entry,
                              const std::string& variant, const std::set<std::string>& task_blocks) {
  const auto t0 = std::chrono::steady_clock::now();
  const fs::path dir = repository / entry.folder;
  LoadedModel model;
  ASSIGN_OR_RETURN(model.config, LoadModelConfig(dir, entry.name, task_blocks));
  if (!variant.empty()) model.config.variant = variant;
  const std::string cfg_label = (dir / kModelConfigFile).string();
  model.file = repository::ModelFile(repository, entry, model.config.variant);
  if (entry.layout != repository::Layout::kPlainOnnx) {
    model.config.family = entry.family;
    model.config.role = entry.role;
    model.config.task.clear();
    if (entry.role == "vision" || entry.role == "encoder") {
      if (!model.config.image_input) {
        ASSIGN_OR_RETURN(
            auto ii, repository::ReadPreprocessorConfig(dir / "preprocessor_config.json", "pixel_values"));
        model.config.image_input = ii;
      }
    } else {
      model.config.image_input.reset();
    }
  }
  std::error_code ec;
  if (!fs::exists(model.file, ec))
    return FailedPrecondition(cfg_label + ": field 'variant' is '" + model.config.variant + "' but " +
                              model.file.string() + " does not exist");
  model.platform = factory.platform();

  // Instance count is only known after the signature is read; load one instance first.
  const int hw = std::max(1u, std::thread::hardware_concurrency());
  auto options_for = [&](int instances) {
    BackendOptions o;
    o.intra_op_threads = model.config.intra_op_threads > 0 ? model.config.intra_op_threads
                                                           : std::max(1, hw / std::max(1, instances));
    o.inter_op_threads = model.config.inter_op_threads;
    o.spinning = model.config.spinning;
    o.pool_priority = model.config.pool_priority;
    o.memory_pattern = model.config.memory_pattern;
    if (model.config.save_optimized_graph)
      o.optimized_graph_dir = model.file.parent_path() / kOptimizedGraphFolder;
    return o;
  };
  const int planned = model.config.instance_count > 0 ? model.config.instance_count : 1;
  ASSIGN_OR_RETURN(auto first, factory.Load(model.file, options_for(planned)));
  model.signature = first->signature();
  RETURN_IF_ERROR(FinalizeModelConfig(model.config, model.signature, cfg_label));
  model.graph_source = first->graph_source();
  model.instances.push_back(std::move(first));
  while (static_cast<int>(model.instances.size()) < model.config.instance_count) {
    ASSIGN_OR_RETURN(auto more, factory.Load(model.file, options_for(model.config.instance_count)));
    model.instances.push_back(std::move(more));
  }
  model.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return model;
}

Tensor MakeZeroTensor(const TensorSpec& spec, int64_t batch, bool batching) {
  Tensor t;
  t.name = spec.name;
  t.dtype = spec.dtype;
  t.shape = spec.shape;
  for (size_t i = 0; i < t.shape.size(); ++i)
    if (t.shape[i] < 0) t.shape[i] = (i == 0 && batching) ? batch : 1;
  int64_t count = 1;
  for (auto d : t.shape) count *= d;
  if (t.dtype == DataType::kBytes)
    t.data.assign(static_cast<size_t>(count) * 4, 0);  // empty strings
  else
    t.data.assign(static_cast<size_t>(count) * DataTypeSize(t.dtype), 0);
  return t;
}

Result<double> WarmUp(LoadedModel& model) {
  const auto t0 = std::chrono::steady_clock::now();
  std::set<int> sizes(model.config.preferred_batch_sizes.begin(), model.config.preferred_batch_sizes.end());
  if (sizes.empty()) {
    sizes.insert(1);
    if (model.config.batching()) sizes.insert(model.config.max_batch_size);
  }
  if (!model.config.batching()) sizes = {1};
  sizes.insert(1);  // the memory measurement below compares against batch 1
  int64_t rss_one = 0, rss_max = 0;
  for (int b : sizes) {
    std::vector<Tensor> inputs;
    for (const auto& spec : model.signature.inputs)
      inputs.push_back(MakeZeroTensor(spec, b, model.config.batching()));
    std::vector<const Tensor*> ptrs;
    for (const auto& t : inputs) ptrs.push_back(&t);
    for (auto& inst : model.instances) {
      // Twice: ORT's second run still pays one-time costs (ISNet: 3.6 s, then 2.0 s steady).
      for (int run = 0; run < 2; ++run) {
        const auto r0 = std::chrono::steady_clock::now();
        auto r = inst->Run(ptrs);
        if (!r.ok())
          return FailedPrecondition("warm-up of '" + model.config.name + "' at batch " + std::to_string(b) +
                                    " failed: " + r.status().message());
        if (run == 1 && b == 1 && inst == model.instances.front())
          model.warm_seconds_per_row =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - r0).count();
      }
    }
    (b == 1 ? rss_one : rss_max) = ResidentBytes();
  }
  if (model.config.batching()) {
    // Per-item cost: what the largest warm-up batch added over batch 1 (activations, arena growth,
    // across every instance), but never less than the item's own inputs and outputs.
    const int largest = *sizes.rbegin();
    int64_t io = 0;
    for (const auto* list : {&model.signature.inputs, &model.signature.outputs})
      for (const auto& spec : *list) io += static_cast<int64_t>(MakeZeroTensor(spec, 1, true).data.size());
    model.per_item_bytes = std::max(io, largest > 1 ? (rss_max - rss_one) / (largest - 1) : 0);
    model.memory_batch_limit = MemorySafeBatchLimit(model.per_item_bytes, AvailableMemoryBytes());
    if (model.config.max_batch_size > model.memory_batch_limit) {
      model.clamped_from = model.config.max_batch_size;
      model.config.max_batch_size = model.memory_batch_limit;
      auto& pref = model.config.preferred_batch_sizes;
      pref.erase(
          std::remove_if(pref.begin(), pref.end(), [&](int p) { return p > model.memory_batch_limit; }),
          pref.end());
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace sightline::runtime
