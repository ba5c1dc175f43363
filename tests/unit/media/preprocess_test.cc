#include "media/preprocess.h"

#include <gtest/gtest.h>

#include <cstring>

#include "core/half.h"

namespace sightline::media {
namespace {

// width x height RGB image whose pixel (x, y) is (x, y, x + y) * step.
Image Grid(int w, int h, int step = 10) {
  Image img;
  img.width = w;
  img.height = h;
  img.channels = 3;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int v : {x * step, y * step, (x + y) * step}) img.pixels.push_back(static_cast<uint8_t>(v));
  return img;
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
