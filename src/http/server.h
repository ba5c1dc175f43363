// The HTTP/1.1 transport: Boost.Beast over Asio, asynchronous, keep-alive. It enforces the
// connection, header, body and read-time limits (a slow-loris client is cut off), checks the
// address allowlist and API keys, routes, and notices a client that hangs up while its request
// waits (the request's CancelToken fires). Beast stays inside server.cc: this header is light.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "http/access_control.h"
#include "http/route_table.h"
#include "observability/logger.h"
#include "observability/server_metrics.h"

namespace sightline::http {

struct ServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 8000;  // 0: pick a free port (see HttpServer::port())
  int io_threads = 2;
  size_t max_connections = 1024;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 64u << 20;
  std::chrono::milliseconds read_timeout{30'000};  // whole request, and keep-alive idle
  std::chrono::milliseconds write_timeout{30'000};
  std::string server_header = "sightline";
  // Where bodies of file routes (Route::body_file_limit) are written while their request lasts.
  std::string upload_dir = "/tmp";
};

class HttpServer {
 public:
  // `routes` and every later SetRoutes() argument must outlive the server.
  static Result<std::unique_ptr<HttpServer>> Create(ServerOptions options, const RouteTable& routes,
                                                    const AccessControl& access,
                                                    observability::ServerMetrics& metrics,
                                                    observability::Logger& log);
  ~HttpServer();

  uint16_t port() const;
  // Serves later requests with `routes` instead (start-up routes, then the full set once the
  // models are loaded). Requests already routed keep their route, so every table given must
  // outlive the server.
  void SetRoutes(const RouteTable& routes);
  // Starts the I/O threads; returns at once.
  void Start();
  // Calls `fn` (once, on an I/O thread) on SIGINT or SIGTERM.
  void OnShutdownSignal(std::function<void()> fn);
  // Stops accepting new connections; open ones keep being served.
  void StopAccepting();
  // Closes everything and joins the I/O threads.
  void Stop();

  struct Impl;  // opaque: Beast lives in server.cc only

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sightline::http
