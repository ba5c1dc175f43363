#include "http/error_response.h"

#include <cmath>
#include <cstdio>

#include "observability/logger.h"

namespace sightline::http {

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kPayloadTooLarge: return 413;
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

void AppendErrorObject(std::string& out, const Status& status) {
  out += "{\"code\":\"";
  out += StatusCodeName(status.code());
  out += "\",\"message\":\"";
  observability::AppendJsonEscaped(out, status.message());
  out += "\"}";
}

HttpResponse ErrorResponse(const Status& status, ApiStyle style) {
  HttpResponse r;
  r.status = HttpStatusFor(status.code());
  std::string msg;
  observability::AppendJsonEscaped(msg, status.message());
  const char* code = StatusCodeName(status.code());
  std::string retry;
  if (auto s = status.retry_after_sec()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", *s);
    retry = buf;
    r.headers.emplace_back("Retry-After", std::to_string(static_cast<long>(std::max(1.0, std::ceil(*s)))));
  }
  if (style == ApiStyle::kKServe) {
    r.body = "{\"error\":\"" + msg + "\",\"code\":\"" + code + "\"";
    if (!retry.empty()) r.body += ",\"retry_after_sec\":" + retry;
    r.body += "}";
  } else {
    r.body = "{\"error\":{\"code\":\"" + std::string(code) + "\",\"message\":\"" + msg + "\"";
    if (!retry.empty()) r.body += ",\"retry_after_sec\":" + retry;
    r.body += "}}";
  }
  if (status.code() == StatusCode::kUnauthorized) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

}  // namespace sightline::http
