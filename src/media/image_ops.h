// Pixel-level helpers on decoded images that several tasks share: exact-size resampling (any
// band count, masks included) and encoding to PNG, WebP or JPEG.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "media/image.h"

namespace sightline::media {

enum class ImageFormat { kPng, kWebp, kJpeg };

Result<ImageFormat> ParseImageFormat(std::string_view name);  // "png" | "webp" | "jpeg" | "jpg"
std::string_view ContentTypeOf(ImageFormat format);           // "image/png", ...

// Resamples to exactly width x height (Lanczos when shrinking, bicubic-like when enlarging).
// Works for 1, 3 and 4 channels; alpha is resampled like any band.
Result<Image> ResizeImage(const Image& image, int width, int height);

// Scales so the longer side is at most `max_side`; returns the image unchanged when it fits.
Result<Image> LimitLongSide(Image image, int max_side);

// PNG and WebP keep alpha; JPEG needs 1 or 3 channels (flatten first). quality: WebP/JPEG 1..100.
Result<std::string> EncodeImage(const Image& image, ImageFormat format, int quality = 90);

}  // namespace sightline::media
