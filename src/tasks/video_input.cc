#include "tasks/video_input.h"

#include <optional>

namespace sightline::tasks {
namespace {

using Clock = std::chrono::steady_clock;

const char* Outcome(const Status& s) {
  if (s.ok()) return "ok";
  if (s.code() == StatusCode::kCancelled) return "cancelled";
  if (s.code() == StatusCode::kDeadlineExceeded) return "deadline_exceeded";
  if (s.kind() == ErrorKind::kDraining) return "draining";
  return "error";
}

}  // namespace

void RegisterVideoMetrics(observability::MetricsRegistry& registry, VideoTaskDeps& deps) {
  deps.stage_seconds =
      &registry.AddHistogram("sightline_video_stage_seconds",
                             "Time per stage of video tasks (probe, decode, shot_detection, keyframes, "
                             "dedupe, captioning, summary, total)",
                             {"task", "stage"}, observability::ExponentialBuckets(0.001, 2.5, 14));
  deps.tasks = &registry.AddCounter("sightline_video_tasks_total", "Video tasks ended, by task and outcome",
                                    {"task", "outcome"});
  deps.active = &registry.AddGauge("sightline_video_tasks_active", "Video tasks decoding now", {"task"});
  deps.frames =
      &registry.AddCounter("sightline_video_frames_decoded_total", "Video frames decoded", {"task"});
  deps.waiting =
      &registry.AddGauge("sightline_video_tasks_waiting", "Video tasks waiting for a worker").WithLabels({});
  deps.left_line =
      &registry
           .AddCounter("sightline_video_tasks_left_line_total",
                       "Waiting video tasks that gave up their place (client gone, deadline passed)")
           .WithLabels({});
}

Status VideoInterrupted(const VideoTaskDeps& deps, const RequestContextPtr& context) {
  if (deps.shutdown && deps.shutdown->cancelled())
    return Status(StatusCode::kUnavailable, "the server is shutting down").WithKind(ErrorKind::kDraining);
  return Interrupted(context, "while the video was processed");
}

void ObserveVideoStage(const VideoTaskDeps& deps, const char* task, const char* stage, double ms) {
  if (deps.stage_seconds) deps.stage_seconds->WithLabels({task, stage}).Observe(ms / 1000.0);
}

void CountVideoOutcome(const VideoTaskDeps& deps, const char* task, const Status& status) {
  if (deps.tasks) deps.tasks->WithLabels({task, Outcome(status)}).Inc();
}

void RunVideoTask(const VideoTaskDeps& deps, const char* task, VideoSource source,
                  const RequestContextPtr& context, VideoWork work, std::function<void(Status)> fail) {
  if (!deps.pool) return fail(Internal("no video pool"));
  auto run = [deps, task, work, fail, context](media::VideoInput input, double download_ms) {
    // Admission: a bounded line in front of the pool. Each waiting video holds its upload (on disk)
    // and a pool slot's worth of future work; past the bound the client is told when to retry.
    // Videos nobody waits for any more (hung up, past their deadline) leave the line first.
    auto& line = *deps.line;
    uint64_t ticket = 0;
    size_t ahead = 0;
    {
      std::lock_guard lock(line.mu);
      const auto now = Clock::now();
      const size_t left = line.waiting.remove_if([now](const VideoTaskDeps::Line::Place& p) {
        return p.context && (p.context->cancelled() || p.context->expired(now));
      });
      if (deps.left_line && left > 0) deps.left_line->Inc(static_cast<double>(left));
      ahead = line.waiting.size();
      if (ahead < static_cast<size_t>(deps.max_waiting)) {
        ticket = line.next_ticket++;
        line.waiting.push_back({ticket, context, std::move(input)});
      }
      if (deps.waiting) deps.waiting->Set(static_cast<double>(line.waiting.size()));
    }
    if (ahead >= static_cast<size_t>(deps.max_waiting))
      return fail(Status(StatusCode::kOverloaded, "the video queue is full (" +
                                                      std::to_string(deps.max_waiting) +
                                                      " waiting, --video-queue); retry later")
                      .WithKind(ErrorKind::kQueueFull)
                      .WithRetryAfter(std::max(1.0, static_cast<double>(ahead) / std::max(1, deps.workers))));
    deps.pool->Submit([deps, task, work, fail, context, download_ms, ticket] {
      std::optional<media::VideoInput> taken;
      {
        auto& line = *deps.line;
        std::lock_guard lock(line.mu);
        for (auto it = line.waiting.begin(); it != line.waiting.end(); ++it)
          if (it->ticket == ticket) {
            taken = std::move(it->input);
            line.waiting.erase(it);
            break;
          }
        if (deps.waiting) deps.waiting->Set(static_cast<double>(line.waiting.size()));
      }
      if (!taken) {  // left the line: its client hung up or its deadline passed
        Status why = VideoInterrupted(deps, context);
        return fail(why.ok() ? Status(StatusCode::kCancelled, "client went away") : why);
      }
      if (deps.active) deps.active->WithLabels({task}).Inc();
      work(std::move(*taken), download_ms);
      if (deps.active) deps.active->WithLabels({task}).Dec();
    });
  };
  switch (source.kind) {
    case VideoSource::Kind::kBytes: {
      const size_t size = source.bytes ? source.bytes->size() : source.view.size();
      if (size == 0)
        return fail(Status(StatusCode::kInvalidArgument, source.label + " is empty (0 bytes)")
                        .WithKind(ErrorKind::kInvalidVideo));
      media::VideoInput input;
      input.bytes = std::move(source.bytes);
      input.view = source.view;
      input.owner = std::move(source.owner);
      input.label = source.label;
      return run(std::move(input), 0);
    }
    case VideoSource::Kind::kUpload: {
      media::VideoInput input;
      input.path = source.value;
      input.owner = std::move(source.owner);
      input.label = source.label;
      return run(std::move(input), 0);
    }
    case VideoSource::Kind::kPath: {
      if (!deps.paths)
        return fail(
            Status(StatusCode::kForbidden, "video_path is disabled: start the server with --allow-path DIR"));
      auto located = deps.paths->Locate(source.value, "video_path");
      if (!located.ok()) return fail(located.status());
      media::VideoInput input;
      input.path = *located;
      input.label = "video_path '" + source.value + "'";
      return run(std::move(input), 0);
    }
    case VideoSource::Kind::kUrl: {
      if (!deps.sources)
        return fail(Status(StatusCode::kForbidden, "this server does not take video_url sources"));
      sources::ImageSource fetch;
      fetch.kind = sources::ImageSource::Kind::kUrl;
      fetch.value = source.value;
      fetch.label = "video_url";
      fetch.field = "video_url";  // fetch errors name the parameter the client used
      const auto fetch_start = Clock::now();
      deps.sources->Resolve(std::move(fetch), context,
                            [run, fail, fetch_start, label = source.label](Result<sources::Bytes> bytes) {
                              if (!bytes.ok()) {
                                Status s = bytes.status();
                                // The resolver calls empty bytes an invalid image; here they are a video.
                                if (s.kind() == ErrorKind::kInvalidImage)
                                  s.WithKind(ErrorKind::kInvalidVideo);
                                return fail(s);
                              }
                              media::VideoInput input;
                              input.bytes = std::move(bytes).value();
                              input.label = label;
                              run(std::move(input), MsBetween(fetch_start, Clock::now()));
                            });
      return;
    }
  }
}

}  // namespace sightline::tasks
