// Decode + preprocess throughput for the image pipeline benchmark: reads one image file and turns
// it into a model tensor N times through media::DecodeImage + media::ImageToTensor, the same
// path the server uses. Prints one JSON object.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

#include "media/image_decoder.h"
#include "media/preprocess.h"

int main(int argc, char** argv) {
  std::string file, mode = "stretch";
  int size = 224, iterations = 20;
  bool decode_only = false;
  CLI::App app{"decode + preprocess benchmark"};
  app.add_option("--image", file)->required();
  app.add_option("--size", size);
  app.add_option("--mode", mode, "stretch | crop");
  app.add_option("--iterations", iterations);
  app.add_flag("--decode-only", decode_only, "stop after decoding (no resize/normalise)");
  CLI11_PARSE(app, argc, argv);
  std::ifstream in(file, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  using namespace sightline::media;
  PreprocessSpec spec;
  spec.width = spec.height = size;
  spec.resize = mode == "crop" ? ResizeMode::kShortestEdgeCenterCrop : ResizeMode::kStretch;
  DecodeOptions options;
  options.min_width = options.min_height = size;  // as tasks::DecodeImageBatch does
  auto once = [&] {
    auto img = DecodeImage(bytes.data(), bytes.size(), options);
    if (!img.ok()) {
      std::fprintf(stderr, "%s\n", img.status().ToString().c_str());
      std::exit(1);
    }
    if (decode_only) return;
    auto t = ImageToTensor(*img, spec, "x");
    if (!t.ok()) std::exit(1);
  };
  once();  // warm-up
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) once();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"size\":%d,\"mode\":\"%s\",\"iterations\":%d,\"ms_per_image\":%.2f}\n", size, mode.c_str(),
              iterations, s * 1000.0 / iterations);
  return 0;
}
