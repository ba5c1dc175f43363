// How encoded images become a model's image input: a model folder says it in sightline.json's
// `image_input` block, or a Hugging Face folder in preprocessor_config.json
// (repository/hf_layout.h). The server decodes, resizes and normalises accordingly:
// value = (pixel * scale - mean[c]) / std[c].
#pragma once

#include <string>
#include <vector>

namespace sightline::repository {

struct ImageInputConfig {
  std::string input;                                 // the 4-D FP32/FP16 input that takes images
  std::string resize = "shortest_edge_center_crop";  // | "stretch" | "letterbox"
  int width = 0;                                     // 0: from the input's shape
  int height = 0;
  double scale = 1.0 / 255.0;
  std::vector<double> mean{0.0, 0.0, 0.0};
  std::vector<double> std{1.0, 1.0, 1.0};
  std::string channel_order = "RGB";  // | "BGR"
  std::string layout = "NCHW";        // | "NHWC"
  int pad = 0;                        // letterbox background
  double crop_fraction = 1.0;         // stretch: to size / crop_fraction, then the centre crop
};

}  // namespace sightline::repository
