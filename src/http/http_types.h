// Transport-neutral HTTP request/response. Handlers see only these, so no handler includes
// Beast (compile time) and handlers are testable without sockets.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/cancel_token.h"
#include "core/tensor.h"

namespace sightline::http {

struct HttpRequest {
  std::string method;                                        // "GET", "POST", ...
  std::string target;                                        // raw request target
  std::string path;                                          // target without the query, percent-decoded
  std::string query;                                         // after '?', raw
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  // The body's bytes past `body`, when the route splits bodies at a header-declared length
  // (Route::body_split_header; KServe's binary tensors follow a JSON header). The transport reads
  // them from the socket straight into this buffer, so a handler can move it into a Tensor
  // instead of copying 600 KB per image. Null when the body was not split.
  std::shared_ptr<TensorBuffer> body_tail;
  std::string remote_ip;
  std::string request_id;
  std::chrono::steady_clock::time_point received{};
  // Cancelled by the transport when the client hangs up before its answer is written.
  std::shared_ptr<CancelToken> cancel;

  // First value of a header (name lower-case), or empty.
  std::string_view Header(std::string_view lower_name) const;
  bool HasHeader(std::string_view lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Answers a request once, from any thread; the transport hops back to its connection.
using Responder = std::function<void(HttpResponse)>;

using PathParams = std::map<std::string, std::string>;

}  // namespace sightline::http
