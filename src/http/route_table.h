// RouteTable (not a "router": that name is kept for the router process in front of workers):
// method + path pattern ("/v2/models/{model}/infer") -> handler. Each route also
// says whether it is exempt from authentication (health and readiness probes) and which API
// style its errors use.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "http/error_response.h"
#include "http/http_types.h"

namespace sightline::http {

using Handler = std::function<void(const HttpRequest&, const PathParams&, Responder)>;
// Runs once the headers are in, before the body is read: a non-ok Status is answered at once and
// the body is drained unparsed (cheap shedding of large requests).
using Precheck = std::function<Status(const HttpRequest& head, const PathParams&)>;

struct Route {
  std::string method;
  std::string pattern;  // also the metrics label
  Handler handler;
  bool public_route = false;  // skips API-key checks
  ApiStyle style = ApiStyle::kV1;
  Precheck precheck;
  // Lower-case name of a header holding a byte count N: the transport keeps the body's first N
  // bytes in HttpRequest::body and reads the rest into HttpRequest::body_tail. Empty: no split.
  std::string body_split_header;
  // Non-zero: bodies (plain or chunked) are streamed to a temporary file in
  // ServerOptions::upload_dir, up to this many bytes (over it: 413), instead of memory, and reach
  // the handler as HttpRequest::body_file. Zero: in memory, up to ServerOptions::max_body_bytes.
  uint64_t body_file_limit = 0;
};

struct RouteMatch {
  const Route* route = nullptr;
  PathParams params;
  bool path_matched = false;  // some route had this path (for 405 vs 404)
};

class RouteTable {
 public:
  // Returns the new route so callers can set its rarer fields; valid until the next Add.
  Route& Add(std::string method, std::string pattern, Handler handler, bool public_route = false,
             ApiStyle style = ApiStyle::kV1, Precheck precheck = nullptr);
  RouteMatch Match(const std::string& method, const std::string& path) const;

  // How a request that matches no route is answered. Unset: 404, or 405 when the path exists
  // with another method. The start-up table sets kUnavailable ("models are still loading") with
  // a retry-after, answered 503 + Retry-After.
  void SetUnmatched(Status status) { unmatched_ = std::move(status); }
  const Status& unmatched() const { return unmatched_; }

 private:
  std::vector<Route> routes_;
  Status unmatched_ = Status::Ok();
};

// Error style for an unmatched path: /v2 paths speak KServe's format.
ApiStyle StyleForPath(const std::string& path);

}  // namespace sightline::http
