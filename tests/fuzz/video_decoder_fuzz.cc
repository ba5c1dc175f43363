// Fuzzes video decoding from untrusted bytes: container probing and demuxing (MP4/MOV, Matroska/
// WebM, AVI, MPEG-TS, FLV through libavformat), every decoder those reach, scaling and rotation to
// analysis frames, and the shot detectors fed by them. Seeds: tiny clips of each container and
// codec in tests/fuzz/corpus/video_decoder (scripts/gen_video_fixtures.py --fuzz-seeds).
#include <cstdint>
#include <memory>
#include <string>

#include "media/video/shot_detection.h"
#include "media/video/video_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sightline::media::VideoInput input;
  input.bytes = std::make_shared<const std::string>(reinterpret_cast<const char*>(data), size);
  sightline::media::VideoLimits limits;  // keep each run small
  limits.max_width = limits.max_height = 1024;
  limits.max_frames = 120;
  limits.max_duration_s = 600;
  limits.threads = 1;
  auto decoder = sightline::media::VideoDecoder::Open(std::move(input), limits);
  if (!decoder.ok()) return 0;
  sightline::media::ShotDetectorOptions options;
  options.kind = static_cast<sightline::media::ShotDetectorKind>(size % 3);
  auto detector = sightline::media::MakeShotDetector(options);
  auto status = (*decoder)->DecodeFrames(64, [&](const sightline::media::AnalysisFrame& f) {
    detector->Push(f);
    return sightline::Status::Ok();
  });
  (void)status;
  (void)detector->Finish();
  return 0;
}
