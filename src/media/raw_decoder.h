// Camera RAW (DNG, CR2, NEF, ARW, ...) through libraw. The fast path: when the caller needs no
// more pixels than the embedded preview has, decode the preview (usually a JPEG) instead of the
// sensor data; otherwise demosaic at half size (one RGB pixel per 2x2 Bayer block, no
// interpolation), or at full size when the caller wants every pixel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/status.h"
#include "media/image.h"
#include "media/image_decoder.h"

namespace sightline::media {

// nullopt when libraw does not recognise the bytes as a RAW file (the caller tries other
// decoders); else the decoded image or why it failed (400 invalid_image, 413 over the limits).
std::optional<Result<Image>> TryDecodeRaw(const uint8_t* data, size_t size, const DecodeOptions& options);

// Header only: the displayed size (orientation applied) of a RAW file, or nullopt if not RAW.
struct RawInfo {
  int width = 0;
  int height = 0;
  bool dng = false;
};
std::optional<RawInfo> ProbeRaw(const uint8_t* data, size_t size);

}  // namespace sightline::media
