#include "tasks/image_input.h"

#include <new>

namespace sightline::tasks {

media::PreprocessSpec PreprocessSpecFor(const runtime::ImageInputConfig& c, DataType dtype) {
  media::PreprocessSpec s;
  s.width = c.width;
  s.height = c.height;
  s.resize = c.resize == "stretch"     ? media::ResizeMode::kStretch
             : c.resize == "letterbox" ? media::ResizeMode::kLetterbox
                                       : media::ResizeMode::kShortestEdgeCenterCrop;
  s.scale = static_cast<float>(c.scale);
  for (int i = 0; i < 3; ++i) {
    s.mean[i] = static_cast<float>(c.mean[i]);
    s.std[i] = static_cast<float>(c.std[i]);
  }
  s.order = c.channel_order == "BGR" ? media::ChannelOrder::kBgr : media::ChannelOrder::kRgb;
  s.layout = c.layout == "NHWC" ? media::Layout::kNhwc : media::Layout::kNchw;
  s.dtype = dtype;
  s.pad = static_cast<uint8_t>(c.pad);
  s.crop_fraction = c.crop_fraction;
  return s;
}

Result<Tensor> EncodedImageToTensor(std::string_view bytes, const runtime::ImageInputConfig& config,
                                    DataType dtype, const media::DecodeLimits& limits) {
  const media::PreprocessSpec spec = PreprocessSpecFor(config, dtype);
  media::DecodeOptions options;
  options.limits = limits;
  // Every resize mode ends at width x height; more source pixels than that on each side are
  // never needed, so JPEGs may shrink on load down to it.
  options.min_width = spec.width;
  options.min_height = spec.height;
  // Decoding and preprocessing are bounded by what the model takes (media/), but an allocation
  // can still fail under a memory limit: that fails this image, never the process.
  try {
    ASSIGN_OR_RETURN(auto image, media::DecodeImage(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                    bytes.size(), options));
    return media::ImageToTensor(image, spec, config.input);
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kUnavailable, "not enough memory to decode and preprocess this image now")
        .WithRetryAfter(1.0);
  }
}

Result<Tensor> DecodeImageBatch(const Tensor& encoded, const runtime::ImageInputConfig& config,
                                DataType dtype, const media::DecodeLimits& limits) {
  if (encoded.dtype != DataType::kBytes)
    return InvalidArgument("image input '" + encoded.name + "' must be BYTES");
  const bool shape_ok = encoded.shape.size() == 1 || (encoded.shape.size() == 2 && encoded.shape[1] == 1);
  if (!shape_ok)
    return InvalidArgument("image input '" + encoded.name + "' must have shape [N] or [N,1], got " +
                           ShapeToString(encoded.shape));
  ASSIGN_OR_RETURN(auto items, SplitBytesElements(encoded));
  if (items.empty()) return InvalidArgument("image input '" + encoded.name + "' holds no images");
  Tensor out;
  out.name = config.input;
  out.dtype = dtype;
  for (size_t i = 0; i < items.size(); ++i) {
    auto decoded = EncodedImageToTensor(items[i], config, dtype, limits);
    if (!decoded.ok())
      return decoded.status().Prefixed("image " + std::to_string(i) + " of '" + encoded.name + "': ");
    Tensor t = std::move(decoded).value();
    if (i == 0) {
      out.shape = t.shape;
      out.data.reserve(t.data.size() * items.size());
    }
    out.data.insert(out.data.end(), t.data.begin(), t.data.end());
  }
  out.shape[0] = static_cast<int64_t>(items.size());
  return out;
}

}  // namespace sightline::tasks
