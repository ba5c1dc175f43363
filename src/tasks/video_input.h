// What every video task shares: its dependencies and metrics, where the video comes from, and
// the runner that resolves the source (uploaded bytes; `video_url` through the SSRF-guarded
// fetcher; `video_path` under --allow-path, opened in place, never read whole), runs the task's
// work on the video pool, and counts how it ended.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>

#include "core/cancel_token.h"
#include "core/request_context.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "media/video/video_decoder.h"
#include "observability/metrics.h"
#include "sources/path_policy.h"
#include "sources/source_resolver.h"

namespace sightline::scheduling {
struct ServedModel;
}

namespace sightline::tasks {

struct VideoTaskDeps {
  const sources::SourceResolver* sources = nullptr;  // video_url (null: refused)
  const sources::PathPolicy* paths = nullptr;        // video_path (null or no roots: refused)
  // Whole videos decode here, one per thread, apart from the image work pool so a long video
  // never holds up image requests.
  ThreadPool* pool = nullptr;
  media::VideoLimits limits;
  // detector=transnetv2 runs here (tasks/shot_boundary_model.h); null: that detector is refused.
  scheduling::ServedModel* shot_model = nullptr;
  // Fired when a draining server's deadline passes: videos still decoding end with 503 draining.
  const CancelToken* shutdown = nullptr;
  // Videos waiting for a pool thread at most (--video-queue); one more is a 503 queue_full with
  // Retry-After, never an unbounded backlog. `line` holds them (shared by every copy of deps).
  int max_waiting = 32;
  int workers = 2;  // the pool's threads, for the Retry-After estimate
  struct Line {
    std::mutex mu;
    // The waiting videos: one whose client hung up or whose deadline passed gives up its place,
    // and its input (an upload's file goes with it), as soon as another video asks for one; its
    // pool task then only reports how it ended.
    struct Place {
      uint64_t ticket;
      RequestContextPtr context;
      media::VideoInput input;
    };
    std::list<Place> waiting;
    uint64_t next_ticket = 0;
  };
  std::shared_ptr<Line> line = std::make_shared<Line>();
  // Null: not observed. sightline_video_stage_seconds{task, stage}: time per stage;
  // sightline_video_tasks_total{task, outcome}: tasks ended (ok, error, cancelled,
  // deadline_exceeded, draining); sightline_video_tasks_active{task}: decoding now;
  // sightline_video_frames_decoded_total{task}: frames through the decoder.
  observability::Family<observability::Histogram>* stage_seconds = nullptr;
  observability::Family<observability::Counter>* tasks = nullptr;
  observability::Family<observability::Gauge>* active = nullptr;
  observability::Family<observability::Counter>* frames = nullptr;
  observability::Gauge* waiting = nullptr;  // sightline_video_tasks_waiting: in the line
  // sightline_video_tasks_left_line_total: waiting videos dropped because nobody waited any more.
  observability::Counter* left_line = nullptr;
};

// Registers the families above on `registry` and points `deps` at them.
void RegisterVideoMetrics(observability::MetricsRegistry& registry, VideoTaskDeps& deps);

struct VideoSource {
  // kBytes: in memory (`bytes`, or `view` kept alive by `owner`); kUrl / kPath: named by the
  // client (`value`); kUpload: a file the transport wrote (`value`, kept by `owner`), opened in
  // place with no path policy (the client did not name it).
  enum class Kind { kBytes, kUrl, kPath, kUpload };
  Kind kind = Kind::kBytes;
  std::shared_ptr<const std::string> bytes;
  std::string_view view;
  std::shared_ptr<const void> owner;
  std::string value;            // the URL or the path
  std::string label = "video";  // names the input in errors
};

// The request's end, or the server's, checked per frame: kCancelled on hang-up,
// kDeadlineExceeded past the deadline, kUnavailable (draining) when the server stops.
Status VideoInterrupted(const VideoTaskDeps& deps, const RequestContextPtr& context);

// sightline_video_stage_seconds{task, stage}.
void ObserveVideoStage(const VideoTaskDeps& deps, const char* task, const char* stage, double ms);

using VideoWork = std::function<void(media::VideoInput input, double download_ms)>;

// Resolves `source` (errors go to `fail` at once or from the fetch pool), then runs `work` on the
// video pool with the active gauge held. `fail` and the work's own end must each count the task's
// outcome through CountVideoOutcome once.
void RunVideoTask(const VideoTaskDeps& deps, const char* task, VideoSource source,
                  const RequestContextPtr& context, VideoWork work, std::function<void(Status)> fail);

// sightline_video_tasks_total{task, outcome} by how `status` ended the task.
void CountVideoOutcome(const VideoTaskDeps& deps, const char* task, const Status& status);

inline double MsBetween(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace sightline::tasks
