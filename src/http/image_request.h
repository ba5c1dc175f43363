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
#include "sources/image_source.h"

namespace boost::json {
class value;
}

namespace sightline::http {

using sources::ImageSource;

using Fields = std::vector<std::pair<std::string, std::string>>;
using FieldLists = std::vector<std::pair<std::string, std::vector<std::string>>>;

// Base64 text or a data: URI ("data:image/png;base64,...") to its bytes. Errors:
// kInvalidArgument of `kind` naming `label` (malformed, not base64, empty).
Result<std::string> DecodeInlineBytes(std::string_view text, const std::string& label, ErrorKind kind);

// One JSON member that is a parameter into `fields` as text: a string, a bool ("true"/"false"), a
// number, or a list of strings (comma-joined in `fields`, whole in `lists`); null is skipped. The
// keys of bools and numbers go to `non_strings` when given, for fields that must be text.
// Errors: kInvalidArgument naming the key (another type, a list with non-strings).
Status AddJsonParameter(const std::string& key, const boost::json::value& v, Fields& fields,
                        FieldLists& lists, std::vector<std::string>* non_strings = nullptr);

// At most this many images in one request on any image route (refused up front, 413).
inline constexpr size_t kMaxImages = 1024;

struct ImageRequest {
  std::vector<ImageSource> images;
  // The images came as a list (a JSON array, several files): answers that have a one-image shape
  // and a many-image shape use the list shape then, even for a list of one.
  bool listed = false;
  std::vector<std::pair<std::string, std::string>> fields;  // parameters, in arrival order
  // JSON arrays of strings (labels, effects) as lists too; `fields` holds them comma-joined.
  std::vector<std::pair<std::string, std::vector<std::string>>> lists;
  std::vector<std::string> non_strings;  // parameters given as JSON numbers or booleans
};

// Errors are kInvalidArgument (400) and say what was malformed; an unsupported Content-Type
// is kUnsupportedMediaType (415) when the transport maps it, else 400.
Result<ImageRequest> ParseImageRequest(const HttpRequest& request);

// "a=1&b=x%20y" -> {{"a","1"},{"b","x y"}} ('+' is a space, as in HTML forms).
std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query);

}  // namespace sightline::http
