#include "media/matte.h"

#include <vips/vips.h>

#include <algorithm>
#include <memory>

#include "media/image_decoder.h"
#include "media/vips_handle.h"

namespace sightline::media {

Mask MaskFromProbabilities(const float* p, int width, int height) {
  Mask m;
  m.width = width;
  m.height = height;
  m.channels = 1;
  const size_t n = static_cast<size_t>(width) * height;
  m.pixels.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const float v = p[i] > 0.0f ? (p[i] < 1.0f ? p[i] : 1.0f) : 0.0f;  // NaN -> 0
    m.pixels[i] = static_cast<uint8_t>(v * 255.0f + 0.5f);
  }
  return m;
}

namespace {
// Wider than every filter below: the 3x3 rank windows and the sigma-2 blur's mask (vips_gaussmat
// with min_ampl 0.2 is 7 taps wide for sigma 2).
constexpr int kCleanUpMinSide = 16;
}  // namespace

Result<Mask> CleanUpMask(const Mask& mask) {
  RETURN_IF_ERROR(InitializeImageLibrary());
  if (mask.channels != 1 || mask.pixels.size() != static_cast<size_t>(mask.width) * mask.height)
    return InvalidArgument("mask must be one 8-bit channel");
  VImage img(vips_image_new_from_memory(mask.pixels.data(), mask.pixels.size(), mask.width, mask.height, 1,
                                        VIPS_FORMAT_UCHAR));
  if (!img) return Internal("mask wrap failed: " + TakeVipsError());
  VipsImage* out = nullptr;
  // vips_rank refuses a window larger than the image ("window too large"), so a mask thinner than
  // the filters (a 1 x 30000 image) is edge-extended first and cropped back after. Larger masks
  // go through unpadded, exactly as before.
  const bool pad = mask.width < kCleanUpMinSide || mask.height < kCleanUpMinSide;
  if (pad) {
    if (vips_embed(img.get(), &out, kCleanUpMinSide, kCleanUpMinSide, mask.width + 2 * kCleanUpMinSide,
                   mask.height + 2 * kCleanUpMinSide, "extend", VIPS_EXTEND_COPY, nullptr) != 0)
      return Internal("mask pad: " + TakeVipsError());
    img.reset(out);
  }
  // Opening = erode (3x3 minimum) then dilate (3x3 maximum).
  if (vips_rank(img.get(), &out, 3, 3, 0, nullptr) != 0) return Internal("mask erode: " + TakeVipsError());
  img.reset(out);
  if (vips_rank(img.get(), &out, 3, 3, 8, nullptr) != 0) return Internal("mask dilate: " + TakeVipsError());
  img.reset(out);
  if (vips_gaussblur(img.get(), &out, 2.0, "precision", VIPS_PRECISION_INTEGER, nullptr) != 0)
    return Internal("mask blur: " + TakeVipsError());
  img.reset(out);
  if (vips_moreeq_const1(img.get(), &out, 127.0, nullptr) != 0)
    return Internal("mask threshold: " + TakeVipsError());
  img.reset(out);
  if (pad) {
    if (vips_extract_area(img.get(), &out, kCleanUpMinSide, kCleanUpMinSide, mask.width, mask.height,
                          nullptr) != 0)
      return Internal("mask crop: " + TakeVipsError());
    img.reset(out);
  }
  size_t bytes = 0;
  void* mem = vips_image_write_to_memory(img.get(), &bytes);
  if (!mem) return Internal("mask write: " + TakeVipsError());
  std::unique_ptr<void, void (*)(void*)> guard(mem, g_free);
  Mask result = mask;
  if (bytes != result.pixels.size()) return Internal("mask clean-up changed the mask size");
  std::copy_n(static_cast<const uint8_t*>(mem), bytes, result.pixels.data());
  return result;
}

Result<Image> Cutout(const Image& image, const Mask& mask) {
  if (mask.width != image.width || mask.height != image.height || mask.channels != 1)
    return InvalidArgument("mask and image sizes differ");
  if (image.channels != 3 && image.channels != 4) return InvalidArgument("cutout needs an RGB or RGBA image");
  Image out;
  out.width = image.width;
  out.height = image.height;
  out.channels = 4;
  out.format = image.format;
  const size_t n = static_cast<size_t>(image.width) * image.height;
  out.pixels.resize(n * 4);
  const uint8_t* src = image.pixels.data();
  uint8_t* dst = out.pixels.data();
  const int c = image.channels;
  for (size_t i = 0; i < n; ++i, src += c, dst += 4) {
    dst[0] = src[0];
    dst[1] = src[1];
    dst[2] = src[2];
    const unsigned a = mask.pixels[i];
    dst[3] = c == 4 ? static_cast<uint8_t>((a * src[3] + 127) / 255) : static_cast<uint8_t>(a);
  }
  return out;
}

Image FlattenOver(const Image& rgba, std::array<uint8_t, 3> bg) {
  if (rgba.channels != 4) return rgba;
  Image out;
  out.width = rgba.width;
  out.height = rgba.height;
  out.channels = 3;
  out.format = rgba.format;
  const size_t n = static_cast<size_t>(rgba.width) * rgba.height;
  out.pixels.resize(n * 3);
  const uint8_t* s = rgba.pixels.data();
  uint8_t* d = out.pixels.data();
  for (size_t i = 0; i < n; ++i, s += 4, d += 3) {
    const unsigned a = s[3];
    for (int k = 0; k < 3; ++k) d[k] = static_cast<uint8_t>((s[k] * a + bg[k] * (255 - a) + 127) / 255);
  }
  return out;
}

}  // namespace sightline::media
