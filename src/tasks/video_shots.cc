#include "tasks/video_shots.h"

#include <chrono>

namespace sightline::tasks {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

void Observe(const VideoTaskDeps& deps, const char* stage, double ms) {
  if (deps.stage_seconds) deps.stage_seconds->WithLabels({"shots", stage}).Observe(ms / 1000.0);
}

// The request's end, or the server's, checked per frame.
Status Interrupted(const VideoTaskDeps& deps, const RequestContextPtr& context) {
  if (deps.shutdown && deps.shutdown->cancelled())
    return Status(StatusCode::kUnavailable, "the server is shutting down").WithKind(ErrorKind::kDraining);
  if (!context) return Status::Ok();
  if (context->cancelled()) return Status(StatusCode::kCancelled, "client went away");
  if (context->expired())
    return Status(StatusCode::kDeadlineExceeded, "the request's deadline passed while the video was decoded");
  return Status::Ok();
}

const char* Outcome(const Status& s) {
  if (s.ok()) return "ok";
  if (s.code() == StatusCode::kCancelled) return "cancelled";
  if (s.code() == StatusCode::kDeadlineExceeded) return "deadline_exceeded";
  if (s.kind() == ErrorKind::kDraining) return "draining";
  return "error";
}

}  // namespace

void RegisterVideoMetrics(observability::MetricsRegistry& registry, VideoTaskDeps& deps) {
  deps.stage_seconds = &registry.AddHistogram(
      "sightline_video_stage_seconds", "Time per stage of video tasks (probe, decode, shot_detection, total)",
      {"task", "stage"}, observability::ExponentialBuckets(0.001, 2.5, 14));
  deps.tasks = &registry.AddCounter("sightline_video_tasks_total", "Video tasks ended, by task and outcome",
                                    {"task", "outcome"});
  deps.active = &registry.AddGauge("sightline_video_tasks_active", "Video tasks decoding now", {"task"});
  deps.frames = &registry.AddCounter("sightline_video_frames_decoded_total", "Video frames decoded", {"task"});
}

Result<VideoShotsResult> DetectShotsNow(const VideoTaskDeps& deps, media::VideoInput input,
                                        const DetectShotsParams& params, const RequestContextPtr& context) {
  RETURN_IF_ERROR(media::ValidateShotDetectorOptions(params.detector));
  if (params.analysis_width < 16 || params.analysis_width > 1920)
    return InvalidArgument("analysis_width must be between 16 and 1920");
  RETURN_IF_ERROR(Interrupted(deps, context));
  const auto start = Clock::now();
  VideoShotsResult result;
  result.detector = params.detector.kind;

  auto opened = media::VideoDecoder::Open(std::move(input), deps.limits);
  if (!opened.ok()) return opened.status();
  auto decoder = std::move(opened).value();
  result.video = decoder->info();
  result.timing.probe_ms = Ms(Clock::now() - start);

  auto detector = media::MakeShotDetector(params.detector);
  std::vector<double> times;
  Clock::duration detecting{};
  double last_time = 0;
  const auto decode_start = Clock::now();
  observability::Counter* frames = deps.frames ? &deps.frames->WithLabels({"shots"}) : nullptr;
  Status decoded = decoder->DecodeFrames(params.analysis_width, [&](const media::AnalysisFrame& frame) {
    RETURN_IF_ERROR(Interrupted(deps, context));
    if (frames) frames->Inc();
    const auto t0 = Clock::now();
    times.push_back(frame.time_s);
    last_time = frame.time_s;
    detector->Push(frame);
    detecting += Clock::now() - t0;
    return Status::Ok();
  });
  if (!decoded.ok()) return decoded;
  const auto decode_total = Clock::now() - decode_start;
  const auto t0 = Clock::now();
  std::vector<media::Cut> cuts = detector->Finish();
  const double step = result.video.frame_rate > 0 ? 1.0 / result.video.frame_rate : 0.04;
  result.decoded_duration_s = last_time + step;
  result.shots = media::ShotsFromCuts(cuts, times, result.decoded_duration_s);
  detecting += Clock::now() - t0;
  result.frames = static_cast<int64_t>(times.size());
  result.corrupt_packets = decoder->corrupt_packets();
  result.timing.shot_detection_ms = Ms(detecting);
  result.timing.decode_ms = Ms(decode_total) - Ms(detecting);
  result.timing.total_ms = Ms(Clock::now() - start);
  Observe(deps, "probe", result.timing.probe_ms);
  Observe(deps, "decode", result.timing.decode_ms);
  Observe(deps, "shot_detection", result.timing.shot_detection_ms);
  return result;
}

void DetectShots(const VideoTaskDeps& deps, VideoSource source, DetectShotsParams params,
                 RequestContextPtr context, std::function<void(Result<VideoShotsResult>)> answer) {
  // Every end is counted by outcome, early refusals included.
  auto done = [tasks = deps.tasks, answer = std::move(answer)](Result<VideoShotsResult> r) {
    if (tasks) tasks->WithLabels({"shots", Outcome(r.status())}).Inc();
    answer(std::move(r));
  };
  Status valid = media::ValidateShotDetectorOptions(params.detector);
  if (!valid.ok()) return done(valid);
  if (!deps.pool) return done(Internal("no video pool"));
  const auto start = Clock::now();

  auto run = [deps, params, context, done, start](media::VideoInput input, double download_ms) {
    deps.pool->Submit([deps, params, context, done, start, download_ms, input = std::move(input)]() mutable {
      if (deps.active) deps.active->WithLabels({"shots"}).Inc();
      auto r = DetectShotsNow(deps, std::move(input), params, context);
      if (deps.active) deps.active->WithLabels({"shots"}).Dec();
      if (r.ok()) {
        r->timing.download_ms = download_ms;
        r->timing.total_ms = Ms(Clock::now() - start);
        Observe(deps, "total", r->timing.total_ms);
      }
      done(std::move(r));
    });
  };

  switch (source.kind) {
    case VideoSource::Kind::kBytes: {
      if (!source.bytes || source.bytes->empty())
        return done(Status(StatusCode::kInvalidArgument, source.label + " is empty (0 bytes)")
                        .WithKind(ErrorKind::kInvalidVideo));
      media::VideoInput input;
      input.bytes = std::move(source.bytes);
      input.label = source.label;
      return run(std::move(input), 0);
    }
    case VideoSource::Kind::kPath: {
      if (!deps.paths)
        return done(Status(StatusCode::kForbidden, "video_path is disabled: start the server with --allow-path DIR"));
      auto located = deps.paths->Locate(source.value, "video_path");
      if (!located.ok()) return done(located.status());
      media::VideoInput input;
      input.path = *located;
      input.label = "video_path '" + source.value + "'";
      return run(std::move(input), 0);
    }
    case VideoSource::Kind::kUrl: {
      if (!deps.sources)
        return done(Status(StatusCode::kForbidden, "this server does not take video_url sources"));
      sources::ImageSource fetch;
      fetch.kind = sources::ImageSource::Kind::kUrl;
      fetch.value = source.value;
      fetch.label = "video_url";
      const auto fetch_start = Clock::now();
      deps.sources->Resolve(std::move(fetch), context,
                            [run, done, fetch_start, label = source.label](Result<sources::Bytes> bytes) {
                              if (!bytes.ok()) {
                                Status s = bytes.status();
                                // The resolver calls empty bytes an invalid image; here they are a video.
                                if (s.kind() == ErrorKind::kInvalidImage) s.WithKind(ErrorKind::kInvalidVideo);
                                return done(s);
                              }
                              media::VideoInput input;
                              input.bytes = std::move(bytes).value();
                              input.label = label;
                              run(std::move(input), Ms(Clock::now() - fetch_start));
                            });
      return;
    }
  }
}

}  // namespace sightline::tasks
