// Fuzzes the image-route request parser: multipart/form-data (boundary from the first bytes),
// JSON with base64 / data: URIs, raw bodies, and the query string.
#include <cstdint>
#include <string>

#include "http/image_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  sightline::http::HttpRequest req;
  const char* types[] = {"multipart/form-data; boundary=XyZ", "application/json", "image/png", "text/plain",
                         "multipart/form-data; boundary=\"q;b\""};
  req.headers.emplace_back("content-type", types[data[0] % 5]);
  const size_t query_len = data[1] % 32;
  std::string rest(reinterpret_cast<const char*>(data + 2), size - 2);
  req.query = rest.substr(0, std::min(query_len, rest.size()));
  req.body = rest.substr(std::min(query_len, rest.size()));
  auto r = sightline::http::ParseImageRequest(req);
  (void)r;
  return 0;
}
