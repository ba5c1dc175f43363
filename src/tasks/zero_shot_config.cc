#include "tasks/zero_shot_config.h"

#include "repository/config_reader.h"

namespace sightline::tasks {

using repository::FieldReader;

Result<ZeroShotConfig> ParseZeroShotConfig(const std::string& block_json, const std::string& file_label) {
  ZeroShotConfig cfg;
  if (block_json.empty()) return cfg;
  ASSIGN_OR_RETURN(auto obj, repository::ParseConfigObject(block_json, file_label));
  FieldReader zs(obj, file_label, kZeroShotBlock);
  RETURN_IF_ERROR(zs.Number("logit_scale", &cfg.logit_scale));
  if (cfg.logit_scale <= 0) return zs.Error("logit_scale", "must be positive");
  RETURN_IF_ERROR(zs.String("prompt_template", &cfg.prompt_template));
  if (cfg.prompt_template.find("{}") == std::string::npos)
    return zs.Error("prompt_template", "must contain {} where the label goes");
  ASSIGN_OR_RETURN(auto sets, zs.Object("label_sets"));
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
  ASSIGN_OR_RETURN(auto ens, zs.Object("ensembles"));
  if (ens) {
    for (const auto& [set_name, spec] : ens->raw()) {
      ens->MarkSeen(std::string(set_name));
      if (!spec.is_object()) return ens->Error(std::string(set_name), "must be an object");
      FieldReader e(spec.get_object(), file_label, "zero_shot.ensembles." + std::string(set_name));
      ZeroShotConfig::Ensemble x;
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
  RETURN_IF_ERROR(zs.RejectUnknown());
  return cfg;
}

}  // namespace sightline::tasks
