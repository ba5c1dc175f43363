// Decodes untrusted image bytes with libvips: JPEG, PNG, WebP, TIFF, GIF (first frame), HEIF/AVIF
// where libvips has them. Applies EXIF orientation, converts embedded ICC profiles to sRGB, keeps
// alpha, and shrinks on load when the caller needs far fewer pixels than the file has. Limits on
// pixel count and side length are checked from the header, before any pixel is decoded.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/status.h"
#include "media/image.h"

namespace sightline::media {

struct DecodeLimits {
  int64_t max_pixels = 100'000'000;  // width x height of the source
  int max_side = 30'000;
};

struct DecodeOptions {
  DecodeLimits limits;
  // When set, a JPEG may be shrunk on load (1/2, 1/4, 1/8), keeping both sides >= these, so the
  // later resize to the model's size still has at least as many pixels as it outputs.
  int min_width = 0;
  int min_height = 0;
};

// Errors: kInvalidArgument of kind invalid_image (empty, unknown format, corrupt or truncated);
// kPayloadTooLarge when the header's dimensions break the limits.
Result<Image> DecodeImage(const uint8_t* data, size_t size, const DecodeOptions& options = {});

// libvips keeps process-wide state (its operation cache, thread pool); this initialises it once
// with the cache disabled, since decoded images are not reused between requests.
Status InitializeImageLibrary();

}  // namespace sightline::media
