// Image -> model input tensor, driven by the model's config: resize mode, size, scale/mean/std,
// channel order, layout and dtype. One implementation shared by every image task.
#pragma once

#include <array>
#include <string>

#include "core/status.h"
#include "core/tensor.h"
#include "media/image.h"

namespace sightline::media {

enum class ResizeMode {
  kStretch,                 // to width x height, aspect ratio not kept
  kShortestEdgeCenterCrop,  // shortest edge to fit, then the centre width x height (CLIP)
  kLetterbox,               // longest edge to fit, centred on a `pad` background
};
enum class ChannelOrder { kRgb, kBgr };
enum class Layout { kNchw, kNhwc };

struct PreprocessSpec {
  int width = 224;
  int height = 224;
  ResizeMode resize = ResizeMode::kShortestEdgeCenterCrop;
  // value = (pixel * scale - mean[c]) / std[c]
  float scale = 1.0f / 255.0f;
  std::array<float, 3> mean{0.0f, 0.0f, 0.0f};
  std::array<float, 3> std{1.0f, 1.0f, 1.0f};
  ChannelOrder order = ChannelOrder::kRgb;
  Layout layout = Layout::kNchw;
  DataType dtype = DataType::kFp32;  // kFp32 or kFp16
  uint8_t pad = 0;                   // letterbox background, all channels
  // kStretch only: stretch to (width, height) / crop_fraction, then keep the centre width x height
  // (open_nsfw's reference: 256x256, then the centre 224x224 = 0.875). 1: plain stretch.
  double crop_fraction = 1.0;
};

// Resizes (alpha is dropped: models take 3 channels) and normalises into a [1,3,H,W] or
// [1,H,W,3] tensor named `name`.
Result<Tensor> ImageToTensor(const Image& image, const PreprocessSpec& spec, const std::string& name);

// Only the geometric part: an RGB image of exactly spec.width x spec.height.
Result<Image> ResizeForModel(const Image& image, const PreprocessSpec& spec);

}  // namespace sightline::media
