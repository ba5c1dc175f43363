// POST /predict_image: the describer service's own route, kept so its clients move over
// unchanged: {"image_path" | "image_url" | "image" (base64), "prompt", generation settings} for
// one image, answered {"description", "model", "timing", ...}.
// POST /v1/caption: one or many images (multipart files, a raw image body, JSON images /
// image_urls / image_paths, query image_url), an optional prompt and the generation settings;
// each image answered in order with its text, token counts and timing, or its own error.
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>

#include "http/api_routes.h"
#include "http/error_response.h"
#include "http/event_stream.h"
#include "http/v1_codec.h"

namespace sightline::http {
namespace {

HttpResponse V1Error(const Status& s) {
  return ErrorResponse(s, ApiStyle::kV1);
}

void Caption(const CaptionRouteDeps& ctx, const HttpRequest& req, Responder respond) {
  if (!ctx.captioners || ctx.captioners->empty())
    return respond(V1Error(NotFound(
        "no captioning model is loaded (a folder whose config.json has model_type vision-encoder-decoder, "
        "with onnx/encoder_model*.onnx and onnx/decoder_model_merged*.onnx)")));
  auto parsed = ParseImageRequest(req);
  if (!parsed.ok()) return respond(V1Error(parsed.status()));
  auto fields = ParseCaptionFields(*parsed);
  if (!fields.ok()) return respond(V1Error(fields.status()));
  const auto* family = ctx.captioners->Find(fields->model);
  if (!family) {
    std::string known;
    for (const auto& n : ctx.captioners->names()) known += (known.empty() ? "" : ", ") + n;
    return respond(V1Error(NotFound("no captioning model named '" + fields->model +
                                    "' (the captioning models here: " + known + ")")));
  }
  tasks::CaptionImages(*ctx.captioners, *family, ctx.images, std::move(parsed->images),
                       std::move(fields->params), MakeRequestContext(req), nullptr,
                       [respond](Result<tasks::CaptionImagesResult> r) {
                         if (!r.ok()) return respond(V1Error(r.status()));
                         respond(BatchJson(EncodeCaptionResponse(*r), r->summary));
                       });
}

void PredictImage(const CaptionRouteDeps& ctx, const HttpRequest& req, Responder respond) {
  if (!ctx.captioners || ctx.captioners->empty())
    return respond(V1Error(NotFound("no captioning model is loaded")));
  auto parsed = ParseImageRequest(req);
  if (!parsed.ok()) return respond(V1Error(parsed.status()));
  if (parsed->images.size() != 1)
    return respond(V1Error(InvalidArgument("send one image: image_path, image_url or image (base64); got " +
                                           std::to_string(parsed->images.size()))));
  auto fields = ParseCaptionFields(*parsed);
  if (!fields.ok()) return respond(V1Error(fields.status()));
  const auto* family = ctx.captioners->Find(fields->model);
  if (!family) return respond(V1Error(NotFound("no captioning model named '" + fields->model + "'")));
  tasks::CaptionImages(*ctx.captioners, *family, ctx.images, std::move(parsed->images),
                       std::move(fields->params), MakeRequestContext(req), nullptr,
                       [respond](Result<tasks::CaptionImagesResult> r) {
                         if (!r.ok()) return respond(V1Error(r.status()));
                         const auto& item = r->items.front();
                         if (!item.status.ok()) return respond(V1Error(item.status));
                         HttpResponse out;
                         out.body = EncodePredictImageResponse(r->model, item, r->summary.timing.total_ms);
                         respond(std::move(out));
                       });
}

// POST /v1/chat/completions: OpenAI's chat API for vision (the `openai` client works against it,
// streaming included): the conversation's one image is described — a vision-language model
// reads the whole conversation through its chat template, a captioner continues the user text; n
// choices are n sequences (each its own seed when sampling). With stream: Server-Sent Events of
// chat.completion.chunk, text as it is generated, then `data: [DONE]`.
void ChatCompletions(const CaptionRouteDeps& ctx, const HttpRequest& req, Responder respond) {
  if (!ctx.captioners || ctx.captioners->empty())
    return respond(V1Error(NotFound("no captioning or vision-language model is loaded")));
  auto parsed = ParseChatCompletionRequest(req.body);
  if (!parsed.ok()) return respond(V1Error(parsed.status()));
  const auto* family = ctx.captioners->Find(parsed->model);
  if (!family)
    return respond(V1Error(NotFound("no model named '" + parsed->model + "' for chat completions")));
  auto context = MakeRequestContext(req);
  const std::string id = "chatcmpl-" + context->request_id;
  const int64_t created =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  tasks::CaptionParams params;
  params.prompt = parsed->prompt;
  // A vision-language model sees the whole conversation through its chat template.
  if (family->kind == tasks::CaptionerFamily::Kind::kVisionLanguage) params.messages = parsed->messages;
  params.generation = parsed->generation;
  std::vector<sources::ImageSource> images(static_cast<size_t>(parsed->n), parsed->image);
  std::shared_ptr<EventStream> events;
  // The stream's first chunks (each choice's role) go out with the first text, not before: until
  // then an error known before generation (a prompt over the context, an image that does not
  // decode) is still a plain 4xx answer, not 200 and an error event.
  std::function<void()> begin;
  if (parsed->stream) {
    events = EventStream::Start(respond);
    const std::string model = family->name;
    begin = [events, id, created, model, n = parsed->n, once = std::make_shared<std::once_flag>()] {
      std::call_once(*once, [&] {
        for (int i = 0; i < n; ++i)
          events->Send("", EncodeChatChunk(id, created, model, static_cast<size_t>(i), true, "", ""));
      });
    };
    params.on_text = [events, id, created, model, begin](size_t index, const std::string& chunk) {
      begin();
      events->Send("", EncodeChatChunk(id, created, model, index, false, chunk, ""));
    };
  }
  tasks::CaptionImages(
      *ctx.captioners, *family, ctx.images, std::move(images), std::move(params), context, nullptr,
      [respond, events, begin, id, created,
       include_usage = parsed->include_usage](Result<tasks::CaptionImagesResult> r) {
        if (!r.ok()) return events ? events->Fail(r.status()) : respond(V1Error(r.status()));
        for (const auto& item : r->items)
          if (!item.status.ok()) return events ? events->Fail(item.status) : respond(V1Error(item.status));
        if (!events) {
          HttpResponse out;
          out.body = EncodeChatCompletion(id, created, r->model, r->items);
          return respond(std::move(out));
        }
        begin();
        size_t completion = 0;
        for (size_t i = 0; i < r->items.size(); ++i) {
          events->Send("", EncodeChatChunk(id, created, r->model, i, false, "", r->items[i].finish_reason));
          completion += r->items[i].completion_tokens;
        }
        if (include_usage)
          events->Send(
              "", EncodeChatUsageChunk(id, created, r->model, r->items.front().prompt_tokens, completion));
        events->Finish("", "[DONE]");
      });
}

}  // namespace

void AddCaptionRoutes(RouteTable& routes, const CaptionRouteDeps& deps) {
  routes.Add("POST", "/v1/caption", [deps](const HttpRequest& req, const PathParams&, Responder respond) {
    Caption(deps, req, std::move(respond));
  });
  routes.Add("POST", "/v1/chat/completions",
             [deps](const HttpRequest& req, const PathParams&, Responder respond) {
               ChatCompletions(deps, req, std::move(respond));
             });
  routes.Add("POST", "/predict_image", [deps](const HttpRequest& req, const PathParams&, Responder respond) {
    PredictImage(deps, req, std::move(respond));
  });
}

}  // namespace sightline::http
