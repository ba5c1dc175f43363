#include "http/v1_codec.h"

#include <algorithm>
#include <boost/json.hpp>

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "core/base64.h"
#include "http/error_json.h"
#include "http/request_fields.h"
#include "tasks/clip.h"

namespace sightline::http {
namespace json = boost::json;

namespace {

Result<json::object> ParseObject(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec) return InvalidArgument("request body is not valid JSON: " + ec.message());
  if (!v.is_object()) return InvalidArgument("request body must be a JSON object");
  return std::move(v.get_object());
}

Result<std::string> OptionalString(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::string();
  if (!v->is_string()) return InvalidArgument(std::string("'") + key + "' must be a string");
  return std::string(v->get_string());
}

// A prompt is tokenized whole before its length is known: one far past every context is refused.
Status CheckTextBytes(const std::string& what, size_t bytes) {
  if (bytes <= kMaxTextBytes) return Status::Ok();
  return Status(StatusCode::kPayloadTooLarge,
                what + " is " + std::to_string(bytes) + " bytes; at most " + std::to_string(kMaxTextBytes))
      .WithKind(ErrorKind::kLimitExceeded);
}

// A string or a list of strings, 1..kMaxTextInputs of them.
Result<std::vector<std::string>> Strings(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  if (!v) return InvalidArgument(std::string("'") + key + "' is required");
  std::vector<std::string> out;
  const std::string bad = std::string("'") + key + "' must be a string or a list of strings";
  if (v->is_string()) {
    out.emplace_back(v->get_string());
  } else if (v->is_array()) {
    const auto& a = v->get_array();
    if (a.size() > kMaxTextInputs)
      return Status(StatusCode::kPayloadTooLarge, std::string("'") + key + "' has " +
                                                      std::to_string(a.size()) + " items; at most " +
                                                      std::to_string(kMaxTextInputs) + " per request")
          .WithKind(ErrorKind::kLimitExceeded);
    for (const auto& x : a) {
      if (!x.is_string()) return InvalidArgument(bad);
      out.emplace_back(x.get_string());
    }
  } else {
    return InvalidArgument(bad);
  }
  if (out.empty()) return InvalidArgument(std::string("'") + key + "' is empty");
  // Tokenizing costs ~0.5 s a MiB for one long word, and the answer only keeps the model's context
  // (77 tokens for CLIP): a text far past any context is refused rather than tokenized whole.
  for (size_t i = 0; i < out.size(); ++i)
    RETURN_IF_ERROR(CheckTextBytes(
        std::string("'") + key + "'" + (v->is_array() ? "[" + std::to_string(i) + "]" : ""), out[i].size()));
  return out;
}

// A float as the shortest decimal that reads back as the same float (so 0.1f is 0.1, not
// 0.10000000149011612), held as a JSON number.
json::value FloatValue(float f) {
  if (!std::isfinite(f)) return nullptr;
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, f);
  *r.ptr = '\0';
  return std::strtod(buf, nullptr);
}

json::array FloatArray(const std::vector<float>& v) {
  json::array a;
  a.reserve(v.size());
  for (float f : v) a.push_back(FloatValue(f));
  return a;
}

// Probabilities and similarities to 8 significant digits, as before.
json::value Number8(double d) {
  if (!std::isfinite(d)) return nullptr;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.8g", d);
  return std::strtod(buf, nullptr);
}

json::value Ms(double ms) {
  return std::round(ms * 1000.0) / 1000.0;
}

json::object MetadataValue(const media::ImageMetadata& m) {
  json::object o;
  o["format"] = m.format;
  o["width"] = m.width;
  o["height"] = m.height;
  o["orientation"] = m.orientation;
  if (m.make) o["make"] = *m.make;
  if (m.model) o["model"] = *m.model;
  if (m.lens) o["lens"] = *m.lens;
  if (m.captured_at) o["captured_at"] = *m.captured_at;
  if (m.latitude && m.longitude) {
    json::object g;
    g["latitude"] = std::round(*m.latitude * 1e7) / 1e7;
    g["longitude"] = std::round(*m.longitude * 1e7) / 1e7;
    if (m.altitude_m) g["altitude_m"] = Number8(*m.altitude_m);
    o["gps"] = std::move(g);
  }
  if (m.exposure_time_s) o["exposure_time_s"] = Number8(*m.exposure_time_s);
  if (m.f_number) o["f_number"] = Number8(*m.f_number);
  if (m.focal_length_mm) o["focal_length_mm"] = Number8(*m.focal_length_mm);
  if (m.iso) o["iso"] = *m.iso;
  return o;
}

json::array LabelList(const std::vector<tasks::LabelScore>& v, bool similarity) {
  json::array a;
  for (const auto& s : v) {
    json::object o;
    o["label"] = s.label;
    o["probability"] = Number8(s.probability);
    if (similarity) o["similarity"] = Number8(s.similarity);
    a.push_back(std::move(o));
  }
  return a;
}

json::object TimingValue(const tasks::StageTiming& t) {
  json::object o;
  o["download_ms"] = Ms(t.download_ms);
  o["decode_ms"] = Ms(t.decode_ms);
  o["queue_ms"] = Ms(t.queue_ms);
  o["inference_ms"] = Ms(t.inference_ms);
  o["total_ms"] = Ms(t.total_ms);
  return o;
}

void PutSummary(json::object& o, const tasks::BatchSummary& s) {
  o["succeeded"] = s.succeeded;
  o["failed"] = s.failed;
  o["cache_hits"] = s.cache_hits;
  o["timing"] = TimingValue(s.timing);
  o["images_per_s"] = Ms(s.images_per_s);
}

Result<int64_t> PositiveInt(const std::string& field, const std::string& v) {
  int64_t x = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), x);
  if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size() || x <= 0)
    return InvalidArgument(field + " must be a positive integer");
  return x;
}

Status CheckImageCount(const ImageRequest& r) {
  if (r.images.empty()) return InvalidArgument("send at least one image");
  if (r.images.size() > kMaxImages)
    return Status(StatusCode::kPayloadTooLarge, "at most " + std::to_string(kMaxImages) +
                                                    " images per request; got " +
                                                    std::to_string(r.images.size()))
        .WithKind(ErrorKind::kLimitExceeded);
  return Status::Ok();
}

}  // namespace

Result<bool> ParseFlag(const std::string& field, const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0" || v.empty()) return false;
  return InvalidArgument(field + " must be true or false, not '" + v + "'");
}

Result<EmbeddingsRequest> ParseEmbeddingsRequest(std::string_view body) {
  ASSIGN_OR_RETURN(auto o, ParseObject(body));
  EmbeddingsRequest r;
  ASSIGN_OR_RETURN(r.model, OptionalString(o, "model"));
  ASSIGN_OR_RETURN(r.input, Strings(o, "input"));
  ASSIGN_OR_RETURN(r.modality, OptionalString(o, "modality"));
  if (!r.modality.empty() && r.modality != "text" && r.modality != "image")
    return InvalidArgument("modality must be text or image, not '" + r.modality + "'");
  ASSIGN_OR_RETURN(std::string format, OptionalString(o, "encoding_format"));
  if (!format.empty()) r.encoding_format = format;
  if (r.encoding_format != "float" && r.encoding_format != "base64")
    return InvalidArgument("encoding_format must be float or base64, not '" + r.encoding_format + "'");
  if (const auto* d = o.if_contains("dimensions"); d && !d->is_null()) {
    if (!d->is_int64() || d->get_int64() <= 0)
      return InvalidArgument("dimensions must be a positive integer");
    r.dimensions = static_cast<size_t>(d->get_int64());
  }
  return r;
}

Result<TokenizeRequest> ParseTokenizeRequest(std::string_view body) {
  ASSIGN_OR_RETURN(auto o, ParseObject(body));
  TokenizeRequest r;
  ASSIGN_OR_RETURN(r.model, OptionalString(o, "model"));
  ASSIGN_OR_RETURN(r.input, Strings(o, "input"));
  return r;
}

Result<SplitInputs> SplitEmbeddingInputs(EmbeddingsRequest& r) {
  SplitInputs out;
  for (size_t i = 0; i < r.input.size(); ++i) {
    std::string& in = r.input[i];
    const bool image = r.modality == "image" || (r.modality.empty() && in.rfind("data:image/", 0) == 0);
    if (!image) {
      out.text_index.push_back(i);
      out.texts.push_back(std::move(in));
      continue;
    }
    sources::ImageSource src;
    src.label = "input[" + std::to_string(i) + "]";
    if (in.rfind("data:", 0) == 0) {
      const auto comma = in.find(',');
      auto bytes =
          comma == std::string::npos ? std::nullopt : Base64Decode(std::string_view(in).substr(comma + 1));
      if (!bytes || bytes->empty()) return InvalidArgument(src.label + ": not a base64 data: URI");
      src.kind = sources::ImageSource::Kind::kBytes;
      src.value = std::move(*bytes);
    } else if (in.rfind("http://", 0) == 0 || in.rfind("https://", 0) == 0) {
      src.kind = sources::ImageSource::Kind::kUrl;
      src.value = std::move(in);
    } else {
      return InvalidArgument(src.label + ": an image must be a data: URI or an http(s) URL");
    }
    out.image_index.push_back(i);
    out.images.push_back(std::move(src));
  }
  return out;
}

std::string EncodeEmbeddingsResponse(const EmbeddingsRequest& request, const std::string& model,
                                     std::vector<std::vector<float>> vectors, int64_t prompt_tokens) {
  json::array data;
  data.reserve(vectors.size());
  for (size_t i = 0; i < vectors.size(); ++i) {
    auto& e = vectors[i];
    // OpenAI's `dimensions`: keep the first n and re-normalise (Matryoshka-style truncation).
    if (request.dimensions > 0 && request.dimensions < e.size()) {
      e.resize(request.dimensions);
      tasks::Normalize(e);
    }
    json::object item;
    item["object"] = "embedding";
    item["index"] = i;
    if (request.encoding_format == "base64")
      item["embedding"] =
          Base64Encode(std::string_view(reinterpret_cast<const char*>(e.data()), e.size() * 4));
    else
      item["embedding"] = FloatArray(e);
    data.push_back(std::move(item));
  }
  json::object o;
  o["object"] = "list";
  o["data"] = std::move(data);
  o["model"] = model;
  o["usage"] = {{"prompt_tokens", prompt_tokens}, {"total_tokens", prompt_tokens}};
  return json::serialize(o);
}

std::string EncodeTokenizeResponse(const std::string& model, const std::vector<std::vector<int64_t>>& ids) {
  json::array tokens;
  for (const auto& row : ids) tokens.push_back(json::array(row.begin(), row.end()));
  json::object o;
  o["model"] = model;
  o["tokens"] = std::move(tokens);
  return json::serialize(o);
}

Result<EmbedRequestFields> ParseEmbedFields(const ImageRequest& r) {
  RETURN_IF_ERROR(
      RejectUnknown(r, {"model", "metadata", "captions", "stream"}, "model, metadata, captions, stream"));
  EmbedRequestFields f;
  f.model = Field(r, "model");
  ASSIGN_OR_RETURN(f.params.metadata, ParseFlag("metadata", Field(r, "metadata")));
  ASSIGN_OR_RETURN(f.captions, ParseFlag("captions", Field(r, "captions")));
  ASSIGN_OR_RETURN(f.stream, ParseFlag("stream", Field(r, "stream")));
  RETURN_IF_ERROR(CheckImageCount(r));
  return f;
}

namespace {

void PutEmbedFields(json::object& o, const tasks::EmbeddedImage& item) {
  o["embedding"] = FloatArray(item.embedding);
  if (item.metadata) o["metadata"] = MetadataValue(*item.metadata);
  if (item.caption) {
    o["caption"] = *item.caption;
  } else {
    o["caption"] = nullptr;
  }
}

void PutClassifyFields(json::object& o, const tasks::ClassifiedImage& item) {
  if (item.ensemble) {
    const auto& e = *item.ensemble;
    o["labels"] = LabelList(item.labels, false);
    o["clip_used"] = e.vlm_used;
    o["vlm_used"] = e.vlm_used;  // the older name of clip_used, kept for existing clients
    o["reason"] = e.reason;
    o["classifier"] = LabelList(e.classifier, false);
    if (e.vlm_used) o["clip"] = LabelList(e.clip, false);
  } else {
    o["labels"] = LabelList(item.labels, true);
  }
  if (item.metadata) o["metadata"] = MetadataValue(*item.metadata);
}

// One entry of a many-image answer: {"index", <the item's fields>} or {"index", "error"}.
template <typename Item>
json::object Indexed(size_t index, const Item& item, void (*put_fields)(json::object&, const Item&)) {
  json::object o;
  o["index"] = index;
  if (item.status.ok())
    put_fields(o, item);
  else
    o["error"] = ErrorObject(item.status);
  return o;
}

// {"object":"list","model","data":[entries],"succeeded",...}.
template <typename Result, typename Item>
std::string ItemList(const Result& result, void (*put_fields)(json::object&, const Item&)) {
  json::array data;
  data.reserve(result.items.size());
  for (size_t i = 0; i < result.items.size(); ++i) data.push_back(Indexed(i, result.items[i], put_fields));
  json::object o;
  o["object"] = "list";
  o["model"] = result.model;
  o["data"] = std::move(data);
  PutSummary(o, result.summary);
  return json::serialize(o);
}

}  // namespace

namespace {

// An integer field in [lo, hi]; absent: nullopt.
void PutCaptionFields(json::object& o, const tasks::CaptionedImage& item) {
  o["text"] = item.text;
  o["finish_reason"] = item.finish_reason;
  o["usage"] = json::object{{"prompt_tokens", item.prompt_tokens},
                            {"completion_tokens", item.completion_tokens},
                            {"total_tokens", item.prompt_tokens + item.completion_tokens}};
  json::object timing = TimingValue(item.timing);
  timing["first_token_ms"] = Ms(item.first_token_ms);
  o["timing"] = std::move(timing);
}

}  // namespace

Result<CaptionRequestFields> ParseCaptionFields(const ImageRequest& r) {
  RETURN_IF_ERROR(RejectUnknown(r,
                                {"model", "prompt", "max_new_tokens", "max_tokens", "min_new_tokens",
                                 "do_sample", "temperature", "top_k", "top_p", "seed", "repetition_penalty",
                                 "no_repeat_ngram_size", "num_beams", "length_penalty", "stop"},
                                "model, prompt, max_new_tokens (max_tokens), min_new_tokens, do_sample, "
                                "temperature, top_k, top_p, seed, "
                                "repetition_penalty, no_repeat_ngram_size, num_beams, length_penalty, stop"));
  if (std::find(r.non_strings.begin(), r.non_strings.end(), "stop") != r.non_strings.end())
    return InvalidArgument("stop must be a string or a list of up to 4 strings");
  CaptionRequestFields f;
  ASSIGN_OR_RETURN(f.model, TextField(r, "model"));
  ASSIGN_OR_RETURN(f.params.prompt, TextField(r, "prompt"));
  RETURN_IF_ERROR(CheckTextBytes("prompt", f.params.prompt.size()));
  auto& g = f.params.generation;
  constexpr int64_t kBig = 1 << 30;
  ASSIGN_OR_RETURN(g.max_new_tokens, IntField(r, "max_new_tokens", 1, tasks::kMaxNewTokensLimit));
  if (!g.max_new_tokens) {
    ASSIGN_OR_RETURN(g.max_new_tokens, IntField(r, "max_tokens", 1, tasks::kMaxNewTokensLimit));
  }
  ASSIGN_OR_RETURN(g.min_new_tokens, IntField(r, "min_new_tokens", 0, tasks::kMaxNewTokensLimit));
  ASSIGN_OR_RETURN(g.top_k, IntField(r, "top_k", 0, kBig));
  ASSIGN_OR_RETURN(g.num_beams, IntField(r, "num_beams", 1, 16));
  ASSIGN_OR_RETURN(g.no_repeat_ngram_size, IntField(r, "no_repeat_ngram_size", 0, 64));
  ASSIGN_OR_RETURN(g.temperature, NumberField(r, "temperature"));
  ASSIGN_OR_RETURN(g.top_p, NumberField(r, "top_p"));
  ASSIGN_OR_RETURN(g.repetition_penalty, NumberField(r, "repetition_penalty"));
  ASSIGN_OR_RETURN(g.length_penalty, NumberField(r, "length_penalty"));
  if (const std::string v = Field(r, "do_sample"); !v.empty()) {
    ASSIGN_OR_RETURN(bool b, ParseFlag("do_sample", v));
    g.do_sample = b;
  }
  if (const std::string v = Field(r, "seed"); !v.empty()) {
    uint64_t x = 0;
    const auto res = std::from_chars(v.data(), v.data() + v.size(), x);
    if (res.ec != std::errc() || res.ptr != v.data() + v.size())
      return InvalidArgument("seed must be a non-negative integer, not '" + v + "'");
    g.seed = x;
  }
  bool listed = false;
  for (const auto& [k, v] : r.lists)
    if (k == "stop") {
      g.stop = v;
      listed = true;
    }
  if (!listed)
    for (const auto& [k, v] : r.fields)
      if (k == "stop") g.stop = {v};  // one string (an empty one is refused with the list's rule)
  if (g.stop.size() > 4) return InvalidArgument("stop: at most 4 strings");
  RETURN_IF_ERROR(CheckImageCount(r));
  return f;
}

std::string EncodeCaptionResponse(const tasks::CaptionImagesResult& result) {
  return ItemList(result, PutCaptionFields);
}

Result<ChatCompletionRequest> ParseChatCompletionRequest(std::string_view body) {
  ASSIGN_OR_RETURN(auto o, ParseObject(body));
  ChatCompletionRequest r;
  ASSIGN_OR_RETURN(r.model, OptionalString(o, "model"));
  const auto* messages = o.if_contains("messages");
  if (!messages || !messages->is_array() || messages->get_array().empty())
    return InvalidArgument("messages must be a non-empty list");
  // Every message is rendered through the chat template and its tokens must fit the context; a
  // conversation of a million empty turns (62 MB, 185 KB gzipped) once took 2.5 GB to refuse.
  if (messages->get_array().size() > kMaxChatMessages)
    return Status(StatusCode::kPayloadTooLarge, "messages has " +
                                                    std::to_string(messages->get_array().size()) +
                                                    " items; at most " + std::to_string(kMaxChatMessages))
        .WithKind(ErrorKind::kLimitExceeded);
  int images = 0;
  for (size_t m = 0; m < messages->get_array().size(); ++m) {
    const auto& msg = messages->get_array()[m];
    const std::string where = "messages[" + std::to_string(m) + "]";
    if (!msg.is_object()) return InvalidArgument(where + " must be an object");
    const auto* role = msg.get_object().if_contains("role");
    if (!role || !role->is_string()) return InvalidArgument(where + ".role must be a string");
    const bool user = role->get_string() == "user";
    const auto* content = msg.get_object().if_contains("content");
    // OpenAI's "developer" role is the system role under a new name (o1 and later models).
    r.messages.push_back(
        {role->get_string() == "developer" ? std::string("system") : std::string(role->get_string()), "",
         false});
    auto add_text = [&](std::string_view t) {
      auto& turn = r.messages.back().text;
      if (!turn.empty()) turn += '\n';
      turn += t;
      if (!user || t.empty()) return;
      if (!r.prompt.empty()) r.prompt += ' ';
      r.prompt += t;
    };
    if (!content || content->is_null()) continue;
    if (content->is_string()) {
      add_text(content->get_string());
      continue;
    }
    if (!content->is_array()) return InvalidArgument(where + ".content must be a string or a list of parts");
    for (size_t k = 0; k < content->get_array().size(); ++k) {
      const auto& part = content->get_array()[k];
      const std::string pw = where + ".content[" + std::to_string(k) + "]";
      const auto* type = part.is_object() ? part.get_object().if_contains("type") : nullptr;
      if (!type || !type->is_string()) return InvalidArgument(pw + ".type must be text or image_url");
      if (type->get_string() == "text") {
        const auto* t = part.get_object().if_contains("text");
        if (!t || !t->is_string()) return InvalidArgument(pw + ".text must be a string");
        add_text(t->get_string());
      } else if (type->get_string() == "image_url") {
        const auto* iu = part.get_object().if_contains("image_url");
        const json::value* url = iu && iu->is_object() ? iu->get_object().if_contains("url") : iu;
        if (!url || !url->is_string()) return InvalidArgument(pw + ".image_url.url must be a string");
        const std::string u(url->get_string());
        ++images;
        r.messages.back().image = true;
        r.image.label = pw;
        if (u.rfind("data:", 0) == 0) {
          const auto comma = u.find(',');
          auto bytes =
              comma == std::string::npos ? std::nullopt : Base64Decode(std::string_view(u).substr(comma + 1));
          if (!bytes || bytes->empty()) return InvalidArgument(pw + ".image_url.url: not a base64 data: URI");
          r.image.kind = sources::ImageSource::Kind::kBytes;
          r.image.value = std::move(*bytes);
        } else if (u.rfind("http://", 0) == 0 || u.rfind("https://", 0) == 0) {
          r.image.kind = sources::ImageSource::Kind::kUrl;
          r.image.value = u;
        } else {
          return InvalidArgument(pw + ".image_url.url must be a data: URI or an http(s) URL");
        }
      } else {
        return InvalidArgument(pw + ".type must be text or image_url, not '" +
                               std::string(type->get_string()) + "'");
      }
    }
  }
  if (images != 1)
    return InvalidArgument(
        "messages: give exactly one image_url part (this model describes one image); got " +
        std::to_string(images));
  size_t text_bytes = 0;
  for (const auto& m : r.messages) text_bytes += m.text.size();
  RETURN_IF_ERROR(CheckTextBytes("messages' text", text_bytes));
  auto& g = r.generation;
  for (const char* key : {"max_completion_tokens", "max_tokens"}) {
    const auto* v = o.if_contains(key);
    if (!v || v->is_null()) continue;
    if (!v->is_int64() || v->get_int64() < 1 || v->get_int64() > tasks::kMaxNewTokensLimit)
      return InvalidArgument(std::string(key) + " must be an integer between 1 and " +
                             std::to_string(tasks::kMaxNewTokensLimit));
    g.max_new_tokens = static_cast<int>(v->get_int64());
    break;
  }
  auto number = [&](const char* key, double lo, double hi) -> Result<std::optional<double>> {
    const auto* v = o.if_contains(key);
    if (!v || v->is_null()) return std::optional<double>();
    if (!v->is_number() || v->to_number<double>() < lo || v->to_number<double>() > hi)
      return InvalidArgument(std::string(key) + " must be a number between " +
                             std::to_string(static_cast<int>(lo)) + " and " +
                             std::to_string(static_cast<int>(hi)));
    return std::optional<double>(v->to_number<double>());
  };
  ASSIGN_OR_RETURN(auto temperature, number("temperature", 0, 2));
  ASSIGN_OR_RETURN(g.top_p, number("top_p", 0, 1));
  if (g.top_p && *g.top_p == 0) return InvalidArgument("top_p must be above 0");
  if (temperature) {
    if (*temperature == 0) {
      g.do_sample = false;  // OpenAI's temperature 0: the most likely token every time
    } else {
      g.temperature = temperature;
    }
  }
  if (const auto* v = o.if_contains("seed"); v && !v->is_null()) {
    if (!v->is_int64() || v->get_int64() < 0) return InvalidArgument("seed must be a non-negative integer");
    g.seed = static_cast<uint64_t>(v->get_int64());
  }
  if (const auto* v = o.if_contains("stop"); v && !v->is_null()) {
    if (v->is_string()) {
      g.stop = {std::string(v->get_string())};
    } else if (v->is_array() && v->get_array().size() <= 4) {
      for (const auto& x : v->get_array()) {
        if (!x.is_string() || x.get_string().empty())
          return InvalidArgument("stop must be non-empty strings");
        g.stop.emplace_back(x.get_string());
      }
    } else {
      return InvalidArgument("stop must be a string or a list of up to 4 strings");
    }
  }
  if (const auto* v = o.if_contains("n"); v && !v->is_null()) {
    if (!v->is_int64() || v->get_int64() < 1 || v->get_int64() > 8)
      return InvalidArgument("n must be between 1 and 8");
    r.n = static_cast<int>(v->get_int64());
  }
  if (const auto* v = o.if_contains("stream"); v && !v->is_null()) {
    if (!v->is_bool()) return InvalidArgument("stream must be true or false");
    r.stream = v->get_bool();
  }
  if (const auto* so = o.if_contains("stream_options"); so && so->is_object())
    if (const auto* u = so->get_object().if_contains("include_usage"); u && u->is_bool())
      r.include_usage = u->get_bool();
  // OpenAI features that would change the answer and are not implemented are refused by name,
  // not ignored (a client asking for logprobs or JSON output must not get a plain answer as if it
  // had them). Fields that change nothing here (user, metadata, store, ...) are accepted.
  auto asks = [&](const char* key) {
    const auto* v = o.if_contains(key);
    if (!v || v->is_null()) return false;
    if (v->is_bool()) return v->get_bool();
    if (v->is_number()) return v->to_number<double>() != 0;
    if (v->is_array()) return !v->get_array().empty();
    if (v->is_object()) return !v->get_object().empty();
    return !(v->is_string() && (v->get_string() == "none" || v->get_string() == "auto"));
  };
  for (const char* key : {"logprobs", "top_logprobs", "tools", "functions", "logit_bias", "frequency_penalty",
                          "presence_penalty", "audio", "prediction"})
    if (asks(key)) return InvalidArgument(std::string(key) + " is not supported by this server");
  if (const auto* v = o.if_contains("tool_choice"); v && !v->is_null() &&
                                                    !(v->is_string() && v->get_string() == "none") &&
                                                    !(v->is_string() && v->get_string() == "auto"))
    return InvalidArgument("tool_choice is not supported by this server");
  if (const auto* v = o.if_contains("response_format"); v && !v->is_null()) {
    const auto* type = v->is_object() ? v->get_object().if_contains("type") : nullptr;
    if (!type || !type->is_string() || type->get_string() != "text")
      return InvalidArgument("response_format: only {\"type\": \"text\"} is supported by this server");
  }
  return r;
}

std::string EncodeChatCompletion(const std::string& id, int64_t created, const std::string& model,
                                 const std::vector<tasks::CaptionedImage>& choices) {
  json::array list;
  size_t prompt = 0, completion = 0;
  for (size_t i = 0; i < choices.size(); ++i) {
    const auto& c = choices[i];
    prompt = c.prompt_tokens;
    completion += c.completion_tokens;
    list.push_back(json::object{{"index", i},
                                {"message", json::object{{"role", "assistant"}, {"content", c.text}}},
                                {"finish_reason", c.finish_reason},
                                {"logprobs", nullptr}});
  }
  json::object o{{"id", id},
                 {"object", "chat.completion"},
                 {"created", created},
                 {"model", model},
                 {"choices", std::move(list)},
                 {"usage", json::object{{"prompt_tokens", prompt},
                                        {"completion_tokens", completion},
                                        {"total_tokens", prompt + completion}}}};
  return json::serialize(o);
}

std::string EncodeChatChunk(const std::string& id, int64_t created, const std::string& model, size_t index,
                            bool role, const std::string& content, const std::string& finish_reason) {
  json::object delta;
  if (role) delta["role"] = "assistant";
  if (role || !content.empty()) delta["content"] = content;
  json::object choice{{"index", index}, {"delta", std::move(delta)}, {"logprobs", nullptr}};
  if (finish_reason.empty()) {
    choice["finish_reason"] = nullptr;
  } else {
    choice["finish_reason"] = finish_reason;
  }
  json::object o{{"id", id},
                 {"object", "chat.completion.chunk"},
                 {"created", created},
                 {"model", model},
                 {"choices", json::array{std::move(choice)}}};
  return json::serialize(o);
}

std::string EncodeChatUsageChunk(const std::string& id, int64_t created, const std::string& model,
                                 size_t prompt_tokens, size_t completion_tokens) {
  json::object o{{"id", id},
                 {"object", "chat.completion.chunk"},
                 {"created", created},
                 {"model", model},
                 {"choices", json::array{}},
                 {"usage", json::object{{"prompt_tokens", prompt_tokens},
                                        {"completion_tokens", completion_tokens},
                                        {"total_tokens", prompt_tokens + completion_tokens}}}};
  return json::serialize(o);
}

std::string EncodePredictImageResponse(const std::string& model, const tasks::CaptionedImage& item,
                                       double total_ms) {
  json::object o;
  PutCaptionFields(o, item);
  o["timing"].as_object()["total_ms"] = Ms(total_ms);
  json::object out;
  out["description"] = std::move(o["text"]);
  out["model"] = model;
  out["finish_reason"] = std::move(o["finish_reason"]);
  out["usage"] = std::move(o["usage"]);
  out["timing"] = std::move(o["timing"]);
  return json::serialize(out);
}

std::string EncodeEmbedItem(size_t index, const tasks::EmbeddedImage& item) {
  return json::serialize(Indexed(index, item, PutEmbedFields));
}

std::string EncodeEmbedResponse(const tasks::EmbedImagesResult& result) {
  return ItemList(result, PutEmbedFields);
}

Result<ClassifyRequestFields> ParseClassifyFields(const ImageRequest& r) {
  RETURN_IF_ERROR(RejectUnknown(
      r,
      {"model", "labels", "label_set", "prompt_template", "top_k", "metadata", "ensemble", "clip_timeout_ms",
       "stream"},
      "labels, label_set, prompt_template, top_k, metadata, ensemble, clip_timeout_ms, stream, model"));
  ClassifyRequestFields f;
  f.model = Field(r, "model");
  auto& p = f.params;
  // Every `labels` given counts: a JSON list, and form fields or query parameters (each may hold
  // several, comma-separated; repeated fields add up).
  bool from_list = false;
  for (const auto& [k, v] : r.lists)
    if (k == "labels") {
      p.labels = v;
      from_list = true;
    }
  for (const auto& [k, v] : r.fields) {
    if (k != "labels" || from_list) continue;
    size_t pos = 0;
    while (!v.empty() && pos <= v.size()) {
      size_t comma = v.find(',', pos);
      if (comma == std::string::npos) comma = v.size();
      std::string item = v.substr(pos, comma - pos);
      while (!item.empty() && item.front() == ' ') item.erase(item.begin());
      while (!item.empty() && item.back() == ' ') item.pop_back();
      if (!item.empty()) p.labels.push_back(item);
      pos = comma + 1;
    }
  }
  p.label_set = Field(r, "label_set");
  if (!p.labels.empty() && !p.label_set.empty()) return InvalidArgument("give labels or label_set, not both");
  p.prompt_template = Field(r, "prompt_template");
  if (const std::string k = Field(r, "top_k"); !k.empty()) {
    ASSIGN_OR_RETURN(int64_t v, PositiveInt("top_k", k));
    p.top_k = static_cast<size_t>(v);
  }
  ASSIGN_OR_RETURN(p.metadata, ParseFlag("metadata", Field(r, "metadata")));
  const std::string ens = Field(r, "ensemble");
  if (!ens.empty()) {
    ASSIGN_OR_RETURN(p.ensemble, ParseFlag("ensemble", ens));
  }
  if (const std::string t = Field(r, "clip_timeout_ms"); !t.empty()) {
    ASSIGN_OR_RETURN(p.clip_timeout_ms, PositiveInt("clip_timeout_ms", t));
  }
  ASSIGN_OR_RETURN(f.stream, ParseFlag("stream", Field(r, "stream")));
  RETURN_IF_ERROR(CheckImageCount(r));
  return f;
}

std::string EncodeClassifySingle(const std::string& model, const tasks::ClassifiedImage& item) {
  json::object o;
  o["model"] = model;
  PutClassifyFields(o, item);
  o["timing"] = {{"total_ms", Ms(item.timing.total_ms)}};
  return json::serialize(o);
}

std::string EncodeClassifyItem(size_t index, const tasks::ClassifiedImage& item) {
  return json::serialize(Indexed(index, item, PutClassifyFields));
}

std::string EncodeClassifyList(const tasks::ClassifyImagesResult& result) {
  return ItemList(result, PutClassifyFields);
}

namespace {

void PutMetadataFields(json::object& o, const tasks::ImageMetadataItem& item) {
  o["metadata"] = MetadataValue(item.metadata);
}

}  // namespace

std::string EncodeMetadataResponse(const tasks::ImageMetadataResult& result) {
  json::array data;
  for (size_t i = 0; i < result.items.size(); ++i)
    data.push_back(Indexed(i, result.items[i], PutMetadataFields));
  json::object o;
  o["object"] = "list";
  o["data"] = std::move(data);
  return json::serialize(o);
}

namespace {

void PutRemoveBackgroundFields(json::object& o, const tasks::RemoveBackgroundResult& r) {
  o["width"] = r.width;
  o["height"] = r.height;
  json::object outputs;
  for (const auto& out : r.outputs)
    outputs[out.name] = {{"content_type", out.content_type}, {"data", Base64Encode(out.bytes)}};
  o["outputs"] = std::move(outputs);
  const auto& t = r.timing;
  o["timing"] = {{"decode_ms", Ms(t.decode_ms)},
                 {"preprocess_ms", Ms(t.preprocess_ms)},
                 {"queue_ms", Ms(t.queue_ms)},
                 {"infer_ms", Ms(t.infer_ms)},
                 {"postprocess_ms", Ms(t.postprocess_ms)},
                 {"encode_ms", Ms(t.encode_ms)},
                 {"total_ms", Ms(t.total_ms)}};
  o["cache_hit"] = r.cache_hit;
  o["quality"] = r.reduced_quality ? "reduced" : "full";
  if (r.metadata) o["metadata"] = MetadataValue(*r.metadata);
}

void PutRemovedBackgroundFields(json::object& o, const tasks::RemovedBackground& item) {
  PutRemoveBackgroundFields(o, item.result);
}

}  // namespace

std::string EncodeRemoveBackground(const tasks::RemoveBackgroundResult& r) {
  json::object o;
  o["model"] = r.model;
  PutRemoveBackgroundFields(o, r);
  return json::serialize(o);
}

std::string EncodeRemoveBackgrounds(const tasks::RemoveBackgroundsResult& result) {
  return ItemList(result, PutRemovedBackgroundFields);
}

std::string EncodeMetadata(const media::ImageMetadata& m) {
  return json::serialize(MetadataValue(m));
}

}  // namespace sightline::http
