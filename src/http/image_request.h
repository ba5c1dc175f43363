// Every way an image reaches an image route, reduced to one shape: multipart/form-data (files
// and fields), a raw image body (Content-Type image/* or application/octet-stream), or JSON
// with base64 / data: URIs, `image_url`(s) and `image_path`(s); query parameters add fields.
// URLs and paths are only named here; fetching them is the sources/ layer's job.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "http/http_types.h"

namespace sightline::http {

struct ImageSource {
  enum class Kind { kBytes, kUrl, kPath };
  Kind kind = Kind::kBytes;
  std::string value;  // the encoded image, the URL, or the path
  std::string label;  // names the item in error messages: "file 'cat.jpg'", "images[2]"
};

struct ImageRequest {
  std::vector<ImageSource> images;
  std::vector<std::pair<std::string, std::string>> fields;  // parameters, in arrival order
  // JSON arrays of strings (labels, effects) as lists too; `fields` holds them comma-joined.
  std::vector<std::pair<std::string, std::vector<std::string>>> lists;
};

// Errors are kInvalidArgument (400) and say what was malformed; an unsupported Content-Type
// is kUnsupportedMediaType (415) when the transport maps it, else 400.
Result<ImageRequest> ParseImageRequest(const HttpRequest& request);

// "a=1&b=x%20y" -> {{"a","1"},{"b","x y"}} ('+' is a space, as in HTML forms).
std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query);

}  // namespace sightline::http
