// POST /v1/videos/shots: shot detection on one video (a raw video/* body, a multipart file, or
// JSON / query video_url / video_path), answered with the video's probe, its shots (frames,
// seconds, SMPTE timecodes, the score that cut each) and a timing block, also as Server-Timing.
#include "http/api_routes.h"
#include "http/error_response.h"
#include "http/video_codec.h"

namespace sightline::http {
namespace {

void Shots(const VideoRouteDeps& deps, const HttpRequest& req, Responder respond) {
  auto parsed = ParseVideoRequest(req);
  if (!parsed.ok()) return respond(ErrorResponse(parsed.status(), ApiStyle::kV1));
  auto params = ParseShotParams(*parsed);
  if (!params.ok()) return respond(ErrorResponse(params.status(), ApiStyle::kV1));
  tasks::DetectShots(deps.video, std::move(parsed->source), std::move(params).value(), MakeRequestContext(req),
                     [respond](Result<tasks::VideoShotsResult> r) {
                       if (!r.ok()) return respond(ErrorResponse(r.status(), ApiStyle::kV1));
                       HttpResponse out;
                       out.body = EncodeVideoShotsResponse(*r);
                       out.headers.emplace_back("Server-Timing", VideoServerTiming(r->timing));
                       respond(std::move(out));
                     });
}

}  // namespace

void AddVideoRoutes(RouteTable& routes, const VideoRouteDeps& deps) {
  routes.Add("POST", "/v1/videos/shots", [deps](const HttpRequest& req, const PathParams&, Responder respond) {
    Shots(deps, req, std::move(respond));
  });
}

}  // namespace sightline::http
