// Server-side image fetching for `image_url`, with libcurl, guarded against SSRF: only http and
// https; the host is resolved here and every address it resolves to is checked (loopback,
// private, link-local, CGNAT, multicast and reserved ranges are refused unless allow-listed);
// the connection is pinned to the checked address (no DNS rebinding); redirects are followed by
// hand, each hop checked again; size, time and redirect count are capped.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "core/cancel_token.h"
#include "core/net_address.h"
#include "core/status.h"

namespace sightline::sources {

struct FetchOptions {
  size_t max_bytes = 50u << 20;
  int timeout_ms = 15000;  // whole transfer, redirects included
  int max_redirects = 3;
  // Ranges a fetch may reach although they are private (say, an internal image store).
  std::vector<Cidr> allowed_private;
};

// True for addresses a fetch must not reach by default.
bool IsInternalAddress(const IpAddress& address);

// What one fetch serves: the request's cancellation and end-to-end deadline, and its W3C
// trace context, sent on as the `traceparent` header so the image host's traces join the
// request's.
struct FetchContext {
  const CancelToken* cancel = nullptr;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::string traceparent;          // empty: none sent
  std::string field = "image_url";  // the request parameter that named the URL, for errors
};

class UrlFetcher {
 public:
  explicit UrlFetcher(FetchOptions options);
  const FetchOptions& options() const { return options_; }

  // Blocking (run it on a pool thread). Errors: kForbidden for a refused target or scheme;
  // kInvalidArgument for a malformed URL; kPayloadTooLarge over max_bytes; kBadGateway when the
  // upstream fails, answers non-2xx, or times out; kDeadlineExceeded when the request's
  // deadline comes first; kCancelled when `cancel` fires; kUnavailable (draining) after AbortAll.
  Result<std::string> Fetch(const std::string& url, const FetchContext& context = {}) const;

  // Ends every fetch in flight (within libcurl's progress granularity) and refuses new ones: a
  // shutting-down server does not wait out a slow image host past its drain deadline.
  void AbortAll() const { aborted_.store(true, std::memory_order_relaxed); }

 private:
  FetchOptions options_;
  mutable std::atomic<bool> aborted_{false};
};

}  // namespace sightline::sources
