#include "media/image_decoder.h"

#include "media/isobmff.h"

#include "media/raw_decoder.h"
#include "media/vips_handle.h"

#include <vips/vips.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

namespace sightline::media {
namespace {

Status Invalid(const std::string& what) {
  return InvalidImage(what);
}

// libvips' reason after what it means for the client: past the format check, a failure is almost
// always a file cut short or damaged ("source: bad seek to 275" alone says neither).
Status Undecodable() {
  return InvalidImage("the image could not be decoded (truncated or corrupt?): " + TakeVipsError());
}

bool SwapsSides(VipsImage* header) {
  int orientation = 1;
  if (vips_image_get_typeof(header, VIPS_META_ORIENTATION) &&
      vips_image_get_int(header, VIPS_META_ORIENTATION, &orientation) == 0)
    return orientation >= 5 && orientation <= 8;
  return false;
}

// To 8-bit sRGB with 3 or 4 bands, from whatever the loader produced (grey, CMYK, 16-bit, ICC).
Result<VImage> ToSrgb8(VImage in) {
  VipsImage* out = nullptr;
  if (vips_image_get_typeof(in.get(), VIPS_META_ICC_NAME)) {
    // Embedded profile: convert through it to sRGB (CMYK JPEGs land here too).
    if (vips_icc_transform(in.get(), &out, "srgb", "embedded", TRUE, "intent", VIPS_INTENT_RELATIVE,
                           nullptr) == 0)
      in.reset(out);
    else
      vips_error_clear();  // a broken profile: fall back to a plain colourspace conversion
  }
  if (vips_image_get_interpretation(in.get()) != VIPS_INTERPRETATION_sRGB || in->Bands < 3) {
    if (vips_colourspace(in.get(), &out, VIPS_INTERPRETATION_sRGB, nullptr) != 0) return Undecodable();
    in.reset(out);
  }
  if (in->BandFmt != VIPS_FORMAT_UCHAR) {
    if (vips_cast(in.get(), &out, VIPS_FORMAT_UCHAR, "shift", in->BandFmt == VIPS_FORMAT_USHORT, nullptr) !=
        0)
      return Undecodable();
    in.reset(out);
  }
  if (in->Bands > 4) {
    if (vips_extract_band(in.get(), &out, 0, "n", 4, nullptr) != 0) return Undecodable();
    in.reset(out);
  }
  return in;
}

}  // namespace

Status InitializeImageLibrary() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] {
    ok = VIPS_INIT("sightline") == 0;
    if (ok) {
      vips_cache_set_max(0);  // nothing is reused across requests; keep memory flat
      vips_leak_set(FALSE);
    }
  });
  return ok ? Status::Ok() : Internal("libvips failed to initialise");
}

Result<Image> DecodeImage(const uint8_t* data, size_t size, const DecodeOptions& options) {
  RETURN_IF_ERROR(InitializeImageLibrary());
  if (size == 0) return Invalid("the image is empty (0 bytes)");
  const char* loader = vips_foreign_find_load_buffer(data, size);
  // Camera RAW: DNG and most vendor formats are TIFF containers; the rest libvips doesn't know.
  if (!loader || std::strstr(loader, "Tiff")) {
    vips_error_clear();
    if (auto raw = TryDecodeRaw(data, size, options)) return std::move(*raw);
  }
  if (!loader) {
    vips_error_clear();
    return Invalid("not a supported image format");
  }
  // HEIF/AVIF: refuse a truncated container before libheif, which leaks on it (media/isobmff.h).
  if (std::strstr(loader, "Heif")) RETURN_IF_ERROR(CheckIsobmffComplete(data, size));
  // Header only: libvips decodes lazily, so limits are checked before any pixel work.
  VImage header(vips_image_new_from_buffer(data, size, "", "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                           VIPS_FAIL_ON_ERROR, nullptr));
  if (!header) return Undecodable();
  int w = vips_image_get_width(header.get());
  int h = vips_image_get_height(header.get());
  if (SwapsSides(header.get())) std::swap(w, h);
  const auto& lim = options.limits;
  if (w > lim.max_side || h > lim.max_side || static_cast<int64_t>(w) * h > lim.max_pixels)
    return Status(StatusCode::kPayloadTooLarge, "image is " + std::to_string(w) + "x" + std::to_string(h) +
                                                    " pixels; the limit is " +
                                                    std::to_string(lim.max_pixels) + " pixels and " +
                                                    std::to_string(lim.max_side) + " per side")
        .WithKind(ErrorKind::kLimitExceeded);

  VipsImage* out = nullptr;
  // JPEG shrink-on-load: the DCT decodes at 1/2, 1/4 or 1/8 scale for almost no cost. Take the
  // largest factor that keeps both sides >= the caller's minimum; the resize to the exact model
  // size happens later in preprocessing (one resampling, not two).
  int shrink = 1;
  if (options.min_width > 0 && options.min_height > 0 &&
      std::strcmp(loader, "VipsForeignLoadJpegBuffer") == 0)
    for (int f : {8, 4, 2})
      if (w / f >= options.min_width && h / f >= options.min_height) {
        shrink = f;
        break;
      }
  // Without a shrink the header's image is the full decode (lazy); with one, reopen at that scale.
  VImage full = std::move(header);
  if (shrink > 1) {
    if (vips_jpegload_buffer(const_cast<uint8_t*>(data), size, &out, "shrink", shrink, "access",
                             VIPS_ACCESS_SEQUENTIAL, "fail_on", VIPS_FAIL_ON_ERROR, nullptr) != 0)
      return Undecodable();
    full.reset(out);
  }
  if (vips_autorot(full.get(), &out, nullptr) != 0) return Undecodable();
  ASSIGN_OR_RETURN(VImage img, ToSrgb8(VImage(out)));
  // Every resize mode ends at the caller's minimum size: an integer box shrink on the lazy,
  // streamed image keeps at least twice the pixels per side that the final Lanczos needs, so the
  // memory one item takes is bounded by what the model consumes, not by the file's dimensions
  // (a 30000x3000 PNG once materialised 270 MB for a 224x224 input). libvips' thumbnail does the
  // same: shrink by an integer factor, then reduce.
  if (options.min_width > 0 && options.min_height > 0) {
    const int f = std::min(img->Xsize / (2 * options.min_width), img->Ysize / (2 * options.min_height));
    if (f >= 2) {
      if (vips_shrink(img.get(), &out, f, f, nullptr) != 0) return Undecodable();
      img.reset(out);
    }
  }

  // Decoding happens here: a truncated or corrupt file fails now.
  size_t bytes = 0;
  void* mem = vips_image_write_to_memory(img.get(), &bytes);
  if (!mem) return Undecodable();
  std::unique_ptr<void, void (*)(void*)> guard(mem, g_free);
  Image result;
  result.width = vips_image_get_width(img.get());
  result.height = vips_image_get_height(img.get());
  result.channels = img->Bands;
  result.pixels.assign(static_cast<uint8_t*>(mem), static_cast<uint8_t*>(mem) + bytes);
  result.format = LoaderFormatName(loader);
  result.source_width = w;
  result.source_height = h;
  return result;
}

}  // namespace sightline::media
