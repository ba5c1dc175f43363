// Standard base64 (RFC 4648, with padding) for images carried in JSON.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sightline {

std::string Base64Encode(std::string_view bytes);
// Accepts padded or unpadded input and ignores ASCII whitespace; nullopt on any other
// character outside the alphabet, or a length no encoder produces.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace sightline
