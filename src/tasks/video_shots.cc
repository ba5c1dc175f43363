#include "tasks/video_shots.h"

#include <chrono>

#include "tasks/shot_boundary_model.h"

namespace sightline::tasks {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

}  // namespace

Status ValidateDetectorAvailable(const VideoTaskDeps& deps, const media::ShotDetectorOptions& detector) {
  RETURN_IF_ERROR(media::ValidateShotDetectorOptions(detector));
  if (detector.kind == media::ShotDetectorKind::kTransNetV2 && !deps.shot_model)
    return InvalidArgument(
        "detector transnetv2 needs a shot_boundary_detection model (TransNetV2) in the model repository; "
        "none is loaded (scripts/fetch_video_models.py converts it)");
  return Status::Ok();
}

Result<ShotPass> RunShotPass(const VideoTaskDeps& deps, const char* task, media::VideoInput input,
                             const DetectShotsParams& params, const RequestContextPtr& context,
                             const std::function<void(const media::AnalysisFrame&)>& per_frame) {
  RETURN_IF_ERROR(ValidateDetectorAvailable(deps, params.detector));
  if (params.analysis_width < 16 || params.analysis_width > 1920)
    return InvalidArgument("analysis_width must be between 16 and 1920");
  RETURN_IF_ERROR(VideoInterrupted(deps, context));
  const auto start = Clock::now();
  ShotPass pass;
  VideoShotsResult& result = pass.result;
  result.detector = params.detector.kind;

  auto opened = media::VideoDecoder::Open(std::move(input), deps.limits);
  if (!opened.ok()) return opened.status();
  pass.decoder = std::move(opened).value();
  result.video = pass.decoder->info();
  result.timing.probe_ms = Ms(Clock::now() - start);

  std::unique_ptr<media::ShotDetector> detector;
  if (params.detector.kind == media::ShotDetectorKind::kTransNetV2)
    detector = std::make_unique<media::TransNetV2Detector>(params.detector,
                                                           ShotBoundaryRunner(*deps.shot_model, context));
  else
    detector = media::MakeShotDetector(params.detector);
  Clock::duration detecting{}, measuring{};
  const auto decode_start = Clock::now();
  observability::Counter* frames = deps.frames ? &deps.frames->WithLabels({task}) : nullptr;
  RETURN_IF_ERROR(pass.decoder->DecodeFrames(params.analysis_width, [&](const media::AnalysisFrame& frame) {
    RETURN_IF_ERROR(VideoInterrupted(deps, context));
    if (frames) frames->Inc();
    const auto t0 = Clock::now();
    pass.times.push_back(frame.time_s);
    detector->Push(frame);
    RETURN_IF_ERROR(detector->status());
    const auto t1 = Clock::now();
    detecting += t1 - t0;
    if (per_frame) {
      per_frame(frame);
      measuring += Clock::now() - t1;
    }
    return Status::Ok();
  }));
  const auto decode_total = Clock::now() - decode_start;
  const auto detecting_in_loop = detecting;
  const auto t0 = Clock::now();
  const double step = result.video.frame_rate > 0 ? 1.0 / result.video.frame_rate : 0.04;
  result.decoded_duration_s = pass.times.back() + step;
  auto cuts = detector->Finish();
  RETURN_IF_ERROR(detector->status());
  result.shots = media::ShotsFromCuts(cuts, pass.times, result.decoded_duration_s);
  detecting += Clock::now() - t0;
  result.frames = static_cast<int64_t>(pass.times.size());
  result.corrupt_packets = pass.decoder->corrupt_packets();
  result.timing.shot_detection_ms = Ms(detecting);
  result.timing.decode_ms = Ms(decode_total) - Ms(detecting_in_loop) - Ms(measuring);
  pass.per_frame_ms = Ms(measuring);
  ObserveVideoStage(deps, task, "probe", result.timing.probe_ms);
  ObserveVideoStage(deps, task, "decode", result.timing.decode_ms);
  ObserveVideoStage(deps, task, "shot_detection", result.timing.shot_detection_ms);
  return pass;
}

Result<VideoShotsResult> DetectShotsNow(const VideoTaskDeps& deps, media::VideoInput input,
                                        const DetectShotsParams& params, const RequestContextPtr& context) {
  const auto start = Clock::now();
  ASSIGN_OR_RETURN(ShotPass pass, RunShotPass(deps, "shots", std::move(input), params, context));
  pass.result.timing.total_ms = Ms(Clock::now() - start);
  return std::move(pass.result);
}

void DetectShots(const VideoTaskDeps& deps, VideoSource source, DetectShotsParams params,
                 RequestContextPtr context, std::function<void(Result<VideoShotsResult>)> done) {
  // Every end is counted by outcome, early refusals included.
  auto finish = [deps, done = std::move(done)](Result<VideoShotsResult> r) {
    CountVideoOutcome(deps, "shots", r.status());
    done(std::move(r));
  };
  Status valid = ValidateDetectorAvailable(deps, params.detector);
  if (!valid.ok()) return finish(valid);
  const auto start = Clock::now();
  RunVideoTask(
      deps, "shots", std::move(source), context,
      [deps, params, context, finish, start](media::VideoInput input, double download_ms) {
        auto r = DetectShotsNow(deps, std::move(input), params, context);
        if (r.ok()) {
          r->timing.download_ms = download_ms;
          r->timing.total_ms = Ms(Clock::now() - start);
          ObserveVideoStage(deps, "shots", "total", r->timing.total_ms);
        }
        finish(std::move(r));
      },
      [finish](Status s) { finish(s); });
}

}  // namespace sightline::tasks
