#include "media/lanczos.h"

#include <algorithm>
#include <cmath>

namespace sightline::media {
namespace {

constexpr double kPi = 3.14159265358979323846;

double Sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= kPi;
  return std::sin(x) / x;
}

double Lanczos3(double x) {
  return (x > -3.0 && x < 3.0) ? Sinc(x) * Sinc(x / 3.0) : 0.0;
}

// For each output index: first input index and normalised weights.
struct Taps {
  std::vector<int> first;
  std::vector<int> count;
  std::vector<float> weights;  // out x max_taps
  int max_taps = 0;
};

Taps Precompute(int in, int out) {
  const double scale = static_cast<double>(in) / out;
  const double filterscale = std::max(scale, 1.0);
  const double support = 3.0 * filterscale;
  Taps t;
  t.max_taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(out);
  t.count.resize(out);
  t.weights.assign(static_cast<size_t>(out) * t.max_taps, 0.0f);
  for (int o = 0; o < out; ++o) {
    const double center = (o + 0.5) * scale;
    const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    const int hi = std::min(static_cast<int>(center + support + 0.5), in);
    const int n = std::min(hi - lo, t.max_taps);
    double sum = 0;
    std::vector<double> w(static_cast<size_t>(n));
    for (int k = 0; k < n; ++k) sum += (w[k] = Lanczos3((lo + k - center + 0.5) / filterscale));
    t.first[o] = lo;
    t.count[o] = n;
    for (int k = 0; k < n; ++k)
      t.weights[static_cast<size_t>(o) * t.max_taps + k] = static_cast<float>(sum != 0 ? w[k] / sum : 0);
  }
  return t;
}

}  // namespace

std::vector<uint8_t> ResampleLanczos3(const uint8_t* src, int w, int h, int bands, int ow, int oh) {
  const Taps tx = Precompute(w, ow), ty = Precompute(h, oh);
  // Horizontal pass into floats (h x ow), then vertical into bytes (oh x ow).
  std::vector<float> mid(static_cast<size_t>(h) * ow * bands);
  for (int y = 0; y < h; ++y) {
    const uint8_t* row = src + static_cast<size_t>(y) * w * bands;
    float* out = mid.data() + static_cast<size_t>(y) * ow * bands;
    for (int x = 0; x < ow; ++x) {
      const float* wt = tx.weights.data() + static_cast<size_t>(x) * tx.max_taps;
      const uint8_t* p = row + static_cast<size_t>(tx.first[x]) * bands;
      for (int b = 0; b < bands; ++b) {
        float acc = 0;
        for (int k = 0; k < tx.count[x]; ++k) acc += wt[k] * p[k * bands + b];
        out[x * bands + b] = acc;
      }
    }
  }
  std::vector<uint8_t> dst(static_cast<size_t>(oh) * ow * bands);
  const size_t stride = static_cast<size_t>(ow) * bands;
  std::vector<float> acc(stride);
  for (int y = 0; y < oh; ++y) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    const float* wt = ty.weights.data() + static_cast<size_t>(y) * ty.max_taps;
    for (int k = 0; k < ty.count[y]; ++k) {
      const float* row = mid.data() + static_cast<size_t>(ty.first[y] + k) * stride;
      const float wk = wt[k];
      for (size_t i = 0; i < stride; ++i) acc[i] += wk * row[i];
    }
    uint8_t* out = dst.data() + static_cast<size_t>(y) * stride;
    for (size_t i = 0; i < stride; ++i)
      out[i] = static_cast<uint8_t>(std::clamp(std::lround(acc[i]), 0L, 255L));
  }
  return dst;
}

}  // namespace sightline::media
