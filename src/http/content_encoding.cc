#include "http/content_encoding.h"

#include <zlib.h>

#include <limits>

#include "http/http_types.h"

namespace sightline::http {
namespace {

// One inflate pass with zlib's `window_bits` (15 + 32: zlib or gzip header, detected; -15: raw).
Result<std::string> Inflate(std::string_view body, int window_bits, size_t limit,
                            const std::string& encoding) {
  z_stream z{};
  if (inflateInit2(&z, window_bits) != Z_OK) return Internal("zlib inflateInit2 failed");
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&z};
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  z.avail_in = static_cast<uInt>(body.size());
  char chunk[64 * 1024];
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    const int rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
      return InvalidArgument("the body is not valid " + encoding + " data (Content-Encoding: " + encoding +
                             "): " + (z.msg ? z.msg : "zlib error " + std::to_string(rc)));
    const size_t produced = sizeof chunk - z.avail_out;
    if (out.size() + produced > limit)
      return Status(StatusCode::kPayloadTooLarge, "request body exceeds the limit of " +
                                                      std::to_string(limit) + " bytes once decompressed");
    out.append(chunk, produced);
    if (rc == Z_STREAM_END) {
      if (z.avail_in == 0) return out;
      // RFC 1952 2.2: a gzip file is a series of members, each inflated in turn; anything else
      // after the stream is not part of the body the client meant.
      const bool another_member =
          window_bits == 15 + 32 && z.avail_in >= 2 && z.next_in[0] == 0x1f && z.next_in[1] == 0x8b;
      if (!another_member)
        return InvalidArgument("the body has " + std::to_string(z.avail_in) + " bytes after the end of its " +
                               encoding + " stream (Content-Encoding: " + encoding + ")");
      if (inflateReset(&z) != Z_OK) return Internal("zlib inflateReset failed");
      continue;
    }
    if (rc == Z_BUF_ERROR || (z.avail_in == 0 && produced == 0))
      return InvalidArgument("the " + encoding + " body is cut short (Content-Encoding: " + encoding + ")");
  }
}

}  // namespace

bool IsInflatableEncoding(std::string_view encoding) {
  const std::string e = AsciiLower(encoding);
  return e == "gzip" || e == "x-gzip" || e == "deflate";
}

Result<std::string> InflateBody(std::string_view body, std::string_view encoding, size_t limit) {
  const std::string e = AsciiLower(encoding);
  if (!IsInflatableEncoding(e))
    return Status(StatusCode::kUnsupportedMediaType,
                  "Content-Encoding '" + std::string(encoding) +
                      "' is not supported; send gzip, deflate or no encoding");
  if (body.size() > std::numeric_limits<uInt>::max())
    return Status(StatusCode::kPayloadTooLarge, "body too large");
  auto r = Inflate(body, 15 + 32, limit, e);
  // HTTP's "deflate" is zlib-wrapped, but some clients send raw deflate: tried when the header
  // does not read as zlib's.
  if (!r.ok() && e == "deflate" && r.status().code() == StatusCode::kInvalidArgument) {
    auto raw = Inflate(body, -15, limit, e);
    if (raw.ok() || raw.status().code() == StatusCode::kPayloadTooLarge) return raw;
  }
  return r;
}

}  // namespace sightline::http
