#include "http/http_types.h"

#include <unistd.h>

#include <cctype>
#include <charconv>
#include <optional>

namespace sightline::http {

UploadFile::~UploadFile() {
  if (!path.empty()) ::unlink(path.c_str());
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return v;
  return {};
}

bool HttpRequest::HasHeader(std::string_view lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return true;
  return false;
}

namespace {

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

int RetryAttempt(const HttpRequest& req) {
  auto a = ParseInt(req.Header("x-retry-attempt"));
  return a && *a > 0 ? static_cast<int>(std::min<int64_t>(*a, 8)) : 0;
}

RequestContextPtr MakeRequestContext(const HttpRequest& req, int priority) {
  auto c = std::make_shared<RequestContext>();
  c->request_id = req.request_id;
  if (req.received != std::chrono::steady_clock::time_point{}) c->received = req.received;
  c->priority = priority;
  c->cancel = req.cancel;
  c->retry_attempt = RetryAttempt(req);
  c->trace = req.trace.ChildSpan();
  constexpr int64_t kDayMs = 86'400'000;
  const auto v = req.Header("x-request-timeout-ms");
  if (!v.empty()) {
    auto ms = ParseInt(v);
    // Digits too many for int64 (ParseInt fails) are far more than a day too.
    const bool all_digits = v.find_first_not_of("0123456789") == std::string_view::npos;
    const int64_t bounded = ms ? std::min(*ms, kDayMs) : (all_digits ? kDayMs : 0);
    if (bounded > 0) c->deadline = c->received + std::chrono::milliseconds(bounded);
  }
  return c;
}

}  // namespace sightline::http
