// Camera RAW to model tensors, the server's way: every file in a folder through
// media::DecodeImage (libraw: embedded preview when it covers the target, else a half-size
// demosaic) and media::ImageToTensor, on a pool of --threads workers. Prints one JSON object
// with the total wall time and how many files took each path.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "core/thread_pool.h"
#include "media/image_decoder.h"
#include "media/preprocess.h"

int main(int argc, char** argv) {
  std::string dir;
  int size = 1024, threads = 2;
  CLI::App app{"DNG to tensor benchmark"};
  app.add_option("--dir", dir)->required();
  app.add_option("--size", size);
  app.add_option("--threads", threads);
  CLI11_PARSE(app, argc, argv);
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  using namespace sightline::media;
  PreprocessSpec spec;
  spec.width = spec.height = size;
  spec.resize = ResizeMode::kStretch;
  DecodeOptions options;
  options.min_width = options.min_height = size;
  options.limits.max_pixels = 200'000'000;
  std::atomic<int> failed{0}, from_preview{0};
  std::atomic<int64_t> bytes_read{0};
  // Bytes are in memory before the clock starts, as a request body is in the server.
  std::vector<std::vector<uint8_t>> blobs;
  for (const auto& p : files) {
    std::vector<uint8_t> b(std::filesystem::file_size(p));
    std::FILE* f = std::fopen(p.c_str(), "rb");
    if (!f || std::fread(b.data(), 1, b.size(), f) != b.size()) return 1;
    std::fclose(f);
    bytes_read += static_cast<int64_t>(b.size());
    blobs.push_back(std::move(b));
  }
  auto one = [&](size_t i) {
    const auto& p = files[i];
    const auto& b = blobs[i];
    auto img = DecodeImage(b.data(), b.size(), options);
    if (!img.ok()) {
      std::fprintf(stderr, "%s: %s\n", p.c_str(), img.status().ToString().c_str());
      ++failed;
      return;
    }
    if (img->from_preview) ++from_preview;
    auto t = ImageToTensor(*img, spec, "x");
    if (!t.ok()) ++failed;
  };
  const auto t0 = std::chrono::steady_clock::now();
  {
    sightline::ThreadPool pool(threads);
    for (size_t i = 0; i < files.size(); ++i) pool.Submit([&, i] { one(i); });
    pool.WaitIdle();
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "{\"files\":%zu,\"threads\":%d,\"size\":%d,\"total_s\":%.3f,\"ms_per_file\":%.1f,\"from_preview\":%d,"
      "\"failed\":%d,\"mb_read\":%.0f}\n",
      files.size(), threads, size, s, s * 1000.0 / static_cast<double>(files.size()), from_preview.load(),
      failed.load(), static_cast<double>(bytes_read.load()) / (1 << 20));
  return failed.load() == 0 ? 0 : 1;
}
