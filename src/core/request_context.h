// One request's identity and limits, from the front door that accepted it to every queued
// inference it causes: the id that logs and answers echo, when it must be done by, its priority,
// the cancellation that fires when the client hangs up, how often the client was already told to
// come back, and the W3C trace context it arrived with. Front doors (HTTP today; a job consumer
// and a router process later) build one; tasks pass it down unchanged; the batcher stores it on
// each queued request. Immutable once built and shared (`RequestContextPtr`): a request that fans
// out to many inferences shares one context, and its CancelToken, across all of them.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/cancel_token.h"
#include "core/status.h"

namespace sightline {

// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header,
// "00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>".
struct TraceContext {
  std::array<uint8_t, 16> trace_id{};
  std::array<uint8_t, 8> parent_id{};  // the span that called (as received), or this one (ChildSpan)
  uint8_t flags = 0;                   // bit 0: sampled

  // Parses a traceparent value; nullopt when malformed, all-zero ids, or version ff (the spec
  // says such a header is ignored, and a new trace started).
  static std::optional<TraceContext> Parse(std::string_view traceparent);
  // A new trace with random ids (sampled), for requests that arrive without one.
  static TraceContext Generate();
  // The same trace with a new random span id: the span of the work this process does for the
  // request, named as the parent by whatever it calls (an image fetch, a worker).
  TraceContext ChildSpan() const;
  std::string ToTraceparent() const;
  std::string TraceIdHex() const;
};

struct RequestContext {
  using Clock = std::chrono::steady_clock;

  std::string request_id;
  Clock::time_point received = Clock::now();
  // End-to-end deadline (a front door's budget); max(): none. Per-model queue timeouts apply on
  // top of it.
  Clock::time_point deadline = Clock::time_point::max();
  int priority = 0;  // 1 = highest; 0 = each model's default level
  std::shared_ptr<CancelToken> cancel;
  int retry_attempt = 0;  // times the client was already told to come back (scales Retry-After)
  TraceContext trace;

  bool cancelled() const { return cancel && cancel->cancelled(); }
  bool expired(Clock::time_point now = Clock::now()) const { return now >= deadline; }
};

using RequestContextPtr = std::shared_ptr<const RequestContext>;

// Ok while the client still waits and the deadline holds (or there is no context); else
// kCancelled ("client went away") or kDeadlineExceeded ("the request's deadline passed " + `during`,
// e.g. "while tokenizing"). Work that runs outside a queue checks it between its own steps.
Status Interrupted(const RequestContextPtr& context, std::string_view during);

// A context for work that no client waits on (start-up label sets, offline commands): a fresh
// id and trace, no deadline, never cancelled.
RequestContextPtr BackgroundContext(std::string request_id = "background");

}  // namespace sightline
