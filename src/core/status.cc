#include "core/status.h"

namespace sightline {

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid_argument";
    case StatusCode::kNotFound: return "not_found";
    case StatusCode::kMethodNotAllowed: return "method_not_allowed";
    case StatusCode::kPayloadTooLarge: return "payload_too_large";
    case StatusCode::kHeaderTooLarge: return "header_too_large";
    case StatusCode::kUnsupportedMediaType: return "unsupported_media_type";
    case StatusCode::kBadGateway: return "bad_gateway";
    case StatusCode::kUnauthorized: return "unauthorized";
    case StatusCode::kForbidden: return "forbidden";
    case StatusCode::kOverloaded: return "overloaded";
    case StatusCode::kDeadlineExceeded: return "deadline_exceeded";
    case StatusCode::kCancelled: return "cancelled";
    case StatusCode::kUnavailable: return "unavailable";
    case StatusCode::kFailedPrecondition: return "failed_precondition";
    case StatusCode::kUnimplemented: return "unimplemented";
    case StatusCode::kInternal: return "internal";
  }
  return "unknown";
}

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNone: return "";
    case ErrorKind::kInvalidImage: return "invalid_image";
    case ErrorKind::kInvalidVideo: return "invalid_video";
    case ErrorKind::kInvalidText: return "invalid_text";
    case ErrorKind::kQueueFull: return "queue_full";
    case ErrorKind::kWaitBudget: return "wait_budget";
    case ErrorKind::kDraining: return "draining";
    case ErrorKind::kEngineFault: return "engine_fault";
    case ErrorKind::kLimitExceeded: return "limit_exceeded";
    case ErrorKind::kFetchFailed: return "fetch_failed";
  }
  return "";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out = StatusCodeName(code_);
  if (kind_ != ErrorKind::kNone) out += std::string(" (") + ErrorKindName(kind_) + ")";
  return out + ": " + message_;
}

}  // namespace sightline
