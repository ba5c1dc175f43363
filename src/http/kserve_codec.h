// KServe v2 / Open Inference Protocol wire format: inference requests as JSON tensors or JSON
// followed by raw bytes (binary-data extension, `Inference-Header-Content-Length`), and
// responses in either form. Pure functions over bytes: the fuzz target drives them directly.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace sightline::http {

struct RequestedOutput {
  std::string name;
  bool binary = false;
};

struct KServeInferRequest {
  std::string id;
  std::vector<Tensor> inputs;
  std::vector<RequestedOutput> outputs;  // empty: every output, as JSON unless binary_data_output
  bool binary_data_output = false;
  int priority = 0;
  std::optional<int64_t> timeout_us;
};

struct KServeLimits {
  size_t max_elements = 64u << 20;  // per tensor
};

// `header_length`: value of Inference-Header-Content-Length when present (binary extension).
Result<KServeInferRequest> ParseInferRequest(std::string_view body, std::optional<size_t> header_length,
                                             const KServeLimits& limits = {});
// The same, for a body already split at Inference-Header-Content-Length: `json` is the header and
// `binary` the rest. An input that claims all of `binary` takes the buffer over without a copy.
Result<KServeInferRequest> ParseInferRequest(std::string_view json, TensorBuffer&& binary,
                                             const KServeLimits& limits = {});

struct EncodedInferResponse {
  std::string body;
  std::optional<size_t> json_length;  // set when binary outputs follow the JSON
};

EncodedInferResponse EncodeInferResponse(const std::string& model_name, const std::string& model_version,
                                         const std::string& id, const std::vector<Tensor>& outputs,
                                         const std::vector<RequestedOutput>& requested,
                                         bool binary_data_output);

// Appends a tensor's elements as a flat JSON array.
void AppendJsonData(std::string& out, const Tensor& t);

}  // namespace sightline::http
