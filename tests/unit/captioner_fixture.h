// The generation fixtures (scripts/gen_captioner_fixture.py, gen_vlm_fixture.py): their folders,
// and the seeded pixel tensors their reference generations (refs.json) were made from.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/tensor.h"
#include "model_fixtures.h"

inline std::filesystem::path CaptionerDir() {
  return ModelFixturesDir() / "captioner-tiny";
}

// A seeded pixel tensor the reference generations were made from: [1,3,side,side] float32, raw
// little-endian (pixels_<image>.f32 beside refs.json).
inline sightline::Tensor FixturePixels(const std::filesystem::path& file, int64_t side) {
  std::ifstream in(file, std::ios::binary);
  sightline::Tensor t;
  t.dtype = sightline::DataType::kFp32;
  t.shape = {1, 3, side, side};
  t.data.resize(static_cast<size_t>(3 * side * side * 4));
  in.read(reinterpret_cast<char*>(t.data.data()), static_cast<std::streamsize>(t.data.size()));
  EXPECT_TRUE(in.good()) << "missing " << file << ": run the fixture's scripts/gen_*_fixture.py";
  return t;
}

inline sightline::Tensor CaptionerPixels(int64_t image) {
  return FixturePixels(CaptionerDir() / ("pixels_" + std::to_string(image) + ".f32"), 224);
}

// The decoder-only vision-language fixture (scripts/gen_vlm_fixture.py): 64x64 pixels.
inline std::filesystem::path VlmDir() {
  return ModelFixturesDir() / "vlm-tiny";
}

inline sightline::Tensor VlmPixels(int64_t image) {
  return FixturePixels(VlmDir() / ("pixels_" + std::to_string(image) + ".f32"), 64);
}
