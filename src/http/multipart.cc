#include "http/multipart.h"

#include <algorithm>
#include <cctype>

#include "http/http_types.h"

namespace sightline::http {
namespace {

constexpr size_t kMaxParts = 1024;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The value of `key=` in a header's ;-separated parameters (quoted or bare), or empty.
std::string Param(std::string_view header, std::string_view key) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t semi = header.find(';', pos);
    // A quoted value may contain ';': skip to the closing quote first.
    std::string_view item =
        header.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos);
    const size_t eq = item.find('=');
    if (eq != std::string_view::npos && AsciiLower(Trim(item.substr(0, eq))) == key) {
      std::string_view v = Trim(header.substr(pos + eq + 1));
      if (!v.empty() && v.front() == '"') {
        std::string out;
        for (size_t i = 1; i < v.size(); ++i) {
          if (v[i] == '\\' && i + 1 < v.size()) {
            out += v[++i];
          } else if (v[i] == '"') {
            return out;
          } else {
            out += v[i];
          }
        }
        return out;  // unterminated quote: take the rest
      }
      const size_t end = v.find(';');
      return std::string(Trim(v.substr(0, end)));
    }
    if (semi == std::string_view::npos) break;
    pos = semi + 1;
  }
  return {};
}

}  // namespace

Result<std::string> MultipartBoundary(std::string_view content_type) {
  const std::string lower = AsciiLower(content_type);
  if (lower.rfind("multipart/form-data", 0) != 0) return InvalidArgument("not multipart/form-data");
  std::string b = Param(content_type, "boundary");
  if (b.empty() || b.size() > 200) return InvalidArgument("multipart/form-data without a usable boundary");
  return b;
}

Result<std::vector<MultipartPart>> ParseMultipart(std::string_view body, std::string_view boundary) {
  const std::string delim = "--" + std::string(boundary);
  std::vector<MultipartPart> parts;
  size_t pos = body.find(delim);
  if (pos == std::string_view::npos) return InvalidArgument("multipart body has no boundary line");
  pos += delim.size();
  const std::string next_delim = "\r\n" + delim;
  while (true) {
    if (body.substr(pos, 2) == "--") return parts;  // closing delimiter
    // Transport padding, then CRLF.
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) != "\r\n") return InvalidArgument("multipart boundary line is malformed");
    pos += 2;
    const size_t headers_end = body.find("\r\n\r\n", pos);
    if (headers_end == std::string_view::npos)
      return InvalidArgument("multipart part has unterminated headers");
    MultipartPart part;
    bool disposition = false;
    std::string_view headers = body.substr(pos, headers_end - pos);
    while (!headers.empty()) {
      size_t eol = headers.find("\r\n");
      std::string_view line = headers.substr(0, eol);
      headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 2);
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) return InvalidArgument("multipart part header without ':'");
      const std::string name = AsciiLower(Trim(line.substr(0, colon)));
      const std::string_view value = Trim(line.substr(colon + 1));
      if (name == "content-disposition") {
        if (AsciiLower(value).rfind("form-data", 0) != 0)
          return InvalidArgument("multipart part's Content-Disposition must be form-data");
        part.name = Param(value, "name");
        part.filename = Param(value, "filename");
        disposition = true;
      } else if (name == "content-type") {
        part.content_type = AsciiLower(value);
      }
    }
    if (!disposition) return InvalidArgument("multipart part without Content-Disposition");
    const size_t start = headers_end + 4;
    const size_t end = body.find(next_delim, start);
    if (end == std::string_view::npos)
      return InvalidArgument("multipart body ends without its closing boundary");
    part.body = body.substr(start, end - start);
    parts.push_back(std::move(part));
    if (parts.size() > kMaxParts) return InvalidArgument("multipart body has more than 1024 parts");
    pos = end + next_delim.size();
  }
}

}  // namespace sightline::http
