#include "media/image_metadata.h"

#include <vips/vips.h>
#include <exiv2/exiv2.hpp>

#include <cmath>
#include <cstdlib>
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

// EXIF numbers arrive in any TIFF type a writer chose (BYTE, SHORT, LONG, RATIONAL, their signed
// forms, FLOAT, DOUBLE, 64-bit integers) or as text; anything else (UNDEFINED, a comment) is not a
// number. Every value is checked finite and within the field's physical range before use:
// converting an out-of-range double to an integer is undefined behaviour, and a field outside
// its range is noise, so it is omitted, never clamped.
std::optional<double> NumberAt(const Exiv2::Exifdatum& d, long index) {
  if (index >= static_cast<long>(d.count())) return std::nullopt;
  switch (d.typeId()) {
    case Exiv2::unsignedByte:
    case Exiv2::unsignedShort:
    case Exiv2::unsignedLong:
    case Exiv2::unsignedRational:
    case Exiv2::signedByte:
    case Exiv2::signedShort:
    case Exiv2::signedLong:
    case Exiv2::signedRational:
    case Exiv2::tiffFloat:
    case Exiv2::tiffDouble:
    case Exiv2::unsignedLongLong:
    case Exiv2::signedLongLong:
    case Exiv2::tiffIfd:
    case Exiv2::tiffIfd8: {
      if (d.typeId() == Exiv2::unsignedRational || d.typeId() == Exiv2::signedRational) {
        const Exiv2::Rational r = d.toRational(index);
        if (r.second == 0) return std::nullopt;  // x/0
        return static_cast<double>(r.first) / r.second;
      }
      const double v = static_cast<double>(d.toFloat(index));
      if (!d.value().ok() || !std::isfinite(v)) return std::nullopt;
      return v;
    }
    case Exiv2::asciiString:
    case Exiv2::string: {
      if (index != 0) return std::nullopt;
      std::string text = d.toString();
      while (!text.empty() && (text.back() == ' ' || text.back() == '\0')) text.pop_back();
      char* end = nullptr;
      const double v = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
      return v;
    }
    default: return std::nullopt;
  }
}

// The first value of `key` if it is a number within [lo, hi].
std::optional<double> Number(const Exiv2::ExifData& exif, const char* key, double lo, double hi) {
  auto it = exif.findKey(Exiv2::ExifKey(key));
  if (it == exif.end()) return std::nullopt;
  auto v = NumberAt(*it, 0);
  if (!v || *v < lo || *v > hi) return std::nullopt;
  return v;
}

// An integer field within [lo, hi]: the range check comes before the conversion.
template <typename Int>
std::optional<Int> Integer(const Exiv2::ExifData& exif, const char* key, Int lo, Int hi) {
  auto v = Number(exif, key, static_cast<double>(lo), static_cast<double>(hi));
  if (!v || *v != std::floor(*v)) return std::nullopt;
  return static_cast<Int>(*v);
}

// GPS degrees/minutes/seconds and an N/S or E/W reference to signed degrees within +-limit.
std::optional<double> Coordinate(const Exiv2::ExifData& exif, const char* key, const char* ref_key,
                                 double limit) {
  auto it = exif.findKey(Exiv2::ExifKey(key));
  if (it == exif.end() || it->count() < 3) return std::nullopt;
  double deg = 0;
  for (int i = 0; i < 3; ++i) {
    const auto part = NumberAt(*it, i);
    if (!part || *part < 0 || *part > (i == 0 ? limit : 60.0)) return std::nullopt;
    deg += *part / std::pow(60.0, i);
  }
  if (deg > limit) return std::nullopt;
  auto ref = Text(exif, ref_key);
  if (ref && (*ref == "S" || *ref == "W")) deg = -deg;
  return deg;
}

// "2024:05:06 07:08:09" -> "2024-05-06T07:08:09"
// EXIF 2.32 4.6.5: "YYYY:MM:DD HH:MM:SS"; an unknown date is written as blanks or, by many
// cameras whose clock was never set, as zeros ("0000:00:00 00:00:00"). Those, and any field out
// of its range, are no date at all rather than an impossible ISO time.
std::optional<std::string> IsoTime(std::optional<std::string> exif_time) {
  if (!exif_time || exif_time->size() < 19) return std::nullopt;
  std::string s = exif_time->substr(0, 19);
  if (s[4] != ':' || s[7] != ':' || s[10] != ' ' || s[13] != ':' || s[16] != ':') return std::nullopt;
  const auto field = [&](size_t at, size_t len) {
    int v = 0;
    for (size_t i = at; i < at + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  const int year = field(0, 4), month = field(5, 2), day = field(8, 2);
  const int hour = field(11, 2), minute = field(14, 2), second = field(17, 2);
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > kDays[month - 1] || hour < 0 || hour > 23 ||
      minute < 0 || minute > 59 || second < 0 || second > 60)
    return std::nullopt;
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
    if (auto o = Integer<int>(exif, "Exif.Image.Orientation", 1, 8)) md.orientation = *o;
    md.make = Text(exif, "Exif.Image.Make");
    md.model = Text(exif, "Exif.Image.Model");
    md.lens = Text(exif, "Exif.Photo.LensModel");
    md.captured_at = IsoTime(Text(exif, "Exif.Photo.DateTimeOriginal"));
    if (!md.captured_at) md.captured_at = IsoTime(Text(exif, "Exif.Image.DateTimeOriginal"));
    if (!md.captured_at) md.captured_at = IsoTime(Text(exif, "Exif.Image.DateTime"));
    md.latitude = Coordinate(exif, "Exif.GPSInfo.GPSLatitude", "Exif.GPSInfo.GPSLatitudeRef", 90);
    md.longitude = Coordinate(exif, "Exif.GPSInfo.GPSLongitude", "Exif.GPSInfo.GPSLongitudeRef", 180);
    // Ranges: the Mariana Trench to well past low Earth orbit; exposures up to a day; apertures
    // f/0.3..f/1000; focal lengths up to 100 m (telescopes); ISO up to 10^8 (sensors reach ~4.5e6).
    if (auto alt = Number(exif, "Exif.GPSInfo.GPSAltitude", 0, 1e6)) {
      auto ref = Integer<int>(exif, "Exif.GPSInfo.GPSAltitudeRef", 0, 1);
      md.altitude_m = ref && *ref == 1 ? -*alt : *alt;
    }
    md.exposure_time_s = Number(exif, "Exif.Photo.ExposureTime", 1e-9, 86400);
    md.f_number = Number(exif, "Exif.Photo.FNumber", 0.3, 1000);
    md.focal_length_mm = Number(exif, "Exif.Photo.FocalLength", 0.1, 1e5);
    md.iso = Integer<int64_t>(exif, "Exif.Photo.ISOSpeedRatings", 1, 100'000'000);
  } catch (const std::exception&) {
    // No or unreadable metadata in an image the header reader accepted: answer what we have.
  }
  // The header reports stored sides; orientations 5-8 display them swapped. (RAW sizes from
  // libraw already account for it.)
  if (!raw && md.orientation >= 5) std::swap(md.width, md.height);
  return md;
}

}  // namespace sightline::media
