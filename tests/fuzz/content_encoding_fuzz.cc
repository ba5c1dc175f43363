// Fuzzes request-body inflation (Content-Encoding gzip / deflate): the first byte picks the
// coding, the rest is the body; the limit is small so bombs are cut quickly.
#include <cstdint>
#include <string_view>

#include "http/content_encoding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const char* encodings[] = {"gzip", "deflate", "x-gzip"};
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  auto r = sightline::http::InflateBody(body, encodings[data[0] % 3], 1 << 20);
  (void)r;
  return 0;
}
