// Reads one JSON object of a model-folder config (sightline.json, a task's block of it) field by
// field, remembering the path, so every error names the file and the field:
// "models/x/sightline.json: field 'zero_shot.ensembles.birds.low' needs 0 <= low <= high <= 1".
// Unknown keys are errors (RejectUnknown): a typo must not silently fall back to a default.
// Shared by the serving config (runtime/) and every task's own config block (tasks/).
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

namespace sightline::repository {

namespace json = boost::json;

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

// Parses a config file's text (or a block of it, serialised) as a JSON object. Errors name
// `file_label`.
Result<json::object> ParseConfigObject(const std::string& text, const std::string& file_label);

}  // namespace sightline::repository
