#include "sources/url_fetcher.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>

namespace sightline::sources {
namespace {

const std::vector<Cidr>& InternalRanges() {
  static const std::vector<Cidr> ranges = [] {
    std::vector<Cidr> r;
    for (const char* c :
         {"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
          "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4", "::/128",
          "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "64:ff9b::/96"})
      r.push_back(ParseCidr(c).value());
    return r;
  }();
  return ranges;
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  std::string body;
  size_t max_bytes = 0;
  bool too_large = false;
  const CancelToken* cancel = nullptr;
  const std::atomic<bool>* aborted = nullptr;
};

size_t OnData(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  if (t->body.size() + len > t->max_bytes) {
    t->too_large = true;
    return 0;  // aborts the transfer
  }
  t->body.append(data, len);
  return len;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  return (t->cancel && t->cancel->cancelled()) || t->aborted->load(std::memory_order_relaxed) ? 1 : 0;
}

struct UrlParts {
  std::string scheme, host;
  long port = 0;
};

Result<UrlParts> SplitUrl(const std::string& url, const std::string& field) {
  std::unique_ptr<CURLU, void (*)(CURLU*)> u(curl_url(), curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK)
    return InvalidArgument(field + " '" + url + "' is not a valid URL");
  UrlParts parts;
  auto get = [&](CURLUPart part, std::string* out, unsigned flags) {
    char* v = nullptr;
    if (curl_url_get(u.get(), part, &v, flags) != CURLUE_OK || !v) return false;
    *out = v;
    curl_free(v);
    return true;
  };
  std::string port;
  if (!get(CURLUPART_SCHEME, &parts.scheme, 0))
    return InvalidArgument(field + " '" + url + "' has no scheme");
  if (parts.scheme != "http" && parts.scheme != "https")
    return Status(StatusCode::kForbidden,
                  field + " scheme '" + parts.scheme + "' is not allowed (http, https)");
  if (!get(CURLUPART_HOST, &parts.host, 0) || !get(CURLUPART_PORT, &port, CURLU_DEFAULT_PORT))
    return InvalidArgument(field + " '" + url + "' has no host");
  parts.port = std::strtol(port.c_str(), nullptr, 10);
  return parts;
}

}  // namespace

bool IsInternalAddress(const IpAddress& a) {
  for (const auto& c : InternalRanges())
    if (c.Contains(a)) return true;
  return false;
}

UrlFetcher::UrlFetcher(FetchOptions options) : options_(std::move(options)) {
  GlobalInit();
}

Result<std::string> UrlFetcher::Fetch(const std::string& first_url, const FetchContext& context) const {
  const std::string& field = context.field;
  if (aborted_.load(std::memory_order_relaxed))
    return Status(StatusCode::kUnavailable, "the server is shutting down").WithKind(ErrorKind::kDraining);
  const auto own_deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  // The request's deadline, when sooner, bounds the fetch too, and its expiry is the request's
  // (504), not the host's (502).
  const bool request_bound = context.deadline < own_deadline;
  const auto deadline = request_bound ? context.deadline : own_deadline;
  auto timed_out = [&] {
    return request_bound ? Status(StatusCode::kDeadlineExceeded,
                                  "the request's deadline passed while fetching " + field)
                         : Status(StatusCode::kBadGateway, field + " timed out");
  };
  std::string url = first_url;
  for (int hop = 0;; ++hop) {
    ASSIGN_OR_RETURN(UrlParts parts, SplitUrl(url, field));
    // Resolve once, check every address, then pin the connection to the one we checked.
    std::string host = parts.host;
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || !res)
      return Status(StatusCode::kBadGateway, field + " host '" + host + "' does not resolve");
    std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, freeaddrinfo);
    std::string pinned;
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
      char text[64] = {};
      if (ai->ai_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr, text, sizeof text);
      else if (ai->ai_family == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr, text, sizeof text);
      else
        continue;
      IpAddress ip{};
      if (!ParseIp(text, &ip)) continue;
      bool allowed = !IsInternalAddress(ip);
      for (const auto& c : options_.allowed_private) allowed |= c.Contains(ip);
      if (!allowed)
        return Status(StatusCode::kForbidden, field + " host '" + host + "' resolves to " + FormatIp(ip) +
                                                  ", an internal address; fetches there are not allowed");
      if (pinned.empty()) pinned = ai->ai_family == AF_INET6 ? "[" + std::string(text) + "]" : text;
    }
    if (pinned.empty())
      return Status(StatusCode::kBadGateway, field + " host '" + host + "' has no usable address");

    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return timed_out();
    std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) return Internal("libcurl failed to initialise");
    const std::string resolve_entry = host + ":" + std::to_string(parts.port) + ":" + pinned;
    std::unique_ptr<curl_slist, void (*)(curl_slist*)> resolve(
        curl_slist_append(nullptr, resolve_entry.c_str()), curl_slist_free_all);
    Transfer t;
    t.max_bytes = options_.max_bytes;
    t.cancel = context.cancel;
    t.aborted = &aborted_;
    std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers(nullptr, curl_slist_free_all);
    if (!context.traceparent.empty())
      headers.reset(curl_slist_append(nullptr, ("traceparent: " + context.traceparent).c_str()));
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_RESOLVE, resolve.get());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(left.count()));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<int64_t>(left.count(), 5000)));
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options_.max_bytes));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnData);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "sightline-fetcher");
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    const CURLcode rc = curl_easy_perform(c);
    if (t.too_large || rc == CURLE_FILESIZE_EXCEEDED)
      return Status(StatusCode::kPayloadTooLarge,
                    field + " body is over the " + std::to_string(options_.max_bytes) + "-byte fetch limit");
    if (rc == CURLE_ABORTED_BY_CALLBACK)
      return aborted_.load(std::memory_order_relaxed)
                 ? Status(StatusCode::kUnavailable, "the server is shutting down")
                       .WithKind(ErrorKind::kDraining)
                 : Status(StatusCode::kCancelled, "client went away");
    if (rc == CURLE_OPERATION_TIMEDOUT) return timed_out();
    if (rc != CURLE_OK)
      return Status(StatusCode::kBadGateway, field + " fetch failed: " + curl_easy_strerror(rc));
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 300 && code < 400) {
      char* location = nullptr;
      curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &location);
      if (!location) return Status(StatusCode::kBadGateway, field + " redirect without a Location");
      if (hop >= options_.max_redirects)
        return Status(StatusCode::kBadGateway,
                      field + " redirected more than " + std::to_string(options_.max_redirects) + " times");
      url = location;  // checked again at the top of the loop
      continue;
    }
    if (code < 200 || code >= 300)
      return Status(StatusCode::kBadGateway, field + " answered HTTP " + std::to_string(code));
    return std::move(t.body);
  }
}

}  // namespace sightline::sources
