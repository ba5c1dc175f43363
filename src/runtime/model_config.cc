#include "runtime/model_config.h"

#include <boost/json.hpp>

#include <fstream>
#include <set>
#include <sstream>

namespace sightline::runtime {
namespace json = boost::json;
namespace {

// Walks one JSON object, remembering the field path so every error names file and field.
class FieldReader {
 public:
  FieldReader(const json::object& obj, std::string file, std::string path)
      : obj_(obj), file_(std::move(file)), path_(std::move(path)) {}

  Status Error(const std::string& field, const std::string& what) const {
    return FailedPrecondition(file_ + ": field '" + Qualified(field) + "' " + what);
  }

  Status Int(const std::string& field, int64_t min, int64_t max, int64_t* out) {
    seen_.insert(field);
    const json::value* v = obj_.if_contains(field);
    if (!v) return Status::Ok();
    if (!v->is_int64() && !v->is_uint64()) return Error(field, "must be an integer");
    if (v->is_uint64() && v->get_uint64() > static_cast<uint64_t>(max))
      return Error(field, "must be at most " + std::to_string(max));
    const int64_t x = v->is_int64() ? v->get_int64() : static_cast<int64_t>(v->get_uint64());
    if (x < min || x > max)
      return Error(field, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    *out = x;
    return Status::Ok();
  }

  Status Int(const std::string& field, int64_t min, int64_t max, int* out) {
    int64_t x = *out;
    RETURN_IF_ERROR(Int(field, min, max, &x));
    *out = static_cast<int>(x);
    return Status::Ok();
  }

  bool Has(const std::string& field) const { return obj_.if_contains(field) != nullptr; }

  Status Bool(const std::string& field, bool* out) {
    seen_.insert(field);
    const json::value* v = obj_.if_contains(field);
    if (!v) return Status::Ok();
    if (!v->is_bool()) return Error(field, "must be true or false");
    *out = v->get_bool();
    return Status::Ok();
  }

  Status StringList(const std::string& field, std::vector<std::string>* out) {
    seen_.insert(field);
    const json::value* v = obj_.if_contains(field);
    if (!v) return Status::Ok();
    if (!v->is_array()) return Error(field, "must be a list of strings");
    out->clear();
    for (const auto& e : v->get_array()) {
      if (!e.is_string()) return Error(field, "must be a list of strings");
      out->emplace_back(e.get_string());
    }
    return Status::Ok();
  }

  Status String(const std::string& field, std::string* out) {
    seen_.insert(field);
    const json::value* v = obj_.if_contains(field);
    if (!v) return Status::Ok();
    if (!v->is_string() || v->get_string().empty()) return Error(field, "must be a non-empty string");
    *out = std::string(v->get_string());
    return Status::Ok();
  }

  Status IntList(const std::string& field, int min, int max, std::vector<int>* out) {
    seen_.insert(field);
    const json::value* v = obj_.if_contains(field);
    if (!v) return Status::Ok();
    if (!v->is_array()) return Error(field, "must be a list of integers");
    out->clear();
    for (const auto& e : v->get_array()) {
      if (!e.is_int64() || e.get_int64() < min || e.get_int64() > max)
        return Error(field,
                     "must hold integers between " + std::to_string(min) + " and " + std::to_string(max));
      out->push_back(static_cast<int>(e.get_int64()));
    }
    return Status::Ok();
  }

  Status Number(const std::string& field, double* out) {
    seen_.insert(field);
    const json::value* v = obj_.if_contains(field);
    if (!v) return Status::Ok();
    if (!v->is_number()) return Error(field, "must be a number");
    *out = v->to_number<double>();
    return Status::Ok();
  }

  Status NumberList(const std::string& field, size_t count, std::vector<double>* out) {
    seen_.insert(field);
    const json::value* v = obj_.if_contains(field);
    if (!v) return Status::Ok();
    if (!v->is_array() || v->get_array().size() != count)
      return Error(field, "must be a list of " + std::to_string(count) + " numbers");
    out->clear();
    for (const auto& e : v->get_array()) {
      if (!e.is_number()) return Error(field, "must be a list of " + std::to_string(count) + " numbers");
      out->push_back(e.to_number<double>());
    }
    return Status::Ok();
  }

  Status OneOf(const std::string& field, std::initializer_list<const char*> allowed, std::string* out) {
    RETURN_IF_ERROR(String(field, out));
    std::string list;
    for (const char* a : allowed) {
      if (*out == a) return Status::Ok();
      if (*a) list += std::string(list.empty() ? "" : ", ") + a;  // "" = may be left out
    }
    return Error(field, "must be one of " + list);
  }

  // Returns a reader for a nested object, or nullptr-equivalent (ok + *present=false).
  Result<std::optional<FieldReader>> Object(const std::string& field) {
    seen_.insert(field);
    const json::value* v = obj_.if_contains(field);
    if (!v) return std::optional<FieldReader>();
    if (!v->is_object()) return Error(field, "must be an object");
    return std::optional<FieldReader>(FieldReader(v->get_object(), file_, Qualified(field)));
  }

  // Unknown keys are errors: a typo must not silently fall back to a default.
  Status RejectUnknown() const {
    for (const auto& kv : obj_) {
      const std::string key(kv.key());
      if (!seen_.count(key)) return Error(key, "is not a known setting");
    }
    return Status::Ok();
  }

  const json::object& raw() const { return obj_; }
  void MarkSeen(const std::string& field) { seen_.insert(field); }

 private:
  std::string Qualified(const std::string& field) const {
    return path_.empty() ? field : path_ + "." + field;
  }
  const json::object& obj_;
  std::string file_;
  std::string path_;
  std::set<std::string> seen_;
};

}  // namespace

std::string VariantFileName(const std::string& variant) {
  if (variant.empty() || variant == "fp32") return "model.onnx";
  return "model_" + variant + ".onnx";
}

Result<ModelConfig> ParseModelConfig(const std::string& json_text, const std::string& file_label,
                                     const std::string& name) {
  ModelConfig cfg;
  cfg.name = name;
  boost::system::error_code ec;
  json::value root = json::parse(json_text, ec);
  if (ec) return FailedPrecondition(file_label + ": not valid JSON (" + ec.message() + ")");
  if (!root.is_object()) return FailedPrecondition(file_label + ": must hold a JSON object");
  FieldReader r(root.get_object(), file_label, "");
  RETURN_IF_ERROR(r.Int("max_batch_size", 0, 4096, &cfg.max_batch_size));
  RETURN_IF_ERROR(r.String("variant", &cfg.variant));
  RETURN_IF_ERROR(r.String("version", &cfg.version));
  RETURN_IF_ERROR(r.Bool("warmup", &cfg.warmup));
  RETURN_IF_ERROR(r.OneOf("task", {"", "background_removal"}, &cfg.task));
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
      std::string priority;
      RETURN_IF_ERROR(opt->OneOf("pool_priority", {"", "normal", "idle"}, &priority));
      cfg.pool_priority = priority == "idle" ? PoolPriority::kIdle : PoolPriority::kNormal;
      RETURN_IF_ERROR(opt->Bool("memory_pattern", &cfg.memory_pattern));
      RETURN_IF_ERROR(opt->RejectUnknown());
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
      RETURN_IF_ERROR(ii->RejectUnknown());
      cfg.image_input = c;
    }
  }
  {
    ASSIGN_OR_RETURN(auto aq, r.Object("adaptive_quality"));
    if (aq) {
      AdaptiveQualityConfig c;
      RETURN_IF_ERROR(aq->String("fallback_variant", &c.fallback_variant));
      if (c.fallback_variant.empty())
        return aq->Error("fallback_variant", "must name the variant to fall back to");
      if (c.fallback_variant == cfg.variant)
        return aq->Error("fallback_variant", "must differ from 'variant'");
      RETURN_IF_ERROR(aq->Int("switch_wait_ms", 0, 3'600'000, &c.switch_wait_ms));
      RETURN_IF_ERROR(aq->Int("restore_wait_ms", 0, 3'600'000, &c.restore_wait_ms));
      if (c.restore_wait_ms > c.switch_wait_ms)
        return aq->Error("restore_wait_ms", "must not exceed switch_wait_ms");
      RETURN_IF_ERROR(aq->RejectUnknown());
      cfg.adaptive_quality = c;
    }
  }
  {
    ASSIGN_OR_RETURN(auto zs, r.Object("zero_shot"));
    if (zs) {
      RETURN_IF_ERROR(zs->Number("logit_scale", &cfg.logit_scale));
      if (cfg.logit_scale <= 0) return zs->Error("logit_scale", "must be positive");
      RETURN_IF_ERROR(zs->String("prompt_template", &cfg.prompt_template));
      if (cfg.prompt_template.find("{}") == std::string::npos)
        return zs->Error("prompt_template", "must contain {} where the label goes");
      ASSIGN_OR_RETURN(auto sets, zs->Object("label_sets"));
      if (sets) {
        for (const auto& [name, list] : sets->raw()) {
          if (!list.is_array() || list.get_array().empty())
            return sets->Error(std::string(name), "must be a non-empty list of labels");
          std::vector<std::string> labels;
          for (const auto& l : list.get_array()) {
            if (!l.is_string() || l.get_string().empty())
              return sets->Error(std::string(name), "labels must be non-empty strings");
            labels.emplace_back(l.get_string());
          }
          cfg.label_sets.emplace_back(std::string(name), std::move(labels));
          sets->MarkSeen(std::string(name));
        }
        RETURN_IF_ERROR(sets->RejectUnknown());
      }
      ASSIGN_OR_RETURN(auto ens, zs->Object("ensembles"));
      if (ens) {
        for (const auto& [set_name, spec] : ens->raw()) {
          ens->MarkSeen(std::string(set_name));
          if (!spec.is_object()) return ens->Error(std::string(set_name), "must be an object");
          FieldReader e(spec.get_object(), file_label, "zero_shot.ensembles." + std::string(set_name));
          ModelConfig::Ensemble x;
          x.label_set = std::string(set_name);
          RETURN_IF_ERROR(e.String("classifier", &x.classifier));
          if (x.classifier.empty()) return e.Error("classifier", "must name the classifier model");
          RETURN_IF_ERROR(e.Number("low", &x.low));
          RETURN_IF_ERROR(e.Number("high", &x.high));
          if (!(0 <= x.low && x.low <= x.high && x.high <= 1))
            return e.Error("low", "needs 0 <= low <= high <= 1");
          RETURN_IF_ERROR(e.StringList("priority_labels", &x.priority_labels));
          RETURN_IF_ERROR(e.Int("clip_timeout_ms", 1, 600'000, &x.clip_timeout_ms));
          RETURN_IF_ERROR(e.Bool("classifier_outputs_probabilities", &x.classifier_outputs_probabilities));
          RETURN_IF_ERROR(e.RejectUnknown());
          bool known = false;
          for (const auto& [n, _] : cfg.label_sets) known |= n == x.label_set;
          if (!known) return ens->Error(x.label_set, "names no label set in zero_shot.label_sets");
          cfg.ensembles.push_back(std::move(x));
        }
        RETURN_IF_ERROR(ens->RejectUnknown());
      }
      RETURN_IF_ERROR(zs->RejectUnknown());
    }
  }
  RETURN_IF_ERROR(r.RejectUnknown());
  if (cfg.task == "background_removal" && !cfg.image_input)
    return r.Error("task", "background_removal needs an image_input block (how images become the input)");
  return cfg;
}

Result<ModelConfig> LoadModelConfig(const std::filesystem::path& dir, const std::string& name) {
  const auto file = dir / kModelConfigFile;
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    ModelConfig cfg;
    cfg.name = name;
    return cfg;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return FailedPrecondition(file.string() + ": cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseModelConfig(ss.str(), file.string(), name);
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
