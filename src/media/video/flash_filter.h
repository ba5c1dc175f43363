// PySceneDetect 0.7's FlashFilter in MERGE mode (scenedetect/detector.py, BSD-3), its length in
// seconds, shared by every shot detector: called once per frame with whether the frame is a cut
// candidate, it keeps shots at least `length_s` long by merging cuts that come closer.
#pragma once

#include <cstdint>
#include <optional>

namespace sightline::media {

// Times are differences of timestamps: 1.8 - 1.6 is 0.19999999999999996, which must still meet a
// 0.2 s minimum as PySceneDetect's frame counts do.
inline constexpr double kTimeEpsilon = 1e-6;
inline bool AtLeast(double elapsed, double length) {
  return elapsed >= length - kTimeEpsilon;
}

// Cuts closer than the minimum shot length are merged into one placed at the last frame above the
// threshold. Filter returns the time of a cut made final (and its frame in *cut_frame), if any.
class FlashFilterMerge {
 public:
  explicit FlashFilterMerge(double length_s) : length_s_(length_s) {}

  std::optional<double> Filter(double t, bool above, int64_t frame, int64_t* cut_frame) {
    if (length_s_ <= 0) {
      if (above) *cut_frame = frame;
      return above ? std::optional<double>(t) : std::nullopt;
    }
    if (!has_last_above_) {
      has_last_above_ = true;
      last_above_ = t;
      last_above_frame_ = frame;
    }
    const bool min_length_met = AtLeast(t - last_above_, length_s_);
    if (above) {
      last_above_ = t;
      last_above_frame_ = frame;
    }
    if (merge_triggered_) {
      if (min_length_met && !above && AtLeast(last_above_ - merge_start_, length_s_)) {
        merge_triggered_ = false;
        *cut_frame = last_above_frame_;
        return last_above_;
      }
      return std::nullopt;
    }
    if (!above) return std::nullopt;
    if (min_length_met) {
      merge_enabled_ = true;
      *cut_frame = frame;
      return t;
    }
    if (merge_enabled_) {
      merge_triggered_ = true;
      merge_start_ = t;
    }
    return std::nullopt;
  }

 private:
  double length_s_;
  bool has_last_above_ = false;  // (not std::optional: GCC 12 warns falsely about it here)
  double last_above_ = 0;
  int64_t last_above_frame_ = 0;
  bool merge_enabled_ = false;
  bool merge_triggered_ = false;
  double merge_start_ = 0;
};

}  // namespace sightline::media
