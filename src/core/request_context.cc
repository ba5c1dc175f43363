#include "core/request_context.h"

#include <random>

namespace sightline {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // the spec allows lower-case hex only
}

// Fills `out` from 2N lower-case hex digits; false when malformed or all zero (an invalid id).
template <size_t N>
bool ParseHex(std::string_view s, std::array<uint8_t, N>& out) {
  if (s.size() != 2 * N) return false;
  bool nonzero = false;
  for (size_t i = 0; i < N; ++i) {
    const int hi = HexValue(s[2 * i]), lo = HexValue(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
    nonzero |= out[i] != 0;
  }
  return nonzero;
}

template <size_t N>
void AppendHex(std::string& out, const std::array<uint8_t, N>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
}

}  // namespace

std::optional<TraceContext> TraceContext::Parse(std::string_view v) {
  // version "-" trace-id "-" parent-id "-" flags; later versions may append "-" and more fields.
  if (v.size() < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return std::nullopt;
  const int vh = HexValue(v[0]), vl = HexValue(v[1]), fh = HexValue(v[53]), fl = HexValue(v[54]);
  if (vh < 0 || vl < 0 || fh < 0 || fl < 0) return std::nullopt;
  const int version = vh << 4 | vl;
  if (version == 0xff || (version == 0 && v.size() != 55) || (v.size() > 55 && v[55] != '-'))
    return std::nullopt;
  TraceContext t;
  if (!ParseHex(v.substr(3, 32), t.trace_id) || !ParseHex(v.substr(36, 16), t.parent_id)) return std::nullopt;
  t.flags = static_cast<uint8_t>(fh << 4 | fl);
  return t;
}

namespace {

// Per-thread generator: no shared state, and ids need to be unique, not secret.
std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

}  // namespace

TraceContext TraceContext::ChildSpan() const {
  TraceContext t = *this;
  const uint64_t r = Rng()() | 1;  // never all zero
  for (size_t k = 0; k < 8; ++k) t.parent_id[k] = static_cast<uint8_t>(r >> (8 * k));
  return t;
}

TraceContext TraceContext::Generate() {
  auto& rng = Rng();
  TraceContext t;
  for (size_t i = 0; i < 16; i += 8) {
    const uint64_t r = rng();
    for (size_t k = 0; k < 8; ++k) t.trace_id[i + k] = static_cast<uint8_t>(r >> (8 * k));
  }
  const uint64_t r = rng() | 1;  // never all zero
  for (size_t k = 0; k < 8; ++k) t.parent_id[k] = static_cast<uint8_t>(r >> (8 * k));
  t.flags = 1;
  return t;
}

std::string TraceContext::ToTraceparent() const {
  std::string out = "00-";
  AppendHex(out, trace_id);
  out += '-';
  AppendHex(out, parent_id);
  out += '-';
  AppendHex(out, std::array<uint8_t, 1>{flags});
  return out;
}

std::string TraceContext::TraceIdHex() const {
  std::string out;
  AppendHex(out, trace_id);
  return out;
}

RequestContextPtr BackgroundContext(std::string request_id) {
  auto c = std::make_shared<RequestContext>();
  c->request_id = std::move(request_id);
  c->trace = TraceContext::Generate();
  return c;
}

Status Interrupted(const RequestContextPtr& context, std::string_view during) {
  if (!context) return Status::Ok();
  if (context->cancelled()) return Status(StatusCode::kCancelled, "client went away");
  if (context->expired())
    return Status(StatusCode::kDeadlineExceeded, "the request's deadline passed " + std::string(during));
  return Status::Ok();
}

}  // namespace sightline
