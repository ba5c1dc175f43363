#include "media/lanczos.h"

#include <gtest/gtest.h>

#include <cmath>

namespace sightline::media {
namespace {

TEST(Lanczos, ConstantStaysConstantAndSizesAreExact) {
  std::vector<uint8_t> src(7 * 5 * 3, 77);
  for (auto [ow, oh] : {std::pair{20, 13}, {3, 2}, {7, 5}, {16, 4}}) {
    auto out = ResampleLanczos3(src.data(), 7, 5, 3, ow, oh);
    ASSERT_EQ(out.size(), static_cast<size_t>(ow * oh * 3));
    for (uint8_t v : out) EXPECT_EQ(v, 77);
  }
}

TEST(Lanczos, EnlargingKeepsPixelCentresAligned) {
  // A ramp 0, 10, 20, ... enlarged 4x: output pixel x samples input position (x + 0.5) / 4 - 0.5,
  // so the ramp's midpoint stays at the image's centre (no half-pixel drift to one side).
  const int w = 16;
  std::vector<uint8_t> src(w);
  for (int x = 0; x < w; ++x) src[x] = static_cast<uint8_t>(10 * x);
  auto out = ResampleLanczos3(src.data(), w, 1, 1, 4 * w, 1);
  for (int x = 8; x < 4 * w - 8; ++x) {
    const double expected = 10.0 * ((x + 0.5) / 4.0 - 0.5);
    EXPECT_NEAR(out[x], expected, 1.0) << x;
  }
}

TEST(Lanczos, ShrinkingAntialiases) {
  // One-pixel stripes 0/255 shrunk 4x average to mid-grey rather than aliasing to 0 or 255.
  const int w = 64;
  std::vector<uint8_t> src(w);
  for (int x = 0; x < w; ++x) src[x] = (x % 2) ? 255 : 0;
  auto out = ResampleLanczos3(src.data(), w, 1, 1, w / 4, 1);
  for (int x = 2; x < w / 4 - 2; ++x) EXPECT_NEAR(out[x], 127.5, 3.0) << x;
}

}  // namespace
}  // namespace sightline::media
