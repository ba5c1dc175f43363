// Status and Result<T>: errors as values. Every fallible call in Sightline returns one of these;
// the HTTP layer maps StatusCode to a status line in exactly one place (http/error_response.cc).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace sightline {

enum class StatusCode {
  kOk,
  kInvalidArgument,       // malformed request: bad JSON, wrong shape/dtype, bad parameter
  kNotFound,              // unknown model, version, route or input
  kMethodNotAllowed,      // the route exists, not with this HTTP method
  kPayloadTooLarge,       // body or tensor over a configured limit
  kHeaderTooLarge,        // request headers over the configured limit (HTTP 431)
  kUnsupportedMediaType,  // a Content-Type the route does not take
  kBadGateway,            // an upstream the server fetched from failed (image_url)
  kUnauthorized,          // missing or wrong API key
  kForbidden,             // client address not on the allowlist
  kOverloaded,            // queue full: shed with Retry-After
  kDeadlineExceeded,      // request timeout expired before a result
  kCancelled,             // client went away
  kUnavailable,           // model not ready / server shutting down
  kFailedPrecondition,    // config or model file inconsistent
  kUnimplemented,
  kInternal,
};

// Stable machine-readable name, used as the "code" field of JSON errors.
const char* StatusCodeName(StatusCode code);

// What went wrong, finer than the code and independent of the wording: the "type" field of JSON
// errors, a metrics label, something a client can branch on. Kinds are data, never parsed out of
// messages. kNone: the code says it all.
enum class ErrorKind {
  kNone,
  kInvalidImage,   // bytes that are not a decodable image (empty, unknown format, corrupt)
  kInvalidText,    // text a tokenizer or template cannot take
  kQueueFull,      // overload: the model's queue is at max_queue_size
  kWaitBudget,     // overload: the predicted queue wait is over max_queue_wait_microseconds
  kDraining,       // the server or model is shutting down
  kEngineFault,    // the inference engine failed on input it accepted (a 5xx, not the client's fault)
  kLimitExceeded,  // a request larger than a configured limit can ever take (items, pixels, bytes)
  kFetchFailed,    // an image_url / image_path source could not be read
  kInvalidVideo,   // bytes that are not a decodable video (empty, not a container, no video stream, corrupt)
};
const char* ErrorKindName(ErrorKind kind);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // For overload answers: the honest wait estimate the client should back off by.
  std::optional<double> retry_after_sec() const { return retry_after_sec_; }
  Status& WithRetryAfter(double seconds) {
    retry_after_sec_ = seconds;
    return *this;
  }

  ErrorKind kind() const { return kind_; }
  Status& WithKind(ErrorKind kind) {
    kind_ = kind;
    return *this;
  }
  // The same error with `prefix` put before its message (kind and retry kept): names the item
  // ("images[3]: ...") that failed inside a larger request.
  Status Prefixed(const std::string& prefix) const {
    Status s = *this;
    s.message_ = prefix + message_;
    return s;
  }

  // "code: message", or "code (kind): message" when a kind is set.
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  ErrorKind kind_ = ErrorKind::kNone;
  std::string message_;
  std::optional<double> retry_after_sec_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
// Bytes that are not a readable image: 400, kind invalid_image.
inline Status InvalidImage(std::string m) {
  return Status(StatusCode::kInvalidArgument, std::move(m)).WithKind(ErrorKind::kInvalidImage);
}
inline Status NotFound(std::string m) {
  return {StatusCode::kNotFound, std::move(m)};
}
inline Status Internal(std::string m) {
  return {StatusCode::kInternal, std::move(m)};
}
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace sightline

#define SL_CONCAT_INNER(a, b) a##b
#define SL_CONCAT(a, b) SL_CONCAT_INNER(a, b)

// Returns early from the enclosing function when `expr` yields a non-ok Status.
#define RETURN_IF_ERROR(expr)                \
  do {                                       \
    ::sightline::Status sl_status_ = (expr); \
    if (!sl_status_.ok()) return sl_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, MakeX());` unwraps a Result<T> or returns its Status.
#define ASSIGN_OR_RETURN(lhs, expr) ASSIGN_OR_RETURN_IMPL(SL_CONCAT(sl_result_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
