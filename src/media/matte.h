// Alpha mattes: turning a segmentation model's probability map into an 8-bit mask at the
// image's resolution, optional clean-up, and compositing (cutout with alpha, or flattened on a
// colour). Shared by background removal and any later segmentation task.
#pragma once

#include <array>
#include <cstdint>

#include "core/status.h"
#include "media/image.h"

namespace sightline::media {

// 1-channel Image whose pixels are alpha (0 background .. 255 foreground).
using Mask = Image;

// `probabilities` is h x w floats (the model's [.., 1, h, w] output); values are clamped to [0, 1].
Mask MaskFromProbabilities(const float* probabilities, int width, int height);

// rembg's "post-process mask": morphological opening (3x3) to drop specks, Gaussian blur
// (sigma 2) to smooth edges, then threshold at 127 to a hard 0/255 mask.
Result<Mask> CleanUpMask(const Mask& mask);

// RGBA: the image's colour with alpha = mask (times the image's own alpha, if any).
// The mask must have the image's size.
Result<Image> Cutout(const Image& image, const Mask& mask);

// RGB: an RGBA image composited over a solid colour.
Image FlattenOver(const Image& rgba, std::array<uint8_t, 3> background);

}  // namespace sightline::media
