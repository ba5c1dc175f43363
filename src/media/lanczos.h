// Separable Lanczos-3 resampling of 8-bit interleaved pixels with pixel-centre alignment and an
// antialiasing support when shrinking — the convention Pillow, rembg and most training pipelines
// use. libvips' resize enlarges with a different centre convention; a segmentation model fed the
// shifted image drew visibly different masks (rocket: IoU 0.88 against the peers, 0.999 with this).
#pragma once

#include <cstdint>
#include <vector>

namespace sightline::media {

std::vector<uint8_t> ResampleLanczos3(const uint8_t* src, int width, int height, int bands, int out_width,
                                      int out_height);

}  // namespace sightline::media
