#include "media/matte.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <utility>

namespace sightline::media {
namespace {

Mask Filled(int w, int h, uint8_t v) {
  Mask m;
  m.width = w;
  m.height = h;
  m.channels = 1;
  m.pixels.assign(static_cast<size_t>(w) * h, v);
  return m;
}

TEST(CleanUpMask, DropsASpeckAndKeepsASolidRegionHard) {
  Mask m = Filled(40, 40, 0);
  m.pixels[5 * 40 + 5] = 255;  // a one-pixel speck: the opening removes it
  for (int y = 15; y < 35; ++y)
    for (int x = 15; x < 35; ++x) m.pixels[y * 40 + x] = 200;
  auto out = CleanUpMask(m);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->pixels[5 * 40 + 5], 0);
  EXPECT_EQ(out->pixels[25 * 40 + 25], 255);
  EXPECT_TRUE(
      std::all_of(out->pixels.begin(), out->pixels.end(), [](uint8_t v) { return v == 0 || v == 255; }));
}

TEST(CleanUpMask, MasksThinnerThanTheFiltersAreCleanedNotRefused) {
  // vips_rank refuses a 3x3 window on a 1-pixel-wide image; these shapes once answered 500.
  for (auto [w, h] : {std::pair{1, 30000}, {30000, 1}, {2, 2}, {1, 1}, {15, 3}}) {
    for (uint8_t v : {uint8_t{0}, uint8_t{90}, uint8_t{200}, uint8_t{255}}) {
      auto out = CleanUpMask(Filled(w, h, v));
      ASSERT_TRUE(out.ok()) << w << "x" << h << ": " << out.status().message();
      ASSERT_EQ(out->width, w);
      ASSERT_EQ(out->height, h);
      const uint8_t want = v >= 127 ? 255 : 0;
      EXPECT_TRUE(std::all_of(out->pixels.begin(), out->pixels.end(), [&](uint8_t p) { return p == want; }))
          << w << "x" << h << " filled with " << int(v);
    }
  }
}

}  // namespace
}  // namespace sightline::media
