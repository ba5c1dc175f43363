#include "media/image_decoder.h"

#include <gtest/gtest.h>
#include <vips/vips.h>

#include "image_fixtures.h"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace sightline::media {
namespace {

Result<Image> Decode(const std::string& name, const DecodeOptions& o = {}) {
  auto bytes = Fixture(name);
  return DecodeImage(bytes.data(), bytes.size(), o);
}

std::array<int, 3> Pixel(const Image& img, int x, int y) {
  const uint8_t* p = img.pixels.data() + (static_cast<size_t>(y) * img.width + x) * img.channels;
  return {p[0], p[1], p[2]};
}

TEST(ImageDecoder, LosslessFormatsGiveTheExactPixels) {
  for (const char* name : {"rgb.png", "rgb.webp", "rgb.tiff"}) {
    auto img = Decode(name);
    ASSERT_TRUE(img.ok()) << name << ": " << img.status().ToString();
    EXPECT_EQ(img->width, 64);
    EXPECT_EQ(img->height, 48);
    EXPECT_EQ(img->channels, 3);
    for (auto [x, y] : {std::pair{0, 0}, {63, 0}, {10, 47}, {33, 21}})
      EXPECT_EQ(Pixel(*img, x, y), (std::array<int, 3>{4 * x, 5 * y, 128}))
          << name << " at " << x << "," << y;
  }
  EXPECT_EQ(Decode("rgb.png")->format, "png");
  EXPECT_EQ(Decode("rgb.webp")->format, "webp");
}

TEST(ImageDecoder, JpegIsCloseToTheSource) {
  auto img = Decode("rgb.jpg");
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->format, "jpeg");
  const auto p = Pixel(*img, 33, 21);
  EXPECT_NEAR(p[0], 132, 6);
  EXPECT_NEAR(p[1], 105, 6);
  EXPECT_NEAR(p[2], 128, 6);
}

TEST(ImageDecoder, AlphaIsKeptAndGreyBecomesRgb) {
  auto rgba = Decode("rgba.png");
  ASSERT_TRUE(rgba.ok());
  EXPECT_EQ(rgba->channels, 4);
  const uint8_t* p = rgba->pixels.data() + (5 * 32 + 20) * 4;
  EXPECT_EQ(p[0], 200);
  EXPECT_EQ(p[3], 160);  // alpha = 8 * x
  auto gray = Decode("gray.png");
  ASSERT_TRUE(gray.ok());
  EXPECT_EQ(gray->channels, 3);
  EXPECT_EQ(Pixel(*gray, 5, 3), (std::array<int, 3>{80, 80, 80}));
}

TEST(ImageDecoder, GifGivesItsFirstFrame) {
  auto img = Decode("first_frame.gif");
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->height, 8);  // one frame, not a strip of two
  const auto p = Pixel(*img, 4, 4);
  EXPECT_GT(p[0], 200);
  EXPECT_LT(p[2], 60);
}

TEST(ImageDecoder, ExifOrientationIsApplied) {
  auto img = Decode("orientation6.jpg");
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->width, 20);
  EXPECT_EQ(img->height, 40);
  EXPECT_GT(Pixel(*img, 10, 5)[0], 200);   // top: red
  EXPECT_GT(Pixel(*img, 10, 35)[2], 200);  // bottom: blue
}

TEST(ImageDecoder, CmykBecomesSrgb) {
  auto img = Decode("cmyk.jpg");
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->channels, 3);
  const auto p = Pixel(*img, 8, 8);
  EXPECT_LT(p[0], 100);  // cyan: little red, much green and blue
  EXPECT_GT(p[1], 150);
  EXPECT_GT(p[2], 150);
}

TEST(ImageDecoder, ShrinksOnLoadButCoversTheTarget) {
  DecodeOptions o;
  o.min_width = 224;
  o.min_height = 224;
  auto img = Decode("big.jpg", o);
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->source_width, 3000);
  EXPECT_EQ(img->source_height, 2000);
  EXPECT_GE(img->width, 224);
  EXPECT_GE(img->height, 224);
  EXPECT_EQ(img->width, 3000 / 8);  // DCT shrink by 8 still covers 224 x 224
  EXPECT_EQ(img->height, 2000 / 8);
  auto full = Decode("big.jpg");
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->width, 3000);
}

TEST(ImageDecoder, BadBytesAreInvalidImage) {
  for (const char* name : {"empty.bin", "garbage.bin", "truncated.jpg"}) {
    auto img = Decode(name);
    ASSERT_FALSE(img.ok()) << name;
    EXPECT_EQ(img.status().code(), StatusCode::kInvalidArgument) << name;
    EXPECT_EQ(img.status().kind(), ErrorKind::kInvalidImage) << img.status().ToString();
  }
}

TEST(ImageDecoder, DecompressionBombIsRefusedFromTheHeader) {
  auto img = Decode("bomb.png");
  ASSERT_FALSE(img.ok());
  EXPECT_EQ(img.status().code(), StatusCode::kPayloadTooLarge);
  EXPECT_NE(img.status().message().find("30000x30000"), std::string::npos);
  DecodeOptions tight;
  tight.limits.max_pixels = 1000;
  EXPECT_EQ(Decode("rgb.png", tight).status().code(), StatusCode::kPayloadTooLarge);
}

// The DNG fixtures draw a red box (220,30,30) at x 150..450, y 100..300 on blue (20,40,200).
void ExpectDngScene(const Image& img) {
  auto at = [&](double fx, double fy) {
    return Pixel(img, static_cast<int>(fx * img.width), static_cast<int>(fy * img.height));
  };
  auto fg = at(0.5, 0.5), bg = at(0.05, 0.05);
  EXPECT_GT(fg[0], 150);
  EXPECT_LT(fg[2], 100);
  EXPECT_GT(bg[2], 150);
  EXPECT_LT(bg[0], 100);
}

TEST(ImageDecoder, DngUsesItsPreviewWhenLargeEnough) {
  DecodeOptions o;
  o.min_width = 200;
  o.min_height = 150;  // the 300x200 JPEG preview covers this
  auto img = Decode("scene_preview.dng", o);
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->format, "dng");
  EXPECT_EQ(img->width, 300);
  EXPECT_EQ(img->height, 200);
  EXPECT_EQ(img->source_width, 600);
  ExpectDngScene(*img);
}

TEST(ImageDecoder, DngWithoutAUsablePreviewIsDemosaicedAtHalfSize) {
  DecodeOptions o;
  o.min_width = 200;
  o.min_height = 150;  // the 75x50 thumbnail is too small; half size (300x200) is enough
  auto img = Decode("scene_raw.dng", o);
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->width, 300);
  EXPECT_EQ(img->height, 200);
  ExpectDngScene(*img);
}

TEST(ImageDecoder, DngAtFullSizeWhenEveryPixelIsWanted) {
  auto img = Decode("scene_preview.dng");  // no minimum: the caller wants full resolution
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->width, 600);
  EXPECT_EQ(img->height, 400);
  ExpectDngScene(*img);
}

TEST(ImageDecoder, RawOverThePixelLimitIsRefusedBeforeDecoding) {
  DecodeOptions o;
  o.limits.max_pixels = 100'000;
  auto img = Decode("scene_raw.dng", o);
  ASSERT_FALSE(img.ok());
  EXPECT_EQ(img.status().code(), StatusCode::kPayloadTooLarge);
}

TEST(ImageDecoder, TruncatedDngIsInvalidImage) {
  auto bytes = Fixture("scene_raw.dng");
  bytes.resize(bytes.size() / 3);
  auto img = DecodeImage(bytes.data(), bytes.size());
  ASSERT_FALSE(img.ok());
  EXPECT_EQ(img.status().code(), StatusCode::kInvalidArgument);
}

TEST(ImageDecoder, AvifAndHeicDecode) {
  auto avif = Decode("rgb.avif");
  ASSERT_TRUE(avif.ok()) << avif.status().ToString();
  EXPECT_EQ(avif->format, "heif");
  EXPECT_EQ(avif->width, 64);
  auto p = Pixel(*avif, 33, 21);
  EXPECT_NEAR(p[0], 4 * 33, 16);
  EXPECT_NEAR(p[1], 5 * 21, 16);
  EXPECT_NEAR(p[2], 128, 16);

  // HEIC (HEVC) is written here with libvips, since Pillow has no HEVC encoder.
  auto png = Fixture("rgb.png");
  ASSERT_TRUE(InitializeImageLibrary().ok());
  VipsImage* in = vips_image_new_from_buffer(png.data(), png.size(), "", nullptr);
  ASSERT_NE(in, nullptr);
  void* buf = nullptr;
  size_t len = 0;
  const int rc = vips_heifsave_buffer(in, &buf, &len, "compression", VIPS_FOREIGN_HEIF_COMPRESSION_HEVC, "Q",
                                      95, nullptr);
  g_object_unref(in);
  if (rc != 0) GTEST_SKIP() << "this libheif has no HEVC encoder: " << vips_error_buffer();
  std::vector<uint8_t> heic(static_cast<uint8_t*>(buf), static_cast<uint8_t*>(buf) + len);
  g_free(buf);
  auto img = DecodeImage(heic.data(), heic.size());
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->width, 64);
  p = Pixel(*img, 33, 21);
  EXPECT_NEAR(p[0], 4 * 33, 16);
  EXPECT_NEAR(p[2], 128, 16);
}

}  // namespace
}  // namespace sightline::media
