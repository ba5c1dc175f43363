// What a photo says about itself: camera, lens, capture time, GPS position, exposure,
// orientation and displayed dimensions. Read with exiv2 (JPEG, PNG, WebP, TIFF, HEIF/AVIF and
// camera RAW); dimensions come from the image header, so files without EXIF still answer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"
#include "media/image_decoder.h"

namespace sightline::media {

struct ImageMetadata {
  std::string format;  // "jpeg", "png", "dng", ...
  int width = 0;       // as displayed (orientation applied)
  int height = 0;
  int orientation = 1;  // EXIF orientation, 1..8
  std::optional<std::string> make, model, lens;
  std::optional<std::string> captured_at;  // ISO 8601 local time, "2024-05-06T07:08:09"
  std::optional<double> latitude, longitude, altitude_m;
  std::optional<double> exposure_time_s, f_number, focal_length_mm;
  std::optional<int64_t> iso;
};

// Errors: kInvalidArgument of kind invalid_image when the bytes are not a readable image.
// Unreadable EXIF inside a readable image is not an error: the fields stay empty.
Result<ImageMetadata> ReadImageMetadata(const uint8_t* data, size_t size);

}  // namespace sightline::media
