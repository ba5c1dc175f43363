#include "media/video/shot_detection.h"

#include <gtest/gtest.h>

#include <cmath>

#include "media/video_fixtures.h"

namespace sightline::media {
namespace {

namespace json = boost::json;

TEST(ShotDetection, HsvIsOpenCvsEightBitConversionExactly) {
  const json::object ref = ReadVideoJson("detector_reference.json").as_object();
  const auto& rgb = ref.at("hsv").at("rgb").as_array();
  const auto& hsv = ref.at("hsv").at("hsv").as_array();
  const size_t n = rgb.size() / 3;
  std::vector<uint8_t> in(rgb.size()), h(n), s(n), v(n);
  for (size_t i = 0; i < rgb.size(); ++i) in[i] = static_cast<uint8_t>(rgb[i].as_int64());
  RgbToHsvPlanes(in.data(), n, h.data(), s.data(), v.data());
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(h[i], hsv[3 * i].as_int64()) << "pixel " << i;
    ASSERT_EQ(s[i], hsv[3 * i + 1].as_int64()) << "pixel " << i;
    ASSERT_EQ(v[i], hsv[3 * i + 2].as_int64()) << "pixel " << i;
  }
}

// The C++ detectors on the very frames PySceneDetect 0.7's detectors saw
// (scripts/gen_detector_reference.py): the same cuts, frame for frame.
TEST(ShotDetection, EveryDetectorFindsPySceneDetectsCutsOnTheSameFrames) {
  const json::object ref = ReadVideoJson("detector_reference.json").as_object();
  const int w = static_cast<int>(ref.at("width").as_int64());
  const int h = static_cast<int>(ref.at("height").as_int64());
  const double fps = ref.at("fps").as_double();
  const std::string pixels = ReadVideoFixture("detector_frames.rgb");
  const size_t frame_bytes = static_cast<size_t>(w) * h * 3;
  const auto frames = static_cast<int64_t>(ref.at("frames").as_int64());
  ASSERT_EQ(pixels.size(), frame_bytes * frames);
  int runs = 0;
  for (const auto& run : ref.at("runs").as_array()) {
    const auto& r = run.as_object();
    const auto& o = r.at("options").as_object();
    ShotDetectorOptions options;
    auto kind = ParseShotDetector(std::string(r.at("detector").as_string()));
    ASSERT_TRUE(kind.ok());
    options.kind = *kind;
    if (auto* v = o.if_contains("threshold")) options.threshold = v->to_number<double>();
    if (auto* v = o.if_contains("min_shot_s")) options.min_shot_s = v->to_number<double>();
    if (auto* v = o.if_contains("adaptive_threshold")) options.adaptive_threshold = v->to_number<double>();
    if (auto* v = o.if_contains("window_width"))
      options.window_width = static_cast<int>(v->to_number<double>());
    if (auto* v = o.if_contains("min_content_val")) options.min_content_val = v->to_number<double>();
    if (auto* v = o.if_contains("fade_bias")) options.fade_bias = v->to_number<double>();
    ASSERT_TRUE(ValidateShotDetectorOptions(options).ok());
    SCOPED_TRACE(json::serialize(run));
    auto detector = MakeShotDetector(options);
    for (int64_t i = 0; i < frames; ++i) {
      AnalysisFrame f{i, static_cast<double>(i) / fps, w, h,
                      reinterpret_cast<const uint8_t*>(pixels.data()) + i * frame_bytes};
      detector->Push(f);
    }
    std::vector<int64_t> got;
    for (const Cut& c : detector->Finish()) {
      got.push_back(c.frame);
      EXPECT_NEAR(c.time_s, c.frame / fps, 1e-9);
    }
    std::vector<int64_t> want;
    for (const auto& c : r.at("cuts").as_array()) want.push_back(c.as_int64());
    EXPECT_EQ(got, want);
    ++runs;
  }
  EXPECT_EQ(runs, 7);
}

TEST(ShotDetection, ContentScoresMatchPySceneDetectsFrameScores) {
  const json::object ref = ReadVideoJson("detector_reference.json").as_object();
  const int w = static_cast<int>(ref.at("width").as_int64());
  const int h = static_cast<int>(ref.at("height").as_int64());
  const std::string pixels = ReadVideoFixture("detector_frames.rgb");
  const size_t frame_bytes = static_cast<size_t>(w) * h * 3;
  const auto& run = ref.at("runs").as_array()[2].as_object();  // content, threshold 20, no minimum
  ASSERT_EQ(run.at("detector").as_string(), "content");
  const auto& scores = run.at("scores").as_array();
  // A cut's score is the frame's content score: each reported cut carries PySceneDetect's value.
  ShotDetectorOptions options;
  options.kind = ShotDetectorKind::kContent;
  options.threshold = 20;
  options.min_shot_s = 0;
  auto detector = MakeShotDetector(options);
  const auto n = static_cast<int64_t>(scores.size());
  for (int64_t i = 0; i < n; ++i)
    detector->Push({i, i / 25.0, w, h, reinterpret_cast<const uint8_t*>(pixels.data()) + i * frame_bytes});
  auto cuts = detector->Finish();
  ASSERT_FALSE(cuts.empty());
  for (const Cut& c : cuts) EXPECT_NEAR(c.score, scores[static_cast<size_t>(c.frame)].as_double(), 1e-9);
}

TEST(ShotDetection, ShotsFromCutsCoverEveryFrameOnce) {
  std::vector<double> times;
  for (int i = 0; i < 10; ++i) times.push_back(i * 0.5);
  auto shots = ShotsFromCuts({{3, 1.5, 30}, {3, 1.5, 31}, {7, 3.5, 40}, {12, 6.0, 1}}, times, 5.0);
  ASSERT_EQ(shots.size(), 3u);
  EXPECT_EQ(shots[0].start_frame, 0);
  EXPECT_EQ(shots[0].end_frame, 2);
  EXPECT_DOUBLE_EQ(shots[0].end_s, 1.5);
  EXPECT_EQ(shots[1].start_frame, 3);
  EXPECT_EQ(shots[1].end_frame, 6);
  EXPECT_DOUBLE_EQ(shots[1].cut_score, 30);
  EXPECT_EQ(shots[2].start_frame, 7);
  EXPECT_EQ(shots[2].end_frame, 9);
  EXPECT_DOUBLE_EQ(shots[2].end_s, 5.0);
  EXPECT_EQ(shots[2].index, 2);
  EXPECT_TRUE(ShotsFromCuts({}, {}, 0).empty());
}

TEST(ShotDetection, OptionsOutOfRangeAreRefusedNamingTheParameter) {
  auto bad = [](auto mutate, const char* name) {
    ShotDetectorOptions o;
    mutate(o);
    Status s = ValidateShotDetectorOptions(o);
    EXPECT_FALSE(s.ok()) << name;
    EXPECT_NE(s.message().find(name), std::string::npos) << s.message();
  };
  bad([](auto& o) { o.threshold = 300; }, "threshold");
  bad([](auto& o) { o.min_shot_s = -1; }, "min_shot_len");
  bad([](auto& o) { o.min_shot_s = NAN; }, "min_shot_len");
  bad([](auto& o) { o.window_width = 0; }, "window_width");
  bad([](auto& o) { o.fade_bias = 2; }, "fade_bias");
  bad([](auto& o) { o.adaptive_threshold = 0; }, "adaptive_threshold");
  EXPECT_FALSE(ParseShotDetector("transnet").ok());
  EXPECT_TRUE(ValidateShotDetectorOptions({}).ok());
}

}  // namespace
}  // namespace sightline::media
