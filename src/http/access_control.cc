#include "http/access_control.h"

#include <algorithm>
#include <cstring>
#include <fstream>

namespace sightline::http {

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  const size_t n = std::max(a.size(), b.size());
  unsigned diff = static_cast<unsigned>(a.size() ^ b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

Result<AccessControl> AccessControl::Create(const std::filesystem::path& key_file,
                                            const std::vector<std::string>& allow_cidrs) {
  AccessControl ac;
  if (!key_file.empty()) {
    std::ifstream in(key_file);
    if (!in) return FailedPrecondition("--api-key-file '" + key_file.string() + "' cannot be read");
    std::string line;
    while (std::getline(in, line)) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
        line.pop_back();
      size_t s = line.find_first_not_of(" \t");
      if (s == std::string::npos || line[s] == '#') continue;
      ac.keys_.push_back(line.substr(s));
    }
    if (ac.keys_.empty())
      return FailedPrecondition("--api-key-file '" + key_file.string() + "' holds no keys");
  }
  for (const auto& c : allow_cidrs) {
    auto parsed = ParseCidr(c);
    if (!parsed.ok()) return FailedPrecondition("--allow-cidr: " + parsed.status().message());
    ac.cidrs_.push_back(parsed.value());
  }
  return ac;
}

Status AccessControl::CheckAddress(const std::string& remote_ip) const {
  if (cidrs_.empty()) return Status::Ok();
  std::array<uint8_t, 16> a{};
  if (ParseIp(remote_ip, &a)) {
    for (const auto& c : cidrs_)
      if (c.Contains(a)) return Status::Ok();
  }
  return Status(StatusCode::kForbidden, "client address " + remote_ip + " is not allowed");
}

Status AccessControl::CheckKey(const HttpRequest& req) const {
  if (keys_.empty()) return Status::Ok();
  std::string_view presented = req.Header("x-api-key");
  if (presented.empty()) {
    std::string_view auth = req.Header("authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (auth.size() > kBearer.size() && auth.substr(0, kBearer.size()) == kBearer)
      presented = auth.substr(kBearer.size());
  }
  if (presented.empty())
    return Status(StatusCode::kUnauthorized, "an API key is required (Authorization: Bearer or X-API-Key)");
  bool ok = false;
  for (const auto& k : keys_) ok |= ConstantTimeEquals(presented, k);  // no early exit
  if (!ok) return Status(StatusCode::kUnauthorized, "the API key is not valid");
  return Status::Ok();
}

}  // namespace sightline::http
