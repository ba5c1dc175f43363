// HTTP/1.1 keep-alive load generator for the benchmarks (not part of the server).
//   closed loop: --connections K clients send back to back          (throughput)
//   open loop:   --rate R requests/s on a fixed schedule, K connections (latency)
// Open-loop latency is measured from each request's *scheduled* send time, so a slow server
// cannot hide its queueing (no coordinated omission). Prints one JSON object.
// Bodies go out with sendfile() from a memfd: the kernel references the pages instead of
// copying them, so the client, which shares the machine's cores with the server it measures,
// costs as little as it can (--copy-send restores plain send() for comparison).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string host = "127.0.0.1";
  int port = 8000;
  std::string path = "/healthz";
  std::string method = "POST";
  std::string body_file;
  std::vector<std::string> headers;
  int connections = 16;
  double duration = 10;
  double warmup = 1;
  double rate = 0;  // 0 = closed loop
  bool copy_send = false;
  int nice = 0;  // diagnostic: run the client at another priority (negative needs privilege)
};

// The request: its head in memory, its body in a memfd that sendfile() can hand to the socket.
struct Request {
  std::string head;
  std::string whole;  // head and body in one string, for --copy-send
  int body_fd = -1;
  size_t body_size = 0;
};

class Connection {
 public:
  Connection(const Options& o) : o_(o) {}
  ~Connection() { Close(); }

  // Sends one request and reads the answer; returns the status code or -1.
  int RoundTrip(const Request& request) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd_ < 0 && !Connect()) return -1;
      if (Send(request)) {
        int status = ReadResponse();
        if (status > 0) return status;
      }
      Close();
      ++reconnects;
    }
    return -1;
  }

 private:
  bool Connect() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(o_.port));
    inet_pton(AF_INET, o_.host.c_str(), &addr.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      Close();
      return false;
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    buf_.clear();
    return true;
  }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool SendAll(const std::string& s, int flags) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL | flags);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  bool Send(const Request& r) {
    if (r.body_fd < 0) return SendAll(r.whole, 0);
    if (!SendAll(r.head, MSG_MORE)) return false;
    off_t off = 0;
    while (static_cast<size_t>(off) < r.body_size) {
      ssize_t n = ::sendfile(fd_, r.body_fd, &off, r.body_size - static_cast<size_t>(off));
      if (n <= 0) return false;
    }
    return true;
  }
  bool Fill() {
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int ReadResponse() {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!Fill()) return -1;
    int status = 0;
    if (buf_.size() > 12) status = std::atoi(buf_.c_str() + 9);
    size_t length = 0;
    std::string head = buf_.substr(0, end);
    std::transform(head.begin(), head.end(), head.begin(), ::tolower);
    // At a line start: "Inference-Header-Content-Length:" must not match.
    auto cl = head.find("\r\ncontent-length:");
    if (cl != std::string::npos) length = std::strtoul(head.c_str() + cl + 17, nullptr, 10);
    bool close = head.find("connection: close") != std::string::npos;
    while (buf_.size() < end + 4 + length)
      if (!Fill()) return -1;
    buf_.erase(0, end + 4 + length);
    if (close) Close();
    return status;
  }

  const Options& o_;
  int fd_ = -1;

 public:
  long reconnects = 0;  // answers that could not be read: each one is a resend

 private:
  std::string buf_;
};

struct Sample {
  int status;
  double ms;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

std::string LatencyJson(const std::vector<double>& v) {
  char b[256];
  std::snprintf(b, sizeof b, "{\"count\":%zu,\"p50\":%.3f,\"p95\":%.3f,\"p99\":%.3f,\"max\":%.3f}", v.size(),
                Percentile(v, 0.5), Percentile(v, 0.95), Percentile(v, 0.99),
                v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()));
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Sightline benchmark load generator"};
  app.add_option("--host", o.host);
  app.add_option("--port", o.port)->required();
  app.add_option("--path", o.path);
  app.add_option("--method", o.method);
  app.add_option("--body-file", o.body_file);
  app.add_option("--header", o.headers, "Extra header line, e.g. 'X: y' (repeatable)");
  app.add_option("--connections", o.connections);
  app.add_option("--duration", o.duration, "Measured seconds");
  app.add_option("--warmup", o.warmup, "Unmeasured seconds first");
  app.add_option("--rate", o.rate, "Requests per second (open loop); 0 = closed loop");
  app.add_flag("--copy-send", o.copy_send, "send bodies with send() (a copy) instead of sendfile()");
  app.add_option("--nice", o.nice,
                 "diagnostic: the client's nice value, to see how much of a latency tail is the client's own "
                 "scheduling (negative values need privilege)");
  CLI11_PARSE(app, argc, argv);

  if (o.nice != 0 && setpriority(PRIO_PROCESS, 0, o.nice) != 0) {
    std::fprintf(stderr, "setpriority: %s\n", std::strerror(errno));
    return 1;
  }
  std::string body;
  if (!o.body_file.empty()) {
    std::ifstream in(o.body_file, std::ios::binary);
    body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  Request request;
  request.head = o.method + " " + o.path + " HTTP/1.1\r\nHost: " + o.host + "\r\n";
  for (const auto& h : o.headers) request.head += h + "\r\n";
  if (o.method != "GET") request.head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  request.head += "\r\n";
  request.body_size = body.size();
  if (!body.empty() && !o.copy_send) {
    request.body_fd = memfd_create("loadgen-body", 0);
    if (request.body_fd < 0 ||
        ::write(request.body_fd, body.data(), body.size()) != static_cast<ssize_t>(body.size())) {
      std::fprintf(stderr, "memfd: %s\n", std::strerror(errno));
      return 1;
    }
  } else {
    request.whole = request.head + body;
  }

  const auto start = Clock::now();
  const auto measure_from =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup));
  const auto end =
      measure_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration));
  std::mutex mu;
  std::vector<Sample> samples;
  std::atomic<long> errors{0};
  long reconnects = 0;

  // Open loop: the pacer hands out scheduled send times.
  std::mutex qmu;
  std::condition_variable qcv;
  std::deque<Clock::time_point> queue;
  bool done = false;
  std::thread pacer;
  if (o.rate > 0) {
    pacer = std::thread([&] {
      const auto period = std::chrono::duration<double>(1.0 / o.rate);
      for (long i = 0;; ++i) {
        auto t = start + std::chrono::duration_cast<Clock::duration>(period * static_cast<double>(i));
        if (t >= end) break;
        std::this_thread::sleep_until(t);
        {
          std::lock_guard l(qmu);
          queue.push_back(t);
        }
        qcv.notify_one();
      }
      std::lock_guard l(qmu);
      done = true;
      qcv.notify_all();
    });
  }

  std::vector<std::thread> workers;
  for (int c = 0; c < o.connections; ++c) {
    workers.emplace_back([&] {
      Connection conn(o);
      std::vector<Sample> local;
      while (true) {
        Clock::time_point scheduled;
        if (o.rate > 0) {
          std::unique_lock l(qmu);
          qcv.wait(l, [&] { return done || !queue.empty(); });
          if (queue.empty()) break;
          scheduled = queue.front();
          queue.pop_front();
        } else {
          scheduled = Clock::now();
          if (scheduled >= end) break;
        }
        int status = conn.RoundTrip(request);
        auto finished = Clock::now();
        if (status < 0) {
          if (scheduled >= measure_from) ++errors;
          continue;
        }
        if (scheduled >= measure_from && scheduled < end)
          local.push_back({status, std::chrono::duration<double, std::milli>(finished - scheduled).count()});
      }
      std::lock_guard l(mu);
      samples.insert(samples.end(), local.begin(), local.end());
      reconnects += conn.reconnects;
    });
  }
  if (pacer.joinable()) pacer.join();
  for (auto& w : workers) w.join();
  // The client's own CPU time (warm-up included), so a benchmark can say how much of the shared
  // cores the client took from the server it measures.
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                       static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  const double wall_s = std::chrono::duration<double>(Clock::now() - start).count();

  std::map<int, long> by_status;
  std::vector<double> ok, shed;
  for (const auto& s : samples) {
    ++by_status[s.status];
    if (s.status == 200)
      ok.push_back(s.ms);
    else if (s.status == 503 || s.status == 429)
      shed.push_back(s.ms);
  }
  std::string statuses = "{";
  for (auto& [k, v] : by_status)
    statuses += (statuses.size() > 1 ? "," : "") + ("\"" + std::to_string(k) + "\":" + std::to_string(v));
  statuses += "}";
  std::printf(
      "{\"mode\":\"%s\",\"rate\":%.1f,\"connections\":%d,\"duration_s\":%.1f,\"requests\":%zu,\"errors\":%ld,"
      "\"reconnects\":%ld,\"status\":%s,\"throughput_ok_rps\":%.2f,\"latency_ok_ms\":%s,\"latency_shed_ms\":%"
      "s,\"client_cpu_s\":%.3f,\"client_wall_s\":%.3f}\n",
      o.rate > 0 ? "open" : "closed", o.rate, o.connections, o.duration, samples.size(), errors.load(),
      reconnects, statuses.c_str(), static_cast<double>(ok.size()) / o.duration, LatencyJson(ok).c_str(),
      LatencyJson(shed).c_str(), cpu_s, wall_s);
  return 0;
}
