// The captioner fixture (scripts/gen_captioner_fixture.py): its folder, and the seeded pixel
// tensors its reference generations (refs.json) were made from.
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

// pixels_<image>.f32: [1,3,224,224] float32, raw little-endian.
inline sightline::Tensor CaptionerPixels(int64_t image) {
  std::ifstream in(CaptionerDir() / ("pixels_" + std::to_string(image) + ".f32"), std::ios::binary);
  sightline::Tensor t;
  t.dtype = sightline::DataType::kFp32;
  t.shape = {1, 3, 224, 224};
  t.data.resize(3 * 224 * 224 * 4);
  in.read(reinterpret_cast<char*>(t.data.data()), static_cast<std::streamsize>(t.data.size()));
  EXPECT_TRUE(in.good()) << "missing pixels_" << image << ".f32: run scripts/gen_captioner_fixture.py";
  return t;
}
