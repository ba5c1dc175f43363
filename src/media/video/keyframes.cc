#include "media/video/keyframes.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace sightline::media {
namespace {

// BT.601 luma in 8-bit fixed point (the weights OpenCV's RGB2GRAY uses).
inline int Luma(const uint8_t* p) {
  return (p[0] * 77 + p[1] * 150 + p[2] * 29 + 128) >> 8;
}

}  // namespace

double FrameSharpness(const AnalysisFrame& f) {
  const int w = f.width, h = f.height;
  if (w < 3 || h < 3 || !f.rgb) return 0;
  std::vector<int16_t> y(static_cast<size_t>(w) * h);
  for (size_t i = 0; i < y.size(); ++i) y[i] = static_cast<int16_t>(Luma(f.rgb + 3 * i));
  double sum = 0, sum2 = 0;
  for (int r = 1; r < h - 1; ++r) {
    const int16_t* row = &y[static_cast<size_t>(r) * w];
    for (int c = 1; c < w - 1; ++c) {
      const int lap = row[c - 1] + row[c + 1] + row[c - w] + row[c + w] - 4 * row[c];
      sum += lap;
      sum2 += static_cast<double>(lap) * lap;
    }
  }
  const double n = static_cast<double>(w - 2) * (h - 2);
  const double mean = sum / n;
  return std::max(0.0, sum2 / n - mean * mean);
}

Status ValidateKeyframeOptions(const KeyframeOptions& o) {
  if (!std::isfinite(o.long_shot_s) || o.long_shot_s < 1 || o.long_shot_s > 3600)
    return InvalidArgument("long_shot_len must be between 1 and 3600 seconds");
  if (o.max_per_shot < 1 || o.max_per_shot > 32)
    return InvalidArgument("keyframes_per_shot must be between 1 and 32");
  return Status::Ok();
}

std::vector<KeyframeChoice> ChooseKeyframes(const std::vector<Shot>& shots,
                                            const std::vector<double>& sharpness,
                                            const std::vector<double>& times,
                                            const KeyframeOptions& options) {
  std::vector<KeyframeChoice> out;
  const auto frames = static_cast<int64_t>(std::min(sharpness.size(), times.size()));
  for (const Shot& shot : shots) {
    const int64_t first = std::clamp<int64_t>(shot.start_frame, 0, frames - 1);
    const int64_t last = std::clamp<int64_t>(shot.end_frame, first, frames - 1);
    if (frames == 0) break;
    const double length = shot.end_s - shot.start_s;
    const int pieces =
        std::clamp(static_cast<int>(std::ceil(length / options.long_shot_s - 1e-9)), 1, options.max_per_shot);
    const int64_t count = last - first + 1;
    for (int p = 0; p < pieces; ++p) {
      int64_t lo = first + count * p / pieces;
      int64_t hi = first + count * (p + 1) / pieces - 1;
      // Keep away from the shot's own edges, where fades and dissolves blend in the neighbours.
      const int64_t margin = std::min<int64_t>(3, (hi - lo) / 4);
      if (p == 0) lo += margin;
      if (p == pieces - 1) hi -= margin;
      if (hi < lo) hi = lo;
      int64_t best = lo;
      for (int64_t i = lo; i <= hi; ++i)
        if (sharpness[static_cast<size_t>(i)] > sharpness[static_cast<size_t>(best)]) best = i;
      out.push_back(
          {shot.index, best, times[static_cast<size_t>(best)], sharpness[static_cast<size_t>(best)]});
    }
  }
  return out;
}

uint64_t DifferenceHash(const uint8_t* rgb, int width, int height) {
  if (width <= 0 || height <= 0 || !rgb) return 0;
  double cells[8][9] = {};
  for (int gy = 0; gy < 8; ++gy) {
    const int y0 = gy * height / 8, y1 = std::max(y0 + 1, (gy + 1) * height / 8);
    for (int gx = 0; gx < 9; ++gx) {
      const int x0 = gx * width / 9, x1 = std::max(x0 + 1, (gx + 1) * width / 9);
      double sum = 0;
      int n = 0;
      for (int y = y0; y < std::min(y1, height); ++y)
        for (int x = x0; x < std::min(x1, width); ++x) {
          sum += Luma(rgb + (static_cast<size_t>(y) * width + x) * 3);
          ++n;
        }
      cells[gy][gx] = n ? sum / n : 0;
    }
  }
  uint64_t hash = 0;
  for (int gy = 0; gy < 8; ++gy)
    for (int gx = 0; gx < 8; ++gx) hash = (hash << 1) | (cells[gy][gx] > cells[gy][gx + 1] ? 1u : 0u);
  return hash;
}

int HammingDistance(uint64_t a, uint64_t b) {
  return std::popcount(a ^ b);
}

}  // namespace sightline::media
