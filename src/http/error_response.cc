#include "http/error_response.h"

#include "core/utf8.h"

#include "http/error_json.h"

#include <boost/json.hpp>

#include <cmath>

namespace sightline::http {
namespace json = boost::json;

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kMethodNotAllowed: return 405;
    case StatusCode::kPayloadTooLarge: return 413;
    case StatusCode::kHeaderTooLarge: return 431;
    case StatusCode::kUnsupportedMediaType: return 415;
    case StatusCode::kBadGateway: return 502;
    case StatusCode::kUnauthorized: return 401;
    case StatusCode::kForbidden: return 403;
    case StatusCode::kOverloaded: return 503;
    case StatusCode::kDeadlineExceeded: return 504;
    case StatusCode::kCancelled: return 499;  // nginx's "client closed request"; never written
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kFailedPrecondition: return 400;
    case StatusCode::kUnimplemented: return 501;
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

namespace {

// Three decimals are plenty for a wait estimate and keep answers short.
double Rounded(double seconds) {
  return std::round(seconds * 1000.0) / 1000.0;
}

}  // namespace

json::object ErrorObject(const Status& status) {
  json::object o;
  o["code"] = StatusCodeName(status.code());
  if (status.kind() != ErrorKind::kNone) o["type"] = ErrorKindName(status.kind());
  o["message"] = ToValidUtf8(status.message());  // messages quote client bytes
  if (auto s = status.retry_after_sec()) o["retry_after_sec"] = Rounded(*s);
  return o;
}

HttpResponse ErrorResponse(const Status& status, ApiStyle style) {
  HttpResponse r;
  r.status = HttpStatusFor(status.code());
  if (auto s = status.retry_after_sec())
    r.headers.emplace_back("Retry-After", std::to_string(static_cast<long>(std::max(1.0, std::ceil(*s)))));
  if (style == ApiStyle::kKServe) {
    // KServe clients read "error" as a string: the kind goes in front of the message there, and
    // beside it as data.
    json::object o;
    const std::string kind = ErrorKindName(status.kind());
    o["error"] = ToValidUtf8(kind.empty() ? status.message() : kind + ": " + status.message());
    o["code"] = StatusCodeName(status.code());
    if (!kind.empty()) o["type"] = kind;
    if (auto s = status.retry_after_sec()) o["retry_after_sec"] = Rounded(*s);
    r.body = json::serialize(o);
  } else {
    json::object o;
    o["error"] = ErrorObject(status);
    r.body = json::serialize(o);
  }
  if (status.code() == StatusCode::kUnauthorized) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

}  // namespace sightline::http
