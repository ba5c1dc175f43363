#include <boost/json.hpp>

#include <cmath>
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
  namespace json = boost::json;
  json::array data;
  for (const auto* m : models.All()) {
    json::object o;
    o["id"] = m->config.name;
    o["object"] = "model";
    o["version"] = m->config.version;
    o["platform"] = m->platform;
    o["ready"] = m->ready.load();
    o["variant"] = m->config.variant;
    // The towers of a Hugging Face CLIP folder are served as <family>.vision / .text; the /v1
    // CLIP routes take the family's name.
    if (!m->config.family.empty()) o["family"] = m->config.family;
    if (!m->config.role.empty()) o["role"] = m->config.role;
    if (m->generation) {
      // A decoder is stepped sequence by sequence, not batched by rows.
      o["scheduler"] = "generation";
    } else {
      o["scheduler"] = "batcher";
      o["max_batch_size"] = m->config.max_batch_size;
      o["instances"] = m->config.instance_count;
    }
    o["load_seconds"] = std::round(m->load_seconds * 1000) / 1000;
    o["warmup_seconds"] = std::round(m->warmup_seconds * 1000) / 1000;
    data.push_back(std::move(o));
  }
  return json::serialize(json::object{{"object", "list"}, {"data", std::move(data)}});
}

}  // namespace

HttpResponse BatchJson(std::string body, const tasks::BatchSummary& summary) {
  HttpResponse r;
  r.body = std::move(body);
  const auto& t = summary.timing;
  char buf[192];
  std::snprintf(buf, sizeof buf,
                "download;dur=%.3f, decode;dur=%.3f, queue;dur=%.3f, infer;dur=%.3f, total;dur=%.3f",
                t.download_ms, t.decode_ms, t.queue_ms, t.inference_ms, t.total_ms);
  r.headers.emplace_back("Server-Timing", buf);
  return r;
}

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
