#include "core/net_address.h"

#include <arpa/inet.h>

#include <cstring>

namespace sightline {

bool ParseIp(const std::string& text, IpAddress* out) {
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    out->fill(0);
    (*out)[10] = 0xff;
    (*out)[11] = 0xff;
    std::memcpy(out->data() + 12, &v4, 4);
    return true;
  }
  std::string t = text;
  if (t.size() > 2 && t.front() == '[' && t.back() == ']') t = t.substr(1, t.size() - 2);
  in6_addr v6{};
  if (inet_pton(AF_INET6, t.c_str(), &v6) == 1) {
    std::memcpy(out->data(), &v6, 16);
    return true;
  }
  return false;
}

std::string FormatIp(const IpAddress& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a.data(), kMapped, 12) == 0) {
    inet_ntop(AF_INET, a.data() + 12, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
  }
  return buf;
}

Result<Cidr> ParseCidr(const std::string& text) {
  Cidr c;
  const auto slash = text.find('/');
  const std::string ip = text.substr(0, slash);
  if (!ParseIp(ip, &c.addr)) return InvalidArgument("'" + text + "' is not an IP address or CIDR");
  const bool v4 = ip.find(':') == std::string::npos;
  int max_bits = v4 ? 32 : 128;
  int bits = max_bits;
  if (slash != std::string::npos) {
    const std::string p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string::npos)
      return InvalidArgument("'" + text + "' has a bad prefix length");
    bits = std::stoi(p);
    if (bits > max_bits) return InvalidArgument("'" + text + "' has a prefix longer than the address");
  }
  c.prefix = v4 ? bits + 96 : bits;
  return c;
}

bool Cidr::Contains(const IpAddress& a) const {
  int bits = prefix;
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    const uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((a[i] & mask) != (addr[i] & mask)) return false;
  }
  return true;
}

}  // namespace sightline
