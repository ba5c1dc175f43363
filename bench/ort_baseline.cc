// Bare ONNX Runtime throughput for the "server overhead" ratio: Run() in a loop at a fixed batch,
// with the thread layout the server is given (--sessions copies of the model, each with
// --threads intra-op threads, each driven by its own thread). Uses the ORT C++ API directly, not
// Sightline's Backend. Prints one JSON object per measured window.
//
// --windows: instead of one measurement, read window lengths (seconds) from stdin, one per line,
// and answer each with a JSON line. The sessions stay warm between windows, so a benchmark can
// interleave short baseline and server windows: on a noisy machine, a server figure is only
// comparable with a baseline measured seconds before or after it.
#include <onnxruntime_cxx_api.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

class Runner {
 public:
  Runner(Ort::Env& env, const std::string& model, int batch, const Ort::SessionOptions& so)
      : session_(env, model.c_str(), so),
        mem_(Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault)) {
    Ort::AllocatorWithDefaultOptions alloc;
    std::mt19937 rng(1);
    std::normal_distribution<float> nd;
    for (size_t i = 0; i < session_.GetInputCount(); ++i) {
      in_names_.push_back(session_.GetInputNameAllocated(i, alloc).get());
      auto shape = session_.GetInputTypeInfo(i).GetTensorTypeAndShapeInfo().GetShape();
      for (size_t d = 0; d < shape.size(); ++d)
        if (shape[d] < 0) shape[d] = d == 0 ? batch : 1;
      size_t n = 1;
      for (auto d : shape) n *= static_cast<size_t>(d);
      std::vector<float> v(n);
      for (auto& x : v) x = nd(rng);
      shapes_.push_back(shape);
      datas_.push_back(std::move(v));
    }
    for (size_t i = 0; i < session_.GetOutputCount(); ++i)
      out_names_.push_back(session_.GetOutputNameAllocated(i, alloc).get());
    for (auto& s : in_names_) in_c_.push_back(s.c_str());
    for (auto& s : out_names_) out_c_.push_back(s.c_str());
  }

  void RunOnce() {
    std::vector<Ort::Value> values;
    for (size_t i = 0; i < datas_.size(); ++i)
      values.push_back(Ort::Value::CreateTensor<float>(mem_, datas_[i].data(), datas_[i].size(),
                                                       shapes_[i].data(), shapes_[i].size()));
    session_.Run(Ort::RunOptions{nullptr}, in_c_.data(), values.data(), values.size(), out_c_.data(),
                 out_c_.size());
  }

 private:
  Ort::Session session_;
  Ort::MemoryInfo mem_;
  std::vector<std::string> in_names_, out_names_;
  std::vector<const char*> in_c_, out_c_;
  std::vector<std::vector<int64_t>> shapes_;
  std::vector<std::vector<float>> datas_;
};

// Runs every session in its own thread for `seconds`; returns completed runs.
long RunFor(std::vector<std::unique_ptr<Runner>>& runners, double seconds) {
  std::atomic<long> runs{0};
  const auto end =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (auto& r : runners)
    threads.emplace_back([&, runner = r.get()] {
      long n = 0;
      while (Clock::now() < end) {
        runner->RunOnce();
        ++n;
      }
      runs += n;
    });
  for (auto& t : threads) t.join();
  return runs;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model;
  int batch = 8, threads = 2, sessions = 1;
  double seconds = 10, warmup = 1;
  bool spin = true, windows = false;
  CLI::App app{"Bare ONNX Runtime throughput"};
  app.add_option("--model", model)->required();
  app.add_option("--batch", batch);
  app.add_option("--threads", threads, "intra-op threads per session");
  app.add_option("--sessions", sessions, "copies of the model, each run by its own thread");
  app.add_option("--seconds", seconds);
  app.add_option("--warmup", warmup);
  app.add_flag("--spin,!--no-spin", spin, "let ORT's pool threads busy-wait (ORT's default: on)");
  app.add_flag("--windows", windows, "measure one window per stdin line (its length in seconds)");
  CLI11_PARSE(app, argc, argv);

  Ort::Env env(ORT_LOGGING_LEVEL_WARNING, "baseline");
  Ort::SessionOptions so;
  so.SetIntraOpNumThreads(threads);
  so.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
  so.AddConfigEntry("session.intra_op.allow_spinning", spin ? "1" : "0");
  std::vector<std::unique_ptr<Runner>> runners;
  for (int i = 0; i < sessions; ++i) runners.push_back(std::make_unique<Runner>(env, model, batch, so));
  RunFor(runners, warmup);

  auto measure = [&](double secs) {
    const auto t0 = Clock::now();
    const long runs = RunFor(runners, secs);
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf(
        "{\"model\":\"%s\",\"batch\":%d,\"threads\":%d,\"sessions\":%d,\"runs\":%ld,\"seconds\":%.3f,\"items_"
        "per_"
        "s\":%.2f,\"ms_per_run\":%.3f}\n",
        model.c_str(), batch, threads, sessions, runs, elapsed, static_cast<double>(runs) * batch / elapsed,
        elapsed * 1000.0 * sessions / static_cast<double>(runs));
    std::fflush(stdout);
  };
  if (!windows) {
    measure(seconds);
    return 0;
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    measure(std::stod(line));
  }
  return 0;
}
