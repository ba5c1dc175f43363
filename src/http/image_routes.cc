// /v1/remove-background and /v1/metadata: the image routes. Each request is reduced to image
// sources and fields (image_request.h), URL and path sources are fetched on the fetch pool,
// and the bytes go to the task; the answer is the image itself (one output) or JSON.
#include <cstdio>

#include "core/base64.h"
#include "http/api_routes.h"
#include "http/error_response.h"
#include "http/image_request.h"
#include "media/image_metadata.h"
#include "observability/logger.h"

namespace sightline::http {

namespace {

using observability::AppendJsonEscaped;

HttpResponse V1Error(const Status& s) {
  return ErrorResponse(s, ApiStyle::kV1);
}

}  // namespace

void ResolveImageSource(const ApiContext& ctx, ImageSource src, std::shared_ptr<CancelToken> cancel,
                        BytesCallback done) {
  if (src.kind == ImageSource::Kind::kBytes)
    return done(std::make_shared<const std::string>(std::move(src.value)));
  ctx.fetch_pool->Submit([ctx, src = std::move(src), cancel, done = std::move(done)] {
    if (cancel && cancel->cancelled()) return done(Status(StatusCode::kCancelled, "client went away"));
    Result<std::string> bytes = src.kind == ImageSource::Kind::kUrl
                                    ? ctx.fetcher->Fetch(src.value, cancel.get())
                                    : ctx.paths->Read(src.value, ctx.fetcher->options().max_bytes);
    if (!bytes.ok()) return done(bytes.status());
    if (bytes->empty()) return done(InvalidArgument("invalid_image: " + src.label + " is empty (0 bytes)"));
    done(std::make_shared<const std::string>(std::move(bytes).value()));
  });
}

namespace {

void AppendOptionalString(std::string& out, const char* key, const std::optional<std::string>& v) {
  if (!v) return;
  out += ",\"";
  out += key;
  out += "\":\"";
  AppendJsonEscaped(out, *v);
  out += '"';
}

void AppendOptionalNumber(std::string& out, const char* key, const std::optional<double>& v) {
  if (!v) return;
  char buf[64];
  std::snprintf(buf, sizeof buf, ",\"%s\":%.9g", key, *v);
  out += buf;
}

}  // namespace

void AppendMetadataJson(std::string& out, const media::ImageMetadata& m) {
  out += "{\"format\":\"";
  observability::AppendJsonEscaped(out, m.format);
  out += "\",\"width\":" + std::to_string(m.width) + ",\"height\":" + std::to_string(m.height) +
         ",\"orientation\":" + std::to_string(m.orientation);
  AppendOptionalString(out, "make", m.make);
  AppendOptionalString(out, "model", m.model);
  AppendOptionalString(out, "lens", m.lens);
  AppendOptionalString(out, "captured_at", m.captured_at);
  if (m.latitude && m.longitude) {
    out += ",\"gps\":{";
    char buf[96];
    std::snprintf(buf, sizeof buf, "\"latitude\":%.7f,\"longitude\":%.7f", *m.latitude, *m.longitude);
    out += buf;
    AppendOptionalNumber(out, "altitude_m", m.altitude_m);
    out += '}';
  }
  AppendOptionalNumber(out, "exposure_time_s", m.exposure_time_s);
  AppendOptionalNumber(out, "f_number", m.f_number);
  AppendOptionalNumber(out, "focal_length_mm", m.focal_length_mm);
  if (m.iso) out += ",\"iso\":" + std::to_string(*m.iso);
  out += '}';
}

namespace {

std::string TimingHeader(const tasks::RemoveBackgroundTiming& t) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "decode;dur=%.3f, preprocess;dur=%.3f, queue;dur=%.3f, infer;dur=%.3f, postprocess;dur=%.3f, "
                "encode;dur=%.3f, total;dur=%.3f",
                t.decode_ms, t.preprocess_ms, t.queue_ms, t.infer_ms, t.postprocess_ms, t.encode_ms,
                t.total_ms);
  return buf;
}

HttpResponse RemoveBackgroundResponse(tasks::RemoveBackgroundResult r, bool force_json) {
  HttpResponse resp;
  resp.headers.emplace_back("Server-Timing", TimingHeader(r.timing));
  resp.headers.emplace_back("X-Cache", r.cache_hit ? "hit" : "miss");
  resp.headers.emplace_back("X-Model", r.model);
  resp.headers.emplace_back("X-Model-Variant", r.variant);
  resp.headers.emplace_back("X-Quality", r.reduced_quality ? "reduced" : "full");
  if (r.outputs.size() == 1 && !force_json) {
    resp.content_type = r.outputs[0].content_type;
    resp.body = std::move(r.outputs[0].bytes);
    return resp;
  }
  std::string& out = resp.body;
  out = "{\"model\":\"";
  AppendJsonEscaped(out, r.model);
  out += "\",\"width\":" + std::to_string(r.width) + ",\"height\":" + std::to_string(r.height) +
         ",\"outputs\":{";
  for (size_t i = 0; i < r.outputs.size(); ++i) {
    if (i) out += ',';
    out += '"';
    AppendJsonEscaped(out, r.outputs[i].name);
    out += "\":{\"content_type\":\"" + r.outputs[i].content_type + "\",\"data\":\"";
    out += Base64Encode(r.outputs[i].bytes);
    out += "\"}";
  }
  const auto& t = r.timing;
  char timing[352];
  std::snprintf(
      timing, sizeof timing,
      "},\"timing\":{\"decode_ms\":%.3f,\"preprocess_ms\":%.3f,\"queue_ms\":%.3f,\"infer_ms\":%.3f,"
      "\"postprocess_ms\":%.3f,\"encode_ms\":%.3f,\"total_ms\":%.3f},\"cache_hit\":%s,\"quality\":\"%s\"",
      t.decode_ms, t.preprocess_ms, t.queue_ms, t.infer_ms, t.postprocess_ms, t.encode_ms, t.total_ms,
      r.cache_hit ? "true" : "false", r.reduced_quality ? "reduced" : "full");
  out += timing;
  if (r.metadata) {
    out += ",\"metadata\":";
    AppendMetadataJson(out, *r.metadata);
  }
  out += '}';
  return resp;
}

Result<scheduling::ServedModel*> BackgroundModel(const ApiContext& ctx, const std::string& name) {
  if (!name.empty()) {
    auto* m = ctx.models->Find(name);
    if (!m) return NotFound("unknown model '" + name + "'");
    if (m->config.task != "background_removal")
      return InvalidArgument("model '" + name + "' is not a background-removal model");
    return m;
  }
  for (const auto* m : ctx.models->All())
    if (m->config.task == "background_removal") return ctx.models->Find(m->config.name);
  return NotFound("no background-removal model is loaded (a model with \"task\": \"background_removal\")");
}

void RemoveBackground(const ApiContext& ctx, const HttpRequest& req, Responder respond) {
  auto parsed = ParseImageRequest(req);
  if (!parsed.ok()) return respond(V1Error(parsed.status()));
  tasks::RemoveBackgroundParams params;
  std::string model_name;
  tasks::TensorInferOptions opts;
  for (const auto& [k, v] : parsed->fields) {
    if (k == "model") {
      model_name = v;
    } else if (tasks::IsRemoveBackgroundParam(k)) {
      Status s = tasks::SetRemoveBackgroundParam(params, k, v);
      if (!s.ok()) return respond(V1Error(s));
    } else {
      return respond(V1Error(InvalidArgument("unknown parameter '" + k +
                                             "' (expected output, format, bg_color, max_side, post_process, "
                                             "effects, metadata, quality, model)")));
    }
  }
  if (parsed->images.size() != 1)
    return respond(V1Error(
        InvalidArgument("send exactly one image (file, raw body, image, image_url or image_path); got " +
                        std::to_string(parsed->images.size()))));
  auto model = BackgroundModel(ctx, model_name);
  if (!model.ok()) return respond(V1Error(model.status()));
  opts.cancelled = req.cancel;
  opts.retry_attempt = RetryAttempt(req);
  const bool force_json = params.metadata;
  ResolveImageSource(ctx, std::move(parsed->images[0]), req.cancel,
                     [ctx, m = model.value(), params, opts, respond,
                      force_json](Result<std::shared_ptr<const std::string>> bytes) mutable {
                       if (!bytes.ok()) return respond(V1Error(bytes.status()));
                       ctx.background_removal->Run(
                           *m, std::move(bytes).value(), params, opts,
                           [respond, force_json](Result<tasks::RemoveBackgroundResult> r) {
                             if (!r.ok()) return respond(V1Error(r.status()));
                             respond(RemoveBackgroundResponse(std::move(r).value(), force_json));
                           });
                     });
}

// Reads metadata of every image in the request, in order; one bad image fails only its entry.
void Metadata(const ApiContext& ctx, const HttpRequest& req, Responder respond) {
  auto parsed = ParseImageRequest(req);
  if (!parsed.ok()) return respond(V1Error(parsed.status()));
  for (const auto& [k, v] : parsed->fields)
    return respond(V1Error(InvalidArgument("unknown parameter '" + k + "': /v1/metadata takes only images")));
  if (parsed->images.empty())
    return respond(
        V1Error(InvalidArgument("send at least one image (file, raw body, image, image_url or image_path)")));
  struct State {
    std::mutex mu;
    std::vector<std::string> entries;
    size_t left = 0;
  };
  auto state = std::make_shared<State>();
  state->entries.resize(parsed->images.size());
  state->left = parsed->images.size();
  for (size_t i = 0; i < parsed->images.size(); ++i) {
    ResolveImageSource(ctx, std::move(parsed->images[i]), req.cancel,
                       [ctx, state, i, respond](Result<std::shared_ptr<const std::string>> bytes) {
                         ctx.decode_pool->Submit([state, i, respond, bytes = std::move(bytes)]() mutable {
                           std::string entry = "{\"index\":" + std::to_string(i) + ",";
                           Result<media::ImageMetadata> md = bytes.status();
                           if (bytes.ok()) {
                             const std::string& b = *bytes.value();
                             md = media::ReadImageMetadata(reinterpret_cast<const uint8_t*>(b.data()),
                                                           b.size());
                           }
                           if (md.ok()) {
                             entry += "\"metadata\":";
                             AppendMetadataJson(entry, *md);
                           } else {
                             entry += "\"error\":";
                             AppendErrorObject(entry, md.status());
                           }
                           entry += '}';
                           std::lock_guard lock(state->mu);
                           state->entries[i] = std::move(entry);
                           if (--state->left > 0) return;
                           HttpResponse resp;
                           resp.body = "{\"object\":\"list\",\"data\":[";
                           for (size_t k = 0; k < state->entries.size(); ++k) {
                             if (k) resp.body += ',';
                             resp.body += state->entries[k];
                           }
                           resp.body += "]}";
                           respond(std::move(resp));
                         });
                       });
  }
}

}  // namespace

void AddImageRoutes(Router& router, const ApiContext& ctx) {
  router.Add("POST", "/v1/remove-background",
             [ctx](const HttpRequest& req, const PathParams&, Responder respond) {
               RemoveBackground(ctx, req, std::move(respond));
             });
  router.Add("POST", "/v1/metadata", [ctx](const HttpRequest& req, const PathParams&, Responder respond) {
    Metadata(ctx, req, std::move(respond));
  });
}

}  // namespace sightline::http
