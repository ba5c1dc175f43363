#include "runtime/model_loader.h"

#include "runtime/memory_budget.h"

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace sightline::runtime {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

bool HasOnnx(const fs::path& dir) {
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(dir, ec))
    if (f.path().extension() == ".onnx") return true;
  return false;
}

bool HasTower(const fs::path& onnx_dir, const std::string& stem) {
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(onnx_dir, ec)) {
    const std::string n = f.path().filename().string();
    if (n.rfind(stem, 0) == 0 && f.path().extension() == ".onnx") return true;
  }
  return false;
}

Result<json::value> ReadJson(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return FailedPrecondition(file.string() + ": cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  json::value v = json::parse(ss.str(), ec);
  if (ec || !v.is_object()) return FailedPrecondition(file.string() + ": not a JSON object");
  return v;
}

// An int, or {"height": h, "width": w} / {"shortest_edge": s}.
void ReadSize(const json::value* v, int* w, int* h) {
  if (!v) return;
  if (v->is_int64()) {
    *w = *h = static_cast<int>(v->get_int64());
  } else if (v->is_object()) {
    const auto& o = v->get_object();
    if (const auto* s = o.if_contains("shortest_edge"); s && s->is_int64())
      *w = *h = static_cast<int>(s->get_int64());
    if (const auto* x = o.if_contains("width"); x && x->is_int64()) *w = static_cast<int>(x->get_int64());
    if (const auto* y = o.if_contains("height"); y && y->is_int64()) *h = static_cast<int>(y->get_int64());
  }
}

}  // namespace

Result<ImageInputConfig> ReadPreprocessorConfig(const fs::path& file, const std::string& input) {
  ASSIGN_OR_RETURN(json::value root, ReadJson(file));
  const auto& o = root.get_object();
  auto flag = [&](const char* k, bool d) {
    const auto* v = o.if_contains(k);
    return v && v->is_bool() ? v->get_bool() : d;
  };
  ImageInputConfig c;
  c.input = input;
  int sw = 224, sh = 224, cw = 0, ch = 0;
  ReadSize(o.if_contains("size"), &sw, &sh);
  ReadSize(o.if_contains("crop_size"), &cw, &ch);
  if (flag("do_center_crop", true) && cw > 0) {
    // Shortest edge to the crop size, then the centre crop (CLIP's size and crop are equal).
    c.resize = "shortest_edge_center_crop";
    c.width = cw;
    c.height = ch;
  } else {
    c.resize = "stretch";
    c.width = sw;
    c.height = sh;
  }
  c.scale = 1.0;
  if (flag("do_rescale", true)) {
    const auto* r = o.if_contains("rescale_factor");
    c.scale = r && r->is_number() ? r->to_number<double>() : 1.0 / 255.0;
  }
  c.mean = {0, 0, 0};
  c.std = {1, 1, 1};
  if (flag("do_normalize", true)) {
    for (const char* key : {"image_mean", "image_std"}) {
      const auto* v = o.if_contains(key);
      if (!v || !v->is_array() || v->get_array().size() != 3)
        return FailedPrecondition(file.string() + ": field '" + key + "' must be a list of 3 numbers");
      auto& dst = std::string(key) == "image_mean" ? c.mean : c.std;
      for (size_t k = 0; k < 3; ++k) dst[k] = v->get_array()[k].to_number<double>();
    }
  }
  return c;
}

Result<std::vector<ModelEntry>> ListModels(const fs::path& repository) {
  std::error_code ec;
  if (!fs::is_directory(repository, ec))
    return FailedPrecondition("model repository '" + repository.string() + "' is not a directory");
  std::vector<ModelEntry> out;
  for (const auto& entry : fs::directory_iterator(repository, ec)) {
    if (!entry.is_directory()) continue;
    const std::string folder = entry.path().filename().string();
    if (HasOnnx(entry.path())) {
      out.push_back({folder, folder, "", ""});
      continue;
    }
    const fs::path onnx = entry.path() / "onnx";
    if (fs::is_directory(onnx, ec) && fs::exists(entry.path() / "config.json", ec)) {
      if (HasTower(onnx, "vision_model")) out.push_back({folder + ".vision", folder, folder, "vision"});
      if (HasTower(onnx, "text_model")) out.push_back({folder + ".text", folder, folder, "text"});
    }
  }
  if (ec) return FailedPrecondition("cannot list '" + repository.string() + "': " + ec.message());
  std::sort(out.begin(), out.end(), [](const ModelEntry& a, const ModelEntry& b) { return a.name < b.name; });
  return out;
}

Result<LoadedModel> LoadModel(BackendFactory& factory, const fs::path& repository, const ModelEntry& entry,
                              const std::string& variant) {
  const auto t0 = std::chrono::steady_clock::now();
  const fs::path dir = repository / entry.folder;
  LoadedModel model;
  ASSIGN_OR_RETURN(model.config, LoadModelConfig(dir, entry.name));
  if (!variant.empty()) model.config.variant = variant;
  const std::string cfg_label = (dir / kModelConfigFile).string();
  if (entry.family.empty()) {
    model.file = dir / VariantFileName(model.config.variant);
  } else {
    // transformers.js naming: onnx/vision_model.onnx, onnx/vision_model_quantized.onnx, ...
    const std::string stem = entry.role + "_model";
    const std::string v = model.config.variant;
    model.file = dir / "onnx" / (stem + (v.empty() || v == "fp32" ? "" : "_" + v) + ".onnx");
    model.config.family = entry.family;
    model.config.role = entry.role;
    model.config.task.clear();
    model.config.adaptive_quality.reset();
    if (entry.role == "vision") {
      if (!model.config.image_input) {
        ASSIGN_OR_RETURN(auto ii, ReadPreprocessorConfig(dir / "preprocessor_config.json", "pixel_values"));
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
        auto r = inst->Run(ptrs);
        if (!r.ok())
          return FailedPrecondition("warm-up of '" + model.config.name + "' at batch " + std::to_string(b) +
                                    " failed: " + r.status().message());
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
