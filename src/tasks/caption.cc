#include "tasks/caption.h"

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <random>

#include "repository/hf_layout.h"
#include "tasks/image_input.h"
#include "tasks/tensor_inference.h"

namespace sightline::tasks {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

std::optional<int64_t> IdIn(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  if (v && v->is_int64()) return v->get_int64();
  if (v && v->is_array() && !v->get_array().empty() && v->get_array()[0].is_int64())
    return v->get_array()[0].get_int64();
  return std::nullopt;
}

// config.json's context length: n_positions (GPT-2) or max_position_embeddings, at the top, in
// "decoder" (encoder-decoder) or in "text_config" (vision-language models).
int64_t ContextLength(const json::object& c) {
  for (const auto* o :
       {&c, c.contains("decoder") && c.at("decoder").is_object() ? &c.at("decoder").get_object() : nullptr,
        c.contains("text_config") && c.at("text_config").is_object() ? &c.at("text_config").get_object()
                                                                     : nullptr}) {
    if (!o) continue;
    for (const char* key : {"n_positions", "max_position_embeddings"})
      if (auto n = IdIn(*o, key); n && *n > 0) return *n;
  }
  return 0;
}

Result<std::vector<int64_t>> VisionLanguagePrompt(const CaptionerFamily& family, const CaptionParams& params);

// A vision-language model's chat template, image token and feature count. Errors name the file.
Status LoadVisionLanguage(CaptionerFamily& f, const std::filesystem::path& dir) {
  ASSIGN_OR_RETURN(f.image_token_id, repository::ReadImageTokenId(dir));
  auto token = f.tokenizer->IdToToken(f.image_token_id);
  if (!token)
    return FailedPrecondition((dir / "tokenizer.json").string() + ": no token for the image token id " +
                              std::to_string(f.image_token_id));
  f.image_token = *token;
  const auto config = dir / "tokenizer_config.json";
  ASSIGN_OR_RETURN(json::value tc, repository::ReadJsonObjectFile(config));
  auto t = text::ChatTemplate::FromTokenizerConfig(tc.get_object());
  if (!t.ok()) return FailedPrecondition(config.string() + ": " + t.status().message());
  f.chat_template = std::move(t).value();
  const auto& out = f.encoder->signature.outputs;
  if (!out.empty() && out.front().shape.size() == 3 && out.front().shape[1] > 0)
    f.image_features = out.front().shape[1];
  auto prompt = VisionLanguagePrompt(f, {});
  if (!prompt.ok())
    return FailedPrecondition(config.string() + ": the default prompt: " + prompt.status().message());
  // A template that writes today's date is rendered per request, so the date stays true.
  if (!f.chat_template->reads_clock())
    f.default_prompt = std::make_shared<const std::vector<int64_t>>(std::move(prompt).value());
  return Status::Ok();
}

Result<std::unique_ptr<CaptionerFamily>> LoadFamily(const scheduling::ModelRegistry& models,
                                                    const std::string& name, scheduling::ServedModel* encoder,
                                                    scheduling::ServedModel* decoder) {
  auto f = std::make_unique<CaptionerFamily>();
  f->name = name;
  f->encoder = encoder;
  f->decoder = decoder;
  const auto dir = models.repository() / name;
  ASSIGN_OR_RETURN(f->tokenizer, text::Tokenizer::FromFile(dir / "tokenizer.json"));
  ASSIGN_OR_RETURN(json::value config, repository::ReadJsonObjectFile(dir / "config.json"));
  const auto& c = config.get_object();
  // As the repository loaded it: a vision-language decoder takes embeddings, not ids.
  if (decoder->signature.FindInput("inputs_embeds")) f->kind = CaptionerFamily::Kind::kVisionLanguage;
  generation::GenerationParams base;
  base.max_new_tokens = 64;
  if (auto eos = IdIn(c, "eos_token_id")) base.eos_token_ids = {*eos};
  std::optional<int64_t> start = IdIn(c, "decoder_start_token_id");
  std::error_code ec;
  if (std::filesystem::exists(dir / "generation_config.json", ec)) {
    ASSIGN_OR_RETURN(json::value g, repository::ReadJsonObjectFile(dir / "generation_config.json"));
    auto p = generation::ParamsFromGenerationConfig(g, base);
    if (!p.ok())
      return FailedPrecondition((dir / "generation_config.json").string() + ": " + p.status().message());
    base = std::move(p).value();
    if (auto s = IdIn(g.get_object(), "decoder_start_token_id")) start = s;
  }
  if (!start) start = IdIn(c, "bos_token_id");
  if (!start && f->kind == CaptionerFamily::Kind::kEncoderDecoder)
    return FailedPrecondition((dir / "config.json").string() +
                              ": no decoder_start_token_id (nor bos_token_id)");
  if (base.eos_token_ids.empty())
    return FailedPrecondition((dir / "config.json").string() +
                              ": no eos_token_id (here or in generation_config.json)");
  base.max_new_tokens = std::min(base.max_new_tokens, kMaxNewTokensLimit);
  f->start_id = start.value_or(0);
  f->context_length = ContextLength(c);
  f->defaults = std::move(base);
  if (!encoder->config.image_input)
    return FailedPrecondition("model '" + encoder->config.name +
                              "' has no image input (preprocessor_config.json)");
  if (f->kind == CaptionerFamily::Kind::kVisionLanguage) RETURN_IF_ERROR(LoadVisionLanguage(*f, dir));
  return f;
}

// A vision-language prompt: the conversation through the chat template, tokenized as Hugging
// Face's apply_chat_template does (no special tokens added: the template writes its own).
Result<std::vector<int64_t>> VisionLanguagePrompt(const CaptionerFamily& family,
                                                  const CaptionParams& params) {
  std::vector<ChatTurn> turns = params.messages;
  if (turns.empty())
    turns.push_back({"user", params.prompt.empty() ? kDefaultDescribePrompt : params.prompt, true});
  std::vector<text::ChatMessage> messages;
  int images = 0;
  for (size_t i = 0; i < turns.size(); ++i) {
    if (turns[i].text.find(family.image_token) != std::string::npos)
      return InvalidArgument(
                 (params.messages.empty() ? std::string("prompt") : "messages[" + std::to_string(i) + "]") +
                 ": contains the model's image token '" + family.image_token +
                 "'; send the image as an image part")
          .WithKind(ErrorKind::kInvalidText);
    images += turns[i].image ? 1 : 0;
    messages.push_back({turns[i].role, turns[i].text, turns[i].image});
  }
  if (images != 1) return InvalidArgument("messages: exactly one turn must carry the image");
  text::ChatRenderOptions ro;
  ro.add_generation_prompt = true;
  ro.image_text =
      family.image_token + "\n";  // string-content templates: as LLaVA / FastVLM processors write it
  ASSIGN_OR_RETURN(std::string text, family.chat_template->Render(messages, ro));
  text::EncodeOptions eo;
  eo.add_special_tokens = false;
  auto ids = family.tokenizer->Encode(text, eo).ids;
  // Typed-content templates write the image placeholder themselves; the features need exactly one.
  if (const auto n = std::count(ids.begin(), ids.end(), family.image_token_id); n != 1)
    return FailedPrecondition("model '" + family.name + "': its chat template wrote the image token '" +
                              family.image_token + "' " + std::to_string(n) + " times for one image");
  return ids;
}

// The image token repeated once per image feature, as LLaVA processors expand it.
std::vector<int64_t> ExpandImageToken(const std::vector<int64_t>& ids, int64_t image_token,
                                      int64_t features) {
  std::vector<int64_t> out;
  out.reserve(ids.size() + static_cast<size_t>(std::max<int64_t>(0, features)));
  for (int64_t id : ids) {
    if (id == image_token)
      out.insert(out.end(), static_cast<size_t>(features), id);
    else
      out.push_back(id);
  }
  return out;
}

// The text up to the first stop string, and whether one was found.
bool CutAtStop(std::string& text, const std::vector<std::string>& stop) {
  size_t cut = std::string::npos;
  for (const auto& s : stop) cut = std::min(cut, text.find(s));
  if (cut == std::string::npos) return false;
  text.resize(cut);
  return true;
}

// One sequence's ids, which arrive on the scheduler thread, as text chunks delivered in order on
// the work pool (the pool has several threads: a queue and one drainer at a time keep the order).
// Chunks come from text::DecodeStream (never half a character) and hold back the last
// (longest stop string - 1) bytes until they cannot start a stop string; a stop string found ends
// the stream before it. Close() runs `then` after the last chunk.
class TextStream : public std::enable_shared_from_this<TextStream> {
 public:
  // `on_text` may be null (only watching for stop strings); `on_stop` runs once, on the pool,
  // when a stop string is found, with the number of ids up to the one that completed it;
  // `on_checked` (may be null) after each id is looked at, with the number looked at.
  TextStream(ThreadPool& pool, const text::Tokenizer& tokenizer, std::vector<std::string> stop, size_t index,
             std::function<void(size_t, const std::string&)> on_text, std::function<void(size_t)> on_stop,
             std::function<void(size_t)> on_checked)
      : pool_(pool),
        tokenizer_(tokenizer),
        decode_(tokenizer, /*skip_special_tokens=*/true),
        stop_(std::move(stop)),
        index_(index),
        on_text_(std::move(on_text)),
        on_stop_(std::move(on_stop)),
        on_checked_(std::move(on_checked)) {
    for (const auto& s : stop_) hold_ = std::max(hold_, s.size() - 1);
  }

  void Push(int64_t id) { Enqueue(Item{id, nullptr}); }
  void Close(std::function<void()> then) { Enqueue(Item{-1, std::move(then)}); }

 private:
  struct Item {
    int64_t id;
    std::function<void()> then;  // set: the end
  };
  void Enqueue(Item item) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(item));
      if (draining_) return;
      draining_ = true;
    }
    pool_.Submit([self = shared_from_this()] { self->Drain(); });
  }
  void Drain() {
    for (;;) {
      Item item;
      {
        std::lock_guard lock(mu_);
        if (queue_.empty()) {
          draining_ = false;
          return;
        }
        item = std::move(queue_.front());
        queue_.pop_front();
      }
      if (item.then) {
        if (!stopped_) {
          // The rest as the final text has it: a trailing incomplete character the stream held
          // back is U+FFFD there, and a stop string can only be found whole now.
          std::string whole = tokenizer_.Decode(ids_, true);
          CutAtStop(whole, stop_);
          if (on_text_ && whole.size() > emitted_ && whole.compare(0, emitted_, text_, 0, emitted_) == 0)
            on_text_(index_, whole.substr(emitted_));
        }
        item.then();
        continue;
      }
      ids_.push_back(item.id);
      if (stopped_) continue;
      Look(item.id);
      if (on_checked_) on_checked_(ids_.size());
    }
  }
  // One new id: its text, sent (or held back) and watched for stop strings.
  void Look(int64_t id) {
    auto chunk = decode_.Step(id);
    if (chunk.ok()) {
      text_ += *chunk;
    } else {
      // A decoder that rewrites earlier text (Strip, clean-up): take what the whole decode
      // adds, if it still extends what was sent.
      const std::string whole = tokenizer_.Decode(ids_, true);
      if (whole.starts_with(text_) && !whole.ends_with("\xEF\xBF\xBD")) text_ = whole;
    }
    Emit();
  }
  void Emit() {
    size_t cut = std::string::npos;
    for (const auto& s : stop_) cut = std::min(cut, text_.find(s, emitted_ > hold_ ? emitted_ - hold_ : 0));
    if (cut != std::string::npos) {
      if (on_text_ && cut > emitted_) on_text_(index_, text_.substr(emitted_, cut - emitted_));
      emitted_ = text_.size();
      stopped_ = true;
      if (on_stop_) on_stop_(ids_.size());
      return;
    }
    size_t safe = text_.size() > hold_ ? text_.size() - hold_ : 0;
    while (safe > emitted_ && safe < text_.size() && (static_cast<unsigned char>(text_[safe]) & 0xC0) == 0x80)
      --safe;
    if (safe > emitted_) {
      if (on_text_) on_text_(index_, text_.substr(emitted_, safe - emitted_));
      emitted_ = safe;
    }
  }

  ThreadPool& pool_;
  const text::Tokenizer& tokenizer_;
  text::DecodeStream decode_;
  std::vector<std::string> stop_;
  size_t index_;
  std::function<void(size_t, const std::string&)> on_text_;
  std::function<void(size_t)> on_stop_;
  std::function<void(size_t)> on_checked_;
  size_t hold_ = 0;
  std::mutex mu_;
  std::deque<Item> queue_;  // guarded by mu_
  bool draining_ = false;   // guarded by mu_
  // Drainer only (one at a time):
  std::vector<int64_t> ids_;
  std::string text_;
  size_t emitted_ = 0;
  bool stopped_ = false;
};

}  // namespace

Result<std::unique_ptr<Captioners>> Captioners::Load(const scheduling::ModelRegistry& models,
                                                     media::DecodeLimits limits) {
  auto c = std::unique_ptr<Captioners>(new Captioners());
  c->limits_ = limits;
  for (const auto* m : models.All()) {
    if (m->config.role != "decoder" || m->config.family.empty() || !m->generation) continue;
    auto* encoder = models.Find(m->config.family + ".encoder");
    if (!encoder) continue;
    ASSIGN_OR_RETURN(auto f, LoadFamily(models, m->config.family, encoder, models.Find(m->config.name)));
    c->families_.push_back(std::move(f));
  }
  return c;
}

const CaptionerFamily* Captioners::Find(const std::string& name) const {
  for (const auto& f : families_)
    if (name.empty() || f->name == name) return f.get();
  return nullptr;
}

std::vector<std::string> Captioners::names() const {
  std::vector<std::string> out;
  for (const auto& f : families_) out.push_back(f->name);
  return out;
}

Result<generation::GenerationParams> ResolveGenerationParams(const CaptionerFamily& family,
                                                             const GenerationOverrides& o) {
  generation::GenerationParams p = family.defaults;
  if (o.max_new_tokens) p.max_new_tokens = *o.max_new_tokens;
  if (o.min_new_tokens) p.min_new_tokens = *o.min_new_tokens;
  if (o.top_k) p.top_k = *o.top_k;
  if (o.num_beams) p.num_beams = *o.num_beams;
  if (o.no_repeat_ngram_size) p.no_repeat_ngram_size = *o.no_repeat_ngram_size;
  if (o.temperature) p.temperature = *o.temperature;
  if (o.top_p) p.top_p = *o.top_p;
  if (o.repetition_penalty) p.repetition_penalty = *o.repetition_penalty;
  if (o.length_penalty) p.length_penalty = *o.length_penalty;
  // Asking for a temperature, top_k or top_p, or a seed, means sampling unless do_sample says no.
  if (o.do_sample) {
    p.do_sample = *o.do_sample;
  } else if (o.temperature || o.top_k || o.top_p || o.seed) {
    p.do_sample = true;
  }
  if (p.do_sample && !o.num_beams) p.num_beams = 1;
  p.seed = o.seed;
  p.stop = o.stop;
  RETURN_IF_ERROR(p.Validate(kMaxNewTokensLimit));
  return p;
}

Result<CaptionJob> PrepareCaption(const CaptionerFamily& family, const CaptionParams& params) {
  ASSIGN_OR_RETURN(auto gen, ResolveGenerationParams(family, params.generation));
  CaptionJob job;
  std::shared_ptr<const std::vector<int64_t>> prompt;
  int64_t positions = 0;  // what the prompt takes of the context
  if (family.kind == CaptionerFamily::Kind::kVisionLanguage) {
    if (params.messages.empty() && params.prompt.empty() && family.default_prompt) {
      prompt = family.default_prompt;
    } else {
      ASSIGN_OR_RETURN(auto ids, VisionLanguagePrompt(family, params));
      prompt = std::make_shared<std::vector<int64_t>>(std::move(ids));
    }
    positions = static_cast<int64_t>(prompt->size()) - 1 + family.image_features;
  } else {
    // The decoder's prompt: its start token, then the prompt's ids (no special tokens of their own).
    std::vector<int64_t> ids(1, family.start_id);
    if (!params.prompt.empty()) {
      text::EncodeOptions eo;
      eo.add_special_tokens = false;
      const auto text = family.tokenizer->Encode(params.prompt, eo).ids;
      ids.insert(ids.end(), text.begin(), text.end());
    }
    prompt = std::make_shared<const std::vector<int64_t>>(std::move(ids));
    positions = static_cast<int64_t>(prompt->size());
  }
  const int64_t needed = positions + gen.max_new_tokens;
  if (family.context_length > 0 && needed > family.context_length)
    return InvalidArgument("prompt: its " + std::to_string(positions) + " tokens and max_new_tokens " +
                           std::to_string(gen.max_new_tokens) + " exceed model '" + family.name +
                           "''s context of " + std::to_string(family.context_length) + " positions")
        .WithKind(ErrorKind::kInvalidText);
  // A random seed per request when sampling without one.
  job.seed = gen.seed ? *gen.seed : std::random_device{}();
  job.params = std::make_shared<const generation::GenerationParams>(std::move(gen));
  job.prompt = std::move(prompt);
  return job;
}

void CaptionOne(const Captioners& captioners, const CaptionerFamily& family, ThreadPool& pool,
                sources::Bytes bytes, const CaptionJob& job, size_t index, RequestContextPtr context,
                std::function<void(CaptionedImage, StageTiming)> done,
                std::function<void(size_t, const std::string&)> on_text) {
  const auto* fam = &family;
  // Text as it is generated, when streamed or when a stop string can end it early (beams are
  // known only at the end). A stop string found ends the sequence at the next step boundary.
  std::shared_ptr<TextStream> stream;
  std::shared_ptr<scheduling::StopWatch> stop_watch;
  if ((on_text || !job.params->stop.empty()) && job.params->num_beams <= 1) {
    std::function<void(size_t)> on_stop, on_checked;
    if (!job.params->stop.empty()) {
      stop_watch = std::make_shared<scheduling::StopWatch>();
      auto* scheduler = fam->decoder->generation.get();
      on_stop = [stop_watch, scheduler](size_t ids) {
        stop_watch->stop_at.store(ids);
        scheduler->NotifyCancelled();  // wakes its sweep
      };
      on_checked = [stop_watch, scheduler](size_t ids) {
        stop_watch->checked.store(ids);
        scheduler->NotifyCancelled();  // it may be waiting for this
      };
    }
    stream = std::make_shared<TextStream>(pool, *family.tokenizer, job.params->stop, index, on_text, on_stop,
                                          on_checked);
  }
  auto fail = [&done](const Status& s, const StageTiming& t) {
    CaptionedImage item;
    item.status = s;
    done(std::move(item), t);
  };
  const auto t0 = Clock::now();
  const auto& ii = *fam->encoder->config.image_input;
  auto t = EncodedImageToTensor(*bytes, ii, fam->encoder->signature.FindInput(ii.input)->dtype,
                                captioners.limits());
  StageTiming timing;
  timing.decode_ms = Ms(Clock::now() - t0);
  if (!t.ok()) return fail(t.status(), timing);
  std::vector<Tensor> inputs;
  inputs.push_back(std::move(t).value());
  TensorInferOptions o;
  o.context = context;
  o.continuation = index > 0;
  o.outputs = {fam->encoder->signature.outputs.front().name};
  ThreadPool* p = &pool;
  auto encoded = [fam, job, context, index, done, timing, p, stream, stop_watch,
                  on_text](Result<scheduling::InferResult> r) mutable {
    auto fail_here = [&](const Status& s) {
      CaptionedImage item;
      item.status = s;
      done(std::move(item), timing);
    };
    if (!r.ok()) return fail_here(r.status());
    const auto& tm = r->timing;
    timing.queue_ms = Ms(tm.started - tm.enqueued);
    timing.inference_ms = Ms(tm.finished - tm.started);
    scheduling::GenerationSequence seq;
    seq.image_states = std::move(r->outputs.front());
    seq.prompt = fam->kind == CaptionerFamily::Kind::kVisionLanguage
                     ? ExpandImageToken(*job.prompt, fam->image_token_id,
                                        seq.image_states.shape.size() == 3 ? seq.image_states.shape[1] : 0)
                     : *job.prompt;
    const size_t prompt_tokens = seq.prompt.size();
    seq.params = *job.params;
    seq.seed = job.seed + index;
    seq.context = context;
    if (stream) seq.on_token = [stream](int64_t id) { stream->Push(id); };
    seq.stop_watch = stop_watch;
    const auto submitted = Clock::now();
    seq.done = [fam, job, done, timing, p, submitted, stream, on_text, index,
                prompt_tokens](Result<scheduling::GenerationOutcome> g) mutable {
      // On the scheduler thread: detokenizing is the pool's work; a stream ends first.
      auto finish = [fam, job, done, timing, submitted, on_text, index, prompt_tokens,
                     streamed = stream != nullptr, g = std::move(g)]() mutable {
        timing.inference_ms += Ms(Clock::now() - submitted);
        CaptionedImage item;
        if (!g.ok()) {
          item.status = g.status();
          return done(std::move(item), timing);
        }
        item.prompt_tokens = prompt_tokens;
        item.completion_tokens = g->ids.size();
        item.first_token_ms = g->first_token_seconds * 1000.0;
        item.text = fam->tokenizer->Decode(g->ids, /*skip_special_tokens=*/true);
        const bool stopped = CutAtStop(item.text, job.params->stop);
        if (stopped && g->reason != scheduling::FinishReason::kStop) {
          // Beams are known only at the end, so no watcher stopped them: usage counts the ids up
          // to the one that completed the stop string, as for a watched sequence.
          for (size_t n = 1; n < g->ids.size(); ++n) {
            std::string head =
                fam->tokenizer->Decode(std::span(g->ids).first(n), /*skip_special_tokens=*/true);
            if (CutAtStop(head, job.params->stop)) {
              item.completion_tokens = n;
              break;
            }
          }
        }
        item.finish_reason = stopped || g->reason != scheduling::FinishReason::kLength ? "stop" : "length";
        if (on_text && !streamed && !item.text.empty()) on_text(index, item.text);  // beams: all at once
        done(std::move(item), timing);
      };
      if (stream) return stream->Close(std::move(finish));
      p->Submit(std::move(finish));
    };
    std::vector<scheduling::GenerationSequence> one;
    one.push_back(std::move(seq));
    Status s = fam->decoder->generation->Submit(std::move(one));
    if (!s.ok()) fail_here(s);
  };
  Status s = SubmitTensorInference(*fam->encoder, std::move(inputs), o, OnPool(pool, std::move(encoded)));
  if (!s.ok()) fail(s, timing);
}

void CaptionImages(const Captioners& captioners, const CaptionerFamily& family, const ImageTaskDeps& deps,
                   std::vector<sources::ImageSource> images, CaptionParams params, RequestContextPtr context,
                   std::function<void(size_t, const CaptionedImage&)> on_item,
                   std::function<void(Result<CaptionImagesResult>)> done) {
  const auto* fam = &family;
  const auto* caps = &captioners;
  // Rendering the chat template and tokenizing are CPU work: on the pool, never the caller's
  // (HTTP I/O) thread.
  deps.pool->Submit([caps, fam, deps, images = std::move(images), params = std::move(params), context,
                     on_item = std::move(on_item), done = std::move(done)]() mutable {
    auto job = PrepareCaption(*fam, params);
    if (!job.ok()) return done(job.status());
    auto results = std::make_shared<ItemResults<CaptionedImage>>(images.size(), std::move(on_item));
    auto work = [caps, fam, deps, job = std::move(job).value(), context, results, on_text = params.on_text](
                    size_t i, sources::Bytes bytes, ItemRun::Finish finish) {
      CaptionOne(
          *caps, *fam, *deps.pool, std::move(bytes), job, i, context,
          [results, i, finish](CaptionedImage item, StageTiming timing) {
            const Status status = item.status;
            if (status.ok()) results->Update(i, [&](CaptionedImage& dst) { dst = std::move(item); });
            finish(status, timing, false);
          },
          on_text);
    };
    RunItems<CaptionedImage>(
        "caption_images", results, deps, std::move(images), kImageWindow, context, work,
        [model = fam->name, done = std::move(done)](std::vector<CaptionedImage> items, BatchSummary summary) {
          done(CaptionImagesResult{model, std::move(items), summary});
        });
  });
}

}  // namespace sightline::tasks
