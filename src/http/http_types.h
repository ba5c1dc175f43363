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
#include <type_traits>
#include <utility>
#include <vector>

#include "core/cancel_token.h"
#include "core/request_context.h"
#include "core/tensor.h"

namespace sightline::http {

// A request body the transport wrote to a temporary file instead of memory (routes with
// Route::body_file_limit: videos). The file is removed when the last holder lets go — the
// request, and any task still reading it.
struct UploadFile {
  std::string path;
  uint64_t size = 0;
  UploadFile() = default;
  UploadFile(const UploadFile&) = delete;
  UploadFile& operator=(const UploadFile&) = delete;
  ~UploadFile();
};

// HTTP's case-insensitive tokens (header names, media types, codings) in lower case; ASCII only.
std::string AsciiLower(std::string_view s);

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
  // The body, when the route takes bodies as files (Route::body_file_limit); `body` is empty then.
  std::shared_ptr<UploadFile> body_file;
  std::string remote_ip;
  std::string request_id;
  TraceContext trace;  // from `traceparent`, or a new trace (the transport sets it)
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

// The transport's side of an answer sent in parts (chunked transfer encoding; Server-Sent Events
// are built on it, see event_stream.h). Thread-safe: tasks write from pool threads.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // Queues the next part. False once the client has gone (its CancelToken fired too) or the
  // stream ended: stop producing.
  virtual bool Write(std::string part) = 0;
  // Ends the answer (the last, empty chunk). Later writes are refused.
  virtual void End() = 0;
  // Bytes queued and not yet taken by the socket: back-pressure for producers that can wait.
  virtual size_t buffered() const = 0;
  // Calls `fn` once, from any thread, as soon as buffered() <= low_water or the client is gone.
  virtual void OnWritable(size_t low_water, std::function<void()> fn) = 0;
  virtual bool client_gone() const = 0;
};

// Answers a request once, from any thread; the transport hops back to its connection. Either
// one whole HttpResponse (call it), or a stream: Stream(head) sends head's status, content type
// and headers at once and returns the stream to write the body through (null when this
// responder cannot stream, as in tests that build one from a lambda; or when already answered).
class Responder {
 public:
  using Fn = std::function<void(HttpResponse)>;
  using StreamFn = std::function<std::shared_ptr<ResponseStream>(HttpResponse head)>;

  Responder() = default;
  template <typename F, typename = std::enable_if_t<std::is_invocable_v<F&, HttpResponse>>>
  Responder(F fn) : fn_(std::move(fn)) {}  // NOLINT: implicit, so any callable answers
  Responder(Fn fn, StreamFn stream) : fn_(std::move(fn)), stream_(std::move(stream)) {}

  void operator()(HttpResponse response) const {
    if (fn_) fn_(std::move(response));
  }
  std::shared_ptr<ResponseStream> Stream(HttpResponse head) const {
    return stream_ ? stream_(std::move(head)) : nullptr;
  }
  explicit operator bool() const { return static_cast<bool>(fn_); }

 private:
  Fn fn_;
  StreamFn stream_;
};

using PathParams = std::map<std::string, std::string>;

// X-Retry-Attempt: how many times the client was already told to come back (0..8; scales the
// Retry-After estimate).
int RetryAttempt(const HttpRequest& request);

// The request context of an HTTP request: its id, arrival time, trace and hang-up token from the
// transport (the trace gets this request's own span id, the parent of whatever it calls),
// X-Retry-Attempt, `X-Request-Timeout-Ms` as an end-to-end deadline from arrival (at most a day;
// the transport refuses malformed values), and `priority`.
RequestContextPtr MakeRequestContext(const HttpRequest& request, int priority = 0);

}  // namespace sightline::http
