// Shot detection on one video, callable without HTTP: the source is resolved (uploaded bytes, a
// `video_url` fetched by the SSRF-guarded fetcher, a `video_path` under --allow-path opened in
// place), probed and decoded once at analysis size on the video pool, and every frame fed to the
// chosen detector (media/video/shot_detection.h). Each stage is timed; the request's deadline and
// hang-up are checked at every frame, so a long video stops within a frame of either.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/request_context.h"
#include "core/status.h"
#include "media/video/shot_detection.h"
#include "media/video/video_decoder.h"
#include "tasks/video_input.h"

namespace sightline::tasks {

// Milliseconds per stage. Decoding and detection run interleaved: decode_ms is the decoder's
// share of that loop, shot_detection_ms the detector's.
struct VideoStageTiming {
  double download_ms = 0, probe_ms = 0, decode_ms = 0, shot_detection_ms = 0, total_ms = 0;
};

struct DetectShotsParams {
  media::ShotDetectorOptions detector;
  int analysis_width = 256;  // PySceneDetect's downscale target
};

struct VideoShotsResult {
  media::VideoInfo video;
  media::ShotDetectorKind detector = media::ShotDetectorKind::kAdaptive;
  int64_t frames = 0;             // decoded
  double decoded_duration_s = 0;  // last frame's time plus one frame
  int64_t corrupt_packets = 0;    // skipped inside an otherwise readable stream
  std::vector<media::Shot> shots;
  VideoStageTiming timing;
};

// The detector's options, and for transnetv2 that the repository has the model. Errors: 400.
Status ValidateDetectorAvailable(const VideoTaskDeps& deps, const media::ShotDetectorOptions& detector);

// The one decode pass every video task starts with: the decoder opened (the probe), then every
// frame at analysis size through the shot detector and, when given, `per_frame` (timed apart,
// as per_frame_ms, and not counted in decode_ms). `task` labels the frames metric. The decoder
// stays open for later passes (keyframes).
struct ShotPass {
  VideoShotsResult result;  // timing: probe, decode, shot_detection
  std::unique_ptr<media::VideoDecoder> decoder;
  std::vector<double> times;  // each decoded frame's time
  double per_frame_ms = 0;
};
Result<ShotPass> RunShotPass(const VideoTaskDeps& deps, const char* task, media::VideoInput input,
                             const DetectShotsParams& params, const RequestContextPtr& context,
                             const std::function<void(const media::AnalysisFrame&)>& per_frame = nullptr);

// Calls `done` exactly once, from the video pool (or inline for errors found at once).
// Errors: the source's (403/404 for paths, 4xx/502/504 for URLs), the decoder's (400
// invalid_video, 413 limit_exceeded), the options' (400), kCancelled on hang-up,
// kDeadlineExceeded past the deadline.
void DetectShots(const VideoTaskDeps& deps, VideoSource source, DetectShotsParams params,
                 RequestContextPtr context, std::function<void(Result<VideoShotsResult>)> done);

// The same on the caller's thread, for an input already in hand (the offline command).
Result<VideoShotsResult> DetectShotsNow(const VideoTaskDeps& deps, media::VideoInput input,
                                        const DetectShotsParams& params, const RequestContextPtr& context);

}  // namespace sightline::tasks
