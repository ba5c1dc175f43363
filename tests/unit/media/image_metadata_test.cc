#include "media/image_metadata.h"

#include <gtest/gtest.h>

#include "image_fixtures.h"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace sightline::media {
namespace {

Result<ImageMetadata> Read(const std::string& name) {
  auto b = Fixture(name);
  return ReadImageMetadata(b.data(), b.size());
}

TEST(ImageMetadata, ReadsCameraLensTimeAndGps) {
  auto md = Read("exif.jpg");
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->format, "jpeg");
  EXPECT_EQ(md->width, 32);
  EXPECT_EQ(md->height, 24);
  EXPECT_EQ(md->make.value_or(""), "Sightline");
  EXPECT_EQ(md->model.value_or(""), "TestCam 1");
  EXPECT_EQ(md->lens.value_or(""), "TestLens 50mm F1.8");
  EXPECT_EQ(md->captured_at.value_or(""), "2024-05-06T07:08:09");
  ASSERT_TRUE(md->latitude && md->longitude);
  EXPECT_NEAR(*md->latitude, 48.858222, 1e-5);
  EXPECT_NEAR(*md->longitude, 2.2945, 1e-5);
}

TEST(ImageMetadata, OrientationSwapsTheDisplayedSides) {
  auto md = Read("orientation6.jpg");  // stored 40x20
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->orientation, 6);
  EXPECT_EQ(md->width, 20);
  EXPECT_EQ(md->height, 40);
}

TEST(ImageMetadata, NoExifStillGivesFormatAndSize) {
  auto md = Read("rgb.png");
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->format, "png");
  EXPECT_EQ(md->width, 64);
  EXPECT_EQ(md->height, 48);
  EXPECT_FALSE(md->make.has_value());
  EXPECT_FALSE(md->latitude.has_value());
}

TEST(ImageMetadata, RawIncluded) {
  auto md = Read("scene_preview.dng");
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->format, "dng");
  EXPECT_EQ(md->width, 600);
  EXPECT_EQ(md->height, 400);
  EXPECT_EQ(md->make.value_or(""), "Sightline");
  EXPECT_EQ(md->model.value_or(""), "TestCam DNG");
}

TEST(ImageMetadata, GarbageIsInvalidImage) {
  for (const char* name : {"garbage.bin", "empty.bin"}) {
    auto md = Read(name);
    ASSERT_FALSE(md.ok()) << name;
    EXPECT_EQ(md.status().code(), StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace sightline::media
