// CLIP routes: /v1/embeddings (OpenAI-compatible, text and images), /v1/embed (many images,
// one result or error each), /v1/classify (zero-shot over labels or a configured label set, one
// or many images) and /v1/tokenize (ids per input, to check tokenizer parity from outside). Each
// parses with v1_codec, calls its task and writes the answer; tokenising, decoding and metadata
// run in the tasks, on the work pool.
#include <chrono>
#include <cstdio>
#include <mutex>

#include "http/api_routes.h"
#include "http/error_response.h"
#include "http/event_stream.h"
#include "http/v1_codec.h"
#include "tasks/classify_images.h"
#include "tasks/embed_images.h"

namespace sightline::http {
namespace {

HttpResponse V1Error(const Status& s) {
  return ErrorResponse(s, ApiStyle::kV1);
}

HttpResponse Json(std::string body) {
  HttpResponse r;
  r.body = std::move(body);
  return r;
}

Result<const tasks::ClipFamily*> Family(const ClipRouteDeps& ctx, const std::string& name) {
  if (!ctx.clip || ctx.clip->empty())
    return NotFound(
        "no CLIP model is loaded (a folder with config.json and onnx/vision_model*.onnx, "
        "onnx/text_model*.onnx)");
  const auto* f = ctx.clip->Find(name);
  if (f) return f;
  std::string known;
  for (const auto& n : ctx.clip->names()) known += (known.empty() ? "" : ", ") + n;
  return NotFound("no CLIP model named '" + name + "' (the CLIP models here: " + known + ")");
}

// stream=true: a Server-Sent Events answer whose `item` events `on_item` writes as items end.
template <typename Item>
struct ItemEvents {
  std::shared_ptr<EventStream> events;  // null without stream=true
  std::function<void(size_t, const Item&)> on_item;
};

template <typename Item>
ItemEvents<Item> StreamItems(bool stream, const Responder& respond,
                             std::string (*encode)(size_t, const Item&)) {
  if (!stream) return {};
  auto events = EventStream::Start(respond);
  return {events, [events, encode](size_t i, const Item& item) { events->Send("item", encode(i, item)); }};
}

void Tokenize(const ClipRouteDeps& ctx, const HttpRequest& req, Responder respond) {
  auto parsed = ParseTokenizeRequest(req.body);
  if (!parsed.ok()) return respond(V1Error(parsed.status()));
  auto family = Family(ctx, parsed->model);
  if (!family.ok()) return respond(V1Error(family.status()));
  ctx.clip->Tokenize(**family, std::move(parsed->input), MakeRequestContext(req),
                     [respond, name = (*family)->name](Result<tasks::ClipService::TokenIds> ids) {
                       if (!ids.ok()) return respond(V1Error(ids.status()));
                       respond(Json(EncodeTokenizeResponse(name, *ids)));
                     });
}

// POST /v1/embeddings: {"model", "input": str | [str], "modality"?: "text" | "image",
// "encoding_format"?: "float" | "base64", "dimensions"?: n}.
void Embeddings(const ClipRouteDeps& ctx, const HttpRequest& req, Responder respond) {
  auto parsed = ParseEmbeddingsRequest(req.body);
  if (!parsed.ok()) return respond(V1Error(parsed.status()));
  auto family = Family(ctx, parsed->model);
  if (!family.ok()) return respond(V1Error(family.status()));
  auto request = std::make_shared<EmbeddingsRequest>(std::move(parsed).value());
  auto split = SplitEmbeddingInputs(*request);
  if (!split.ok()) return respond(V1Error(split.status()));
  const tasks::ClipFamily& f = **family;
  struct State {
    std::mutex mu;
    std::vector<tasks::Embedding> out;
    size_t left = 0;
    bool failed = false;
    int64_t tokens = 0;
  };
  auto st = std::make_shared<State>();
  st->out.resize(request->input.size());
  st->left = (split->texts.empty() ? 0 : 1) + split->images.size();
  auto finish_one = [st, respond, request, name = f.name,
                     received = req.received](std::optional<Status> error) {
    std::unique_lock lock(st->mu);
    if (st->failed) return;
    if (error) {
      st->failed = true;
      lock.unlock();
      return respond(V1Error(*error));
    }
    if (--st->left > 0) return;
    lock.unlock();
    const size_t dims = st->out.empty() ? 0 : st->out.front().size();
    if (request->dimensions > dims)
      return respond(
          V1Error(InvalidArgument("dimensions must be at most " + std::to_string(dims) + " for model '" +
                                  name + "'; got " + std::to_string(request->dimensions))));
    HttpResponse resp = Json(EncodeEmbeddingsResponse(*request, name, std::move(st->out), st->tokens));
    const double total_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - received).count();
    resp.headers.emplace_back("Server-Timing", "total;dur=" + std::to_string(total_ms));
    respond(std::move(resp));
  };
  tasks::TensorInferOptions opts;
  opts.context = MakeRequestContext(req);
  if (!split->texts.empty()) {
    ctx.clip->EmbedTexts(f, std::move(split->texts), opts,
                         [st, index = split->text_index, finish_one](Result<tasks::TextEmbeddings> r) {
                           if (!r.ok()) return finish_one(r.status());
                           {
                             std::lock_guard lock(st->mu);
                             st->tokens = r->tokens;
                             for (size_t k = 0; k < index.size(); ++k)
                               st->out[index[k]] = std::move(r->vectors[k]);
                           }
                           finish_one(std::nullopt);
                         });
  }
  for (size_t k = 0; k < split->images.size(); ++k) {
    const size_t i = split->image_index[k];
    ctx.images.sources->Resolve(
        std::move(split->images[k]), opts.context,
        [clip = ctx.clip, fp = &f, opts, st, i, finish_one](Result<sources::Bytes> bytes) {
          const std::string label = "input[" + std::to_string(i) + "]: ";
          if (!bytes.ok()) return finish_one(bytes.status().Prefixed(label));
          clip->EmbedImage(*fp, *bytes, opts, [st, i, finish_one, label](Result<tasks::ImageEmbedding> e) {
            if (!e.ok()) return finish_one(e.status().Prefixed(label));
            {
              std::lock_guard lock(st->mu);
              st->out[i] = std::move(e.value().embedding);
            }
            finish_one(std::nullopt);
          });
        });
  }
}

// POST /v1/classify: one or many images (any way in) + labels or a label set. One image sent
// alone answers the single-image shape; a list answers one entry per image. `stream=true`
// answers Server-Sent Events: an `item` event per image as it ends, then `done` with the summary.
void Classify(const ClipRouteDeps& ctx, const HttpRequest& req, Responder respond) {
  auto parsed = ParseImageRequest(req);
  if (!parsed.ok()) return respond(V1Error(parsed.status()));
  auto fields = ParseClassifyFields(*parsed);
  if (!fields.ok()) return respond(V1Error(fields.status()));
  auto family = Family(ctx, fields->model);
  if (!family.ok()) return respond(V1Error(family.status()));
  const bool single = parsed->images.size() == 1 && !parsed->listed;
  auto streamed = StreamItems(fields->stream, respond, EncodeClassifyItem);
  tasks::ClassifyImages(*ctx.clip, **family, ctx.images, std::move(parsed->images), fields->params,
                        MakeRequestContext(req), streamed.on_item,
                        [respond, events = streamed.events, single](Result<tasks::ClassifyImagesResult> r) {
                          if (events) {
                            if (!r.ok()) return events->Fail(r.status());
                            return events->Finish("done", EncodeClassifyList(*r));
                          }
                          if (!r.ok()) return respond(V1Error(r.status()));
                          if (!single) return respond(BatchJson(EncodeClassifyList(*r), r->summary));
                          auto& item = r->items.front();
                          if (!item.status.ok()) return respond(V1Error(item.status));
                          item.timing.total_ms = r->summary.timing.total_ms;
                          respond(BatchJson(EncodeClassifySingle(r->model, item), r->summary));
                        });
}

// POST /v1/embed: many images (multipart files, JSON images / image_urls / image_paths), each
// answered in order with its embedding (and metadata when asked) or its own error. `stream=true`
// answers Server-Sent Events: an `item` event per image as it ends, then `done` with the summary.
void Embed(const ClipRouteDeps& ctx, const HttpRequest& req, Responder respond) {
  auto parsed = ParseImageRequest(req);
  if (!parsed.ok()) return respond(V1Error(parsed.status()));
  auto fields = ParseEmbedFields(*parsed);
  if (!fields.ok()) return respond(V1Error(fields.status()));
  auto family = Family(ctx, fields->model);
  if (!family.ok()) return respond(V1Error(family.status()));
  if (fields->captions && !ctx.captions_disabled) {
    const tasks::CaptionerFamily* captioner = ctx.captioners ? ctx.captioners->Find("") : nullptr;
    if (!captioner)
      return respond(V1Error(InvalidArgument("captions=true needs a captioning model; none is loaded")));
    auto job = tasks::PrepareCaption(*captioner, {});
    if (!job.ok()) return respond(V1Error(job.status()));
    fields->params.captioners = ctx.captioners;
    fields->params.captioner = captioner;
    fields->params.caption_job = std::move(job).value();
  }
  auto streamed = StreamItems(fields->stream, respond, EncodeEmbedItem);
  tasks::EmbedImages(*ctx.clip, **family, ctx.images, std::move(parsed->images), fields->params,
                     MakeRequestContext(req), streamed.on_item,
                     [respond, events = streamed.events](tasks::EmbedImagesResult r) {
                       if (events) return events->Finish("done", EncodeEmbedResponse(r));
                       respond(BatchJson(EncodeEmbedResponse(r), r.summary));
                     });
}

}  // namespace

void AddClipRoutes(RouteTable& routes, const ClipRouteDeps& ctx) {
  auto add = [&](const char* path, void (*fn)(const ClipRouteDeps&, const HttpRequest&, Responder)) {
    routes.Add("POST", path, [ctx, fn](const HttpRequest& req, const PathParams&, Responder respond) {
      fn(ctx, req, std::move(respond));
    });
  };
  add("/v1/tokenize", Tokenize);
  add("/v1/embeddings", Embeddings);
  add("/v1/classify", Classify);
  add("/v1/embed", Embed);
}

}  // namespace sightline::http
