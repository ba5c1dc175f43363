// Who may call: optional API keys (Authorization: Bearer or X-API-Key, compared in constant
// time) and an optional CIDR allowlist checked on the peer address.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"
#include "http/http_types.h"

namespace sightline::http {

struct Cidr {
  std::array<uint8_t, 16> addr{};  // IPv4 stored as IPv4-mapped IPv6
  int prefix = 0;                  // in IPv6 bits
};

Result<Cidr> ParseCidr(const std::string& text);
// Parses a textual IPv4/IPv6 address into the mapped 16-byte form.
bool ParseIp(const std::string& text, std::array<uint8_t, 16>* out);

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
