#include <cstdio>

#include "http/api_routes.h"
#include "observability/logger.h"

namespace sightline::http {
namespace {

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

std::string ModelsJson(const scheduling::ModelRegistry& models) {
  std::string out = "{\"object\":\"list\",\"data\":[";
  bool first = true;
  for (const auto* m : models.All()) {
    if (!first) out += ',';
    first = false;
    char nums[160];
    std::snprintf(nums, sizeof nums,
                  "\"max_batch_size\":%d,\"instances\":%d,\"load_seconds\":%.3f,\"warmup_seconds\":%.3f",
                  m->config.max_batch_size, m->config.instance_count, m->load_seconds, m->warmup_seconds);
    out += "{\"id\":\"";
    observability::AppendJsonEscaped(out, m->config.name);
    out += "\",\"object\":\"model\",\"version\":\"";
    observability::AppendJsonEscaped(out, m->config.version);
    out += "\",\"platform\":\"" + m->platform + "\",\"ready\":";
    out += m->ready ? "true" : "false";
    out += ",\"variant\":\"";
    observability::AppendJsonEscaped(out, m->config.variant);
    out += "\",";
    out += nums;
    out += '}';
  }
  return out + "]}";
}

}  // namespace

std::string ServerTimingHeader(double queue_ms, double infer_ms, double total_ms) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "queue;dur=%.3f, infer;dur=%.3f, total;dur=%.3f", queue_ms, infer_ms,
                total_ms);
  return buf;
}

namespace {

// Liveness and metrics answer the same before and after the models are loaded.
void AddLivenessAndMetrics(RouteTable& routes, observability::MetricsRegistry* metrics) {
  routes.Add(
      "GET", "/healthz",
      [](const HttpRequest&, const PathParams&, Responder respond) {
        respond(Json(200, "{\"status\":\"ok\"}"));
      },
      /*public_route=*/true);
  routes.Add("GET", "/metrics", [metrics](const HttpRequest&, const PathParams&, Responder respond) {
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = metrics->Render();
    respond(std::move(r));
  });
}

}  // namespace

void AddStartupRoutes(RouteTable& routes, observability::MetricsRegistry& metrics) {
  AddLivenessAndMetrics(routes, &metrics);
  routes.Add(
      "GET", "/readyz",
      [](const HttpRequest&, const PathParams&, Responder respond) {
        respond(Json(503, "{\"status\":\"loading\"}"));
      },
      true);
  routes.Add(
      "GET", "/v2/health/live",
      [](const HttpRequest&, const PathParams&, Responder respond) { respond(Json(200, "{\"live\":true}")); },
      true, ApiStyle::kKServe);
  routes.Add(
      "GET", "/v2/health/ready",
      [](const HttpRequest&, const PathParams&, Responder respond) {
        respond(Json(400, "{\"ready\":false}"));
      },
      true, ApiStyle::kKServe);
  routes.SetUnmatched(
      Status(StatusCode::kUnavailable, "models are still loading; retry shortly").WithRetryAfter(1));
}

void AddSystemRoutes(RouteTable& routes, const SystemRouteDeps& ctx) {
  AddLivenessAndMetrics(routes, ctx.metrics);
  routes.Add(
      "GET", "/readyz",
      [ctx](const HttpRequest&, const PathParams&, Responder respond) {
        const bool ready = ctx.models->AllReady();
        respond(Json(ready ? 200 : 503, ready ? "{\"status\":\"ready\"}" : "{\"status\":\"loading\"}"));
      },
      true);
  routes.Add("GET", "/v1/models", [ctx](const HttpRequest&, const PathParams&, Responder respond) {
    respond(Json(200, ModelsJson(*ctx.models)));
  });
}

}  // namespace sightline::http
