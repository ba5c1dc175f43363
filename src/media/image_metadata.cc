#include "media/image_metadata.h"

#include <vips/vips.h>
#include <exiv2/exiv2.hpp>

#include <cmath>
#include <cstring>
#include <mutex>

#include "media/raw_decoder.h"
#include "media/vips_handle.h"

namespace sightline::media {
namespace {

void InitExiv2() {
  static std::once_flag once;
  std::call_once(once, [] {
    Exiv2::LogMsg::setLevel(Exiv2::LogMsg::mute);  // its warnings would bypass our JSON logs
    Exiv2::XmpParser::initialize();                // not thread-safe on first use
  });
}

std::optional<std::string> Text(const Exiv2::ExifData& exif, const char* key) {
  auto it = exif.findKey(Exiv2::ExifKey(key));
  if (it == exif.end()) return std::nullopt;
  std::string s = it->toString();
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  if (s.empty()) return std::nullopt;
  return s;
}

std::optional<double> Number(const Exiv2::ExifData& exif, const char* key) {
  auto it = exif.findKey(Exiv2::ExifKey(key));
  if (it == exif.end() || it->count() == 0) return std::nullopt;
  const double v = it->toFloat(0);
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

// GPS degrees/minutes/seconds rationals and an N/S or E/W reference to signed degrees.
std::optional<double> Coordinate(const Exiv2::ExifData& exif, const char* key, const char* ref_key) {
  auto it = exif.findKey(Exiv2::ExifKey(key));
  if (it == exif.end() || it->count() < 3) return std::nullopt;
  double deg = 0;
  for (int i = 0; i < 3; ++i) {
    const double part = it->toFloat(i);
    if (!std::isfinite(part)) return std::nullopt;
    deg += part / std::pow(60.0, i);
  }
  auto ref = Text(exif, ref_key);
  if (ref && (*ref == "S" || *ref == "W")) deg = -deg;
  return deg;
}

// "2024:05:06 07:08:09" -> "2024-05-06T07:08:09"
std::optional<std::string> IsoTime(std::optional<std::string> exif_time) {
  if (!exif_time || exif_time->size() < 19) return std::nullopt;
  std::string s = exif_time->substr(0, 19);
  if (s[4] != ':' || s[7] != ':' || s[10] != ' ') return std::nullopt;
  s[4] = s[7] = '-';
  s[10] = 'T';
  return s;
}

}  // namespace

Result<ImageMetadata> ReadImageMetadata(const uint8_t* data, size_t size) {
  RETURN_IF_ERROR(InitializeImageLibrary());
  InitExiv2();
  if (size == 0) return InvalidImage("the image is empty (0 bytes)");
  ImageMetadata md;
  // Dimensions and format from the header: libraw for RAW, libvips for everything else.
  const char* loader = vips_foreign_find_load_buffer(data, size);
  std::optional<RawInfo> raw;
  if (!loader || std::strstr(loader, "Tiff")) raw = ProbeRaw(data, size);
  if (raw) {
    md.format = raw->dng ? "dng" : "raw";
    md.width = raw->width;
    md.height = raw->height;
  } else {
    if (!loader) {
      vips_error_clear();
      return InvalidImage("not a supported image format");
    }
    VImage header(vips_image_new_from_buffer(data, size, "", nullptr));
    if (!header) return InvalidImage(TakeVipsError());
    md.width = vips_image_get_width(header.get());
    md.height = vips_image_get_height(header.get());
    md.format = LoaderFormatName(loader);
  }

  try {
    auto image = Exiv2::ImageFactory::open(data, static_cast<long>(size));
    image->readMetadata();
    const Exiv2::ExifData& exif = image->exifData();
    if (auto o = Number(exif, "Exif.Image.Orientation"); o && *o >= 1 && *o <= 8)
      md.orientation = static_cast<int>(*o);
    md.make = Text(exif, "Exif.Image.Make");
    md.model = Text(exif, "Exif.Image.Model");
    md.lens = Text(exif, "Exif.Photo.LensModel");
    md.captured_at = IsoTime(Text(exif, "Exif.Photo.DateTimeOriginal"));
    if (!md.captured_at) md.captured_at = IsoTime(Text(exif, "Exif.Image.DateTimeOriginal"));
    if (!md.captured_at) md.captured_at = IsoTime(Text(exif, "Exif.Image.DateTime"));
    md.latitude = Coordinate(exif, "Exif.GPSInfo.GPSLatitude", "Exif.GPSInfo.GPSLatitudeRef");
    md.longitude = Coordinate(exif, "Exif.GPSInfo.GPSLongitude", "Exif.GPSInfo.GPSLongitudeRef");
    if (auto alt = Number(exif, "Exif.GPSInfo.GPSAltitude")) {
      auto ref = Number(exif, "Exif.GPSInfo.GPSAltitudeRef");
      md.altitude_m = ref && *ref == 1 ? -*alt : *alt;
    }
    md.exposure_time_s = Number(exif, "Exif.Photo.ExposureTime");
    md.f_number = Number(exif, "Exif.Photo.FNumber");
    md.focal_length_mm = Number(exif, "Exif.Photo.FocalLength");
    if (auto iso = Number(exif, "Exif.Photo.ISOSpeedRatings")) md.iso = static_cast<int64_t>(*iso);
  } catch (const std::exception&) {
    // No or unreadable metadata in an image the header reader accepted: answer what we have.
  }
  // The header reports stored sides; orientations 5-8 display them swapped. (RAW sizes from
  // libraw already account for it.)
  if (!raw && md.orientation >= 5) std::swap(md.width, md.height);
  return md;
}

}  // namespace sightline::media
