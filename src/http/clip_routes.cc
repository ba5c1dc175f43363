// CLIP routes: /v1/embeddings (OpenAI-compatible, text and images), /v1/embed (many images,
// one result or error each), /v1/classify (zero-shot over labels or a configured label set) and
// /v1/tokenize (ids per input, to check tokenizer parity from outside).
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "core/base64.h"
#include "http/api_routes.h"
#include "http/error_response.h"
#include "media/image_metadata.h"
#include "observability/logger.h"

namespace sightline::http {
namespace {

namespace json = boost::json;
using observability::AppendJsonEscaped;
using Clock = std::chrono::steady_clock;

HttpResponse V1Error(const Status& s) {
  return ErrorResponse(s, ApiStyle::kV1);
}

HttpResponse Json(std::string body) {
  HttpResponse r;
  r.body = std::move(body);
  return r;
}

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

Result<const tasks::ClipFamily*> Family(const ApiContext& ctx, const std::string& name) {
  if (!ctx.clip || ctx.clip->empty())
    return NotFound(
        "no CLIP model is loaded (a folder with config.json and onnx/vision_model*.onnx, "
        "onnx/text_model*.onnx)");
  const auto* f = ctx.clip->Find(name);
  if (!f) return NotFound("unknown model '" + name + "'");
  return f;
}

Result<json::object> ParseObject(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return InvalidArgument("request body is not valid JSON: " + ec.message());
  if (!v.is_object()) return InvalidArgument("request body must be a JSON object");
  return std::move(v.get_object());
}

// A string or a list of strings.
Result<std::vector<std::string>> Strings(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  if (!v) return InvalidArgument(std::string("'") + key + "' is required");
  std::vector<std::string> out;
  if (v->is_string()) {
    out.emplace_back(v->get_string());
  } else if (v->is_array()) {
    for (const auto& x : v->get_array()) {
      if (!x.is_string())
        return InvalidArgument(std::string("'") + key + "' must be a string or a list of strings");
      out.emplace_back(x.get_string());
    }
  } else {
    return InvalidArgument(std::string("'") + key + "' must be a string or a list of strings");
  }
  if (out.empty()) return InvalidArgument(std::string("'") + key + "' is empty");
  if (out.size() > 2048) return InvalidArgument(std::string("'") + key + "' has more than 2048 items");
  return out;
}

std::string StringOr(const json::object& o, const char* key, std::string dflt = "") {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : dflt;
}

void AppendFloats(std::string& out, const tasks::Embedding& e) {
  out += '[';
  char buf[32];
  for (size_t i = 0; i < e.size(); ++i) {
    if (i) out += ',';
    std::snprintf(buf, sizeof buf, "%.8g", static_cast<double>(e[i]));
    out += buf;
  }
  out += ']';
}

// OpenAI's `dimensions`: keep the first n and re-normalise (Matryoshka-style truncation).
void Truncate(tasks::Embedding& e, size_t n) {
  if (n > 0 && n < e.size()) {
    e.resize(n);
    tasks::Normalize(e);
  }
}

void Tokenize(const ApiContext& ctx, const HttpRequest& req, Responder respond) {
  auto body = ParseObject(req.body);
  if (!body.ok()) return respond(V1Error(body.status()));
  auto family = Family(ctx, StringOr(*body, "model"));
  if (!family.ok()) return respond(V1Error(family.status()));
  auto texts = Strings(*body, "input");
  if (!texts.ok()) return respond(V1Error(texts.status()));
  auto ids = ctx.clip->Tokenize(**family, *texts);
  if (!ids.ok()) return respond(V1Error(ids.status()));
  std::string out = "{\"model\":\"";
  AppendJsonEscaped(out, (*family)->name);
  out += "\",\"tokens\":[";
  for (size_t i = 0; i < ids->size(); ++i) {
    if (i) out += ',';
    out += '[';
    for (size_t k = 0; k < (*ids)[i].size(); ++k) {
      if (k) out += ',';
      out += std::to_string((*ids)[i][k]);
    }
    out += ']';
  }
  respond(Json(out + "]}"));
}

// POST /v1/embeddings: {"model", "input": str | [str], "modality"?: "text" | "image",
// "encoding_format"?: "float" | "base64", "dimensions"?: n}. Images are data: URIs or URLs;
// without `modality`, data:image URIs are images and everything else is text.
void Embeddings(const ApiContext& ctx, const HttpRequest& req, Responder respond) {
  auto body = ParseObject(req.body);
  if (!body.ok()) return respond(V1Error(body.status()));
  auto family = Family(ctx, StringOr(*body, "model"));
  if (!family.ok()) return respond(V1Error(family.status()));
  auto inputs = Strings(*body, "input");
  if (!inputs.ok()) return respond(V1Error(inputs.status()));
  const std::string modality = StringOr(*body, "modality");
  if (!modality.empty() && modality != "text" && modality != "image")
    return respond(V1Error(InvalidArgument("modality must be text or image, not '" + modality + "'")));
  const std::string format = StringOr(*body, "encoding_format", "float");
  if (format != "float" && format != "base64")
    return respond(V1Error(InvalidArgument("encoding_format must be float or base64, not '" + format + "'")));
  size_t dims = 0;
  if (const auto* d = body->if_contains("dimensions"); d && !d->is_null()) {
    if (!d->is_int64() || d->get_int64() <= 0)
      return respond(V1Error(InvalidArgument("dimensions must be a positive integer")));
    dims = static_cast<size_t>(d->get_int64());
  }
  const tasks::ClipFamily& f = **family;
  struct State {
    std::mutex mu;
    std::vector<tasks::Embedding> out;
    size_t left = 0;
    bool failed = false;
    int64_t tokens = 0;
  };
  auto st = std::make_shared<State>();
  st->out.resize(inputs->size());
  std::vector<size_t> text_idx;
  std::vector<std::pair<size_t, ImageSource>> images;
  for (size_t i = 0; i < inputs->size(); ++i) {
    const std::string& in = (*inputs)[i];
    const bool image = modality == "image" || (modality.empty() && in.rfind("data:image/", 0) == 0);
    if (!image) {
      text_idx.push_back(i);
      continue;
    }
    ImageSource src;
    src.label = "input[" + std::to_string(i) + "]";
    if (in.rfind("data:", 0) == 0) {
      const auto comma = in.find(',');
      auto bytes =
          comma == std::string::npos ? std::nullopt : Base64Decode(std::string_view(in).substr(comma + 1));
      if (!bytes || bytes->empty())
        return respond(V1Error(InvalidArgument(src.label + ": not a base64 data: URI")));
      src.kind = ImageSource::Kind::kBytes;
      src.value = std::move(*bytes);
    } else if (in.rfind("http://", 0) == 0 || in.rfind("https://", 0) == 0) {
      src.kind = ImageSource::Kind::kUrl;
      src.value = in;
    } else {
      return respond(
          V1Error(InvalidArgument(src.label + ": an image must be a data: URI or an http(s) URL")));
    }
    images.emplace_back(i, std::move(src));
  }
  st->left = (text_idx.empty() ? 0 : 1) + images.size();
  auto finish_one = [st, respond, dims, format, name = f.name](std::optional<Status> error) {
    std::lock_guard lock(st->mu);
    if (st->failed) return;
    if (error) {
      st->failed = true;
      return respond(V1Error(*error));
    }
    if (--st->left > 0) return;
    std::string out = "{\"object\":\"list\",\"data\":[";
    for (size_t i = 0; i < st->out.size(); ++i) {
      auto& e = st->out[i];
      Truncate(e, dims);
      if (i) out += ',';
      out += "{\"object\":\"embedding\",\"index\":" + std::to_string(i) + ",\"embedding\":";
      if (format == "base64") {
        out +=
            '"' + Base64Encode(std::string_view(reinterpret_cast<const char*>(e.data()), e.size() * 4)) + '"';
      } else {
        AppendFloats(out, e);
      }
      out += '}';
    }
    out += "],\"model\":\"";
    AppendJsonEscaped(out, name);
    out += "\",\"usage\":{\"prompt_tokens\":" + std::to_string(st->tokens) +
           ",\"total_tokens\":" + std::to_string(st->tokens) + "}}";
    respond(Json(std::move(out)));
  };
  tasks::TensorInferOptions opts;
  opts.cancelled = req.cancel;
  if (!text_idx.empty()) {
    std::vector<std::string> texts;
    for (size_t i : text_idx) texts.push_back((*inputs)[i]);
    ctx.clip->EmbedTexts(f, std::move(texts), opts,
                         [st, text_idx, finish_one](Result<tasks::TextEmbeddings> r) {
                           if (!r.ok()) return finish_one(r.status());
                           {
                             std::lock_guard lock(st->mu);
                             st->tokens = r->tokens;
                             for (size_t k = 0; k < text_idx.size(); ++k)
                               st->out[text_idx[k]] = std::move(r->vectors[k]);
                           }
                           finish_one(std::nullopt);
                         });
  }
  for (auto& [i, src] : images) {
    ResolveImageSource(
        ctx, std::move(src), req.cancel,
        [ctx, fp = &f, opts, st, i, finish_one](Result<std::shared_ptr<const std::string>> bytes) {
          if (!bytes.ok()) return finish_one(bytes.status());
          ctx.clip->EmbedImage(*fp, *bytes, opts, [st, i, finish_one](Result<tasks::ImageEmbedding> e) {
            if (!e.ok()) return finish_one(e.status());
            {
              std::lock_guard lock(st->mu);
              st->out[i] = std::move(e.value().embedding);
            }
            finish_one(std::nullopt);
          });
        });
  }
}

// Labels from the request: `labels` (JSON list, or comma-separated text) or `label_set` (a set
// named in the model's config).
Result<std::vector<std::string>> Labels(const tasks::ClipFamily& f, const ImageRequest& r) {
  for (const auto& [k, v] : r.lists)
    if (k == "labels") return v;
  std::vector<std::string> out;
  for (const auto& [k, v] : r.fields) {
    if (k == "labels") {
      size_t pos = 0;
      while (pos <= v.size()) {
        size_t comma = v.find(',', pos);
        if (comma == std::string::npos) comma = v.size();
        std::string item = v.substr(pos, comma - pos);
        while (!item.empty() && item.front() == ' ') item.erase(item.begin());
        while (!item.empty() && item.back() == ' ') item.pop_back();
        if (!item.empty()) out.push_back(item);
        pos = comma + 1;
      }
      return out;
    }
    if (k == "label_set") {
      auto it = f.label_sets.find(v);
      if (it == f.label_sets.end()) return NotFound("model '" + f.name + "' has no label set '" + v + "'");
      return it->second;
    }
  }
  return InvalidArgument("give labels (a list) or label_set (a name from the model's config)");
}

std::string Field(const ImageRequest& r, const std::string& key) {
  for (const auto& [k, v] : r.fields)
    if (k == key) return v;
  return {};
}

// POST /v1/classify: one image (any way in) + labels -> top-k labels with probabilities.
void Classify(const ApiContext& ctx, const HttpRequest& req, Responder respond) {
  const auto start = Clock::now();
  auto parsed = ParseImageRequest(req);
  if (!parsed.ok()) return respond(V1Error(parsed.status()));
  for (const auto& [k, v] : parsed->fields)
    if (k != "model" && k != "labels" && k != "label_set" && k != "prompt_template" && k != "top_k" &&
        k != "metadata" && k != "ensemble" && k != "clip_timeout_ms")
      return respond(V1Error(
          InvalidArgument("unknown parameter '" + k +
                          "' (expected labels, label_set, prompt_template, top_k, metadata, model)")));
  const std::string md_flag = Field(*parsed, "metadata");
  const bool metadata = md_flag == "true" || md_flag == "1";
  auto family = Family(ctx, Field(*parsed, "model"));
  if (!family.ok()) return respond(V1Error(family.status()));
  if (parsed->images.size() != 1)
    return respond(
        V1Error(InvalidArgument("send exactly one image; got " + std::to_string(parsed->images.size()))));
  auto labels = Labels(**family, *parsed);
  if (!labels.ok()) return respond(V1Error(labels.status()));
  if (labels->empty() || labels->size() > 1000)
    return respond(V1Error(InvalidArgument("give between 1 and 1000 labels")));
  size_t top_k = labels->size();
  if (const std::string k = Field(*parsed, "top_k"); !k.empty()) {
    char* end = nullptr;
    const long v = std::strtol(k.c_str(), &end, 10);
    if (*end || v <= 0) return respond(V1Error(InvalidArgument("top_k must be a positive integer")));
    top_k = std::min(top_k, static_cast<size_t>(v));
  }
  const std::string tmpl = Field(*parsed, "prompt_template");
  // A label set paired with a classifier runs the confidence-gated ensemble (ensemble=false: CLIP
  // alone).
  const std::string set = Field(*parsed, "label_set");
  const std::string ens_flag = Field(*parsed, "ensemble");
  if (!set.empty() && (*family)->ensembles.count(set) && ens_flag != "false" && ens_flag != "0") {
    int64_t clip_timeout_ms = 0;
    if (const std::string t = Field(*parsed, "clip_timeout_ms"); !t.empty()) {
      char* end = nullptr;
      clip_timeout_ms = std::strtoll(t.c_str(), &end, 10);
      if (*end || clip_timeout_ms <= 0)
        return respond(V1Error(InvalidArgument("clip_timeout_ms must be a positive integer")));
    }
    tasks::TensorInferOptions eo;
    eo.cancelled = req.cancel;
    const tasks::ClipFamily* fe = *family;
    return ResolveImageSource(
        ctx, std::move(parsed->images[0]), req.cancel,
        [ctx, fe, set, clip_timeout_ms, eo, respond, top_k,
         start](Result<std::shared_ptr<const std::string>> bytes) {
          if (!bytes.ok()) return respond(V1Error(bytes.status()));
          ctx.clip->ClassifyEnsemble(
              *fe, set, *bytes, clip_timeout_ms, eo,
              [respond, top_k, start, name = fe->name](Result<tasks::EnsembleResult> r) {
                if (!r.ok()) return respond(V1Error(r.status()));
                auto list = [&](const std::vector<tasks::LabelScore>& v, size_t k) {
                  std::string out = "[";
                  char buf[96];
                  for (size_t i = 0; i < std::min(k, v.size()); ++i) {
                    if (i) out += ',';
                    out += "{\"label\":\"";
                    AppendJsonEscaped(out, v[i].label);
                    std::snprintf(buf, sizeof buf, "\",\"probability\":%.8g}", v[i].probability);
                    out += buf;
                  }
                  return out + "]";
                };
                std::string out = "{\"model\":\"";
                AppendJsonEscaped(out, name);
                out += "\",\"labels\":" + list(r->labels, top_k) +
                       ",\"vlm_used\":" + (r->vlm_used ? "true" : "false");
                out += ",\"reason\":\"";
                AppendJsonEscaped(out, r->reason);
                out += "\",\"classifier\":" + list(r->classifier, r->classifier.size());
                if (r->vlm_used) out += ",\"clip\":" + list(r->clip, r->clip.size());
                char buf[64];
                std::snprintf(buf, sizeof buf, ",\"timing\":{\"total_ms\":%.3f}}", Ms(Clock::now() - start));
                respond(Json(out + buf));
              });
        });
  }
  tasks::TensorInferOptions opts;
  opts.cancelled = req.cancel;
  const tasks::ClipFamily* f = *family;
  ResolveImageSource(
      ctx, std::move(parsed->images[0]), req.cancel,
      [ctx, f, labels = *labels, tmpl, opts, respond, top_k, start,
       metadata](Result<std::shared_ptr<const std::string>> bytes) {
        if (!bytes.ok()) return respond(V1Error(bytes.status()));
        auto image = *bytes;
        ctx.clip->Classify(
            *f, image, labels, tmpl, opts,
            [respond, top_k, start, name = f->name, metadata,
             image](Result<std::vector<tasks::LabelScore>> r) {
              if (!r.ok()) return respond(V1Error(r.status()));
              std::string out = "{\"model\":\"";
              AppendJsonEscaped(out, name);
              out += "\",\"labels\":[";
              char buf[96];
              for (size_t i = 0; i < std::min(top_k, r->size()); ++i) {
                if (i) out += ',';
                out += "{\"label\":\"";
                AppendJsonEscaped(out, (*r)[i].label);
                std::snprintf(buf, sizeof buf, "\",\"probability\":%.8g,\"similarity\":%.8g}",
                              (*r)[i].probability, (*r)[i].similarity);
                out += buf;
              }
              out += ']';
              if (metadata) {
                auto md =
                    media::ReadImageMetadata(reinterpret_cast<const uint8_t*>(image->data()), image->size());
                if (md.ok()) {
                  out += ",\"metadata\":";
                  AppendMetadataJson(out, *md);
                }
              }
              std::snprintf(buf, sizeof buf, ",\"timing\":{\"total_ms\":%.3f}}", Ms(Clock::now() - start));
              respond(Json(out + buf));
            });
      });
}

// POST /v1/embed: many images (multipart files, JSON images / image_urls / image_paths), each
// answered in order with its embedding (and metadata when asked) or its own error.
void Embed(const ApiContext& ctx, const HttpRequest& req, Responder respond) {
  const auto start = Clock::now();
  auto parsed = ParseImageRequest(req);
  if (!parsed.ok()) return respond(V1Error(parsed.status()));
  bool metadata = false, captions = false;
  for (const auto& [k, v] : parsed->fields) {
    if (k == "metadata") {
      metadata = v == "true" || v == "1";
    } else if (k == "captions") {
      captions = v == "true" || v == "1";
    } else if (k != "model") {
      return respond(
          V1Error(InvalidArgument("unknown parameter '" + k + "' (expected model, metadata, captions)")));
    }
  }
  if (captions)
    return respond(V1Error(InvalidArgument("captions=true needs a captioning model; none is configured")));
  auto family = Family(ctx, Field(*parsed, "model"));
  if (!family.ok()) return respond(V1Error(family.status()));
  const size_t n = parsed->images.size();
  if (n == 0) return respond(V1Error(InvalidArgument("send at least one image")));
  if (n > 1024) return respond(V1Error(InvalidArgument("at most 1024 images per request")));
  struct State {
    std::mutex mu;
    std::vector<std::string> items;
    size_t left = 0;
    size_t ok = 0;
    double download_ms = 0, decode_ms = 0, queue_ms = 0, infer_ms = 0;  // summed over items
    size_t cache_hits = 0;
  };
  auto st = std::make_shared<State>();
  st->items.resize(n);
  st->left = n;
  const tasks::ClipFamily* f = *family;
  tasks::TensorInferOptions opts;
  opts.cancelled = req.cancel;
  auto complete = [st, respond, start, n, name = f->name](size_t i, std::string item, bool ok) {
    std::lock_guard lock(st->mu);
    st->items[i] = std::move(item);
    st->ok += ok ? 1 : 0;
    if (--st->left > 0) return;
    std::string out = "{\"object\":\"list\",\"model\":\"";
    AppendJsonEscaped(out, name);
    out += "\",\"data\":[";
    for (size_t k = 0; k < st->items.size(); ++k) {
      if (k) out += ',';
      out += st->items[k];
    }
    const double ms = Ms(Clock::now() - start);
    char buf[400];
    // Stage times are summed over items (they overlap in wall time); total is wall time.
    std::snprintf(buf, sizeof buf,
                  "],\"succeeded\":%zu,\"failed\":%zu,\"cache_hits\":%zu,\"timing\":{\"download_ms\":%.3f,"
                  "\"decode_ms\":%.3f,\"queue_ms\":%.3f,\"inference_ms\":%.3f,\"total_ms\":%.3f},"
                  "\"images_per_s\":%.3f}",
                  st->ok, n - st->ok, st->cache_hits, st->download_ms, st->decode_ms, st->queue_ms,
                  st->infer_ms, ms, ms > 0 ? static_cast<double>(n) * 1000.0 / ms : 0.0);
    respond(Json(out + buf));
  };
  for (size_t i = 0; i < n; ++i) {
    const std::string label = parsed->images[i].label;
    const auto fetch_start = Clock::now();
    ResolveImageSource(
        ctx, std::move(parsed->images[i]), req.cancel,
        [ctx, f, opts, i, label, metadata, complete, st,
         fetch_start](Result<std::shared_ptr<const std::string>> bytes) {
          {
            std::lock_guard lock(st->mu);
            st->download_ms += Ms(Clock::now() - fetch_start);
          }
          auto fail = [i, label, complete](const Status& s) {
            std::string item = "{\"index\":" + std::to_string(i) + ",\"error\":";
            AppendErrorObject(item, Status(s.code(), label + ": " + s.message()));
            complete(i, item + "}", false);
          };
          if (!bytes.ok()) return fail(bytes.status());
          auto b = *bytes;
          ctx.clip->EmbedImage(
              *f, b, opts, [i, b, metadata, complete, st, fail](Result<tasks::ImageEmbedding> e) {
                if (!e.ok()) return fail(e.status());
                {
                  std::lock_guard lock(st->mu);
                  st->decode_ms += e->decode_ms;
                  st->queue_ms += e->queue_ms;
                  st->infer_ms += e->infer_ms;
                  st->cache_hits += e->cache_hit ? 1 : 0;
                }
                std::string item = "{\"index\":" + std::to_string(i) + ",\"embedding\":";
                AppendFloats(item, e->embedding);
                if (metadata) {
                  auto md = media::ReadImageMetadata(reinterpret_cast<const uint8_t*>(b->data()), b->size());
                  if (md.ok()) {
                    item += ",\"metadata\":";
                    AppendMetadataJson(item, *md);
                  }
                }
                complete(i, item + ",\"caption\":null}", true);
              });
        });
  }
}

}  // namespace

void AddClipRoutes(Router& router, const ApiContext& ctx) {
  auto add = [&](const char* path, void (*fn)(const ApiContext&, const HttpRequest&, Responder)) {
    router.Add("POST", path, [ctx, fn](const HttpRequest& req, const PathParams&, Responder respond) {
      fn(ctx, req, std::move(respond));
    });
  };
  add("/v1/tokenize", Tokenize);
  add("/v1/embeddings", Embeddings);
  add("/v1/classify", Classify);
  add("/v1/embed", Embed);
}

}  // namespace sightline::http
