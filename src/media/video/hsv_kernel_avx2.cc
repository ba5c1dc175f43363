// hsv_kernel.h's loop compiled with -mavx2 -O3 (CMakeLists.txt): the only code built for AVX2,
// reached only through RgbToHsvPlanes' run-time CPU check.
#include "media/video/hsv_kernel.h"

namespace sightline::media {

void RgbToHsvPlanesAvx2(const uint8_t* rgb, size_t pixels, uint8_t* h, uint8_t* s, uint8_t* v) {
  RgbToHsvKernel(rgb, pixels, h, s, v);
}

}  // namespace sightline::media
