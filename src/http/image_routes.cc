// /v1/remove-background and /v1/metadata: the image routes. Each request is reduced to image
// sources and fields (image_request.h), and the task resolves and processes them; the answer is
// the image itself (one image, one output), JSON for one image (several outputs, metadata), or
// a JSON list for many images.
#include <cstdio>

#include "http/api_routes.h"
#include "http/error_response.h"
#include "http/image_request.h"
#include "http/v1_codec.h"
#include "observability/logger.h"
#include "tasks/image_metadata.h"
#include "tasks/remove_backgrounds.h"

namespace sightline::http {

namespace {

HttpResponse V1Error(const Status& s) {
  return ErrorResponse(s, ApiStyle::kV1);
}

}  // namespace

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
  resp.body = EncodeRemoveBackground(r);
  return resp;
}

void RemoveBackground(const ImageRouteDeps& ctx, const HttpRequest& req, Responder respond) {
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
  if (parsed->images.empty())
    return respond(
        V1Error(InvalidArgument("send at least one image (file, raw body, image, image(s), image_url(s) or "
                                "image_path(s))")));
  if (parsed->images.size() > kMaxImages)
    return respond(V1Error(Status(StatusCode::kPayloadTooLarge, "at most " + std::to_string(kMaxImages) +
                                                                    " images per request; got " +
                                                                    std::to_string(parsed->images.size()))
                               .WithKind(ErrorKind::kLimitExceeded)));
  auto model = tasks::FindBackgroundRemovalModel(*ctx.models, model_name);
  if (!model.ok()) return respond(V1Error(model.status()));
  opts.context = MakeRequestContext(req);
  // A list of images (or several files) answers one JSON entry per image, in order.
  if (parsed->images.size() > 1 || parsed->listed) {
    tasks::RemoveBackgrounds(*ctx.background_removal, *model.value(), ctx.images, std::move(parsed->images),
                             params, opts.context, [respond](tasks::RemoveBackgroundsResult r) {
                               HttpResponse resp;
                               resp.body = EncodeRemoveBackgrounds(r);
                               respond(std::move(resp));
                             });
    return;
  }
  const bool force_json = params.metadata;
  ctx.images.sources->Resolve(
      std::move(parsed->images[0]), opts.context,
      [ctx, m = model.value(), params, opts, respond, force_json](Result<sources::Bytes> bytes) mutable {
        if (!bytes.ok()) return respond(V1Error(bytes.status()));
        ctx.background_removal->Run(*m, std::move(bytes).value(), params, opts,
                                    [respond, force_json](Result<tasks::RemoveBackgroundResult> r) {
                                      if (!r.ok()) return respond(V1Error(r.status()));
                                      respond(RemoveBackgroundResponse(std::move(r).value(), force_json));
                                    });
      });
}

// Reads metadata of every image in the request, in order; one bad image fails only its entry.
void Metadata(const ImageRouteDeps& ctx, const HttpRequest& req, Responder respond) {
  auto parsed = ParseImageRequest(req);
  if (!parsed.ok()) return respond(V1Error(parsed.status()));
  for (const auto& [k, v] : parsed->fields)
    return respond(V1Error(InvalidArgument("unknown parameter '" + k + "': /v1/metadata takes only images")));
  if (parsed->images.empty())
    return respond(
        V1Error(InvalidArgument("send at least one image (file, raw body, image, image_url or image_path)")));
  tasks::ReadImagesMetadata(ctx.images, std::move(parsed->images), MakeRequestContext(req),
                            [respond](tasks::ImageMetadataResult r) {
                              HttpResponse resp;
                              resp.body = EncodeMetadataResponse(r);
                              respond(std::move(resp));
                            });
}

}  // namespace

void AddImageRoutes(RouteTable& routes, const ImageRouteDeps& ctx) {
  routes.Add("POST", "/v1/remove-background",
             [ctx](const HttpRequest& req, const PathParams&, Responder respond) {
               RemoveBackground(ctx, req, std::move(respond));
             });
  routes.Add("POST", "/v1/metadata", [ctx](const HttpRequest& req, const PathParams&, Responder respond) {
    Metadata(ctx, req, std::move(respond));
  });
}

}  // namespace sightline::http
