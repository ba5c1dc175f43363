#include "media/video/video_decoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <vector>

#include "media/video_fixtures.h"

namespace sightline::media {
namespace {

namespace json = boost::json;

struct Decoded {
  VideoInfo info;
  std::vector<double> times;
  std::vector<std::vector<uint8_t>> frames;  // kept when asked
  int width = 0, height = 0;
};

Result<Decoded> DecodeFile(const std::string& name, bool keep = false, VideoLimits limits = {},
                           bool from_bytes = false) {
  VideoInput input;
  if (from_bytes)
    input.bytes = std::make_shared<const std::string>(ReadVideoFixture(name));
  else
    input.path = VideoFixturePath(name);
  input.label = name;
  auto decoder = VideoDecoder::Open(std::move(input), limits);
  if (!decoder.ok()) return decoder.status();
  Decoded out;
  out.info = (*decoder)->info();
  Status s = (*decoder)->DecodeFrames(256, [&](const AnalysisFrame& f) {
    EXPECT_EQ(f.index, static_cast<int64_t>(out.times.size()));
    out.times.push_back(f.time_s);
    out.width = f.width;
    out.height = f.height;
    if (keep) out.frames.emplace_back(f.rgb, f.rgb + static_cast<size_t>(f.width) * f.height * 3);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

double MeanAbsDiff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += std::abs(int(a[i]) - int(b[i]));
  return sum / static_cast<double>(a.size());
}

TEST(VideoDecoder, EveryContainerAndCodecDecodesEveryFrameAtAnalysisSizeWithTimesFromTimestamps) {
  const json::object manifest = ReadVideoJson("manifest.json").as_object();
  int checked = 0;
  for (const auto& [name, entry] : manifest) {
    if (std::string(name).rfind("cuts_", 0) != 0) continue;
    SCOPED_TRACE(std::string(name));
    auto d = DecodeFile(std::string(name));
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    const auto& e = entry.as_object();
    EXPECT_EQ(d->info.codec, std::string(e.at("codec").as_string()) == "libx264"      ? "h264"
                             : std::string(e.at("codec").as_string()) == "libx265"    ? "hevc"
                             : std::string(e.at("codec").as_string()) == "libvpx-vp9" ? "vp9"
                             : std::string(e.at("codec").as_string()) == "libvpx"     ? "vp8"
                             : std::string(e.at("codec").as_string()) == "libaom-av1"
                                 ? "av1"
                                 : std::string(e.at("codec").as_string()));
    EXPECT_EQ(d->info.width, 320);
    EXPECT_EQ(d->info.height, 180);
    EXPECT_NEAR(d->info.frame_rate, 25.0, 1e-6);
    ASSERT_EQ(static_cast<int64_t>(d->times.size()), e.at("frames").as_int64());
    EXPECT_EQ(d->width, 256);
    EXPECT_EQ(d->height, 144);
    for (size_t i = 0; i < d->times.size(); ++i) ASSERT_NEAR(d->times[i], i * 0.04, 1e-3) << "frame " << i;
    ++checked;
  }
  EXPECT_EQ(checked, 8);  // MP4, MOV, MKV (HEVC, AV1), WebM (VP8, VP9), AVI (MJPEG, MPEG-4)
}

TEST(VideoDecoder, RotationMetadataTurnsFramesUpright) {
  auto turned = DecodeFile("rotated_90.mp4", true);
  ASSERT_TRUE(turned.ok()) << turned.status().ToString();
  EXPECT_EQ(turned->info.rotation, 90);
  EXPECT_EQ(turned->info.width, 320);  // displayed, although stored 180x320
  EXPECT_EQ(turned->info.height, 180);
  auto upright = DecodeFile("cuts_h264.mp4", true);
  ASSERT_TRUE(upright.ok());
  ASSERT_EQ(turned->frames.size(), upright->frames.size());
  EXPECT_EQ(turned->width, upright->width);
  EXPECT_EQ(turned->height, upright->height);
  // Turned the right way, the pictures match the upright encode (codec noise only); turned the
  // wrong way (180 degrees off) they would not.
  for (size_t i : {0, 60, 120, 190}) EXPECT_LT(MeanAbsDiff(turned->frames[i], upright->frames[i]), 6.0) << i;
  std::vector<uint8_t> flipped(upright->frames[0].rbegin(), upright->frames[0].rend());
  EXPECT_GT(MeanAbsDiff(turned->frames[0], flipped), 20.0);
}

TEST(VideoDecoder, VariableFrameRateTimesComeFromTimestampsNotFrameCounts) {
  auto d = DecodeFile("vfr.mkv");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->times.size(), 200u);
  EXPECT_NEAR(d->times[50], 2.0, 1e-3);
  EXPECT_NEAR(d->times[100], 4.0, 1e-3);
  EXPECT_NEAR(d->times[150], 8.0, 1e-3);  // 12.5 fps after frame 100: not 6.0
  EXPECT_NEAR(d->times[199], 11.92, 1e-3);
}

TEST(VideoDecoder, BytesInMemoryAndAFileDecodeTheSame) {
  auto file = DecodeFile("cuts_vp9.webm", true);
  auto bytes = DecodeFile("cuts_vp9.webm", true, {}, true);
  ASSERT_TRUE(file.ok() && bytes.ok());
  EXPECT_EQ(file->times, bytes->times);
  EXPECT_EQ(file->frames, bytes->frames);
}

struct BadCase {
  const char* file;
  StatusCode code;
  ErrorKind kind;
  const char* says;
};

TEST(VideoDecoder, BadInputsAreClearErrorsNamingTheCause) {
  const BadCase cases[] = {
      {"truncated.mp4", StatusCode::kInvalidArgument, ErrorKind::kInvalidVideo, "truncated"},
      {"empty.mp4", StatusCode::kInvalidArgument, ErrorKind::kInvalidVideo, "empty"},
      {"audio_only.m4a", StatusCode::kInvalidArgument, ErrorKind::kInvalidVideo,
       "no video stream (audio only)"},
      {"image.jpg", StatusCode::kInvalidArgument, ErrorKind::kInvalidVideo, "is an image"},
      {"noise.mp4", StatusCode::kInvalidArgument, ErrorKind::kInvalidVideo, "not a video"},
      {"huge_dimensions.avi", StatusCode::kPayloadTooLarge, ErrorKind::kLimitExceeded,
       "--video-max-dimension"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    for (bool from_bytes : {false, true}) {
      auto d = DecodeFile(c.file, false, {}, from_bytes);
      ASSERT_FALSE(d.ok());
      EXPECT_EQ(d.status().code(), c.code) << d.status().ToString();
      EXPECT_EQ(d.status().kind(), c.kind) << d.status().ToString();
      EXPECT_NE(d.status().message().find(c.says), std::string::npos) << d.status().message();
    }
  }
}

TEST(VideoDecoder, LimitsOnDurationFramesAndSizeNameTheLimit) {
  VideoLimits short_limit;
  short_limit.max_duration_s = 5;
  auto d = DecodeFile("cuts_h264.mp4", false, short_limit);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kPayloadTooLarge);
  EXPECT_NE(d.status().message().find("--video-max-duration-s"), std::string::npos);

  VideoLimits few_frames;
  few_frames.max_frames = 100;
  d = DecodeFile("cuts_h264.mp4", false, few_frames);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kPayloadTooLarge);
  EXPECT_NE(d.status().message().find("--video-max-frames"), std::string::npos);

  VideoLimits small;
  small.max_width = small.max_height = 200;
  d = DecodeFile("cuts_h264.mp4", false, small);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().kind(), ErrorKind::kLimitExceeded);
  EXPECT_NE(d.status().message().find("320x180"), std::string::npos);
}

TEST(VideoDecoder, TheSinkStopsDecodingWithItsOwnStatus) {
  VideoInput input;
  input.path = VideoFixturePath("long_60s.mp4");
  auto decoder = VideoDecoder::Open(input, {});
  ASSERT_TRUE(decoder.ok());
  int calls = 0;
  Status s = (*decoder)->DecodeFrames(64, [&](const AnalysisFrame&) {
    return ++calls == 10 ? Status(StatusCode::kCancelled, "client went away") : Status::Ok();
  });
  EXPECT_EQ(s.code(), StatusCode::kCancelled);
  EXPECT_EQ(calls, 10);
}

TEST(VideoDecoder, AnalysisFramesAreNeverScaledUp) {
  VideoInput input;
  input.path = VideoFixturePath("cuts_mjpeg.avi");
  auto decoder = VideoDecoder::Open(input, {});
  ASSERT_TRUE(decoder.ok());
  int w = 0, h = 0;
  ASSERT_TRUE((*decoder)
                  ->DecodeFrames(1000,
                                 [&](const AnalysisFrame& f) {
                                   w = f.width;
                                   h = f.height;
                                   return Status::Ok();
                                 })
                  .ok());
  EXPECT_EQ(w, 320);
  EXPECT_EQ(h, 180);
}

TEST(VideoDecoder, SmpteTimecodesCountFramesAtTheNominalRate) {
  EXPECT_EQ(SmpteTimecode(0, 25), "00:00:00:00");
  EXPECT_EQ(SmpteTimecode(62.52, 25), "00:01:02:13");
  EXPECT_EQ(SmpteTimecode(3600 + 0.5, 50), "01:00:00:25");
  // 29.97 fps counts 30 frames a timecode second (non-drop-frame), so it falls behind the clock.
  EXPECT_EQ(SmpteTimecode(60.0, 30000.0 / 1001), "00:00:59:28");
  EXPECT_EQ(SmpteTimecode(-3, 25), "00:00:00:00");
}

}  // namespace
}  // namespace sightline::media

namespace sightline::media {
namespace {

// Frames fetched again by time (seeking over gaps) are the very frames the full pass decoded.
TEST(VideoDecoder, FramesFetchedByTimeAreTheFramesOfTheFullPass) {
  for (const char* name : {"long_60s.mp4", "cuts_vp9.webm", "rotated_90.mp4", "vfr.mkv"}) {
    SCOPED_TRACE(name);
    VideoInput input;
    input.path = VideoFixturePath(name);
    auto decoder = VideoDecoder::Open(input, {});
    ASSERT_TRUE(decoder.ok());
    std::vector<double> times;
    std::vector<std::vector<uint8_t>> all;
    ASSERT_TRUE((*decoder)
                    ->DecodeFrames(128,
                                   [&](const AnalysisFrame& f) {
                                     times.push_back(f.time_s);
                                     all.emplace_back(f.rgb,
                                                      f.rgb + static_cast<size_t>(f.width) * f.height * 3);
                                     return Status::Ok();
                                   })
                    .ok());
    std::vector<size_t> want = {0, 3, 51, 52, times.size() / 2, times.size() - 1};
    std::vector<double> at;
    for (size_t i : want) at.push_back(times[i]);
    at.push_back(times.back() + 10);  // past the end: no frame
    std::vector<std::vector<uint8_t>> got(at.size());
    std::vector<double> got_times(at.size(), -1);
    ASSERT_TRUE((*decoder)
                    ->DecodeFramesAt(at, 128,
                                     [&](const AnalysisFrame& f) {
                                       got[static_cast<size_t>(f.index)].assign(
                                           f.rgb, f.rgb + static_cast<size_t>(f.width) * f.height * 3);
                                       got_times[static_cast<size_t>(f.index)] = f.time_s;
                                       return Status::Ok();
                                     })
                    .ok());
    for (size_t k = 0; k < want.size(); ++k) {
      EXPECT_NEAR(got_times[k], times[want[k]], 1e-3) << "frame " << want[k];
      EXPECT_TRUE(got[k] == all[want[k]]) << "frame " << want[k];
    }
    EXPECT_TRUE(got.back().empty());
  }
}

}  // namespace
}  // namespace sightline::media
