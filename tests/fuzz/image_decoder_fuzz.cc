// Fuzzes image decoding (every libvips loader and libraw behind DecodeImage), the metadata
// reader (exiv2) and the preprocessing that follows. Seeds: the generated fixtures in
// build/fixtures/images (JPEG, PNG, WebP, TIFF, GIF, AVIF, DNG, ...).
#include <cstdint>

#include "media/image_decoder.h"
#include "media/image_metadata.h"
#include "media/preprocess.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sightline::media::DecodeOptions options;
  options.limits.max_pixels = 4'000'000;  // keep each run small
  options.min_width = 32;
  options.min_height = 32;
  auto md = sightline::media::ReadImageMetadata(data, size);
  (void)md;
  auto img = sightline::media::DecodeImage(data, size, options);
  if (img.ok()) {
    sightline::media::PreprocessSpec spec;
    spec.width = 32;
    spec.height = 32;
    auto t = sightline::media::ImageToTensor(*img, spec, "x");
    (void)t;
  }
  return 0;
}
