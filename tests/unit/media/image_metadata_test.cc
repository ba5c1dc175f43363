#include "media/image_metadata.h"

#include <gtest/gtest.h>

#include "image_fixtures.h"

#include <cmath>
#include <exiv2/exiv2.hpp>

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

// Writes EXIF fields of chosen TIFF types into rgb.jpg through exiv2 and returns the new bytes.
struct Field {
  const char* key;
  Exiv2::TypeId type;
  const char* value;  // exiv2's text form: "400", "1/0", "1e30", "48/1 95/1 0/1"
};
std::vector<uint8_t> JpegWithExif(const std::vector<Field>& fields) {
  auto bytes = Fixture("rgb.jpg");
  auto image = Exiv2::ImageFactory::open(bytes.data(), static_cast<long>(bytes.size()));
  image->readMetadata();
  Exiv2::ExifData exif;
  for (const auto& f : fields) {
    auto v = Exiv2::Value::create(f.type);
    v->read(f.value);
    exif.add(Exiv2::ExifKey(f.key), v.get());
  }
  image->setExifData(exif);
  image->writeMetadata();
  Exiv2::BasicIo& io = image->io();
  io.seek(0, Exiv2::BasicIo::beg);
  Exiv2::DataBuf buf = io.read(static_cast<long>(io.size()));
  return std::vector<uint8_t>(buf.pData_, buf.pData_ + buf.size_);
}

ImageMetadata ReadBytes(const std::vector<uint8_t>& b) {
  auto md = ReadImageMetadata(b.data(), b.size());
  EXPECT_TRUE(md.ok()) << md.status().ToString();
  return md.ok() ? *md : ImageMetadata{};
}

// Field report 10: ISO as the DOUBLE 1e30 was cast to int64_t (undefined behaviour; the release
// build answered INT64_MIN). Every numeric field is read whatever its TIFF type, and a value that
// is not finite or outside the field's range is omitted.
TEST(ImageMetadata, IsoIsReadFromEveryNumericTypeAndOmittedOutOfRange) {
  const std::vector<std::pair<Field, std::optional<int64_t>>> cases = {
      {{"Exif.Photo.ISOSpeedRatings", Exiv2::unsignedShort, "400"}, 400},
      {{"Exif.Photo.ISOSpeedRatings", Exiv2::unsignedLong, "3200"}, 3200},
      {{"Exif.Photo.ISOSpeedRatings", Exiv2::unsignedRational, "800/1"}, 800},
      {{"Exif.Photo.ISOSpeedRatings", Exiv2::tiffDouble, "1600"}, 1600},
      {{"Exif.Photo.ISOSpeedRatings", Exiv2::asciiString, "200"}, 200},
      {{"Exif.Photo.ISOSpeedRatings", Exiv2::tiffDouble, "1e30"}, std::nullopt},
      {{"Exif.Photo.ISOSpeedRatings", Exiv2::tiffDouble, "-1e30"}, std::nullopt},
      {{"Exif.Photo.ISOSpeedRatings", Exiv2::tiffDouble, "nan"}, std::nullopt},
      {{"Exif.Photo.ISOSpeedRatings", Exiv2::tiffDouble, "inf"}, std::nullopt},
      {{"Exif.Photo.ISOSpeedRatings", Exiv2::signedLong, "-100"}, std::nullopt},
      {{"Exif.Photo.ISOSpeedRatings", Exiv2::tiffDouble, "100.5"}, std::nullopt},
      {{"Exif.Photo.ISOSpeedRatings", Exiv2::unsignedRational, "5/0"}, std::nullopt},
      {{"Exif.Photo.ISOSpeedRatings", Exiv2::asciiString, "fast"}, std::nullopt},
      {{"Exif.Photo.ISOSpeedRatings", Exiv2::undefined, "1 2 3 4"}, std::nullopt},
  };
  for (const auto& [field, expected] : cases) {
    const ImageMetadata md = ReadBytes(JpegWithExif({field}));
    EXPECT_EQ(md.iso, expected) << Exiv2::TypeInfo::typeName(field.type) << " " << field.value;
  }
}

TEST(ImageMetadata, OtherNumbersAreRangeChecked) {
  const ImageMetadata bad = ReadBytes(JpegWithExif({
      {"Exif.Image.Orientation", Exiv2::unsignedShort, "9"},
      {"Exif.Photo.ExposureTime", Exiv2::unsignedRational, "1/0"},
      {"Exif.Photo.FNumber", Exiv2::signedRational, "-28/10"},
      {"Exif.Photo.FocalLength", Exiv2::tiffDouble, "1e300"},
      {"Exif.GPSInfo.GPSLatitude", Exiv2::unsignedRational, "95/1 0/1 0/1"},
      {"Exif.GPSInfo.GPSLatitudeRef", Exiv2::asciiString, "N"},
      {"Exif.GPSInfo.GPSLongitude", Exiv2::unsignedRational, "10/1 75/1 0/1"},
      {"Exif.GPSInfo.GPSLongitudeRef", Exiv2::asciiString, "E"},
      {"Exif.GPSInfo.GPSAltitude", Exiv2::unsignedRational, "4294967295/1"},
  }));
  EXPECT_EQ(bad.orientation, 1);
  EXPECT_FALSE(bad.exposure_time_s.has_value());
  EXPECT_FALSE(bad.f_number.has_value());
  EXPECT_FALSE(bad.focal_length_mm.has_value());
  EXPECT_FALSE(bad.latitude.has_value());
  EXPECT_FALSE(bad.longitude.has_value());
  EXPECT_FALSE(bad.altitude_m.has_value());

  const ImageMetadata good = ReadBytes(JpegWithExif({
      {"Exif.Image.Orientation", Exiv2::unsignedShort, "3"},
      {"Exif.Photo.ExposureTime", Exiv2::unsignedRational, "1/250"},
      {"Exif.Photo.FNumber", Exiv2::unsignedRational, "28/10"},
      {"Exif.Photo.FocalLength", Exiv2::tiffFloat, "35"},
      {"Exif.GPSInfo.GPSLatitude", Exiv2::unsignedRational, "33/1 51/1 36/1"},
      {"Exif.GPSInfo.GPSLatitudeRef", Exiv2::asciiString, "S"},
      {"Exif.GPSInfo.GPSAltitude", Exiv2::unsignedRational, "12/1"},
      {"Exif.GPSInfo.GPSAltitudeRef", Exiv2::unsignedByte, "1"},
  }));
  EXPECT_EQ(good.orientation, 3);
  EXPECT_DOUBLE_EQ(good.exposure_time_s.value_or(0), 1.0 / 250);
  EXPECT_DOUBLE_EQ(good.f_number.value_or(0), 2.8);
  EXPECT_DOUBLE_EQ(good.focal_length_mm.value_or(0), 35);
  EXPECT_NEAR(good.latitude.value_or(0), -(33 + 51 / 60.0 + 36 / 3600.0), 1e-9);
  EXPECT_DOUBLE_EQ(good.altitude_m.value_or(0), -12);
}

// A camera whose clock was never set writes zeros; blanks mean unknown (EXIF 4.6.5). Neither is
// an ISO time: the next tag is tried, and with none left there is no captured_at.
TEST(ImageMetadata, UnsetOrImpossibleCaptureDatesAreNoDate) {
  for (const char* bad :
       {"0000:00:00 00:00:00", "    :  :     :  :  ", "2024:13:01 10:00:00", "2024:02:30 10:00:00",
        "2024:05:06 24:00:00", "2024:05:06 07:61:09", "2O24:05:06 07:08:09"}) {
    const ImageMetadata md =
        ReadBytes(JpegWithExif({{"Exif.Photo.DateTimeOriginal", Exiv2::asciiString, bad}}));
    EXPECT_FALSE(md.captured_at.has_value()) << bad << " -> " << md.captured_at.value_or("");
  }
  const ImageMetadata fallback = ReadBytes(JpegWithExif({
      {"Exif.Photo.DateTimeOriginal", Exiv2::asciiString, "0000:00:00 00:00:00"},
      {"Exif.Image.DateTime", Exiv2::asciiString, "2020:02:29 23:59:60"},
  }));
  EXPECT_EQ(fallback.captured_at.value_or(""), "2020-02-29T23:59:60");
}

// The field report's own file (tests/data, from ../shared/field-cases).
TEST(ImageMetadata, FieldReportIsoOutOfRangeIsOmitted) {
  std::ifstream in(std::string(SIGHTLINE_SOURCE_DIR) + "/tests/data/exif_iso_out_of_range.jpg",
                   std::ios::binary);
  ASSERT_TRUE(in.good());
  std::vector<uint8_t> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const ImageMetadata md = ReadBytes(b);
  EXPECT_FALSE(md.iso.has_value());
  EXPECT_GT(md.width, 0);
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
