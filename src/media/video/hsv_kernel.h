// The shot detectors' hot loop, OpenCV's 8-bit RGB->HSV, as an inline kernel compiled twice:
// baseline in shot_detection.cc and with AVX2 in hsv_kernel_avx2.cc (chosen at run time).
//
// OpenCV (modules/imgproc/src/color_hsv.simd.hpp, RGB2HSV_b) divides through 12-bit fixed-point
// tables: sdiv[v] = round(255 * 4096 / v), hdiv[d] = round(180 * 4096 / (6 d)). The same integers
// come from a float division rounded half up (checked for every v and d in 1..255, which is all
// there are), which vectorizes where table lookups cannot; branches are masks for the same reason.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace sightline::media {

// The AVX2 build (x86-64 only; call it only where the CPU has AVX2).
void RgbToHsvPlanesAvx2(const uint8_t* rgb, size_t pixels, uint8_t* h, uint8_t* s, uint8_t* v);

namespace {

inline void RgbToHsvKernel(const uint8_t* __restrict rgb, size_t pixels, uint8_t* __restrict h,
                           uint8_t* __restrict s, uint8_t* __restrict v) {
  constexpr int kShift = 12;
  constexpr int kHalf = 1 << (kShift - 1);
  for (size_t i = 0; i < pixels; ++i) {
    const int r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
    const int vmax = std::max(r, std::max(g, b));
    const int vmin = std::min(r, std::min(g, b));
    const int diff = vmax - vmin;
    const int sdiv = static_cast<int>(1044480.0f / static_cast<float>(std::max(vmax, 1)) + 0.5f);
    const int hdiv = static_cast<int>(122880.0f / static_cast<float>(std::max(diff, 1)) + 0.5f);
    const int vr = -static_cast<int>(vmax == r);
    const int vg = -static_cast<int>(vmax == g);
    int hue = (vr & (g - b)) + (~vr & ((vg & (b - r + 2 * diff)) + (~vg & (r - g + 4 * diff))));
    hue = (hue * hdiv + kHalf) >> kShift;
    hue += 180 & (hue >> 31);
    h[i] = static_cast<uint8_t>(hue);
    s[i] = static_cast<uint8_t>((diff * sdiv + kHalf) >> kShift);
    v[i] = static_cast<uint8_t>(vmax);
  }
}

}  // namespace
}  // namespace sightline::media
