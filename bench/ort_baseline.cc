// Bare ONNX Runtime throughput: one session, Run() in a loop at a fixed batch, for the
// "server overhead" ratio. Uses the ORT C++ API directly (not Sightline's Backend), with the
// same thread settings the server is given. Prints one JSON object.
#include <onnxruntime_cxx_api.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  std::string model;
  int batch = 8, threads = 2;
  double seconds = 10, warmup = 1;
  CLI::App app{"Bare ONNX Runtime throughput"};
  app.add_option("--model", model)->required();
  app.add_option("--batch", batch);
  app.add_option("--threads", threads, "intra-op threads");
  app.add_option("--seconds", seconds);
  app.add_option("--warmup", warmup);
  CLI11_PARSE(app, argc, argv);

  Ort::Env env(ORT_LOGGING_LEVEL_WARNING, "baseline");
  Ort::SessionOptions so;
  so.SetIntraOpNumThreads(threads);
  so.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
  Ort::Session session(env, model.c_str(), so);
  Ort::AllocatorWithDefaultOptions alloc;
  std::vector<std::string> in_names, out_names;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<std::vector<float>> datas;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  for (size_t i = 0; i < session.GetInputCount(); ++i) {
    in_names.push_back(session.GetInputNameAllocated(i, alloc).get());
    auto shape = session.GetInputTypeInfo(i).GetTensorTypeAndShapeInfo().GetShape();
    for (size_t d = 0; d < shape.size(); ++d)
      if (shape[d] < 0) shape[d] = d == 0 ? batch : 1;
    size_t n = 1;
    for (auto d : shape) n *= static_cast<size_t>(d);
    std::vector<float> v(n);
    for (auto& x : v) x = nd(rng);
    shapes.push_back(shape);
    datas.push_back(std::move(v));
  }
  for (size_t i = 0; i < session.GetOutputCount(); ++i)
    out_names.push_back(session.GetOutputNameAllocated(i, alloc).get());
  std::vector<const char*> in_c, out_c;
  for (auto& s : in_names) in_c.push_back(s.c_str());
  for (auto& s : out_names) out_c.push_back(s.c_str());
  auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  auto run_once = [&] {
    std::vector<Ort::Value> values;
    for (size_t i = 0; i < datas.size(); ++i)
      values.push_back(Ort::Value::CreateTensor<float>(mem, datas[i].data(), datas[i].size(),
                                                       shapes[i].data(), shapes[i].size()));
    auto outs = session.Run(Ort::RunOptions{nullptr}, in_c.data(), values.data(), values.size(), out_c.data(),
                            out_c.size());
    return outs.size();
  };
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - t0).count() < warmup) run_once();
  long runs = 0;
  t0 = Clock::now();
  double elapsed = 0;
  while ((elapsed = std::chrono::duration<double>(Clock::now() - t0).count()) < seconds) {
    run_once();
    ++runs;
  }
  std::printf(
      "{\"model\":\"%s\",\"batch\":%d,\"threads\":%d,\"runs\":%ld,\"seconds\":%.3f,\"items_per_s\":%.2f,\"ms_"
      "per_run\":%.3f}\n",
      model.c_str(), batch, threads, runs, elapsed, static_cast<double>(runs) * batch / elapsed,
      elapsed * 1000.0 / static_cast<double>(runs));
  return 0;
}
