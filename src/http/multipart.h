// multipart/form-data (RFC 7578) parsing for image uploads. Parts point into the request body
// (no copies); a malformed body is a clear 400, never a crash (see tests/fuzz).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sightline::http {

struct MultipartPart {
  std::string name;          // form field name
  std::string filename;      // empty for plain fields
  std::string content_type;  // lower-case; empty when the part has none
  std::string_view body;     // into the parsed buffer
};

// The boundary parameter of a multipart/form-data Content-Type value.
Result<std::string> MultipartBoundary(std::string_view content_type);

Result<std::vector<MultipartPart>> ParseMultipart(std::string_view body, std::string_view boundary);

}  // namespace sightline::http
