// Who may call: optional API keys (Authorization: Bearer or X-API-Key, compared in constant
// time) and an optional CIDR allowlist checked on the peer address.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/net_address.h"
#include "core/status.h"
#include "http/http_types.h"

namespace sightline::http {

using sightline::Cidr;
using sightline::ParseCidr;
using sightline::ParseIp;

class AccessControl {
 public:
  // One key per line; blank lines and lines starting with '#' ignored.
  static Result<AccessControl> Create(const std::filesystem::path& api_key_file,
                                      const std::vector<std::string>& allow_cidrs);
  AccessControl() = default;

  bool keys_enabled() const { return !keys_.empty(); }
  // kForbidden when the address is not allowed.
  Status CheckAddress(const std::string& remote_ip) const;
  // kUnauthorized when keys are configured and the request carries none that matches.
  Status CheckKey(const HttpRequest& request) const;

 private:
  std::vector<std::string> keys_;
  std::vector<Cidr> cidrs_;
};

// Compares in time that depends only on the lengths, not on where the first difference is.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace sightline::http
