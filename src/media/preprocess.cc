#include "media/preprocess.h"

#include <vips/vips.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "core/half.h"
#include "media/image_decoder.h"
#include "media/lanczos.h"
#include "media/vips_handle.h"

namespace sightline::media {
namespace {

// Whole-image resizes before a centre crop may make at most this many times the output's pixels.
constexpr double kMaxIntermediateFactor = 4.0;

Status VipsFailure(const char* step) {
  return Internal(std::string("image ") + step + " failed: " + TakeVipsError());
}

// Resizes by (sx, sy) and then forces the exact size: libvips rounds output sides.
Result<VImage> ResizeTo(VImage in, double sx, double sy) {
  VipsImage* out = nullptr;
  if (sx > 1.0 + 1e-9 || sy > 1.0 + 1e-9) {
    // Enlarging: our Lanczos-3 with Pillow's pixel-centre convention (see lanczos.h). Shrinking
    // stays with libvips' reduce, which already centres its kernel and is vectorised.
    const int w = in->Xsize, h = in->Ysize, bands = in->Bands;
    const int ow = std::max(1, static_cast<int>(std::lround(w * sx)));
    const int oh = std::max(1, static_cast<int>(std::lround(h * sy)));
    size_t bytes = 0;
    void* mem = vips_image_write_to_memory(in.get(), &bytes);
    if (!mem) return VipsFailure("render");
    std::unique_ptr<void, void (*)(void*)> guard(mem, g_free);
    const auto px = ResampleLanczos3(static_cast<const uint8_t*>(mem), w, h, bands, ow, oh);
    VImage resized(vips_image_new_from_memory_copy(px.data(), px.size(), ow, oh, bands, VIPS_FORMAT_UCHAR));
    if (!resized) return VipsFailure("wrap");
    resized->Type = in->Type;
    return resized;
  }
  if (std::abs(sx - 1.0) > 1e-9 || std::abs(sy - 1.0) > 1e-9) {
    if (vips_resize(in.get(), &out, sx, "vscale", sy, nullptr) != 0) return VipsFailure("resize");
    in.reset(out);
  }
  return in;
}

Result<VImage> Exact(VImage in, int w, int h, int left, int top, uint8_t pad) {
  VipsImage* out = nullptr;
  if (in->Xsize == w && in->Ysize == h && left == 0 && top == 0) return in;
  // embed both crops (negative offsets) and pads (positive) to exactly w x h.
  double bg[3] = {static_cast<double>(pad), static_cast<double>(pad), static_cast<double>(pad)};
  VipsArrayDouble* background = vips_array_double_new(bg, 3);
  const int r = vips_embed(in.get(), &out, left, top, w, h, "extend", VIPS_EXTEND_BACKGROUND, "background",
                           background, nullptr);
  vips_area_unref(VIPS_AREA(background));
  if (r != 0) return VipsFailure("embed");
  in.reset(out);
  return in;
}

}  // namespace

Result<Image> ResizeForModel(const Image& image, const PreprocessSpec& spec) {
  RETURN_IF_ERROR(InitializeImageLibrary());
  if (image.width <= 0 || image.height <= 0 || (image.channels != 3 && image.channels != 4))
    return InvalidArgument("image to preprocess must be RGB or RGBA");
  if (spec.width <= 0 || spec.height <= 0) return InvalidArgument("preprocess size must be positive");
  VImage img(vips_image_new_from_memory(image.pixels.data(), image.pixels.size(), image.width, image.height,
                                        image.channels, VIPS_FORMAT_UCHAR));
  if (!img) return VipsFailure("wrap");
  VipsImage* out = nullptr;
  if (image.channels == 4) {
    if (vips_extract_band(img.get(), &out, 0, "n", 3, nullptr) != 0) return VipsFailure("drop alpha");
    img.reset(out);
  }
  const double fx = static_cast<double>(spec.width) / image.width;
  const double fy = static_cast<double>(spec.height) / image.height;
  int left = 0, top = 0;
  switch (spec.resize) {
    case ResizeMode::kStretch: {
      const double c = spec.crop_fraction > 0 && spec.crop_fraction <= 1 ? spec.crop_fraction : 1.0;
      ASSIGN_OR_RETURN(img, ResizeTo(std::move(img), fx / c, fy / c));
      left = -(img->Xsize - spec.width) / 2;
      top = -(img->Ysize - spec.height) / 2;
      break;
    }
    case ResizeMode::kShortestEdgeCenterCrop: {
      const double s = std::max(fx, fy);
      // CLIP's processor resizes the whole image, then crops the centre. The intermediate is as
      // long as the aspect ratio makes it: a 1x12000 PNG became 224x2688000 (1.8 GB, 20 s).
      // Past a small multiple of the output, crop in source coordinates first (the centre region
      // plus the Lanczos-3 support as margin), so memory and time follow what the model takes.
      // Ordinary photos keep the exact whole-image path (parity with the reference processor).
      const double intermediate = static_cast<double>(image.width) * s * image.height * s;
      if (intermediate > kMaxIntermediateFactor * spec.width * spec.height) {
        const double cw = spec.width / s, ch = spec.height / s;  // the crop, in source pixels
        const int margin = static_cast<int>(std::ceil(3.0 / std::min(s, 1.0))) + 1;
        const int x0 = std::max(0, static_cast<int>(std::floor((image.width - cw) / 2)) - margin);
        const int x1 = std::min(image.width, static_cast<int>(std::ceil((image.width + cw) / 2)) + margin);
        const int y0 = std::max(0, static_cast<int>(std::floor((image.height - ch) / 2)) - margin);
        const int y1 = std::min(image.height, static_cast<int>(std::ceil((image.height + ch) / 2)) + margin);
        if (vips_extract_area(img.get(), &out, x0, y0, x1 - x0, y1 - y0, nullptr) != 0)
          return VipsFailure("crop");
        img.reset(out);
        ASSIGN_OR_RETURN(img, ResizeTo(std::move(img), s, s));
        // The source centre, in the resized region's pixels, lands on the output's centre.
        left = -static_cast<int>(std::lround((image.width / 2.0 - x0) * s - spec.width / 2.0));
        top = -static_cast<int>(std::lround((image.height / 2.0 - y0) * s - spec.height / 2.0));
        break;
      }
      ASSIGN_OR_RETURN(img, ResizeTo(std::move(img), s, s));
      left = -(img->Xsize - spec.width) / 2;
      top = -(img->Ysize - spec.height) / 2;
      break;
    }
    case ResizeMode::kLetterbox: {
      const double s = std::min(fx, fy);
      ASSIGN_OR_RETURN(img, ResizeTo(std::move(img), s, s));
      left = (spec.width - img->Xsize) / 2;
      top = (spec.height - img->Ysize) / 2;
      break;
    }
  }
  ASSIGN_OR_RETURN(img, Exact(std::move(img), spec.width, spec.height, left, top, spec.pad));
  size_t bytes = 0;
  void* mem = vips_image_write_to_memory(img.get(), &bytes);
  if (!mem) return VipsFailure("render");
  std::unique_ptr<void, void (*)(void*)> guard(mem, g_free);
  Image result;
  result.width = spec.width;
  result.height = spec.height;
  result.channels = 3;
  result.pixels.assign(static_cast<uint8_t*>(mem), static_cast<uint8_t*>(mem) + bytes);
  result.format = image.format;
  result.source_width = image.source_width;
  result.source_height = image.source_height;
  if (result.pixels.size() != static_cast<size_t>(spec.width) * spec.height * 3)
    return Internal("resized image has an unexpected size");
  return result;
}

Result<Tensor> ImageToTensor(const Image& image, const PreprocessSpec& spec, const std::string& name) {
  if (spec.dtype != DataType::kFp32 && spec.dtype != DataType::kFp16)
    return InvalidArgument("preprocess dtype must be FP32 or FP16");
  for (float s : spec.std)
    if (s == 0.0f) return InvalidArgument("preprocess std must not be zero");
  ASSIGN_OR_RETURN(Image sized, ResizeForModel(image, spec));
  // value = pixel * a[c] + b[c], tabulated: 3 x 256 entries instead of a multiply-add per pixel.
  float lut[3][256];
  for (int c = 0; c < 3; ++c)
    for (int p = 0; p < 256; ++p)
      lut[c][p] = (static_cast<float>(p) * spec.scale - spec.mean[c]) / spec.std[c];

  const size_t plane = static_cast<size_t>(spec.width) * spec.height;
  Tensor t;
  t.name = name;
  t.dtype = spec.dtype;
  t.shape = spec.layout == Layout::kNchw ? Shape{1, 3, spec.height, spec.width}
                                         : Shape{1, spec.height, spec.width, 3};
  t.data.resize(plane * 3 * DataTypeSize(spec.dtype));
  const uint8_t* px = sized.pixels.data();
  const bool bgr = spec.order == ChannelOrder::kBgr;
  auto put = [&](size_t index, float v) {
    if (spec.dtype == DataType::kFp32) {
      std::memcpy(t.data.data() + index * 4, &v, 4);
    } else {
      const uint16_t h = FloatToHalf(v);
      std::memcpy(t.data.data() + index * 2, &h, 2);
    }
  };
  for (size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < 3; ++c) {
      const int src = bgr ? 2 - c : c;  // output channel c reads source channel src
      const float v = lut[src][px[i * 3 + src]];
      put(spec.layout == Layout::kNchw ? c * plane + i : i * 3 + c, v);
    }
  }
  return t;
}

}  // namespace sightline::media
