// A decoded image: 8-bit sRGB pixels, interleaved (RGB, or RGBA when the source had alpha),
// orientation already applied. What every image task starts from.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sightline::media {

struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;             // 3 (RGB) or 4 (RGBA)
  std::vector<uint8_t> pixels;  // height x width x channels
  std::string format;           // source format as libvips names its loader: "jpeg", "png", ...
  int source_width = 0;         // before shrink-on-load, after orientation
  int source_height = 0;
  bool from_preview = false;  // camera RAW: decoded from the embedded preview, not the sensor data
};

}  // namespace sightline::media
