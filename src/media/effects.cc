#include "media/effects.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace sightline::media {
namespace {

inline uint8_t Clamp8(int v) {
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// Popart palette, darkest luminance band first.
constexpr std::array<std::array<uint8_t, 3>, 4> kPalette{
    {{40, 20, 110}, {230, 30, 120}, {255, 150, 0}, {255, 240, 90}}};

}  // namespace

Result<Effect> ParseEffect(std::string_view name) {
  if (name == "bw") return Effect::kBw;
  if (name == "popart") return Effect::kPopart;
  if (name == "dither") return Effect::kDither;
  if (name == "color") return Effect::kColor;
  return InvalidArgument("unknown effect '" + std::string(name) + "': expected bw, popart, dither or color");
}

std::string_view EffectName(Effect e) {
  switch (e) {
    case Effect::kBw: return "bw";
    case Effect::kPopart: return "popart";
    case Effect::kDither: return "dither";
    case Effect::kColor: return "color";
  }
  return "?";
}

Result<std::vector<Image>> ApplyEffects(const Image& image, const std::vector<Effect>& effects) {
  const int w = image.width, h = image.height, c = image.channels;
  if (w <= 0 || h <= 0 || (c != 3 && c != 4) || image.pixels.size() != static_cast<size_t>(w) * h * c)
    return InvalidArgument("effects need an RGB or RGBA image");
  const size_t n = static_cast<size_t>(w) * h;
  bool want[4] = {};
  for (Effect e : effects) want[static_cast<int>(e)] = true;

  // Shared pass 1: Rec. 709 luminance (x256 weights sum to 256) and its histogram.
  std::vector<uint8_t> luma(n);
  std::array<uint32_t, 256> hist{};
  const uint8_t* p = image.pixels.data();
  for (size_t i = 0; i < n; ++i, p += c) {
    luma[i] = static_cast<uint8_t>((54 * p[0] + 183 * p[1] + 19 * p[2] + 128) >> 8);
    ++hist[luma[i]];
  }

  // bw: contrast stretch from the 1st..99th percentile, plus a local boost against a box-blurred
  // luminance (integral image, so the radius costs nothing).
  int lo = 0, hi = 255;
  std::vector<uint64_t> integral;
  int radius = 0;
  if (want[static_cast<int>(Effect::kBw)]) {
    uint64_t acc = 0;
    const uint64_t cut = n / 100;
    for (lo = 0; lo < 255 && (acc += hist[lo]) <= cut; ++lo) {
    }
    acc = 0;
    for (hi = 255; hi > 0 && (acc += hist[hi]) <= cut; --hi) {
    }
    if (hi <= lo) lo = 0, hi = 255;
    radius = std::max(2, std::min(w, h) / 32);
    integral.assign(static_cast<size_t>(w + 1) * (h + 1), 0);
    for (int y = 0; y < h; ++y) {
      uint64_t row = 0;
      for (int x = 0; x < w; ++x) {
        row += luma[static_cast<size_t>(y) * w + x];
        integral[static_cast<size_t>(y + 1) * (w + 1) + x + 1] =
            integral[static_cast<size_t>(y) * (w + 1) + x + 1] + row;
      }
    }
  }

  std::vector<Image> outs(effects.size());
  std::array<Image*, 4> by_effect{};
  for (size_t k = 0; k < effects.size(); ++k) {
    Image& o = outs[k];
    o.width = w;
    o.height = h;
    o.channels = c;
    o.format = image.format;
    o.pixels.resize(n * c);
    if (!by_effect[static_cast<int>(effects[k])]) by_effect[static_cast<int>(effects[k])] = &o;
  }
  Image* bw = by_effect[0];
  Image* pop = by_effect[1];
  Image* dit = by_effect[2];
  Image* col = by_effect[3];
  // Floyd-Steinberg error rows (x16 fixed point), with a guard column on each side.
  std::vector<int> err_cur(dit ? w + 2 : 0), err_next(dit ? w + 2 : 0);
  const int span = std::max(1, hi - lo);

  // Shared pass 2: every effect written from one walk over the pixels.
  p = image.pixels.data();
  for (int y = 0; y < h; ++y) {
    if (dit) std::fill(err_next.begin(), err_next.end(), 0);
    for (int x = 0; x < w; ++x, p += c) {
      const size_t i = static_cast<size_t>(y) * w + x;
      const size_t o = i * c;
      const int l = luma[i];
      if (bw) {
        const int x0 = std::max(0, x - radius), x1 = std::min(w, x + radius + 1);
        const int y0 = std::max(0, y - radius), y1 = std::min(h, y + radius + 1);
        const auto at = [&](int yy, int xx) { return integral[static_cast<size_t>(yy) * (w + 1) + xx]; };
        const int64_t sum = static_cast<int64_t>(at(y1, x1) - at(y0, x1) - at(y1, x0) + at(y0, x0));
        const int mean = static_cast<int>(sum / ((x1 - x0) * (y1 - y0)));
        const int stretched = (l - lo) * 255 / span;
        const uint8_t v = Clamp8(stretched + (l - mean) * 3 / 4);
        bw->pixels[o] = bw->pixels[o + 1] = bw->pixels[o + 2] = v;
      }
      if (pop) {
        const auto& rgb = kPalette[std::min(3, l / 64)];
        pop->pixels[o] = rgb[0];
        pop->pixels[o + 1] = rgb[1];
        pop->pixels[o + 2] = rgb[2];
      }
      if (dit) {
        const int v = l * 16 + err_cur[x + 1];
        const int q = v >= 128 * 16 ? 255 : 0;
        const int e = v - q * 16;
        err_cur[x + 2] += e * 7 / 16;
        err_next[x] += e * 3 / 16;
        err_next[x + 1] += e * 5 / 16;
        err_next[x + 2] += e * 1 / 16;
        dit->pixels[o] = dit->pixels[o + 1] = dit->pixels[o + 2] = static_cast<uint8_t>(q);
      }
      if (col) {
        const int mx = std::max({p[0], p[1], p[2]}), mn = std::min({p[0], p[1], p[2]});
        // Gain 1.3 on saturated pixels up to 2.0 on grey-ish ones (x256 fixed point).
        const int gain = 333 + (255 - (mx - mn)) * 179 / 255;
        for (int k = 0; k < 3; ++k) col->pixels[o + k] = Clamp8(l + (p[k] - l) * gain / 256);
      }
      if (c == 4)
        for (Image* img : {bw, pop, dit, col})
          if (img) img->pixels[o + 3] = p[3];
    }
    if (dit) std::swap(err_cur, err_next);
  }
  // A repeated effect gets a copy of the first rendering.
  for (size_t k = 0; k < effects.size(); ++k)
    if (by_effect[static_cast<int>(effects[k])] != &outs[k])
      outs[k] = *by_effect[static_cast<int>(effects[k])];
  return outs;
}

}  // namespace sightline::media
