#include "media/image_ops.h"

#include <vips/vips.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "media/image_decoder.h"
#include "media/lanczos.h"
#include "media/vips_handle.h"

namespace sightline::media {
namespace {

Status VipsFailure(const char* step) {
  return Internal(std::string("image ") + step + " failed: " + TakeVipsError());
}

bool ValidImage(const Image& i) {
  return i.width > 0 && i.height > 0 && (i.channels == 1 || i.channels == 3 || i.channels == 4) &&
         i.pixels.size() == static_cast<size_t>(i.width) * i.height * i.channels;
}

VImage Wrap(const Image& i) {
  return VImage(vips_image_new_from_memory(i.pixels.data(), i.pixels.size(), i.width, i.height, i.channels,
                                           VIPS_FORMAT_UCHAR));
}

Result<Image> Unwrap(VipsImage* img) {
  size_t bytes = 0;
  void* mem = vips_image_write_to_memory(img, &bytes);
  if (!mem) return VipsFailure("write");
  std::unique_ptr<void, void (*)(void*)> guard(mem, g_free);
  Image out;
  out.width = img->Xsize;
  out.height = img->Ysize;
  out.channels = img->Bands;
  out.pixels.assign(static_cast<uint8_t*>(mem), static_cast<uint8_t*>(mem) + bytes);
  return out;
}

}  // namespace

Result<ImageFormat> ParseImageFormat(std::string_view name) {
  if (name == "png") return ImageFormat::kPng;
  if (name == "webp") return ImageFormat::kWebp;
  if (name == "jpeg" || name == "jpg") return ImageFormat::kJpeg;
  return InvalidArgument("format must be png, webp or jpeg, not '" + std::string(name) + "'");
}

std::string_view ContentTypeOf(ImageFormat format) {
  switch (format) {
    case ImageFormat::kPng: return "image/png";
    case ImageFormat::kWebp: return "image/webp";
    case ImageFormat::kJpeg: return "image/jpeg";
  }
  return "application/octet-stream";
}

Result<Image> ResizeImage(const Image& image, int width, int height) {
  RETURN_IF_ERROR(InitializeImageLibrary());
  if (!ValidImage(image)) return InvalidArgument("image to resize is malformed");
  if (width <= 0 || height <= 0) return InvalidArgument("resize target must be positive");
  if (image.width == width && image.height == height) return image;
  if (width > image.width || height > image.height) {
    // Enlarging (a model-resolution mask back to a large photo): Lanczos-3 with pixel-centre
    // alignment, as for model inputs (lanczos.h), so the mask sits exactly on the image.
    Image out;
    out.width = width;
    out.height = height;
    out.channels = image.channels;
    out.pixels =
        ResampleLanczos3(image.pixels.data(), image.width, image.height, image.channels, width, height);
    out.format = image.format;
    out.source_width = image.source_width;
    out.source_height = image.source_height;
    return out;
  }
  VImage img = Wrap(image);
  if (!img) return VipsFailure("wrap");
  VipsImage* out = nullptr;
  if (vips_resize(img.get(), &out, static_cast<double>(width) / image.width, "vscale",
                  static_cast<double>(height) / image.height, nullptr) != 0)
    return VipsFailure("resize");
  img.reset(out);
  // libvips rounds the output sides; pad or crop the last row/column to the exact size.
  if (img->Xsize != width || img->Ysize != height) {
    if (vips_embed(img.get(), &out, 0, 0, width, height, "extend", VIPS_EXTEND_COPY, nullptr) != 0)
      return VipsFailure("embed");
    img.reset(out);
  }
  ASSIGN_OR_RETURN(Image result, Unwrap(img.get()));
  result.format = image.format;
  result.source_width = image.source_width;
  result.source_height = image.source_height;
  return result;
}

Result<Image> LimitLongSide(Image image, int max_side) {
  const int long_side = std::max(image.width, image.height);
  if (max_side <= 0 || long_side <= max_side) return image;
  const double s = static_cast<double>(max_side) / long_side;
  const int w = std::max(1, static_cast<int>(std::lround(image.width * s)));
  const int h = std::max(1, static_cast<int>(std::lround(image.height * s)));
  return ResizeImage(image, w, h);
}

Result<std::string> EncodeImage(const Image& image, ImageFormat format, int quality) {
  RETURN_IF_ERROR(InitializeImageLibrary());
  if (!ValidImage(image)) return InvalidArgument("image to encode is malformed");
  VImage img = Wrap(image);
  if (!img) return VipsFailure("wrap");
  if (image.channels == 1) img->Type = VIPS_INTERPRETATION_B_W;
  void* buf = nullptr;
  size_t len = 0;
  int rc = -1;
  switch (format) {
    case ImageFormat::kPng:
      // Level 3: most of level 6's size at a fraction of its time on large cutouts.
      rc = vips_pngsave_buffer(img.get(), &buf, &len, "compression", 3, "strip", TRUE, nullptr);
      break;
    case ImageFormat::kWebp:
      rc = vips_webpsave_buffer(img.get(), &buf, &len, "Q", quality, "strip", TRUE, nullptr);
      break;
    case ImageFormat::kJpeg:
      if (image.channels == 4 || image.channels == 2)
        return InvalidArgument("JPEG has no alpha: flatten first");
      rc = vips_jpegsave_buffer(img.get(), &buf, &len, "Q", quality, "strip", TRUE, nullptr);
      break;
  }
  if (rc != 0) return VipsFailure("encode");
  std::unique_ptr<void, void (*)(void*)> guard(buf, g_free);
  return std::string(static_cast<const char*>(buf), len);
}

}  // namespace sightline::media
