#include "media/video/shot_detection.h"

#include "media/video/flash_filter.h"
#include "media/video/hsv_kernel.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <optional>

namespace sightline::media {
namespace {

// Written so the vectorizer finds its sum-of-absolute-differences pattern (psadbw): byte
// differences summed in 32 bits, in blocks short enough that 255 * block never overflows.
uint64_t SumAbsDiff(const uint8_t* __restrict a, const uint8_t* __restrict b, size_t n) {
  uint64_t total = 0;
  for (size_t start = 0; start < n; start += (1u << 20)) {
    const size_t end = std::min(n, start + (1u << 20));
    uint32_t sum = 0;
    for (size_t i = start; i < end; ++i)
      sum += static_cast<uint32_t>(std::abs(static_cast<int>(a[i]) - static_cast<int>(b[i])));
    total += sum;
  }
  return total;
}

double MeanAbsDiff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  return a.empty()
             ? 0.0
             : static_cast<double>(SumAbsDiff(a.data(), b.data(), a.size())) / static_cast<double>(a.size());
}

// ContentDetector's frame score: 0 for the first frame, then the mean of the H, S and V deltas.
class ContentScore {
 public:
  double Next(const AnalysisFrame& frame) {
    const size_t n = static_cast<size_t>(frame.width) * frame.height;
    h_.resize(n);
    s_.resize(n);
    v_.resize(n);
    RgbToHsvPlanes(frame.rgb, n, h_.data(), s_.data(), v_.data());
    double score = 0;
    if (has_previous_ && ph_.size() == n)
      score = (MeanAbsDiff(h_, ph_) + MeanAbsDiff(s_, ps_) + MeanAbsDiff(v_, pv_)) / 3.0;
    std::swap(h_, ph_);
    std::swap(s_, ps_);
    std::swap(v_, pv_);
    has_previous_ = true;
    return score;
  }

 private:
  bool has_previous_ = false;
  std::vector<uint8_t> h_, s_, v_, ph_, ps_, pv_;
};

class ContentDetector final : public ShotDetector {
 public:
  explicit ContentDetector(const ShotDetectorOptions& o)
      : threshold_(o.threshold < 0 ? 27.0 : o.threshold), filter_(o.min_shot_s) {}

  void Push(const AnalysisFrame& frame) override {
    const double score = score_.Next(frame);
    scores_.push_back(score);
    int64_t cut_frame = -1;
    if (auto t = filter_.Filter(frame.time_s, score >= threshold_, frame.index, &cut_frame))
      cuts_.push_back({cut_frame, *t, scores_[static_cast<size_t>(cut_frame)]});
  }
  std::vector<Cut> Finish() override { return std::move(cuts_); }

 private:
  double threshold_;
  ContentScore score_;
  FlashFilterMerge filter_;
  std::vector<double> scores_;
  std::vector<Cut> cuts_;
};

class AdaptiveDetector final : public ShotDetector {
 public:
  explicit AdaptiveDetector(const ShotDetectorOptions& o) : o_(o) {}

  void Push(const AnalysisFrame& frame) override {
    const double score = score_.Next(frame);
    if (!last_cut_) last_cut_ = frame.time_s;
    const size_t required = 1 + 2 * static_cast<size_t>(o_.window_width);
    buffer_.push_back({frame.index, frame.time_s, score});
    if (buffer_.size() < required) return;
    while (buffer_.size() > required) buffer_.pop_front();
    const Entry target = buffer_[static_cast<size_t>(o_.window_width)];
    double sum = 0;
    for (size_t i = 0; i < buffer_.size(); ++i)
      if (i != static_cast<size_t>(o_.window_width)) sum += buffer_[i].score;
    const double average = sum / (2.0 * o_.window_width);
    double ratio = 0;
    if (std::abs(average) >= 0.00001)
      ratio = std::min(target.score / average, 255.0);
    else if (target.score >= o_.min_content_val)
      ratio = 255.0;
    const bool threshold_met = ratio >= o_.adaptive_threshold && target.score >= o_.min_content_val;
    if (threshold_met && AtLeast(target.time_s - *last_cut_, o_.min_shot_s)) {
      last_cut_ = target.time_s;
      cuts_.push_back({target.frame, target.time_s, ratio});
    }
  }
  std::vector<Cut> Finish() override { return std::move(cuts_); }

 private:
  struct Entry {
    int64_t frame;
    double time_s;
    double score;
  };
  ShotDetectorOptions o_;
  ContentScore score_;
  std::deque<Entry> buffer_;
  std::optional<double> last_cut_;
  std::vector<Cut> cuts_;
};

class ThresholdDetector final : public ShotDetector {
 public:
  explicit ThresholdDetector(const ShotDetectorOptions& o)
      : threshold_(o.threshold < 0 ? 12 : static_cast<int>(o.threshold)), o_(o) {}

  void Push(const AnalysisFrame& frame) override {
    const size_t n = static_cast<size_t>(frame.width) * frame.height * 3;
    uint64_t sum = 0;
    for (size_t i = 0; i < n; ++i) sum += frame.rgb[i];
    const double mean = n ? static_cast<double>(sum) / static_cast<double>(n) : 0;
    times_.push_back(frame.time_s);
    means_.push_back(mean);
    const bool faded = mean < threshold_;
    if (!last_scene_cut_) last_scene_cut_ = frame.time_s;
    if (!started_) {
      started_ = true;
      fade_frame_ = frame.index;
      fade_out_ = faded;
      return;
    }
    if (!fade_out_ && faded) {
      fade_out_ = true;
      fade_frame_ = frame.index;
    } else if (fade_out_ && !faded) {
      if (AtLeast(frame.time_s - *last_scene_cut_, o_.min_shot_s)) {
        const int64_t duration = frame.index - fade_frame_;
        const int64_t split =
            fade_frame_ + static_cast<int64_t>(std::lround(duration * (1.0 + o_.fade_bias) / 2.0));
        const auto at = static_cast<size_t>(std::clamp<int64_t>(split, 0, frame.index));
        cuts_.push_back({static_cast<int64_t>(at), times_[at], means_[static_cast<size_t>(fade_frame_)]});
        last_scene_cut_ = frame.time_s;
      }
      fade_out_ = false;
      fade_frame_ = frame.index;
    }
  }
  std::vector<Cut> Finish() override { return std::move(cuts_); }

 private:
  int threshold_;
  ShotDetectorOptions o_;
  bool started_ = false;
  bool fade_out_ = false;
  int64_t fade_frame_ = 0;
  std::optional<double> last_scene_cut_;
  std::vector<double> times_, means_;
  std::vector<Cut> cuts_;
};

}  // namespace

const char* ShotDetectorName(ShotDetectorKind kind) {
  switch (kind) {
    case ShotDetectorKind::kAdaptive: return "adaptive";
    case ShotDetectorKind::kContent: return "content";
    case ShotDetectorKind::kThreshold: return "threshold";
    case ShotDetectorKind::kTransNetV2: return "transnetv2";
  }
  return "adaptive";
}

Result<ShotDetectorKind> ParseShotDetector(const std::string& name) {
  if (name == "adaptive") return ShotDetectorKind::kAdaptive;
  if (name == "content") return ShotDetectorKind::kContent;
  if (name == "threshold") return ShotDetectorKind::kThreshold;
  if (name == "transnetv2") return ShotDetectorKind::kTransNetV2;
  return InvalidArgument("detector '" + name + "' is not one of adaptive, content, threshold, transnetv2");
}

Status ValidateShotDetectorOptions(const ShotDetectorOptions& o) {
  if (!(o.threshold < 0 || (std::isfinite(o.threshold) && o.threshold <= 255)))
    return InvalidArgument("threshold must be between 0 and 255");
  if (o.kind == ShotDetectorKind::kTransNetV2 && o.threshold > 1)
    return InvalidArgument("threshold for detector transnetv2 is a probability, between 0 and 1");
  if (!std::isfinite(o.min_shot_s) || o.min_shot_s < 0 || o.min_shot_s > 3600)
    return InvalidArgument("min_shot_len must be between 0 and 3600 seconds");
  if (!std::isfinite(o.adaptive_threshold) || o.adaptive_threshold <= 0 || o.adaptive_threshold > 255)
    return InvalidArgument("adaptive_threshold must be above 0 and at most 255");
  if (o.window_width < 1 || o.window_width > 100)
    return InvalidArgument("window_width must be between 1 and 100");
  if (!std::isfinite(o.min_content_val) || o.min_content_val < 0 || o.min_content_val > 255)
    return InvalidArgument("min_content_val must be between 0 and 255");
  if (!std::isfinite(o.fade_bias) || o.fade_bias < -1 || o.fade_bias > 1)
    return InvalidArgument("fade_bias must be between -1 and 1");
  return Status::Ok();
}

std::unique_ptr<ShotDetector> MakeShotDetector(const ShotDetectorOptions& options) {
  switch (options.kind) {
    case ShotDetectorKind::kContent: return std::make_unique<ContentDetector>(options);
    case ShotDetectorKind::kThreshold: return std::make_unique<ThresholdDetector>(options);
    case ShotDetectorKind::kTransNetV2: return nullptr;
    case ShotDetectorKind::kAdaptive: break;
  }
  return std::make_unique<AdaptiveDetector>(options);
}

void RgbToHsvPlanes(const uint8_t* rgb, size_t pixels, uint8_t* h, uint8_t* s, uint8_t* v) {
#if defined(__x86_64__)
  // The AVX2 build of the same loop where the CPU has it (hsv_kernel_avx2.cc): baseline x86-64
  // (SSE2) lacks the vector conversions the vectorizer needs, and runs it scalar at ~5x the time.
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return RgbToHsvPlanesAvx2(rgb, pixels, h, s, v);
#endif
  RgbToHsvKernel(rgb, pixels, h, s, v);
}

std::vector<Shot> ShotsFromCuts(const std::vector<Cut>& cuts, const std::vector<double>& frame_times,
                                double end_s) {
  std::vector<Shot> shots;
  if (frame_times.empty()) return shots;
  const auto last = static_cast<int64_t>(frame_times.size()) - 1;
  Shot current;
  for (const Cut& cut : cuts) {
    if (cut.frame <= current.start_frame || cut.frame > last) continue;
    current.end_frame = cut.frame - 1;
    current.end_s = frame_times[static_cast<size_t>(cut.frame)];
    shots.push_back(current);
    current = Shot{};
    current.index = static_cast<int>(shots.size());
    current.start_frame = cut.frame;
    current.start_s = frame_times[static_cast<size_t>(cut.frame)];
    current.cut_score = cut.score;
  }
  current.end_frame = last;
  current.end_s = std::max(end_s, frame_times.back());
  shots.push_back(current);
  return shots;
}

}  // namespace sightline::media
