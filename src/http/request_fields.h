// Reading a request's parameters (query, form fields or JSON members, already reduced to text
// pairs by image_request / video_request): typed, range-checked, with errors that name the
// parameter. `R` is any request with `fields`, a vector of (name, value) pairs in arrival order.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include "core/status.h"

namespace sightline::http {

// The first value of `key`, or empty.
template <typename R>
std::string Field(const R& r, const std::string& key) {
  for (const auto& [k, v] : r.fields)
    if (k == key) return v;
  return {};
}

// A text parameter (a prompt, a model name), or empty when absent. A JSON number, boolean or list
// given for it is refused, not turned into text ("prompt": 5 is not the prompt "5"). `R` also has
// `lists` and `non_strings` (image_request.h's AddJsonParameter fills them).
template <typename R>
Result<std::string> TextField(const R& r, const std::string& key) {
  for (const auto& [k, v] : r.lists)
    if (k == key) return InvalidArgument(key + " must be a string");
  for (const auto& k : r.non_strings)
    if (k == key) return InvalidArgument(key + " must be a string");
  return Field(r, key);
}

// kInvalidArgument naming the first parameter not in `known`.
template <typename R>
Status RejectUnknown(const R& r, std::initializer_list<const char*> known, const std::string& expected) {
  for (const auto& [k, v] : r.fields) {
    bool ok = false;
    for (const char* n : known) ok |= k == n;
    if (!ok) return InvalidArgument("unknown parameter '" + k + "' (expected " + expected + ")");
  }
  return Status::Ok();
}

// An integer in [lo, hi]; absent: nullopt.
template <typename R>
Result<std::optional<int>> IntField(const R& r, const char* name, int64_t lo, int64_t hi) {
  const std::string v = Field(r, name);
  if (v.empty()) return std::optional<int>();
  int64_t x = 0;
  const auto res = std::from_chars(v.data(), v.data() + v.size(), x);
  if (res.ec != std::errc() || res.ptr != v.data() + v.size() || x < lo || x > hi)
    return InvalidArgument(std::string(name) + " must be an integer between " + std::to_string(lo) + " and " +
                           std::to_string(hi) + ", not '" + v + "'");
  return std::optional<int>(static_cast<int>(x));
}

// A finite number; absent: nullopt. Ranges are the caller's (the task validates its own).
template <typename R>
Result<std::optional<double>> NumberField(const R& r, const char* name) {
  const std::string v = Field(r, name);
  if (v.empty()) return std::optional<double>();
  double x = 0;
  const auto res = std::from_chars(v.data(), v.data() + v.size(), x);
  if (res.ec != std::errc() || res.ptr != v.data() + v.size() || !std::isfinite(x))
    return InvalidArgument(std::string(name) + " must be a number, not '" + v + "'");
  return std::optional<double>(x);
}

}  // namespace sightline::http
