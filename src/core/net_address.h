// IP addresses and CIDR ranges as 16-byte IPv6 (IPv4 mapped), shared by the inbound allowlist
// (http/) and the outbound fetcher's SSRF guard (sources/).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace sightline {

using IpAddress = std::array<uint8_t, 16>;  // IPv4 stored as ::ffff:a.b.c.d

struct Cidr {
  IpAddress addr{};
  int prefix = 0;  // in IPv6 bits

  bool Contains(const IpAddress& a) const;
};

// "10.0.0.0/8", "::1", "fe80::/10", a bare address (a /32 or /128).
Result<Cidr> ParseCidr(const std::string& text);
// Parses a textual IPv4/IPv6 address (IPv6 optionally in brackets) into the mapped form.
bool ParseIp(const std::string& text, IpAddress* out);
// Dotted or colon form of a mapped address, for messages.
std::string FormatIp(const IpAddress& a);

}  // namespace sightline
