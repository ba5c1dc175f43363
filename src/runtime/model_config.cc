#include "runtime/model_config.h"

#include "repository/config_reader.h"

#include <fstream>
#include <set>
#include <sstream>

namespace sightline::runtime {
namespace json = boost::json;
using repository::FieldReader;

Result<ModelConfig> ParseModelConfig(const std::string& json_text, const std::string& file_label,
                                     const std::string& name, const std::set<std::string>& task_blocks) {
  ModelConfig cfg;
  cfg.name = name;
  cfg.config_file = file_label;
  ASSIGN_OR_RETURN(json::object root, repository::ParseConfigObject(json_text, file_label));
  FieldReader r(root, file_label, "");
  // Blocks a task claims are its to parse (tasks/): kept as text, checked there.
  for (const auto& name_claimed : task_blocks) {
    if (const auto* v = root.if_contains(name_claimed)) {
      if (!v->is_object()) return r.Error(name_claimed, "must be an object");
      cfg.task_blocks[name_claimed] = json::serialize(*v);
      r.MarkSeen(name_claimed);
    }
  }
  RETURN_IF_ERROR(r.Int("max_batch_size", 0, 4096, &cfg.max_batch_size));
  RETURN_IF_ERROR(r.String("variant", &cfg.variant));
  RETURN_IF_ERROR(r.String("version", &cfg.version));
  RETURN_IF_ERROR(r.Bool("warmup", &cfg.warmup));
  RETURN_IF_ERROR(r.OneOf(
      "task", {"", "background_removal", "image_classification", "shot_boundary_detection"}, &cfg.task));
  {
    ASSIGN_OR_RETURN(auto db, r.Object("dynamic_batching"));
    if (db) {
      RETURN_IF_ERROR(db->Bool("enabled", &cfg.dynamic_batching));
      RETURN_IF_ERROR(db->Int("max_queue_delay_microseconds", 0, 10'000'000, &cfg.max_queue_delay_us));
      RETURN_IF_ERROR(db->IntList("preferred_batch_size", 1, 4096, &cfg.preferred_batch_sizes));
      RETURN_IF_ERROR(db->Int("priority_levels", 1, 16, &cfg.priority_levels));
      RETURN_IF_ERROR(db->Int("default_priority_level", 1, 16, &cfg.default_priority_level));
      ASSIGN_OR_RETURN(auto qp, db->Object("default_queue_policy"));
      if (qp) {
        RETURN_IF_ERROR(qp->Int("max_queue_size", 0, 10'000'000, &cfg.queue.max_queue_size));
        RETURN_IF_ERROR(
            qp->Int("default_timeout_microseconds", 0, 3'600'000'000LL, &cfg.queue.default_timeout_us));
        RETURN_IF_ERROR(qp->Bool("allow_timeout_override", &cfg.queue.allow_timeout_override));
        RETURN_IF_ERROR(
            qp->Int("max_queue_wait_microseconds", 0, 3'600'000'000LL, &cfg.queue.max_queue_wait_us));
        RETURN_IF_ERROR(qp->RejectUnknown());
      }
      RETURN_IF_ERROR(db->RejectUnknown());
      if (cfg.default_priority_level > cfg.priority_levels)
        return db->Error("default_priority_level", "must not exceed priority_levels");
    }
  }
  {
    ASSIGN_OR_RETURN(auto ig, r.Object("instance_group"));
    if (ig) {
      RETURN_IF_ERROR(ig->Int("count", 1, 64, &cfg.instance_count));
      std::string kind = "KIND_CPU";
      RETURN_IF_ERROR(ig->String("kind", &kind));
      if (kind != "KIND_CPU") return ig->Error("kind", "must be KIND_CPU in this build");
      RETURN_IF_ERROR(ig->RejectUnknown());
    }
  }
  {
    ASSIGN_OR_RETURN(auto opt, r.Object("optimization"));
    if (opt) {
      RETURN_IF_ERROR(opt->Int("intra_op_threads", 0, 256, &cfg.intra_op_threads));
      RETURN_IF_ERROR(opt->Int("inter_op_threads", 0, 256, &cfg.inter_op_threads));
      // "allow_spinning" (a bool) is the older spelling of "spinning": true = always, false = off.
      std::string spinning;
      RETURN_IF_ERROR(opt->OneOf("spinning", {"", "off", "always"}, &spinning));
      bool allow = spinning == "always";
      if (opt->Has("allow_spinning") && !spinning.empty())
        return opt->Error("allow_spinning", "cannot be given together with 'spinning' (its newer spelling)");
      RETURN_IF_ERROR(opt->Bool("allow_spinning", &allow));
      cfg.spinning = allow ? Spinning::kAlways : Spinning::kOff;
      cfg.spinning_set = !spinning.empty() || opt->Has("allow_spinning");
      std::string priority;
      RETURN_IF_ERROR(opt->OneOf("pool_priority", {"", "normal", "idle"}, &priority));
      cfg.pool_priority = priority == "idle" ? PoolPriority::kIdle : PoolPriority::kNormal;
      RETURN_IF_ERROR(opt->Bool("memory_pattern", &cfg.memory_pattern));
      RETURN_IF_ERROR(opt->Bool("save_optimized_graph", &cfg.save_optimized_graph));
      RETURN_IF_ERROR(opt->RejectUnknown());
    }
  }
  {
    ASSIGN_OR_RETURN(auto gen, r.Object("generation"));
    if (gen) {
      RETURN_IF_ERROR(gen->Int("max_rows", 1, 1024, &cfg.generation_max_rows));
      RETURN_IF_ERROR(gen->Int("kv_cache_mb", 1, 1 << 20, &cfg.generation_kv_cache_mb));
      RETURN_IF_ERROR(gen->Int("admission_window_us", 0, 1'000'000, &cfg.generation_admission_window_us));
      RETURN_IF_ERROR(gen->Bool("last_position_logits", &cfg.generation_last_position_logits));
      RETURN_IF_ERROR(gen->RejectUnknown());
    }
  }
  {
    ASSIGN_OR_RETURN(auto ii, r.Object("image_input"));
    if (ii) {
      ImageInputConfig c;
      RETURN_IF_ERROR(ii->String("input", &c.input));
      if (c.input.empty()) return ii->Error("input", "must name the model input that takes images");
      RETURN_IF_ERROR(ii->OneOf("resize", {"shortest_edge_center_crop", "stretch", "letterbox"}, &c.resize));
      RETURN_IF_ERROR(ii->Int("width", 0, 16384, &c.width));
      RETURN_IF_ERROR(ii->Int("height", 0, 16384, &c.height));
      RETURN_IF_ERROR(ii->Number("scale", &c.scale));
      RETURN_IF_ERROR(ii->NumberList("mean", 3, &c.mean));
      RETURN_IF_ERROR(ii->NumberList("std", 3, &c.std));
      for (double d : c.std)
        if (d == 0) return ii->Error("std", "must not contain 0");
      RETURN_IF_ERROR(ii->OneOf("channel_order", {"RGB", "BGR"}, &c.channel_order));
      RETURN_IF_ERROR(ii->OneOf("layout", {"NCHW", "NHWC"}, &c.layout));
      RETURN_IF_ERROR(ii->Int("pad", 0, 255, &c.pad));
      RETURN_IF_ERROR(ii->Number("crop_fraction", &c.crop_fraction));
      if (!(c.crop_fraction > 0 && c.crop_fraction <= 1))
        return ii->Error("crop_fraction", "must be in (0, 1]");
      if (c.crop_fraction != 1 && c.resize != "stretch")
        return ii->Error("crop_fraction", "applies to resize \"stretch\" only");
      RETURN_IF_ERROR(ii->RejectUnknown());
      cfg.image_input = c;
    }
  }
  RETURN_IF_ERROR(r.RejectUnknown());
  if (cfg.task == "background_removal" && !cfg.image_input)
    return r.Error("task", "background_removal needs an image_input block (how images become the input)");
  return cfg;
}

Result<ModelConfig> LoadModelConfig(const std::filesystem::path& dir, const std::string& name,
                                    const std::set<std::string>& task_blocks) {
  const auto file = dir / kModelConfigFile;
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    ModelConfig cfg;
    cfg.name = name;
    cfg.config_file = file.string();
    return cfg;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return FailedPrecondition(file.string() + ": cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseModelConfig(ss.str(), file.string(), name, task_blocks);
}

Status FinalizeModelConfig(ModelConfig& cfg, const ModelSignature& sig, const std::string& file) {
  if (sig.inputs.empty()) return FailedPrecondition(file + ": model has no inputs");
  bool dynamic_batch = true;
  for (const auto* list : {&sig.inputs, &sig.outputs})
    for (const auto& t : *list)
      if (t.shape.empty() || t.shape[0] != -1) dynamic_batch = false;
  if (cfg.max_batch_size < 0) cfg.max_batch_size = dynamic_batch ? 8 : 0;
  if (cfg.max_batch_size > 0 && !dynamic_batch)
    return FailedPrecondition(file + ": field 'max_batch_size' is " + std::to_string(cfg.max_batch_size) +
                              " but the model's first dimension is not dynamic; set it to 0");
  for (int p : cfg.preferred_batch_sizes)
    if (p > cfg.max_batch_size)
      return FailedPrecondition(file + ": field 'dynamic_batching.preferred_batch_size' holds " +
                                std::to_string(p) + ", above max_batch_size " +
                                std::to_string(cfg.max_batch_size));
  if (cfg.instance_count < 0) cfg.instance_count = cfg.batching() ? 1 : 2;
  if (cfg.image_input) {
    auto& ii = *cfg.image_input;
    const TensorSpec* spec = sig.FindInput(ii.input);
    if (!spec)
      return FailedPrecondition(file + ": field 'image_input.input' names '" + ii.input +
                                "', not an input of the model");
    if (spec->shape.size() != 4 || (spec->dtype != DataType::kFp32 && spec->dtype != DataType::kFp16))
      return FailedPrecondition(file + ": field 'image_input.input' must be a 4-D FP32 or FP16 input; '" +
                                ii.input + "' is " + DataTypeName(spec->dtype) + " " +
                                ShapeToString(spec->shape));
    const bool nchw = ii.layout == "NCHW";
    const int64_t channels = nchw ? spec->shape[1] : spec->shape[3];
    if (channels != 3 && channels != -1)
      return FailedPrecondition(file + ": field 'image_input.layout' is " + ii.layout + " but input '" +
                                ii.input + "' has " + std::to_string(channels) + " channels there");
    const int64_t h = nchw ? spec->shape[2] : spec->shape[1];
    const int64_t w = nchw ? spec->shape[3] : spec->shape[2];
    if (ii.width == 0) ii.width = static_cast<int>(w);
    if (ii.height == 0) ii.height = static_cast<int>(h);
    if (ii.width <= 0 || ii.height <= 0)
      return FailedPrecondition(
          file + ": fields 'image_input.width' and 'height' are needed: the input's size is dynamic");
    if ((w > 0 && w != ii.width) || (h > 0 && h != ii.height))
      return FailedPrecondition(file + ": field 'image_input.width/height' disagrees with input shape " +
                                ShapeToString(spec->shape));
  }
  return Status::Ok();
}

}  // namespace sightline::runtime
