// Fuzzes the video routes' request parser (http/video_codec): multipart/form-data, JSON with base64
// / data: URIs, video_url / video_path, raw bodies, the query string, and the shot parameters.
#include <cstdint>
#include <string>

#include "http/video_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  sightline::http::HttpRequest req;
  const char* types[] = {"multipart/form-data; boundary=XyZ", "application/json", "video/mp4", "text/plain",
                         "application/octet-stream"};
  req.headers.emplace_back("content-type", types[data[0] % 5]);
  const size_t query_len = data[1] % 64;
  std::string rest(reinterpret_cast<const char*>(data + 2), size - 2);
  req.query = rest.substr(0, std::min(query_len, rest.size()));
  req.body = rest.substr(std::min(query_len, rest.size()));
  auto r = sightline::http::ParseVideoRequest(req);
  if (r.ok()) {
    auto p = sightline::http::ParseShotParams(*r);
    (void)p;
  }
  return 0;
}
