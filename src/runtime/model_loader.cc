#include "runtime/model_loader.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

namespace sightline::runtime {
namespace fs = std::filesystem;

Result<std::vector<std::string>> ListModelNames(const fs::path& repository) {
  std::error_code ec;
  if (!fs::is_directory(repository, ec))
    return FailedPrecondition("model repository '" + repository.string() + "' is not a directory");
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(repository, ec)) {
    if (!entry.is_directory()) continue;
    bool has_model = false;
    for (const auto& f : fs::directory_iterator(entry.path(), ec))
      if (f.path().extension() == ".onnx") has_model = true;
    if (has_model) names.push_back(entry.path().filename().string());
  }
  if (ec) return FailedPrecondition("cannot list '" + repository.string() + "': " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

Result<LoadedModel> LoadModel(BackendFactory& factory, const fs::path& repository, const std::string& name,
                              const std::string& variant) {
  const auto t0 = std::chrono::steady_clock::now();
  const fs::path dir = repository / name;
  LoadedModel model;
  ASSIGN_OR_RETURN(model.config, LoadModelConfig(dir, name));
  if (!variant.empty()) model.config.variant = variant;
  const std::string cfg_label = (dir / kModelConfigFile).string();
  model.file = dir / VariantFileName(model.config.variant);
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
    o.allow_spinning = model.config.allow_spinning;
    o.memory_pattern = model.config.memory_pattern;
    return o;
  };
  const int planned = model.config.instance_count > 0 ? model.config.instance_count : 1;
  ASSIGN_OR_RETURN(auto first, factory.Load(model.file, options_for(planned)));
  model.signature = first->signature();
  RETURN_IF_ERROR(FinalizeModelConfig(model.config, model.signature, cfg_label));
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
  for (int b : sizes) {
    std::vector<Tensor> inputs;
    for (const auto& spec : model.signature.inputs)
      inputs.push_back(MakeZeroTensor(spec, b, model.config.batching()));
    std::vector<const Tensor*> ptrs;
    for (const auto& t : inputs) ptrs.push_back(&t);
    for (auto& inst : model.instances) {
      // Twice: ORT's second run still pays one-time costs (ISNet: 3.6 s, then 2.0 s steady).
      for (int run = 0; run < 2; ++run) {
        auto r = inst->Run(ptrs);
        if (!r.ok())
          return FailedPrecondition("warm-up of '" + model.config.name + "' at batch " + std::to_string(b) +
                                    " failed: " + r.status().message());
      }
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace sightline::runtime
