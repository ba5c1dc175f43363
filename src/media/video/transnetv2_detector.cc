#include "media/video/transnetv2_detector.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>

#include "media/video/flash_filter.h"

namespace sightline::media {
std::vector<TransNetV2Resizer::Span> TransNetV2Resizer::Spans(int in, int out) {
  std::vector<Span> spans(static_cast<size_t>(out));
  const double scale = static_cast<double>(in) / out;
  for (int o = 0; o < out; ++o) {
    const double lo = o * scale, hi = (o + 1) * scale;
    Span& s = spans[static_cast<size_t>(o)];
    s.first = static_cast<int>(std::floor(lo));
    for (int i = s.first; i < in && i < hi; ++i) {
      const double cover = std::min<double>(i + 1, hi) - std::max<double>(i, lo);
      if (cover > 1e-9) s.weights.push_back(static_cast<float>(cover / scale));
    }
  }
  return spans;
}

TransNetV2Resizer::TransNetV2Resizer(int width, int height)
    : width_(width),
      height_(height),
      xs_(Spans(width, kTransNetV2Width)),
      ys_(Spans(height, kTransNetV2Height)) {}

void TransNetV2Resizer::Resize(const uint8_t* rgb, uint8_t* out) const {
  float row[kTransNetV2Width * 3];
  for (int oy = 0; oy < kTransNetV2Height; ++oy) {
    std::fill(std::begin(row), std::end(row), 0.0f);
    const Span& sy = ys_[static_cast<size_t>(oy)];
    for (size_t j = 0; j < sy.weights.size(); ++j) {
      const uint8_t* src = rgb + static_cast<size_t>(sy.first + static_cast<int>(j)) * width_ * 3;
      for (int ox = 0; ox < kTransNetV2Width; ++ox) {
        const Span& sx = xs_[static_cast<size_t>(ox)];
        float acc[3] = {0, 0, 0};
        for (size_t i = 0; i < sx.weights.size(); ++i) {
          const uint8_t* p = src + static_cast<size_t>(sx.first + static_cast<int>(i)) * 3;
          for (int c = 0; c < 3; ++c) acc[c] += sx.weights[i] * p[c];
        }
        for (int c = 0; c < 3; ++c) row[ox * 3 + c] += sy.weights[j] * acc[c];
      }
    }
    uint8_t* dst = out + static_cast<size_t>(oy) * kTransNetV2Width * 3;
    for (int i = 0; i < kTransNetV2Width * 3; ++i)
      dst[i] = static_cast<uint8_t>(std::clamp(std::lround(row[i]), 0L, 255L));
  }
}

TransNetV2Detector::TransNetV2Detector(const ShotDetectorOptions& options, TransNetV2Runner runner)
    : threshold_(options.threshold < 0 ? 0.5 : options.threshold),
      min_shot_s_(options.min_shot_s),
      runner_(std::move(runner)) {}

TransNetV2Detector::~TransNetV2Detector() {
  WaitInFlight(0);  // the runs' callbacks point at this object
}

Status TransNetV2Detector::status() const {
  std::lock_guard lock(mu_);
  return error_;
}

const uint8_t* TransNetV2Detector::PaddedFrame(int64_t padded) const {
  const int64_t frame = std::clamp<int64_t>(padded - kTransNetV2Context, 0, frames_ - 1);
  return buffer_.data() + static_cast<size_t>(frame - base_) * kTransNetV2FrameBytes;
}

void TransNetV2Detector::WaitInFlight(int limit) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return in_flight_ <= limit; });
}

void TransNetV2Detector::Submit(int64_t window) {
  TensorBuffer input(static_cast<size_t>(kTransNetV2Window) * kTransNetV2FrameBytes);
  for (int i = 0; i < kTransNetV2Window; ++i)
    std::memcpy(input.data() + static_cast<size_t>(i) * kTransNetV2FrameBytes,
                PaddedFrame(window * kTransNetV2Stride + i), kTransNetV2FrameBytes);
  // Two in flight: one running while the next is prepared, so decoding overlaps the model.
  WaitInFlight(1);
  {
    std::lock_guard lock(mu_);
    if (!error_.ok()) return;
    ++in_flight_;
  }
  runner_(std::move(input), [this, window](Result<std::vector<float>> r) {
    std::lock_guard lock(mu_);
    if (!r.ok()) {
      if (error_.ok()) error_ = r.status();
    } else if (r->size() != static_cast<size_t>(kTransNetV2Window)) {
      if (error_.ok()) error_ = Internal("TransNetV2 must answer one probability per frame of its window");
    } else {
      done_[window] = std::move(r).value();
    }
    --in_flight_;
    cv_.notify_all();
  });
  // Frames before the next window's first are no longer needed; the last one always is (it pads
  // the end of every later window).
  const int64_t keep_from =
      std::min(frames_ - 1, std::max<int64_t>(0, (window + 1) * kTransNetV2Stride - kTransNetV2Context));
  if (keep_from > base_) {
    buffer_.erase(buffer_.begin(),
                  buffer_.begin() + static_cast<ptrdiff_t>((keep_from - base_) * kTransNetV2FrameBytes));
    base_ = keep_from;
  }
}

void TransNetV2Detector::Push(const AnalysisFrame& frame) {
  const size_t at = buffer_.size();
  buffer_.resize(at + kTransNetV2FrameBytes);
  if (!resizer_ || resizer_->width() != frame.width || resizer_->height() != frame.height)
    resizer_.emplace(frame.width, frame.height);
  resizer_->Resize(frame.rgb, buffer_.data() + at);
  times_.push_back(frame.time_s);
  ++frames_;
  // Window k is complete once its last padded frame, 50k + 74, has been decoded.
  while (frames_ > next_window_ * kTransNetV2Stride + kTransNetV2Window - kTransNetV2Context - 1) {
    if (!status().ok()) return;
    Submit(next_window_++);
  }
}

std::vector<Cut> TransNetV2Detector::Finish() {
  std::vector<Cut> cuts;
  if (frames_ == 0) return cuts;
  const int64_t windows = (frames_ + kTransNetV2Stride - 1) / kTransNetV2Stride;
  while (next_window_ < windows && status().ok()) Submit(next_window_++);
  WaitInFlight(0);
  if (!status().ok()) return cuts;
  if (static_cast<int64_t>(done_.size()) != windows) {
    std::lock_guard lock(mu_);
    error_ = Internal("TransNetV2: a window's run never answered");
    return cuts;
  }

  probabilities_.assign(static_cast<size_t>(frames_), 0.0f);
  for (int64_t f = 0; f < frames_; ++f)
    probabilities_[static_cast<size_t>(f)] =
        done_[f / kTransNetV2Stride][static_cast<size_t>(kTransNetV2Context + f % kTransNetV2Stride)];

  // Each run above the threshold proposes one cut, on the frame after its peak.
  std::vector<int64_t> proposed(static_cast<size_t>(frames_), -1);  // cut frame -> peak frame
  for (int64_t f = 0; f < frames_;) {
    if (probabilities_[static_cast<size_t>(f)] <= threshold_) {
      ++f;
      continue;
    }
    const int64_t start = f;
    int64_t peak = f;
    for (; f < frames_ && probabilities_[static_cast<size_t>(f)] > threshold_; ++f)
      if (probabilities_[static_cast<size_t>(f)] > probabilities_[static_cast<size_t>(peak)]) peak = f;
    if (start > 0 && peak + 1 < frames_) proposed[static_cast<size_t>(peak + 1)] = peak;
  }
  FlashFilterMerge filter(min_shot_s_);
  for (int64_t f = 0; f < frames_; ++f) {
    int64_t cut_frame = -1;
    if (filter.Filter(times_[static_cast<size_t>(f)], proposed[static_cast<size_t>(f)] >= 0, f, &cut_frame)) {
      const int64_t peak = std::max<int64_t>(0, proposed[static_cast<size_t>(cut_frame)]);
      cuts.push_back(
          {cut_frame, times_[static_cast<size_t>(cut_frame)], probabilities_[static_cast<size_t>(peak)]});
    }
  }
  return cuts;
}

}  // namespace sightline::media
