#include "generation/generation_params.h"

#include <boost/json.hpp>

#include <algorithm>
#include <climits>
#include <cmath>

namespace sightline::generation {
namespace {

namespace json = boost::json;

Status Field(const std::string& name, const std::string& rule) {
  return InvalidArgument(name + " " + rule);
}

Result<double> Number(const json::value& v, const char* key) {
  if (v.is_int64() || v.is_uint64() || v.is_double()) return v.to_number<double>();
  return InvalidArgument(std::string("generation_config.json: ") + key + " must be a number");
}

Result<int64_t> Integer(const json::value& v, const char* key) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<uint64_t>(INT64_MAX))
    return static_cast<int64_t>(v.get_uint64());
  return InvalidArgument(std::string("generation_config.json: ") + key + " must be an integer");
}

}  // namespace

Status GenerationParams::Validate(int max_new_tokens_limit) const {
  if (max_new_tokens < 1 || max_new_tokens > max_new_tokens_limit)
    return Field("max_new_tokens", "must be between 1 and " + std::to_string(max_new_tokens_limit));
  if (min_new_tokens < 0 || min_new_tokens > max_new_tokens)
    return Field("min_new_tokens", "must be between 0 and max_new_tokens");
  if (!(temperature > 0) || !std::isfinite(temperature))
    return Field("temperature", "must be a number above 0");
  if (top_k < 0) return Field("top_k", "must be 0 (off) or more");
  if (!(top_p > 0 && top_p <= 1)) return Field("top_p", "must be above 0 and at most 1");
  if (!(repetition_penalty > 0) || !std::isfinite(repetition_penalty))
    return Field("repetition_penalty", "must be a number above 0");
  if (no_repeat_ngram_size < 0) return Field("no_repeat_ngram_size", "must be 0 (off) or more");
  if (num_beams < 1 || num_beams > 16) return Field("num_beams", "must be between 1 and 16");
  if (num_beams > 1 && do_sample) return Field("num_beams", "cannot be combined with sampling");
  if (!std::isfinite(length_penalty)) return Field("length_penalty", "must be a finite number");
  for (const auto& s : stop)
    if (s.empty()) return Field("stop", "strings must not be empty");
  return Status::Ok();
}

Result<GenerationParams> ParamsFromGenerationConfig(const json::value& config, GenerationParams p) {
  if (!config.is_object()) return InvalidArgument("generation_config.json: must hold an object");
  const auto& o = config.get_object();
  if (const auto* v = o.if_contains("eos_token_id"); v && !v->is_null()) {
    p.eos_token_ids.clear();
    if (v->is_array()) {
      for (const auto& id : v->get_array()) {
        ASSIGN_OR_RETURN(int64_t x, Integer(id, "eos_token_id"));
        p.eos_token_ids.push_back(x);
      }
    } else {
      ASSIGN_OR_RETURN(int64_t x, Integer(*v, "eos_token_id"));
      p.eos_token_ids.push_back(x);
    }
  }
  if (const auto* v = o.if_contains("max_new_tokens"); v && !v->is_null()) {
    ASSIGN_OR_RETURN(int64_t x, Integer(*v, "max_new_tokens"));
    p.max_new_tokens = static_cast<int>(std::clamp<int64_t>(x, 1, 1 << 20));
  } else if (const auto* m = o.if_contains("max_length"); m && !m->is_null()) {
    ASSIGN_OR_RETURN(int64_t x, Integer(*m, "max_length"));
    // A captioner's max_length counts its start token; taken as new tokens it errs long, never short.
    p.max_new_tokens = static_cast<int>(std::clamp<int64_t>(x, 1, 1 << 20));
  }
  auto integer = [&](const char* key, int& dst) -> Status {
    if (const auto* v = o.if_contains(key); v && !v->is_null()) {
      ASSIGN_OR_RETURN(int64_t x, Integer(*v, key));
      dst = static_cast<int>(std::clamp<int64_t>(x, INT32_MIN, INT32_MAX));
    }
    return Status::Ok();
  };
  auto number = [&](const char* key, double& dst) -> Status {
    if (const auto* v = o.if_contains(key); v && !v->is_null()) {
      ASSIGN_OR_RETURN(dst, Number(*v, key));
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(integer("min_new_tokens", p.min_new_tokens));
  RETURN_IF_ERROR(integer("num_beams", p.num_beams));
  RETURN_IF_ERROR(integer("top_k", p.top_k));
  RETURN_IF_ERROR(integer("no_repeat_ngram_size", p.no_repeat_ngram_size));
  RETURN_IF_ERROR(number("temperature", p.temperature));
  RETURN_IF_ERROR(number("top_p", p.top_p));
  RETURN_IF_ERROR(number("repetition_penalty", p.repetition_penalty));
  RETURN_IF_ERROR(number("length_penalty", p.length_penalty));
  if (const auto* v = o.if_contains("do_sample"); v && !v->is_null()) {
    if (!v->is_bool()) return InvalidArgument("generation_config.json: do_sample must be true or false");
    p.do_sample = v->get_bool();
  }
  if (const auto* v = o.if_contains("early_stopping"); v && !v->is_null()) {
    if (v->is_bool()) {
      p.early_stopping = v->get_bool() ? EarlyStopping::kTrue : EarlyStopping::kFalse;
    } else if (v->is_string() && v->get_string() == "never") {
      p.early_stopping = EarlyStopping::kNever;
    } else {
      return InvalidArgument("generation_config.json: early_stopping must be true, false or \"never\"");
    }
  }
  return p;
}

}  // namespace sightline::generation
