#include "http/server.h"

#include "http/content_encoding.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/http/file_body.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "core/thread_name.h"
#include "core/thread_pool.h"

namespace sightline::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// X-Request-Timeout-Ms, when present, must be a positive whole number of milliseconds (values
// over a day are taken as a day: http::MakeRequestContext).
Status CheckRequestTimeoutHeader(const HttpRequest& head) {
  if (!head.HasHeader("x-request-timeout-ms")) return Status::Ok();
  const auto v = head.Header("x-request-timeout-ms");
  uint64_t ms = 0;
  const auto [end, err] = std::from_chars(v.data(), v.data() + v.size(), ms);
  // Digits beyond uint64 are a valid (if absurd) wait: taken as the day it is capped at.
  const bool digits = !v.empty() && end == v.data() + v.size();
  if (!digits || (err == std::errc() && ms == 0) ||
      (err != std::errc() && err != std::errc::result_out_of_range))
    return InvalidArgument(
        "header X-Request-Timeout-Ms must be a positive whole number of milliseconds, not '" +
        std::string(v) + "'");
  return Status::Ok();
}

// Accepts a client's X-Request-Id when it is short and printable; otherwise makes one.
bool UsableRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (unsigned char c : id)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

// A Body that counts and drops what it is given: the body of a request answered from its
// headers is drained (so the connection stays usable) without being stored.
struct DiscardBody {
  struct value_type {};
  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(bhttp::header<isRequest, Fields>&, value_type&) {}
    void init(const boost::optional<std::uint64_t>&, beast::error_code& ec) { ec = {}; }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      ec = {};
      return asio::buffer_size(buffers);
    }
    void finish(beast::error_code& ec) { ec = {}; }
  };
};

}  // namespace

struct HttpServer::Impl {
  ServerOptions options;
  std::atomic<const RouteTable*> routes;
  const AccessControl& access;
  observability::ServerMetrics& metrics;
  observability::Logger& log;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  asio::signal_set signals;
  std::vector<std::thread> threads;
  std::atomic<size_t> connections{0};
  std::atomic<uint64_t> next_id{0};
  std::string id_prefix;
  std::function<void()> on_signal;
  std::atomic<bool> accepting{true};
  // Inflating a compressed body is decoding: it runs here, never on an I/O thread (a 64 MB body
  // takes ~0.1 s). Declared after `ioc`, so it is joined before the io_context goes.
  ThreadPool inflate_pool{1, "sl-inflate"};

  Impl(ServerOptions o, const RouteTable& r, const AccessControl& a, observability::ServerMetrics& m,
       observability::Logger& l)
      : options(std::move(o)),
        routes(&r),
        access(a),
        metrics(m),
        log(l),
        ioc(options.io_threads),
        acceptor(asio::make_strand(ioc)),
        signals(ioc) {
    std::random_device rd;
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08x", rd());
    id_prefix = buf;
  }

  std::string NewRequestId() {
    return id_prefix + "-" + std::to_string(next_id.fetch_add(1, std::memory_order_relaxed));
  }

  void Accept();
};

namespace {

// "chunked" alone (any case, surrounding blanks allowed): the one transfer coding read here.
bool IsPlainChunked(std::string_view te) {
  while (!te.empty() && (te.front() == ' ' || te.front() == '\t')) te.remove_prefix(1);
  while (!te.empty() && (te.back() == ' ' || te.back() == '\t')) te.remove_suffix(1);
  return beast::iequals(te, "chunked");
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl& server) : stream_(std::move(socket)), server_(server) {
    // Beast reads max(512, capacity - size) bytes per call and the parser consumes the buffer as
    // it goes, so an unreserved buffer reads large bodies 512 bytes at a time (~140 MB/s).
    buffer_.reserve(64 * 1024);
    server_.metrics.http_connections.Inc();
  }
  ~Session() {
    server_.metrics.http_connections.Dec();
    server_.connections.fetch_sub(1, std::memory_order_relaxed);
  }

  void Start(bool over_limit) {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    remote_ip_ = ec ? "" : ep.address().to_string();
    // A refused connection still has its request header read (briefly, see Read) so that the
    // refusal is written in the style of the route asked for: a KServe client cannot read the
    // /v1 error object.
    if (over_limit) {
      server_.metrics.http_rejected.WithLabels({"connections"}).Inc();
      Status s(StatusCode::kOverloaded, "too many connections");
      s.WithRetryAfter(1.0);
      refusal_ = std::move(s);
    } else if (Status s = server_.access.CheckAddress(remote_ip_); !s.ok()) {
      server_.metrics.http_rejected.WithLabels({"forbidden"}).Inc();
      refusal_ = std::move(s);
    }
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

 private:
  void Read() {
    header_parser_.emplace();
    header_parser_->header_limit(static_cast<std::uint32_t>(server_.options.max_header_bytes));
    // No limit yet: it depends on the route (in memory or to a file), checked once it is known.
    header_parser_->body_limit(boost::none);
    body_limit_ = server_.options.max_body_bytes;
    current_path_.reset();
    // A refused connection gets a short wait for its header: it holds a socket the limit counts.
    stream_.expires_after(refusal_ ? std::min<std::chrono::steady_clock::duration>(
                                         server_.options.read_timeout, std::chrono::seconds(2))
                                   : server_.options.read_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *header_parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnHeader(ec); });
  }

  // Closes or answers a failed read; returns false when there was no error.
  bool HandleReadError(beast::error_code ec, bool got_some) {
    if (!ec) return false;
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset) {
      Close();
      return true;
    }
    if (ec == beast::error::timeout) {
      if (buffer_.size() > 0 || got_some) server_.metrics.http_rejected.WithLabels({"read_timeout"}).Inc();
      Close();
      return true;
    }
    keep_alive_ = false;
    Status s = InvalidArgument("malformed HTTP request: " + ec.message());
    if (ec == bhttp::error::body_limit)
      s = Status(StatusCode::kPayloadTooLarge,
                 "request body exceeds the limit of " + std::to_string(body_limit_) + " bytes");
    if (ec == bhttp::error::header_limit)
      s = Status(StatusCode::kHeaderTooLarge, "request headers exceed the limit of " +
                                                  std::to_string(server_.options.max_header_bytes) +
                                                  " bytes");
    // Transport errors answer in the style of the route the request was for, like every other
    // answer: KServe's {"error": "..."} on /v2, whatever layer refused it.
    const ApiStyle style = StyleForPath(PathOfFailedRequest());
    HttpResponse r = ErrorResponse(s, style);
    server_.metrics.http_rejected
        .WithLabels({ec == bhttp::error::body_limit ? "body_too_large" : "bad_request"})
        .Inc();
    started_ = std::chrono::steady_clock::now();
    route_label_ = "unmatched";
    Write(std::move(r));
    return true;
  }

  // Headers are in: route, authenticate and pre-admit before the body is read, so refusals of
  // large requests cost neither a copy nor a parse of their bodies.
  void OnHeader(beast::error_code ec) {
    if (HandleReadError(ec, header_parser_->got_some())) return;
    const auto& h = header_parser_->get();
    keep_alive_ = h.keep_alive();
    http10_ = h.version() < 11;
    started_ = std::chrono::steady_clock::now();
    head_ = HttpRequest{};
    head_.method = std::string(h.method_string());
    head_.target = std::string(h.target());
    const auto q = head_.target.find('?');
    head_.path = PercentDecode(std::string_view(head_.target).substr(0, q));
    current_path_ = head_.path;
    if (q != std::string::npos) head_.query = head_.target.substr(q + 1);
    for (const auto& f : h) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      head_.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    head_.remote_ip = remote_ip_;
    head_.received = started_;
    const auto given_id = head_.Header("x-request-id");
    head_.request_id = UsableRequestId(given_id) ? std::string(given_id) : server_.NewRequestId();
    // W3C trace context: the caller's, or a new trace (a malformed header is ignored, as the
    // spec says). Its trace id goes into the access log.
    auto trace = TraceContext::Parse(head_.Header("traceparent"));
    head_.trace = trace ? *trace : TraceContext::Generate();
    trace_id_ = head_.trace.TraceIdHex();
    request_id_ = head_.request_id;
    method_ = head_.method;
    path_ = head_.path;
    head_only_ = head_.method == "HEAD";
    const bool expect_continue = beast::iequals(head_.Header("expect"), "100-continue");
    content_encoding_ = std::string(h[bhttp::field::content_encoding]);
    if (beast::iequals(content_encoding_, "identity")) content_encoding_.clear();

    const RouteTable& routes = *server_.routes.load(std::memory_order_acquire);
    match_ = routes.Match(head_.method, head_.path);
    std::optional<HttpResponse> early;
    // Only "chunked" is a transfer coding we read. Any other would leave the body's end unknown:
    // Beast then reads no body, and the body's bytes would be parsed as the next request (request
    // smuggling). RFC 9112 6.1/6.3: 501 for a coding not understood, 400 when chunked is not the
    // final one; either way the connection closes without reading on.
    bool close_unread = false;
    if (const auto te = h[bhttp::field::transfer_encoding]; !te.empty() && !IsPlainChunked(te)) {
      close_unread = true;
      keep_alive_ = false;
      route_label_ = "rejected";
      early = ErrorResponse(
          header_parser_->chunked()
              ? Status(StatusCode::kUnimplemented, "Transfer-Encoding '" + std::string(te) +
                                                       "' is not supported; send the body plain or chunked")
              : InvalidArgument("Transfer-Encoding '" + std::string(te) +
                                "' does not end in chunked, so the body's length is unknown"),
          StyleForPath(head_.path));
    } else if (!content_encoding_.empty() && (!IsInflatableEncoding(content_encoding_) ||
                                              (match_.route && match_.route->body_file_limit > 0))) {
      // gzip and deflate bodies are inflated below (tritonclient's request compression); any other
      // coding, or one on a streamed upload, would be parsed as plain bytes and fail with a
      // misleading error: refused by name instead.
      close_unread = true;
      keep_alive_ = false;
      route_label_ = "rejected";
      early =
          ErrorResponse(Status(StatusCode::kUnsupportedMediaType,
                               "Content-Encoding '" + content_encoding_ + "' is not supported" +
                                   (IsInflatableEncoding(content_encoding_)
                                        ? " on this route (uploads stream to a file); send it uncompressed"
                                        : "; send gzip, deflate or no encoding")),
                        StyleForPath(head_.path));
    } else if (refusal_) {  // refused at accept (connection limit, address): answered now, then closed
      route_label_ = "rejected";
      keep_alive_ = false;
      early = ErrorResponse(*refusal_, StyleForPath(head_.path));
    } else if (!match_.route) {
      route_label_ = "unmatched";
      if (!routes.unmatched().ok()) {
        early = ErrorResponse(routes.unmatched(), StyleForPath(head_.path));
      } else {
        Status s = match_.path_matched ? Status(StatusCode::kMethodNotAllowed,
                                                "method " + head_.method + " is not allowed on " + head_.path)
                                       : NotFound("no route for " + head_.method + " " + head_.path);
        early = ErrorResponse(s, StyleForPath(head_.path));
      }
    } else if (Status t = CheckRequestTimeoutHeader(head_); !t.ok()) {
      route_label_ = match_.route->pattern;
      early = ErrorResponse(t, match_.route->style);
    } else {
      route_label_ = match_.route->pattern;
      if (Status s = match_.route->public_route ? Status::Ok() : server_.access.CheckKey(head_); !s.ok()) {
        server_.metrics.http_rejected.WithLabels({"unauthorized"}).Inc();
        early = ErrorResponse(s, match_.route->style);
      } else if (match_.route->precheck) {
        if (Status p = match_.route->precheck(head_, match_.params); !p.ok())
          early = ErrorResponse(p, match_.route->style);
      }
    }
    // A body of known length is read (or discarded) without Beast's body parser.
    std::optional<uint64_t> length;
    if (const auto cl = header_parser_->content_length(); cl && !header_parser_->chunked()) length = *cl;
    const bool to_file = match_.route && match_.route->body_file_limit > 0;
    if (to_file) body_limit_ = match_.route->body_file_limit;
    if (!early && length && *length > body_limit_) {
      // Declared over the limit: refused before a byte of it is read, and the connection closed
      // rather than the body drained.
      server_.metrics.http_rejected.WithLabels({"body_too_large"}).Inc();
      close_unread = true;
      early = ErrorResponse(Status(StatusCode::kPayloadTooLarge, "request body exceeds the limit of " +
                                                                     std::to_string(body_limit_) + " bytes"),
                            match_.route ? match_.route->style : StyleForPath(head_.path));
    }
    if (early) {
      if (expect_continue || close_unread) {  // the body is not read: answer and close
        keep_alive_ = false;
        return Write(std::move(*early));
      }
      if (length) {
        // Answer first (the client is not kept waiting while its body streams in), then discard
        // the body in the kernel before reading the next request.
        drain_remaining_ = *length;
        return Write(std::move(*early));
      }
      discard_parser_.emplace(std::move(*header_parser_));
      discard_parser_->body_limit(body_limit_);
      bhttp::async_read(
          stream_, buffer_, *discard_parser_,
          [self = shared_from_this(), r = std::move(*early)](beast::error_code ec, std::size_t) mutable {
            if (self->HandleReadError(ec, true)) return;
            self->Write(std::move(r));
          });
      return;
    }
    if (to_file) return ReadBodyToFile(expect_continue);
    // A compressed body goes through the parser whole and is inflated before the route sees it.
    const bool direct = length.has_value() && content_encoding_.empty();
    if (direct) {
      PrepareDirectBody(*length);
    } else {
      body_parser_.emplace(std::move(*header_parser_));
      body_parser_->body_limit(body_limit_);
    }
    if (expect_continue) {
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, 11);
      bhttp::async_write(stream_, *cont,
                         [self = shared_from_this(), cont, direct](beast::error_code ec, std::size_t) {
                           if (ec) return self->Close();
                           direct ? self->ReadDirectBody() : self->ReadBody();
                         });
      return;
    }
    direct ? ReadDirectBody() : ReadBody();
  }

  // A body of known length bypasses Beast's parser: what the header read already buffered is
  // copied out, the rest is read from the socket straight into its final place (no staging
  // buffer). A route may split it at a header-declared length, the tail going to a TensorBuffer
  // that a tensor can adopt (never zero-filled, so untouched pages cost nothing). The head grows
  // as bytes arrive, doubling from 64 KiB, rather than being sized to the declared length at
  // once: a std::string is zero-filled when resized, so headers alone declaring 64 MiB on many
  // connections once made the server commit gigabytes for bodies never sent. Doubling copies
  // each byte about twice at most.
  void PrepareDirectBody(uint64_t length) {
    size_t split = static_cast<size_t>(length);
    if (!match_.route->body_split_header.empty()) {
      const auto v = head_.Header(match_.route->body_split_header);
      uint64_t n = 0;
      const auto [end, err] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (!v.empty() && err == std::errc() && end == v.data() + v.size() && n <= length) {
        split = static_cast<size_t>(n);
        head_.body_tail = std::make_shared<TensorBuffer>();
        head_.body_tail->resize(static_cast<size_t>(length) - split);
      }
    }
    head_target_ = split;
    const size_t tail = head_.body_tail ? head_.body_tail->size() : 0;
    const size_t have = std::min<size_t>(buffer_.size(), static_cast<size_t>(length));
    const size_t to_head = std::min(have, split);
    head_.body.resize(std::min(split, std::max(to_head, kDirectHeadChunk)));
    const auto* src = static_cast<const char*>(buffer_.data().data());
    std::memcpy(head_.body.data(), src, to_head);
    if (have > to_head) std::memcpy(head_.body_tail->data(), src + to_head, have - to_head);
    buffer_.consume(have);
    direct_parts_[0] = asio::buffer(head_.body.data() + to_head, head_.body.size() - to_head);
    // The tail is read only once the head is whole (a scatter read fills part 0 first).
    pending_tail_ = tail ? asio::buffer(head_.body_tail->data() + (have - to_head), tail - (have - to_head))
                         : asio::mutable_buffer();
    direct_parts_[1] = head_.body.size() == head_target_ ? pending_tail_ : asio::mutable_buffer();
  }

  // The head's allocation is full but more was declared: grow it for what comes next.
  void GrowDirectHead() {
    const size_t filled = head_.body.size();
    const size_t grown = std::min(head_target_, std::max(filled * 2, kDirectHeadChunk));
    head_.body.resize(grown);
    direct_parts_[0] = asio::buffer(head_.body.data() + filled, grown - filled);
    if (grown == head_target_) direct_parts_[1] = pending_tail_;
  }

  // Reads until direct_parts_ are full. The receive low-water mark is kept at the bytes still
  // missing, so the thread wakes once the whole body is in rather than once per arriving
  // segment (a 600 KB body otherwise costs several wake-ups, each a context switch on a busy
  // core). It must shrink after every partial read, or the last wait would never end.
  void ReadDirectBody() {
    if (direct_parts_[0].size() == 0 && head_.body.size() < head_target_) GrowDirectHead();
    const size_t missing = asio::buffer_size(direct_parts_);
    SetReceiveLowWater(missing > 64 * 1024 ? static_cast<int>(std::min<size_t>(missing, 1 << 20)) : 1);
    if (missing == 0) return Dispatch(std::move(head_));
    stream_.async_read_some(direct_parts_, [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      if (ec == asio::error::eof) ec = bhttp::error::partial_message;  // hung up mid-body
      if (ec) self->SetReceiveLowWater(1);
      if (self->HandleReadError(ec, true)) return;
      for (auto& part : self->direct_parts_) {
        const size_t take = std::min(n, part.size());
        part += take;
        n -= take;
      }
      self->ReadDirectBody();
    });
  }

  // Sets SO_RCVLOWAT, skipping the call when it already has that value (small bodies never
  // change it from the kernel's default of 1).
  void SetReceiveLowWater(int bytes) {
    if (bytes == receive_low_water_) return;
    ::setsockopt(stream_.socket().native_handle(), SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes);
    receive_low_water_ = bytes;
  }

  // A file route's body, plain or chunked, goes to a temporary file as it arrives (Beast's
  // file_body writes each parsed piece), with the read timeout renewed per piece: a large upload
  // on a slow link is not cut off while it keeps moving, and never sits in memory.
  void ReadBodyToFile(bool expect_continue) {
    auto upload = std::make_shared<UploadFile>();
    std::string pattern = server_.options.upload_dir + "/sightline-upload-XXXXXX";
    const int fd = ::mkstemp(pattern.data());
    beast::error_code ec;
    if (fd >= 0) {
      ::close(fd);
      upload->path = pattern;
      file_parser_.emplace(std::move(*header_parser_));
      file_parser_->body_limit(body_limit_);
      file_parser_->get().body().open(upload->path.c_str(), beast::file_mode::write, ec);
    }
    if (fd < 0 || ec) {
      keep_alive_ = false;
      return Write(ErrorResponse(
          Status(StatusCode::kUnavailable, "cannot store the upload in " + server_.options.upload_dir),
          match_.route->style));
    }
    upload_ = std::move(upload);
    if (expect_continue) {
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, 11);
      bhttp::async_write(stream_, *cont,
                         [self = shared_from_this(), cont](beast::error_code ec, std::size_t) {
                           if (ec) return self->Close();
                           self->ReadFileChunk();
                         });
      return;
    }
    ReadFileChunk();
  }

  void ReadFileChunk() {
    if (file_parser_->is_done()) return OnFileBody();  // an empty body is done at its header
    stream_.expires_after(server_.options.read_timeout);
    bhttp::async_read_some(stream_, buffer_, *file_parser_,
                           [self = shared_from_this()](beast::error_code ec, std::size_t) {
                             if (ec) self->upload_.reset();  // the partial file goes with it
                             if (self->HandleReadError(ec, true)) return;
                             self->ReadFileChunk();
                           });
  }

  void OnFileBody() {
    auto msg = file_parser_->release();
    msg.body().close();
    keep_alive_ = msg.keep_alive();
    HttpRequest req = std::move(head_);
    std::error_code size_ec;
    req.body_file = std::move(upload_);
    req.body_file->size = std::filesystem::file_size(req.body_file->path, size_ec);
    file_parser_.reset();
    Dispatch(std::move(req));
  }

  void ReadBody() {
    bhttp::async_read(stream_, buffer_, *body_parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (HandleReadError(ec, true)) return;
    auto msg = body_parser_->release();
    keep_alive_ = msg.keep_alive();
    HttpRequest req = std::move(head_);
    req.body = std::move(msg.body());
    if (!content_encoding_.empty()) {
      // Inflated once, before any route sees the body, bounded by the body limit, on the inflate
      // thread; the answer or the dispatch comes back to this session's executor.
      auto shared = std::make_shared<HttpRequest>(std::move(req));
      server_.inflate_pool.Submit([self = shared_from_this(), shared, encoding = content_encoding_,
                                   limit = body_limit_] {
        auto inflated = std::make_shared<Result<std::string>>(InflateBody(shared->body, encoding, limit));
        asio::post(self->stream_.get_executor(),
                   [self, shared, inflated] { self->OnInflated(std::move(*shared), std::move(*inflated)); });
      });
      return;
    }
    Dispatch(std::move(req));
  }

  void OnInflated(HttpRequest req, Result<std::string> inflated) {
    if (!inflated.ok()) {
      server_.metrics.http_rejected
          .WithLabels(
              {inflated.status().code() == StatusCode::kPayloadTooLarge ? "body_too_large" : "bad_request"})
          .Inc();
      return Write(ErrorResponse(inflated.status(), match_.route->style));
    }
    req.body = std::move(inflated).value();
    std::erase_if(req.headers, [](const auto& h) { return h.first == "content-encoding"; });
    Dispatch(std::move(req));
  }

  void Dispatch(HttpRequest req) {
    stream_.expires_never();
    cancel_ = std::make_shared<CancelToken>();
    req.cancel = cancel_;
    WatchForHangUp();
    auto self = shared_from_this();
    auto answered = std::make_shared<std::atomic<bool>>(false);
    Responder respond(
        [self, answered](HttpResponse r) {
          if (answered->exchange(true)) return;  // a responder answers once
          asio::post(self->stream_.get_executor(),
                     [self, r = std::move(r)]() mutable { self->OnHandlerDone(std::move(r)); });
        },
        [self, answered](HttpResponse head) -> std::shared_ptr<ResponseStream> {
          if (answered->exchange(true)) return nullptr;
          auto stream = std::make_shared<SessionStream>(self);
          asio::post(self->stream_.get_executor(), [self, stream, head = std::move(head)]() mutable {
            self->StartStream(std::move(head), stream);
          });
          return stream;
        });
    match_.route->handler(req, match_.params, std::move(respond));
  }

  // While the handler works, a readable socket means either a pipelined request (left in the
  // kernel buffer) or EOF: the client hung up, so its queued work is cancelled. The peek must not
  // block: Asio's synchronous receive polls until data arrives, and readiness can be spurious, so
  // a blocking peek would stall this I/O thread until the client gave up.
  void WatchForHangUp() {
    watching_ = true;
    stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
      if (!self->watching_ || ec) return;
      char byte;
      const ssize_t n = ::recv(self->stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n > 0) {  // a pipelined request: leave it for the next read
        self->watching_ = false;
        return;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        self->WatchForHangUp();  // spurious wake-up: keep watching
        return;
      }
      self->watching_ = false;
      self->client_gone_ = true;
      if (self->cancel_) self->cancel_->Cancel();
      if (self->out_stream_) {  // a streamed answer: nobody reads the rest
        self->out_stream_->MarkGone();
        self->out_stream_.reset();
        self->Record(499);
        self->Close();
      }
    });
  }

 public:
  // A streamed answer in progress: parts queued from any thread, written in order on the
  // session's strand as chunks. Holds the session until the answer ends or the client goes.
  class SessionStream : public ResponseStream {
   public:
    explicit SessionStream(std::shared_ptr<Session> session) : session_(std::move(session)) {}

    bool Write(std::string part) override {
      std::shared_ptr<Session> s;
      {
        std::lock_guard lock(mu_);
        if (gone_ || ended_) return false;
        if (part.empty()) return true;  // an empty chunk would end the answer
        buffered_ += part.size();
        pending_.push_back(std::move(part));
        s = session_;
      }
      if (s) asio::post(s->stream_.get_executor(), [s] { s->PumpStream(); });
      return true;
    }
    void End() override {
      std::shared_ptr<Session> s;
      {
        std::lock_guard lock(mu_);
        if (gone_ || ended_) return;
        ended_ = true;
        s = session_;
      }
      if (s) asio::post(s->stream_.get_executor(), [s] { s->PumpStream(); });
    }
    size_t buffered() const override {
      std::lock_guard lock(mu_);
      return buffered_;
    }
    void OnWritable(size_t low_water, std::function<void()> fn) override {
      std::unique_lock lock(mu_);
      if (gone_ || buffered_ <= low_water) {
        lock.unlock();
        return fn();
      }
      waiters_.emplace_back(low_water, std::move(fn));
    }
    bool client_gone() const override {
      std::lock_guard lock(mu_);
      return gone_;
    }

    // On the strand. Takes everything queued as one chunk's bytes; empty when nothing is.
    std::string TakePending(bool* ended) {
      std::lock_guard lock(mu_);
      std::string out;
      for (auto& p : pending_) out += p;
      pending_.clear();
      *ended = ended_;
      return out;
    }
    void Written(size_t n) { Notify(n, false); }
    void MarkGone() { Notify(0, true); }
    // The answer is complete: let the session go.
    void Release() {
      std::lock_guard lock(mu_);
      session_.reset();
    }

   private:
    void Notify(size_t written, bool gone) {
      std::vector<std::function<void()>> ready;
      {
        std::lock_guard lock(mu_);
        buffered_ -= std::min(buffered_, written);
        if (gone) {
          gone_ = true;
          session_.reset();
          pending_.clear();
          buffered_ = 0;
        }
        for (auto it = waiters_.begin(); it != waiters_.end();) {
          if (gone_ || buffered_ <= it->first) {
            ready.push_back(std::move(it->second));
            it = waiters_.erase(it);
          } else {
            ++it;
          }
        }
      }
      for (auto& fn : ready) fn();
    }

    mutable std::mutex mu_;
    std::shared_ptr<Session> session_;
    std::vector<std::string> pending_;
    size_t buffered_ = 0;
    bool ended_ = false;
    bool gone_ = false;
    std::vector<std::pair<size_t, std::function<void()>>> waiters_;
  };

 private:
  // Sends a streamed answer's head (chunked), then its parts as they come (PumpStream).
  void StartStream(HttpResponse head, std::shared_ptr<SessionStream> stream) {
    if (client_gone_) {
      stream->MarkGone();
      return;
    }
    out_stream_ = stream;
    stream_status_ = head.status;
    stream_head_ = std::make_shared<bhttp::response<bhttp::empty_body>>();
    auto& res = *stream_head_;
    res.version(11);
    res.result(static_cast<unsigned>(head.status));
    res.set(bhttp::field::server, server_.options.server_header);
    res.set(bhttp::field::content_type, head.content_type);
    if (!request_id_.empty()) res.set("X-Request-Id", request_id_);
    for (auto& [k, v] : head.headers) res.set(k, v);
    // HTTP/1.1 streams in chunks; an HTTP/1.0 client gets the raw body, ended by closing the
    // connection (it knows no chunked encoding).
    if (http10_) keep_alive_ = false;
    res.keep_alive(keep_alive_);
    res.chunked(!http10_);
    stream_serializer_.emplace(res);
    stream_writing_ = true;
    stream_.expires_after(server_.options.write_timeout);
    bhttp::async_write_header(stream_, *stream_serializer_,
                              [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                self->stream_writing_ = false;
                                if (ec) return self->StreamFailed();
                                self->PumpStream();
                              });
  }

  // On the strand: writes what is queued as one chunk; after the last part, the final chunk.
  void PumpStream() {
    if (!out_stream_ || stream_writing_) return;
    bool ended = false;
    auto data = std::make_shared<std::string>(out_stream_->TakePending(&ended));
    if (data->empty() && !ended) return;
    stream_writing_ = true;
    stream_.expires_after(server_.options.write_timeout);
    auto self = shared_from_this();
    if (!data->empty()) {
      auto written = [self, data](beast::error_code ec, std::size_t) {
        self->stream_writing_ = false;
        if (ec) return self->StreamFailed();
        if (self->out_stream_) self->out_stream_->Written(data->size());
        self->PumpStream();
      };
      if (http10_)
        asio::async_write(stream_, asio::buffer(*data), std::move(written));
      else
        asio::async_write(stream_, bhttp::make_chunk(asio::buffer(*data)), std::move(written));
      return;
    }
    if (http10_) {  // the end of the body is the end of the connection
      stream_writing_ = false;
      return FinishStream();
    }
    asio::async_write(stream_, bhttp::make_chunk_last(), [self](beast::error_code ec, std::size_t) {
      self->stream_writing_ = false;
      if (ec) return self->StreamFailed();
      self->FinishStream();
    });
  }

  // The whole streamed answer is written: record it and serve the next request.
  void FinishStream() {
    auto stream = std::move(out_stream_);
    if (stream) stream->Release();
    stream_serializer_.reset();
    stream_head_.reset();
    if (watching_) {
      watching_ = false;
      beast::error_code ec;
      stream_.socket().cancel(ec);  // ends the hang-up watch
    }
    Record(stream_status_);
    request_id_.clear();
    if (!keep_alive_) return Close();
    Read();
  }

  void StreamFailed() {
    if (out_stream_) {
      out_stream_->MarkGone();
      out_stream_.reset();
    }
    if (cancel_) cancel_->Cancel();
    Close();
  }

  void OnHandlerDone(HttpResponse r) {
    if (watching_) {
      watching_ = false;
      beast::error_code ec;
      stream_.socket().cancel(ec);  // ends the hang-up watch
    }
    if (client_gone_) {
      Record(499);
      return Close();
    }
    Write(std::move(r));
  }

  void Record(int status) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    server_.metrics.http_requests
        .WithLabels({route_label_, method_.empty() ? "?" : method_, std::to_string(status)})
        .Inc();
    server_.metrics.http_duration.WithLabels({route_label_}).Observe(secs);
    if (server_.log.Enabled(observability::LogLevel::kInfo))
      server_.log.Info("request", observability::LogFields()
                                      .Add("request_id", request_id_)
                                      .Add("trace_id", trace_id_)
                                      .Add("method", method_)
                                      .Add("path", path_)
                                      .Add("route", route_label_)
                                      .Add("status", status)
                                      .Add("remote", remote_ip_)
                                      .Add("duration_ms", secs * 1000.0));
  }

  void Write(HttpResponse r) {
    Record(r.status);
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(r.status));
    res->set(bhttp::field::server, server_.options.server_header);
    res->set(bhttp::field::content_type, r.content_type);
    if (!request_id_.empty()) res->set("X-Request-Id", request_id_);
    for (auto& [k, v] : r.headers) res->set(k, v);
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    if (head_only_) res->body().clear();  // Content-Length stays that of the GET answer
    stream_.expires_after(server_.options.write_timeout);
    bhttp::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec) return self->Close();
      self->request_id_.clear();
      self->close_after_drain_ = !self->keep_alive_ || res->need_eof();
      // An unread body is discarded even before a close: closing with unread bytes makes the
      // kernel send a reset, which can destroy the answer before the client reads it.
      if (self->drain_remaining_ > 0) {
        self->stream_.expires_after(self->server_.options.read_timeout);
        return self->Drain();
      }
      if (self->close_after_drain_) return self->Close();
      self->Read();
    });
  }

  // Discards the rest of an answered request's body. recv(MSG_TRUNC) on TCP drops the bytes in
  // the kernel without copying them out, so shedding a 600 KB request costs no copy; the scratch
  // buffer is only named because sanitizers check the range.
  void Drain() {
    const size_t buffered = std::min<size_t>(buffer_.size(), drain_remaining_);
    buffer_.consume(buffered);
    drain_remaining_ -= buffered;
    while (drain_remaining_ > 0) {
      static thread_local char scratch[64 * 1024];
      const size_t want = std::min<uint64_t>(drain_remaining_, sizeof scratch);
      const ssize_t n = ::recv(stream_.socket().native_handle(), scratch, want, MSG_TRUNC | MSG_DONTWAIT);
      if (n > 0) {
        drain_remaining_ -= static_cast<uint64_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        // Wait for more through the stream, whose read deadline bounds a client that stalls
        // mid-body; reading one byte is how it waits.
        stream_.async_read_some(asio::buffer(drain_byte_, 1),
                                [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                                  if (ec) return self->Close();
                                  self->drain_remaining_ -= n;
                                  self->Drain();
                                });
        return;
      }
      return Close();  // EOF or a socket error mid-body
    }
    if (close_after_drain_) return Close();
    Read();
  }

  // Answers before reading anything (connection cap, address refused), then closes.
  // The path of the request whose read failed: known once its header was parsed, else read from
  // the request line still in the buffer (a header over the limit), else unknown ("").
  std::string PathOfFailedRequest() const {
    if (current_path_) return *current_path_;
    // Beast stores the request line before it parses the fields, so a refusal found in the
    // fields (a Content-Length over the limit) still knows its target.
    if (header_parser_ && !header_parser_->get().target().empty()) {
      const std::string target(header_parser_->get().target());
      return PercentDecode(std::string_view(target).substr(0, target.find('?')));
    }
    const auto data = buffer_.cdata();
    const std::string_view head(static_cast<const char*>(data.data()), std::min<size_t>(data.size(), 8192));
    const size_t sp = head.find(' ');
    if (sp == std::string_view::npos) return "";
    const size_t end = head.find_first_of(" ?\r\n", sp + 1);
    if (end == std::string_view::npos) return "";
    return PercentDecode(head.substr(sp + 1, end - sp - 1));
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  HttpServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::empty_body>> header_parser_;
  std::optional<bhttp::request_parser<bhttp::string_body>> body_parser_;
  std::optional<bhttp::request_parser<DiscardBody>> discard_parser_;
  std::optional<bhttp::request_parser<bhttp::file_body>> file_parser_;
  std::shared_ptr<UploadFile> upload_;  // a file route's body being written
  uint64_t body_limit_ = 0;             // the request's: max_body_bytes, or its route's file limit
  std::array<asio::mutable_buffer, 2> direct_parts_;
  asio::mutable_buffer pending_tail_;  // the tail's part, held back until the head is whole
  size_t head_target_ = 0;             // the head's declared length
  static constexpr size_t kDirectHeadChunk = 64 * 1024;
  uint64_t drain_remaining_ = 0;             // body bytes of an answered request still to discard
  std::optional<Status> refusal_;            // set at accept: answer every request with it
  std::optional<std::string> current_path_;  // the request being read, once its header is in
  char drain_byte_[1];
  int receive_low_water_ = 1;       // this socket's SO_RCVLOWAT
  bool close_after_drain_ = false;  // the answered request ends the connection
  HttpRequest head_;
  RouteMatch match_;
  std::shared_ptr<CancelToken> cancel_;
  // A streamed answer in progress (null otherwise), with its head and serializer.
  std::shared_ptr<SessionStream> out_stream_;
  std::shared_ptr<bhttp::response<bhttp::empty_body>> stream_head_;
  std::optional<bhttp::response_serializer<bhttp::empty_body>> stream_serializer_;
  bool stream_writing_ = false;
  int stream_status_ = 200;
  std::string remote_ip_, request_id_, method_, path_, route_label_;
  std::chrono::steady_clock::time_point started_{};
  bool keep_alive_ = true;
  bool watching_ = false;
  bool client_gone_ = false;
  bool head_only_ = false;
  bool http10_ = false;  // the request was HTTP/1.0
  std::string trace_id_;
  std::string content_encoding_;  // the request's Content-Encoding; empty: none or identity
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !accepting) return;
      log.Warn("accept_failed", observability::LogFields().Add("error", ec.message()));
    } else {
      const size_t n = connections.fetch_add(1, std::memory_order_relaxed) + 1;
      std::make_shared<Session>(std::move(socket), *this)->Start(n > options.max_connections);
    }
    if (accepting) Accept();
  });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() {
  Stop();
}

Result<std::unique_ptr<HttpServer>> HttpServer::Create(ServerOptions options, const RouteTable& routes,
                                                       const AccessControl& access,
                                                       observability::ServerMetrics& metrics,
                                                       observability::Logger& log) {
  if (options.io_threads < 1) options.io_threads = 1;
  auto impl = std::make_unique<Impl>(std::move(options), routes, access, metrics, log);
  beast::error_code ec;
  auto addr = asio::ip::make_address(impl->options.host, ec);
  if (ec) return InvalidArgument("--host '" + impl->options.host + "' is not an IP address");
  tcp::endpoint ep(addr, impl->options.port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Status(StatusCode::kUnavailable, "cannot listen on " + impl->options.host + ":" +
                                                std::to_string(impl->options.port) + ": " + ec.message());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const {
  beast::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void HttpServer::SetRoutes(const RouteTable& routes) {
  impl_->routes.store(&routes, std::memory_order_release);
}

void HttpServer::Start() {
  impl_->Accept();
  for (int i = 0; i < impl_->options.io_threads; ++i)
    impl_->threads.emplace_back([this, i] {
      NameThisThread("sl-http-" + std::to_string(i));
      impl_->ioc.run();
    });
}

void HttpServer::OnShutdownSignal(std::function<void()> fn) {
  impl_->on_signal = std::move(fn);
  impl_->signals.add(SIGINT);
  impl_->signals.add(SIGTERM);
  impl_->signals.async_wait([this](beast::error_code ec, int) {
    if (!ec && impl_->on_signal) impl_->on_signal();
  });
}

void HttpServer::StopAccepting() {
  impl_->accepting = false;
  asio::post(impl_->acceptor.get_executor(), [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
  });
}

void HttpServer::Stop() {
  if (!impl_) return;
  impl_->accepting = false;
  impl_->ioc.stop();
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
  impl_->threads.clear();
}

}  // namespace sightline::http
