// Where one image of a request comes from: bytes that arrived with it, a URL the server fetches
// (sources/url_fetcher.h), or a path under an --allow-path root (sources/path_policy.h). Front
// doors reduce their inputs to these; tasks resolve them to bytes through a SourceResolver.
#pragma once

#include <string>

#include "core/status.h"

namespace sightline::sources {

struct ImageSource {
  enum class Kind { kBytes, kUrl, kPath };
  Kind kind = Kind::kBytes;
  std::string value;  // the encoded image, the URL, or the path
  std::string label;  // names the item in error messages: "file 'cat.jpg'", "images[2]"
  // An item of a list that could not be read from the request itself (empty, bad base64): it
  // fails alone, with this error, when resolved; its neighbours go on.
  Status error;
  // The parameter a URL came in, named by fetch errors (empty: image_url).
  std::string field;
};

}  // namespace sightline::sources
