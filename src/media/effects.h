// Stylised renderings of a (cutout) image, computed together in one fused pass: luminance is
// computed once and shared, and every requested effect is written from the same pixel loop.
//   bw      enhanced black and white: contrast-stretched luminance plus a local contrast boost
//   popart  luminance posterised to four levels mapped onto a bold palette
//   dither  Floyd-Steinberg error diffusion of luminance to pure black and white
//   color   vibrance: saturation raised most where colours are dull, skin-safe on saturated ones
// Alpha is carried through unchanged. Deterministic: the same input gives the same bytes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "media/image.h"

namespace sightline::media {

enum class Effect { kBw, kPopart, kDither, kColor };

Result<Effect> ParseEffect(std::string_view name);
std::string_view EffectName(Effect effect);

// One output per requested effect, in the order requested. Input: RGB or RGBA.
Result<std::vector<Image>> ApplyEffects(const Image& image, const std::vector<Effect>& effects);

}  // namespace sightline::media
