// Shot-boundary detectors over a video's analysis frames (media/video/video_decoder.h), ported from
// PySceneDetect 0.7 (BSD-3; scenedetect/detectors/*.py, scenedetect/detector.py FlashFilter) so
// that its users get the cuts they know, with times from frame timestamps instead of frame counts:
//
//   content    ContentDetector: per frame, the mean absolute difference to the previous frame of
//              hue, saturation and value (OpenCV's 8-bit HSV: H in [0, 180)), averaged with
//              weights 1/1/1 (edges 0); a cut where it reaches `threshold` (27), with its
//              FlashFilter in merge mode keeping shots at least `min_shot_s` long.
//   adaptive   AdaptiveDetector (the default, as in PySceneDetect's CLI): the content score of a
//              frame over the mean of the `window_width` (2) frames each side; a cut where that
//              ratio reaches `adaptive_threshold` (3.0) and the score `min_content_val` (15). Cuts
//              are known `window_width` frames late.
//   threshold  ThresholdDetector: the mean of all R, G, B values against `threshold` (12); a fade
//              out (below) and the next fade in (at or above) make one cut between them, placed by
//              `fade_bias` (-1 at the fade out, 0 in the middle, +1 at the fade in).
//
//   transnetv2 TransNetV2, a shot-boundary network (media/video/transnetv2_detector.h): made by
//              the task layer, which runs the model; MakeShotDetector answers null for it.
//
// Frames are the analysis size (256 wide, as PySceneDetect downscales); sizes must not change.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "media/video/video_decoder.h"

namespace sightline::media {

enum class ShotDetectorKind { kAdaptive, kContent, kThreshold, kTransNetV2 };

// "adaptive", "content", "threshold", "transnetv2"; parse errors are kInvalidArgument naming the choices.
const char* ShotDetectorName(ShotDetectorKind kind);
Result<ShotDetectorKind> ParseShotDetector(const std::string& name);

struct ShotDetectorOptions {
  ShotDetectorKind kind = ShotDetectorKind::kAdaptive;
  // content: the HSV score a cut needs (0-255); threshold: the mean intensity of a faded frame
  // (0-255); transnetv2: the probability a transition frame exceeds (0-1). Unset (< 0): the
  // detector's default, 27, 12 or 0.5.
  double threshold = -1;
  double min_shot_s = 0.6;  // no shot shorter than this (PySceneDetect CLI's 0.6 s)
  double adaptive_threshold = 3.0;
  int window_width = 2;
  double min_content_val = 15.0;
  double fade_bias = 0.0;
};

// Errors: kInvalidArgument naming the parameter and its range.
Status ValidateShotDetectorOptions(const ShotDetectorOptions& options);

struct Cut {
  int64_t frame = 0;  // the first frame of the new shot
  double time_s = 0;  // that frame's presentation time
  double score = 0;   // what cut it: content score, adaptive ratio, or the faded frame's mean
};

class ShotDetector {
 public:
  virtual ~ShotDetector() = default;
  // Frames in presentation order, consecutive indices from 0.
  virtual void Push(const AnalysisFrame& frame) = 0;
  // After the last frame: every cut, in order.
  virtual std::vector<Cut> Finish() = 0;
  // Why detection failed (a model-backed detector's run): checked after Push and Finish.
  virtual Status status() const { return Status::Ok(); }
};

// Options must be valid (ValidateShotDetectorOptions). Null for kTransNetV2 (needs a model).
std::unique_ptr<ShotDetector> MakeShotDetector(const ShotDetectorOptions& options);

// OpenCV's 8-bit COLOR_RGB2HSV (fixed-point, H in [0, 180)), which ContentDetector scores on;
// exposed for tests against cv2.
void RgbToHsvPlanes(const uint8_t* rgb, size_t pixels, uint8_t* h, uint8_t* s, uint8_t* v);

struct Shot {
  int index = 0;
  int64_t start_frame = 0;
  int64_t end_frame = 0;  // inclusive: the shot's last frame
  double start_s = 0;
  double end_s = 0;      // exclusive: where the next shot starts (or the video ends)
  double cut_score = 0;  // the score of the cut that began it (0 for the first shot)
};

// Shots from cuts over `frame_count` frames whose times are `frame_times` (index = frame);
// `end_s` is where the video ends (last frame's time plus one frame).
std::vector<Shot> ShotsFromCuts(const std::vector<Cut>& cuts, const std::vector<double>& frame_times,
                                double end_s);

}  // namespace sightline::media
