#include "media/preprocess.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "media/image_ops.h"

namespace sightline::media {
namespace {

// A width x height RGB image whose pixel (x, y) is pixel(x, y).
template <typename Pixel>
Image MakeImage(int w, int h, Pixel pixel) {
  Image img;
  img.width = w;
  img.height = h;
  img.channels = 3;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int v : pixel(x, y)) img.pixels.push_back(static_cast<uint8_t>(v));
  return img;
}

// Pixel (x, y) is (x, y, x + y) * step.
Image Grid(int w, int h, int step = 10) {
  return MakeImage(w, h, [step](int x, int y) {
    return std::array<int, 3>{x * step, y * step, (x + y) * step};
  });
}

float At(const Tensor& t, size_t i) {
  float v;
  std::memcpy(&v, t.data.data() + 4 * i, 4);
  return v;
}

TEST(Preprocess, SameSizeIsExactNormalisationInNchw) {
  PreprocessSpec s;
  s.width = 4;
  s.height = 3;
  s.resize = ResizeMode::kStretch;
  s.scale = 1.0f;
  s.mean = {128, 128, 128};
  s.std = {256, 256, 256};  // ISNet's (x - 128) / 256
  auto t = ImageToTensor(Grid(4, 3), s, "input");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->shape, (Shape{1, 3, 3, 4}));
  EXPECT_EQ(t->name, "input");
  // channel 1 (G = y * 10) at y = 2, x = 3: plane 1, index 2 * 4 + 3
  EXPECT_FLOAT_EQ(At(*t, 12 + 11), (20.0f - 128.0f) / 256.0f);
  EXPECT_FLOAT_EQ(At(*t, 0 * 12 + 3), (30.0f - 128.0f) / 256.0f);  // R at (3, 0)
}

TEST(Preprocess, NhwcBgrAndFp16) {
  PreprocessSpec s;
  s.width = 4;
  s.height = 3;
  s.resize = ResizeMode::kStretch;
  s.scale = 1.0f / 255.0f;
  s.layout = Layout::kNhwc;
  s.order = ChannelOrder::kBgr;
  s.dtype = DataType::kFp16;
  auto t = ImageToTensor(Grid(4, 3), s, "x");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->shape, (Shape{1, 3, 4, 3}));
  EXPECT_EQ(t->data.size(), 4u * 3 * 3 * 2);
  // pixel (x=1, y=2) = (10, 20, 30); BGR -> first value is B = 30
  uint16_t h;
  std::memcpy(&h, t->data.data() + ((2 * 4 + 1) * 3 + 0) * 2, 2);
  EXPECT_NEAR(HalfToFloat(h), 30.0f / 255.0f, 1e-3);
}

TEST(Preprocess, ShortestEdgeCenterCropKeepsTheMiddle) {
  PreprocessSpec s;
  s.width = 2;
  s.height = 2;
  s.resize = ResizeMode::kShortestEdgeCenterCrop;
  auto sized = ResizeForModel(Grid(6, 2), s);  // already 2 high: crop x in [2, 4)
  ASSERT_TRUE(sized.ok()) << sized.status().ToString();
  EXPECT_EQ(sized->width, 2);
  EXPECT_EQ(sized->pixels[0], 20);  // R of (x=2)
  EXPECT_EQ(sized->pixels[3], 30);  // R of (x=3)
}

// A smooth image (a vertical and horizontal ramp) so resampling differences stay small.
Image Ramp(int w, int h) {
  return MakeImage(w, h, [w, h](int x, int y) {
    return std::array<int, 3>{x * 255 / std::max(1, w - 1), y * 255 / std::max(1, h - 1), 128};
  });
}

// Field report 1: a very elongated image is cropped in source coordinates before the resize,
// so the intermediate stays near the output's size; the result matches resizing the whole image
// and cropping its centre (the reference processor's order) to within a level or two.
TEST(Preprocess, ElongatedImagesAreCroppedInSourceCoordinatesWithTheSameResult) {
  PreprocessSpec spec;
  spec.width = spec.height = 32;
  for (auto [w, h] : {std::pair{40, 400}, std::pair{400, 40}, std::pair{3, 2000}, std::pair{64, 640}}) {
    const Image img = Ramp(w, h);
    auto got = ResizeForModel(img, spec);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    const double s = std::max(32.0 / w, 32.0 / h);
    const int rw = std::max(1, static_cast<int>(std::lround(w * s)));
    const int rh = std::max(1, static_cast<int>(std::lround(h * s)));
    auto full = ResizeImage(img, rw, rh);
    ASSERT_TRUE(full.ok()) << full.status().ToString();
    const int left = (rw - 32) / 2, top = (rh - 32) / 2;
    int worst = 0;
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x)
        for (int c = 0; c < 3; ++c) {
          const int a = got->pixels[(y * 32 + x) * 3 + c];
          const int b = full->pixels[((y + top) * rw + x + left) * 3 + c];
          worst = std::max(worst, std::abs(a - b));
        }
    EXPECT_LE(worst, 4) << w << "x" << h;
  }
}

// 1x12000 once made a 32x384000 (here) or 224x2688000 (CLIP) intermediate; now it is quick.
TEST(Preprocess, AOnePixelWideImageIsQuick) {
  PreprocessSpec spec;
  const Image img = Ramp(1, 30000);
  const auto t0 = std::chrono::steady_clock::now();
  auto got = ResizeForModel(img, spec);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->width, 224);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  // The centre row of the ramp: green ~ 127 everywhere.
  EXPECT_NEAR(got->pixels[(112 * 224 + 5) * 3 + 1], 127, 2);
}

TEST(Preprocess, LetterboxPadsAroundTheImage) {
  PreprocessSpec s;
  s.width = 6;
  s.height = 6;
  s.resize = ResizeMode::kLetterbox;
  s.pad = 7;
  auto sized = ResizeForModel(Grid(6, 2, 20), s);  // fits as 6x2, centred: rows 2..3
  ASSERT_TRUE(sized.ok()) << sized.status().ToString();
  EXPECT_EQ(sized->pixels[0], 7);                    // row 0: padding
  EXPECT_EQ(sized->pixels[(2 * 6 + 1) * 3], 20);     // row 2, x = 1: R = 20
  EXPECT_EQ(sized->pixels[(5 * 6 + 5) * 3 + 2], 7);  // row 5: padding
}

TEST(Preprocess, DownscalesToTheExactSizeAndDropsAlpha) {
  Image rgba;
  rgba.width = 300;
  rgba.height = 200;
  rgba.channels = 4;
  rgba.pixels.assign(300 * 200 * 4, 100);
  PreprocessSpec s;  // 224 x 224, shortest edge + crop
  auto t = ImageToTensor(rgba, s, "pixel_values");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->shape, (Shape{1, 3, 224, 224}));
  EXPECT_NEAR(At(*t, 224 * 224 + 5), 100.0f / 255.0f, 1e-3);
  EXPECT_FALSE(ImageToTensor(rgba, PreprocessSpec{.width = 0}, "x").ok());
}

}  // namespace
}  // namespace sightline::media
