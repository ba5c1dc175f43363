// POST /v1/videos/shots: shot detection on one video (a raw video/* body, a multipart file, or
// JSON / query video_url / video_path), answered with the video's probe, its shots (frames,
// seconds, SMPTE timecodes, the score that cut each) and a timing block, also as Server-Timing.
// POST /v1/videos/summarize: shots, keyframes (thumbnails on request), near-duplicates dropped,
// captions and a summary, with a timing block per stage; stream=true sends a `stage` event as
// each stage ends and the answer as the `summary` event.
// POST /summarize_video: the describer service's own route ({"video_path": ...}), the same answer.
#include <chrono>
#include <cstdio>

#include "http/api_routes.h"
#include "http/error_response.h"
#include "http/event_stream.h"
#include "http/video_codec.h"

namespace sightline::http {
namespace {

void Shots(const VideoRouteDeps& deps, const HttpRequest& req, Responder respond) {
  auto parsed = ParseVideoRequest(req);
  if (!parsed.ok()) return respond(ErrorResponse(parsed.status(), ApiStyle::kV1));
  auto params = ParseShotParams(*parsed);
  if (!params.ok()) return respond(ErrorResponse(params.status(), ApiStyle::kV1));
  tasks::DetectShots(deps.video, std::move(parsed->source), std::move(params).value(),
                     MakeRequestContext(req), [respond](Result<tasks::VideoShotsResult> r) {
                       if (!r.ok()) return respond(ErrorResponse(r.status(), ApiStyle::kV1));
                       HttpResponse out;
                       out.body = EncodeVideoShotsResponse(*r);
                       out.headers.emplace_back("Server-Timing", VideoServerTiming(r->timing));
                       respond(std::move(out));
                     });
}

void Summarize(const VideoRouteDeps& deps, const HttpRequest& req, Responder respond) {
  auto parsed = ParseVideoRequest(req);
  if (!parsed.ok()) return respond(ErrorResponse(parsed.status(), ApiStyle::kV1));
  auto request = ParseSummarizeParams(*parsed);
  if (!request.ok()) return respond(ErrorResponse(request.status(), ApiStyle::kV1));
  tasks::SummarizeVideoDeps task_deps;
  task_deps.video = deps.video;
  task_deps.captioners = deps.captions_disabled ? nullptr : deps.captioners;
  task_deps.work_pool = deps.work_pool;
  task_deps.classifiers = deps.classifiers;
  task_deps.clip = deps.clip;
  task_deps.labeler = deps.labeler;
  if (deps.captions_disabled) request->params.captions = false;
  std::shared_ptr<EventStream> events;
  if (request->stream) {
    events = EventStream::Start(respond);
    request->params.on_stage = [events](const std::string& stage, double ms) {
      char data[160];
      std::snprintf(data, sizeof(data), "{\"stage\":\"%s\",\"ms\":%.3f}", stage.c_str(), ms);
      events->Send("stage", data);
    };
  }
  const tasks::SummarizeVideoParams params = request->params;
  tasks::SummarizeVideo(task_deps, std::move(parsed->source), std::move(request->params),
                        MakeRequestContext(req), [respond, events, params](Result<tasks::VideoSummary> r) {
                          if (!r.ok())
                            return events ? events->Fail(r.status())
                                          : respond(ErrorResponse(r.status(), ApiStyle::kV1));
                          std::string body = EncodeVideoSummary(*r, params);
                          if (events) return events->Finish("summary", body);
                          HttpResponse out;
                          out.body = std::move(body);
                          out.headers.emplace_back("Server-Timing", VideoSummaryServerTiming(r->timing));
                          respond(std::move(out));
                        });
}

}  // namespace

void AddVideoRoutes(RouteTable& routes, const VideoRouteDeps& deps) {
  // Video bodies stream to a temporary file (--max-upload-mb), never held whole in memory.
  routes
      .Add("POST", "/v1/videos/summarize",
           [deps](const HttpRequest& req, const PathParams&, Responder respond) {
             Summarize(deps, req, std::move(respond));
           })
      .body_file_limit = deps.max_upload_bytes;
  routes
      .Add("POST", "/summarize_video",
           [deps](const HttpRequest& req, const PathParams&, Responder respond) {
             Summarize(deps, req, std::move(respond));
           })
      .body_file_limit = deps.max_upload_bytes;
  routes
      .Add("POST", "/v1/videos/shots",
           [deps](const HttpRequest& req, const PathParams&, Responder respond) {
             Shots(deps, req, std::move(respond));
           })
      .body_file_limit = deps.max_upload_bytes;
}

}  // namespace sightline::http
