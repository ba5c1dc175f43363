#include "media/raw_decoder.h"

#include <libraw/libraw.h>

#include <algorithm>
#include <memory>
#include <string>

namespace sightline::media {
namespace {

Status Invalid(const std::string& what) {
  return InvalidImage(what);
}

// libraw's `flip`: 0 none, 3 rotate 180, 5 rotate 90 CCW, 6 rotate 90 CW.
Image Rotate(Image in, int flip) {
  if (flip != 3 && flip != 5 && flip != 6) return in;
  Image out = in;
  const int c = in.channels, w = in.width, h = in.height;
  if (flip != 3) std::swap(out.width, out.height);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      int ox = x, oy = y;
      if (flip == 3) ox = w - 1 - x, oy = h - 1 - y;
      if (flip == 6) ox = h - 1 - y, oy = x;
      if (flip == 5) ox = y, oy = w - 1 - x;
      std::copy_n(&in.pixels[(static_cast<size_t>(y) * w + x) * c], c,
                  &out.pixels[(static_cast<size_t>(oy) * out.width + ox) * c]);
    }
  return out;
}

struct Opened {
  std::unique_ptr<LibRaw> raw;
  int width = 0, height = 0;  // displayed
};

std::optional<Opened> Open(const uint8_t* data, size_t size) {
  // Cheap rejection: every RAW container libraw reads starts with a TIFF header or one of a
  // few vendor magics; skip libraw's (slower) identify for the common web formats.
  if (size < 16) return std::nullopt;
  const bool jpeg = data[0] == 0xFF && data[1] == 0xD8, png = data[0] == 0x89 && data[1] == 'P';
  const bool riff = data[0] == 'R' && data[1] == 'I' && data[2] == 'F' && data[3] == 'F';
  const bool gif = data[0] == 'G' && data[1] == 'I' && data[2] == 'F';
  if (jpeg || png || riff || gif) return std::nullopt;
  Opened o;
  o.raw = std::make_unique<LibRaw>(LIBRAW_OPTIONS_NONE);
  if (o.raw->open_buffer(const_cast<uint8_t*>(data), size) != LIBRAW_SUCCESS) return std::nullopt;
  const auto& id = o.raw->imgdata.idata;
  // Plain TIFFs open too; a RAW has sensor data with a known colour layout.
  if (id.raw_count == 0 || (id.filters == 0 && id.colors < 3 && !id.dng_version)) return std::nullopt;
  const auto& s = o.raw->imgdata.sizes;
  if (s.width == 0 || s.height == 0) return std::nullopt;
  o.width = s.width;
  o.height = s.height;
  if (s.flip & 4) std::swap(o.width, o.height);
  return o;
}

Result<Image> DecodePreview(LibRaw& raw, const DecodeOptions& options) {
  if (raw.unpack_thumb() != LIBRAW_SUCCESS) return Invalid("RAW preview is unreadable");
  const auto& t = raw.imgdata.thumbnail;
  const int flip = raw.imgdata.sizes.flip;
  if (t.tformat == LIBRAW_THUMBNAIL_JPEG) {
    DecodeOptions o = options;
    o.min_width = o.min_height = 0;  // already known to be about the size we need
    ASSIGN_OR_RETURN(Image img, DecodeImage(reinterpret_cast<const uint8_t*>(t.thumb), t.tlength, o));
    return Rotate(std::move(img), flip);
  }
  if (t.tformat == LIBRAW_THUMBNAIL_BITMAP && t.tcolors == 3 &&
      t.tlength >= static_cast<unsigned>(t.twidth) * t.theight * 3) {
    Image img;
    img.width = t.twidth;
    img.height = t.theight;
    img.channels = 3;
    img.pixels.assign(
        reinterpret_cast<const uint8_t*>(t.thumb),
        reinterpret_cast<const uint8_t*>(t.thumb) + static_cast<size_t>(t.twidth) * t.theight * 3);
    return Rotate(std::move(img), flip);
  }
  return Invalid("RAW preview has an unsupported format");
}

Result<Image> Demosaic(LibRaw& raw, bool half) {
  auto& p = raw.imgdata.params;
  p.half_size = half ? 1 : 0;
  p.use_camera_wb = 1;
  p.output_bps = 8;
  p.user_qual = half ? 0 : 3;  // AHD for a full decode; half size needs no interpolation
  if (int rc = raw.unpack(); rc != LIBRAW_SUCCESS)
    return Invalid(std::string("RAW data: ") + libraw_strerror(rc));
  if (int rc = raw.dcraw_process(); rc != LIBRAW_SUCCESS)
    return Invalid(std::string("RAW processing: ") + libraw_strerror(rc));
  int rc = LIBRAW_SUCCESS;
  libraw_processed_image_t* mem = raw.dcraw_make_mem_image(&rc);
  if (!mem) return Invalid(std::string("RAW output: ") + libraw_strerror(rc));
  std::unique_ptr<libraw_processed_image_t, void (*)(libraw_processed_image_t*)> guard(
      mem, [](libraw_processed_image_t* m) { LibRaw::dcraw_clear_mem(m); });
  if (mem->type != LIBRAW_IMAGE_BITMAP || mem->bits != 8 || mem->colors != 3)
    return Invalid("RAW output is not 8-bit RGB");
  Image img;
  img.width = mem->width;
  img.height = mem->height;
  img.channels = 3;
  img.pixels.assign(mem->data, mem->data + static_cast<size_t>(mem->width) * mem->height * 3);
  return img;
}

}  // namespace

std::optional<RawInfo> ProbeRaw(const uint8_t* data, size_t size) {
  auto o = Open(data, size);
  if (!o) return std::nullopt;
  return RawInfo{o->width, o->height, o->raw->imgdata.idata.dng_version != 0};
}

std::optional<Result<Image>> TryDecodeRaw(const uint8_t* data, size_t size, const DecodeOptions& options) {
  auto o = Open(data, size);
  if (!o) return std::nullopt;
  LibRaw& raw = *o->raw;
  const auto& lim = options.limits;
  const int w = o->width, h = o->height;
  if (w > lim.max_side || h > lim.max_side || static_cast<int64_t>(w) * h > lim.max_pixels)
    return Result<Image>(
        Status(StatusCode::kPayloadTooLarge, "image is " + std::to_string(w) + "x" + std::to_string(h) +
                                                 " pixels; the limit is " + std::to_string(lim.max_pixels) +
                                                 " pixels and " + std::to_string(lim.max_side) + " per side")
            .WithKind(ErrorKind::kLimitExceeded));
  const bool wants_subset = options.min_width > 0 && options.min_height > 0;
  Result<Image> img = Invalid("RAW not decoded");
  // The preview's size is known from identify, before anything is unpacked.
  const auto& t = raw.imgdata.thumbnail;
  int tw = t.twidth, th = t.theight;
  if (raw.imgdata.sizes.flip & 4) std::swap(tw, th);
  bool preview = false;
  if (wants_subset && tw >= options.min_width && th >= options.min_height) {
    img = DecodePreview(raw, options);
    preview = img.ok();
  }
  if (!img.ok() || img.value().width == 0) {
    preview = false;
    const bool half = wants_subset && w / 2 >= options.min_width && h / 2 >= options.min_height;
    img = Demosaic(raw, half);
  }
  if (!img.ok()) return img;
  Image out = std::move(img).value();
  out.format = raw.imgdata.idata.dng_version ? "dng" : "raw";
  out.from_preview = preview;
  out.source_width = w;
  out.source_height = h;
  return Result<Image>(std::move(out));
}

}  // namespace sightline::media
