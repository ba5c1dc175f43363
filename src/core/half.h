// IEEE 754 binary16 and bfloat16 conversions, for FP16/BF16 tensors carried as JSON numbers.
#pragma once

#include <cstdint>

namespace sightline {

uint16_t FloatToHalf(float value);
float HalfToFloat(uint16_t bits);
uint16_t FloatToBf16(float value);
float Bf16ToFloat(uint16_t bits);

}  // namespace sightline
