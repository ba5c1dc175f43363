#include "http/image_request.h"

#include "core/utf8.h"

#include <boost/json.hpp>

#include <cctype>

#include "core/base64.h"
#include "http/multipart.h"

namespace sightline::http {
namespace {

namespace json = boost::json;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

Status AddJsonImages(const json::value& v, ImageSource::Kind kind, const std::string& key,
                     ImageRequest& out) {
  auto add_one = [&](const json::value& item, const std::string& label) -> Status {
    if (!item.is_string()) return InvalidArgument("'" + label + "' must be a string");
    std::string_view s(item.get_string().data(), item.get_string().size());
    ImageSource src;
    src.kind = kind;
    src.label = label;
    if (kind == ImageSource::Kind::kBytes) {
      auto bytes = DecodeInlineBytes(s, label, ErrorKind::kInvalidImage);
      if (bytes.ok())
        src.value = std::move(bytes).value();
      else
        src.error = bytes.status();  // this item fails alone
    } else {
      if (s.empty()) return InvalidArgument("'" + label + "' is empty");
      src.value = std::string(s);
    }
    out.images.push_back(std::move(src));
    return Status::Ok();
  };
  if (v.is_array()) {
    out.listed = true;
    const auto& a = v.get_array();
    for (size_t i = 0; i < a.size(); ++i) RETURN_IF_ERROR(add_one(a[i], key + "[" + std::to_string(i) + "]"));
    return Status::Ok();
  }
  return add_one(v, key);
}

Status ParseJson(std::string_view body, ImageRequest& out) {
  boost::system::error_code ec;
  json::value root = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec) return InvalidArgument("request body is not valid JSON: " + ec.message());
  if (!root.is_object()) return InvalidArgument("request body must be a JSON object");
  for (const auto& [k, v] : root.get_object()) {
    const std::string key(k);
    if (key == "image" || key == "images" || key == "input") {
      RETURN_IF_ERROR(AddJsonImages(v, ImageSource::Kind::kBytes, key, out));
    } else if (key == "image_url" || key == "image_urls" || key == "url" || key == "urls") {
      RETURN_IF_ERROR(AddJsonImages(v, ImageSource::Kind::kUrl, key, out));
    } else if (key == "image_path" || key == "image_paths") {
      RETURN_IF_ERROR(AddJsonImages(v, ImageSource::Kind::kPath, key, out));
    } else {
      RETURN_IF_ERROR(AddJsonParameter(key, v, out.fields, out.lists, &out.non_strings));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> DecodeInlineBytes(std::string_view text, const std::string& label, ErrorKind kind) {
  auto invalid = [&](std::string m) {
    return Status(StatusCode::kInvalidArgument, std::move(m)).WithKind(kind);
  };
  if (text.substr(0, 5) == "data:") {
    const size_t comma = text.find(',');
    if (comma == std::string_view::npos) return invalid(label + ": data: URI without a ','");
    const std::string meta = AsciiLower(text.substr(5, comma - 5));
    if (meta.size() < 7 || meta.compare(meta.size() - 7, 7, ";base64") != 0)
      return invalid(label + ": data: URI must be base64-encoded");
    text = text.substr(comma + 1);
  }
  auto bytes = Base64Decode(text);
  if (!bytes) return invalid(label + ": not valid base64 or a data: URI");
  if (bytes->empty()) return invalid(label + " is empty (0 bytes)");
  return std::move(*bytes);
}

Status AddJsonParameter(const std::string& key, const json::value& v, Fields& fields, FieldLists& lists,
                        std::vector<std::string>* non_strings) {
  if (non_strings && (v.is_bool() || v.is_number())) non_strings->push_back(key);
  if (v.is_string()) {
    fields.emplace_back(key, std::string(v.get_string()));
  } else if (v.is_bool()) {
    fields.emplace_back(key, v.get_bool() ? "true" : "false");
  } else if (v.is_number()) {
    fields.emplace_back(key, json::serialize(v));
  } else if (v.is_array()) {
    // A list of words (effects, labels) travels as "a,b,c" too.
    std::string joined;
    std::vector<std::string> items;
    for (const auto& item : v.get_array()) {
      if (!item.is_string()) return InvalidArgument("'" + key + "' must be a list of strings");
      if (!joined.empty()) joined += ',';
      joined += std::string(item.get_string());
      items.emplace_back(item.get_string());
    }
    fields.emplace_back(key, joined);
    lists.emplace_back(key, std::move(items));
  } else if (!v.is_null()) {
    return InvalidArgument("'" + key + "' has an unsupported JSON type");
  }
  return Status::Ok();
}

std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t pos = 0;
  while (pos < q.size()) {
    size_t amp = q.find('&', pos);
    if (amp == std::string_view::npos) amp = q.size();
    std::string_view item = q.substr(pos, amp - pos);
    if (!item.empty()) {
      const size_t eq = item.find('=');
      out.emplace_back(PercentDecode(item.substr(0, eq)),
                       eq == std::string_view::npos ? std::string() : PercentDecode(item.substr(eq + 1)));
    }
    pos = amp + 1;
  }
  return out;
}

Result<ImageRequest> ParseImageRequest(const HttpRequest& req) {
  ImageRequest out;
  const std::string ct = AsciiLower(req.Header("content-type"));
  const std::string_view body = req.body;
  if (ct.rfind("multipart/form-data", 0) == 0) {
    ASSIGN_OR_RETURN(auto boundary, MultipartBoundary(req.Header("content-type")));
    ASSIGN_OR_RETURN(auto parts, ParseMultipart(body, boundary));
    for (const auto& p : parts) {
      const bool file = !p.filename.empty() || p.content_type.rfind("image/", 0) == 0 ||
                        p.content_type == "application/octet-stream";
      if (file) {
        // The label is echoed in answers: a filename's bytes are the client's, not always UTF-8.
        const std::string label = "file '" + ToValidUtf8(p.filename.empty() ? p.name : p.filename) + "'";
        ImageSource src{ImageSource::Kind::kBytes, std::string(p.body), label, Status::Ok()};
        if (p.body.empty()) src.error = InvalidImage(label + " is empty (0 bytes)");  // fails alone
        out.images.push_back(std::move(src));
      } else if (p.name == "image_url" || p.name == "url") {
        out.images.push_back({ImageSource::Kind::kUrl, std::string(p.body), p.name});
      } else if (p.name == "image_path") {
        out.images.push_back({ImageSource::Kind::kPath, std::string(p.body), p.name});
      } else {
        out.fields.emplace_back(p.name, std::string(p.body));
      }
    }
  } else if (ct.rfind("image/", 0) == 0 || ct.rfind("application/octet-stream", 0) == 0) {
    if (body.empty()) return InvalidImage("the request body is empty (0 bytes)");
    out.images.push_back({ImageSource::Kind::kBytes, std::string(body), "body"});
  } else if (ct.rfind("application/json", 0) == 0) {
    RETURN_IF_ERROR(ParseJson(body, out));
  } else if (!body.empty()) {
    return Status(StatusCode::kUnsupportedMediaType,
                  "Content-Type '" + ct +
                      "' is not accepted: send multipart/form-data, image/*, application/octet-stream or "
                      "application/json");
  }
  if (out.images.size() > 1) out.listed = true;
  // Query parameters: image_url / image_path there too (GET-style calls, as rembg's ?url=).
  for (auto& [k, v] : ParseQuery(req.query)) {
    if (k == "image_url" || k == "url") {
      out.images.push_back({ImageSource::Kind::kUrl, v, k});
    } else if (k == "image_path") {
      out.images.push_back({ImageSource::Kind::kPath, v, k});
    } else {
      out.fields.emplace_back(std::move(k), std::move(v));
    }
  }
  // Every image route, /v1/metadata included, answers one entry per image: bounded here, once.
  if (out.images.size() > kMaxImages)
    return Status(StatusCode::kPayloadTooLarge, "at most " + std::to_string(kMaxImages) +
                                                    " images per request; got " +
                                                    std::to_string(out.images.size()))
        .WithKind(ErrorKind::kLimitExceeded);
  // Fields are text (labels, prompts, options) that answers and logs may quote: refuse bytes that
  // are not UTF-8 rather than tokenize and echo them (JSON bodies are checked by the parser).
  for (const auto& [k, v] : out.fields)
    if (!IsValidUtf8(k) || !IsValidUtf8(v))
      return InvalidArgument("field '" + ToValidUtf8(k) + "' is not valid UTF-8")
          .WithKind(ErrorKind::kInvalidText);
  return out;
}

}  // namespace sightline::http
