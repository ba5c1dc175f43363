// UTF-8 well-formedness for text that leaves the server: JSON must be valid UTF-8 (RFC 8259 §8.1),
// but client bytes reach error messages, logs and echoed fields (a query value of %ff, a
// filename, a header). Boost.JSON writes strings byte for byte, so whoever echoes client text
// passes it through here first.
#pragma once

#include <string>
#include <string_view>

namespace sightline {

// Whether `s` is well-formed UTF-8 (the Unicode Standard's Table 3-7: no overlongs, surrogates or
// values past U+10FFFF).
bool IsValidUtf8(std::string_view s);

// `s` with each ill-formed sequence (maximal subpart) replaced by U+FFFD, as Rust's
// from_utf8_lossy and WHATWG decoders do; valid input comes back unchanged.
std::string ToValidUtf8(std::string_view s);

}  // namespace sightline
