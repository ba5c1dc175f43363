// Fuzzes the KServe request parser (JSON and binary extension) and the response encoder.
// First byte picks whether a header length is given, next two bytes give it. With one, the
// body is also parsed the way the transport hands it over: split, the binary part owned.
#include <cstdint>
#include <cstring>
#include <string_view>

#include "http/kserve_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  std::optional<size_t> header;
  if (data[0] & 1) header = static_cast<size_t>(data[1]) | (static_cast<size_t>(data[2]) << 8);
  std::string_view body(reinterpret_cast<const char*>(data + 3), size - 3);
  sightline::http::KServeLimits limits;
  limits.max_elements = 1 << 16;
  auto r = sightline::http::ParseInferRequest(body, header, limits);
  if (r.ok()) {
    auto enc =
        sightline::http::EncodeInferResponse("m", "1", r->id, r->inputs, r->outputs, r->binary_data_output);
    (void)enc;
  }
  if (header && *header <= body.size()) {
    sightline::TensorBuffer binary(body.size() - *header);
    if (!binary.empty()) std::memcpy(binary.data(), body.data() + *header, binary.size());
    auto split = sightline::http::ParseInferRequest(body.substr(0, *header), std::move(binary), limits);
    // Both ways of handing the body over must agree.
    if (split.ok() != r.ok()) __builtin_trap();
  }
  return 0;
}
