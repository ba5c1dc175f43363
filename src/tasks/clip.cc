#include "tasks/clip.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <future>
#include <mutex>

#include "core/concurrency_window.h"
#include "core/heap_bytes.h"
#include "media/preprocess.h"
#include "tasks/content_hash.h"
#include "tasks/image_input.h"

namespace sightline::tasks {
namespace {

// The first `rows` rows of a [rows, D] output, each unit-normalised.
Result<std::vector<Embedding>> Rows(const scheduling::InferResult& r, size_t rows) {
  if (r.outputs.empty()) return Internal("embedding model returned no output");
  const Tensor& t = r.outputs.front();
  if (t.dtype != DataType::kFp32 || t.shape.empty()) return Internal("embedding output must be FP32 [N, D]");
  const int64_t d = t.shape.back();
  if (d <= 0 || t.data.size() < rows * static_cast<size_t>(d) * 4)
    return Internal("embedding output has fewer rows than the request");
  std::vector<Embedding> out(rows, Embedding(static_cast<size_t>(d)));
  for (size_t i = 0; i < rows; ++i) {
    std::memcpy(out[i].data(), t.data.data() + i * static_cast<size_t>(d) * 4, static_cast<size_t>(d) * 4);
    Normalize(out[i]);
  }
  return out;
}

double Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

Result<Embedding> FirstRow(const scheduling::InferResult& r) {
  ASSIGN_OR_RETURN(auto rows, Rows(r, 1));
  return std::move(rows.front());
}

}  // namespace

std::string ClipService::Prompt(const std::string& tmpl, const std::string& label) {
  std::string out = tmpl;
  const auto pos = out.find("{}");
  if (pos != std::string::npos) out.replace(pos, 2, label);
  return out;
}

std::vector<LabelScore> ClipService::Score(const Embedding& image, const std::vector<std::string>& labels,
                                           const std::vector<Embedding>& texts, double scale) {
  std::vector<LabelScore> out(labels.size());
  double max_logit = -1e300;
  for (size_t i = 0; i < labels.size(); ++i) {
    double dot = 0;
    const auto& t = texts[i];
    for (size_t k = 0; k < std::min(t.size(), image.size()); ++k) dot += static_cast<double>(t[k]) * image[k];
    out[i].label = labels[i];
    out[i].similarity = dot;
    max_logit = std::max(max_logit, scale * dot);
  }
  double sum = 0;
  for (auto& s : out) sum += (s.probability = std::exp(scale * s.similarity - max_logit));
  for (auto& s : out) s.probability /= sum;
  std::stable_sort(out.begin(), out.end(),
                   [](const LabelScore& a, const LabelScore& b) { return a.probability > b.probability; });
  return out;
}

void Normalize(Embedding& v) {
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  if (sum <= 0) return;
  const float inv = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= inv;
}

ClipService::ClipService(ThreadPool& pool, Options options)
    : pool_(pool),
      options_(options),
      text_cache_(options.text_cache_bytes),
      image_cache_(options.image_cache_bytes) {}

Result<std::unique_ptr<ClipService>> ClipService::Create(scheduling::ModelRegistry& models, ThreadPool& pool,
                                                         observability::MetricsRegistry& metrics,
                                                         Options options) {
  std::unique_ptr<ClipService> svc(new ClipService(pool, options));
  auto& lookups =
      metrics.AddCounter("sightline_embedding_cache_lookups_total",
                         "Embedding cache lookups by cache (text, image) and outcome", {"cache", "result"});
  svc->text_hits_ = &lookups.WithLabels({"text", "hit"});
  svc->text_misses_ = &lookups.WithLabels({"text", "miss"});
  svc->image_hits_ = &lookups.WithLabels({"image", "hit"});
  svc->image_misses_ = &lookups.WithLabels({"image", "miss"});
  // What each cache holds, so the process's memory can be accounted for (issue 11, report 12).
  auto& cache_bytes =
      metrics.AddGauge("sightline_embedding_cache_bytes",
                       "Bytes held by each embedding cache (bounded by its --*-cache-mb)", {"cache"});
  svc->text_cache_bytes_ = &cache_bytes.WithLabels({"text"});
  svc->image_cache_bytes_ = &cache_bytes.WithLabels({"image"});
  std::map<std::string, std::unique_ptr<ClipFamily>> found;
  for (const auto* m : models.All()) {
    if (m->config.family.empty()) continue;
    auto& f = found[m->config.family];
    if (!f) {
      f = std::make_unique<ClipFamily>();
      f->name = m->config.family;
    }
    auto* served = models.Find(m->config.name);
    if (m->config.role == "vision") f->vision = served;
    if (m->config.role == "text") f->text = served;
  }
  for (auto& [name, f] : found) {
    if (!f->vision || !f->text) continue;  // one tower alone serves over /v2 only
    // The folder's zero_shot block is the CLIP task's to read (both towers share the file).
    const auto& tc = f->text->config;
    auto block = tc.task_blocks.find(kZeroShotBlock);
    ASSIGN_OR_RETURN(auto zs,
                     ParseZeroShotConfig(block == tc.task_blocks.end() ? "" : block->second, tc.config_file));
    f->logit_scale = zs.logit_scale;
    f->prompt_template = zs.prompt_template;
    for (const auto& [set, labels] : zs.label_sets) f->label_sets[set] = labels;
    for (const auto& e : zs.ensembles) {
      auto* cls = models.Find(e.classifier);
      if (!cls)
        return FailedPrecondition(name + ": ensemble '" + e.label_set + "' names classifier '" +
                                  e.classifier + "', which is not in the model repository");
      if (!cls->config.image_input)
        return FailedPrecondition(name + ": classifier '" + e.classifier + "' needs an image_input block");
      const auto& out = cls->signature.outputs.front().shape;
      const auto& labels = f->label_sets[e.label_set];
      if (out.empty() || (out.back() > 0 && out.back() != static_cast<int64_t>(labels.size())))
        return FailedPrecondition(name + ": classifier '" + e.classifier + "' has " +
                                  std::to_string(out.empty() ? 0 : out.back()) + " outputs, label set '" +
                                  e.label_set + "' has " + std::to_string(labels.size()) + " labels");
      f->ensembles[e.label_set] = ClipFamily::Ensemble{e, cls};
    }
    const auto file = models.repository() / name / "tokenizer.json";
    ASSIGN_OR_RETURN(f->tokenizer, text::Tokenizer::FromFile(file));
    svc->families_.push_back(std::move(f));
  }
  auto& word_cache = metrics.AddGauge("sightline_tokenizer_cache_bytes",
                                      "Bytes held by each tokenizer's word cache", {"model"});
  for (const auto& f : svc->families_) {
    observability::Gauge& g = word_cache.WithLabels({f->name});
    metrics.AddCollector([&g, tok = f->tokenizer.get()] { g.Set(static_cast<double>(tok->cache_bytes())); });
  }
  // Configured label sets: embed their prompts now, so the first classify is already warm.
  for (const auto& f : svc->families_) {
    for (const auto& [set, labels] : f->label_sets) {
      std::vector<std::string> prompts;
      for (const auto& l : labels) prompts.push_back(Prompt(f->prompt_template, l));
      std::promise<Result<TextEmbeddings>> p;
      auto fut = p.get_future();
      TensorInferOptions o;
      o.context = BackgroundContext("label-set:" + set);
      svc->EmbedTexts(
          *f, prompts, o, [&p](Result<TextEmbeddings> r) { p.set_value(std::move(r)); }, /*whole_only=*/true);
      auto r = fut.get();
      if (!r.ok())
        return FailedPrecondition("label set '" + set + "' of '" + f->name +
                                  "' failed to embed: " + r.status().message());
    }
  }
  return svc;
}

const ClipFamily* ClipService::Find(const std::string& name) const {
  for (const auto& f : families_)
    if (name.empty() || f->name == name || f->vision->config.name == name || f->text->config.name == name)
      return f.get();
  return nullptr;
}

std::vector<std::string> ClipService::names() const {
  std::vector<std::string> out;
  for (const auto& f : families_) out.push_back(f->name);
  return out;
}

void ClipService::Tokenize(const ClipFamily& f, std::vector<std::string> texts,
                           const RequestContextPtr& context,
                           std::function<void(Result<TokenIds>)> done) const {
  // Tokenising is CPU work proportional to the input: never on the caller's (an I/O) thread.
  // Large inputs are split across pool tasks so both cores share them.
  constexpr size_t kPerTask = 256;
  struct Join {
    std::mutex mu;
    TokenIds ids;
    size_t left = 0;
    std::function<void(Result<TokenIds>)> done;
  };
  auto join = std::make_shared<Join>();
  join->ids.resize(texts.size());
  join->done = std::move(done);
  if (texts.empty()) return join->done(TokenIds{});
  auto shared = std::make_shared<const std::vector<std::string>>(std::move(texts));
  const size_t parts = (shared->size() + kPerTask - 1) / kPerTask;
  join->left = parts;
  for (size_t p = 0; p < parts; ++p) {
    pool_.Submit([&f, join, shared, context, p] {
      const size_t begin = p * kPerTask, end = std::min(shared->size(), begin + kPerTask);
      text::EncodeOptions o;
      o.max_length = f.context_length;
      TokenIds part;
      // Once the client has left or the deadline has passed, no more texts are tokenized.
      for (size_t i = begin; i < end; ++i) {
        if (!Interrupted(context, "while tokenizing").ok()) break;
        part.push_back(f.tokenizer->Encode((*shared)[i], o).ids);
      }
      std::unique_lock lock(join->mu);
      for (size_t i = 0; i < part.size(); ++i) join->ids[begin + i] = std::move(part[i]);
      if (--join->left > 0) return;
      lock.unlock();
      if (Status s = Interrupted(context, "while tokenizing"); !s.ok()) return join->done(s);
      join->done(std::move(join->ids));
    });
  }
}

// One EmbedTexts call: its texts, results, and the window that keeps only a few chunks in
// flight. The first error answers `done` and closes the window; chunks already running finish
// (their embeddings still reach the cache) but answer nothing.
struct ClipService::TextJob {
  const ClipFamily* family = nullptr;
  std::vector<std::string> texts;
  TensorInferOptions options;
  size_t chunk_rows = 1;
  std::unique_ptr<ConcurrencyWindow> window;
  std::mutex mu;
  TextEmbeddings out;
  size_t chunks_left = 0;
  bool failed = false;
  bool submitted = false;   // a chunk reached the batcher: later ones are continuations
  bool whole_only = false;  // refuse texts longer than the context instead of truncating
  EmbeddingsCallback done;

  // Answers with `error` unless already answered; returns whether it did.
  bool Fail(const Status& error) {
    {
      std::lock_guard lock(mu);
      if (failed) return false;
      failed = true;
    }
    window->Close();
    done(error);
    return true;
  }
  // One chunk finished well.
  void ChunkDone() {
    std::unique_lock lock(mu);
    if (failed) return;
    const bool last = --chunks_left == 0;
    lock.unlock();
    window->Release();
    if (last) done(std::move(out));
  }
};

void ClipService::EmbedTexts(const ClipFamily& f, std::vector<std::string> texts,
                             const TensorInferOptions& options, EmbeddingsCallback done, bool whole_only) {
  if (texts.empty()) return done(TextEmbeddings{});
  auto job = std::make_shared<TextJob>();
  job->whole_only = whole_only;
  job->family = &f;
  job->options = options;
  job->options.outputs = {f.text->signature.outputs.front().name};
  job->chunk_rows = f.text->config.batching() ? static_cast<size_t>(f.text->config.max_batch_size) : 1;
  // Two chunks per instance keep every instance busy (one running, one staged) without
  // flooding the queue: other requests interleave, and nothing is refused for this request's
  // own backlog.
  job->window = std::make_unique<ConcurrencyWindow>(
      2 * static_cast<size_t>(std::max(1, f.text->config.instance_count)));
  job->out.vectors.resize(texts.size());
  job->texts = std::move(texts);
  job->done = std::move(done);
  const size_t chunks = (job->texts.size() + job->chunk_rows - 1) / job->chunk_rows;
  job->chunks_left = chunks;
  for (size_t c = 0; c < chunks; ++c)
    job->window->Acquire([this, job, c] { pool_.Submit([this, job, c] { RunTextChunk(job, c); }); });
}

void ClipService::RunTextChunk(const std::shared_ptr<TextJob>& job, size_t chunk) {
  const ClipFamily& f = *job->family;
  const auto& ctx = job->options.context;
  const size_t begin = chunk * job->chunk_rows;
  const size_t end = std::min(job->texts.size(), begin + job->chunk_rows);
  // Tokenise first: the cache key is the token ids, so texts the tokenizer normalises alike
  // ("A  Photo", "a photo") share one entry.
  text::EncodeOptions eo;
  eo.max_length = f.context_length;
  eo.pad_to_max = true;
  std::vector<text::Encoding> encs;
  std::vector<std::string> keys;
  std::vector<size_t> misses;  // indices into the chunk
  int64_t tokens = 0;
  std::vector<std::pair<size_t, std::shared_ptr<const Embedding>>> hits;
  for (size_t i = begin; i < end; ++i) {
    // Texts whose embeddings are cached never reach a queue and its deadline check: checked here,
    // between texts, so a chunk stops once the client has gone or the deadline has passed.
    if (Status s = Interrupted(ctx, "while embedding texts"); !s.ok()) {
      job->Fail(s);
      return;
    }
    if (job->whole_only) {
      const size_t n = f.tokenizer->Encode(job->texts[i]).ids.size();
      if (n > static_cast<size_t>(f.context_length)) {
        job->Fail(InvalidArgument("'" + job->texts[i].substr(0, 80) +
                                  (job->texts[i].size() > 80 ? "...'" : "'") + " is " + std::to_string(n) +
                                  " tokens, over the model's context of " + std::to_string(f.context_length) +
                                  ": the label would be cut off")
                      .WithKind(ErrorKind::kInvalidText));
        return;
      }
    }
    encs.push_back(f.tokenizer->Encode(job->texts[i], eo));
    const auto& e = encs.back();
    size_t real = 0;
    while (real < e.attention_mask.size() && e.attention_mask[real]) ++real;
    tokens += static_cast<int64_t>(real);
    keys.push_back(f.name + "|" +
                   std::string(reinterpret_cast<const char*>(e.ids.data()), real * sizeof(int64_t)));
    if (auto hit = text_cache_.Get(keys.back())) {
      text_hits_->Inc();
      hits.emplace_back(i, std::move(hit));
    } else {
      text_misses_->Inc();
      misses.push_back(i - begin);
    }
  }
  {
    std::lock_guard lock(job->mu);
    job->out.tokens += tokens;
    for (auto& [i, e] : hits) job->out.vectors[i] = *e;
  }
  if (misses.empty()) return job->ChunkDone();
  // One [rows, context] request for the chunk's misses (and its attention mask when the model
  // takes one).
  const int64_t rows = static_cast<int64_t>(misses.size());
  const int64_t len = static_cast<int64_t>(encs.front().ids.size());
  auto make = [&](const std::string& name, bool mask) {
    Tensor t;
    t.name = name;
    t.dtype = DataType::kInt64;
    t.shape = {rows, len};
    t.data.resize(static_cast<size_t>(rows * len) * 8);
    for (size_t r = 0; r < misses.size(); ++r) {
      const auto& src = mask ? encs[misses[r]].attention_mask : encs[misses[r]].ids;
      std::memcpy(t.data.data() + r * static_cast<size_t>(len) * 8, src.data(), static_cast<size_t>(len) * 8);
    }
    return t;
  };
  std::vector<Tensor> inputs;
  inputs.push_back(make(f.text->signature.inputs.front().name, false));
  if (f.text->signature.inputs.size() > 1) inputs.push_back(make(f.text->signature.inputs[1].name, true));
  TensorInferOptions o = job->options;
  {
    std::lock_guard lock(job->mu);
    o.continuation = job->submitted;
    job->submitted = true;
  }
  std::vector<std::pair<size_t, std::string>> targets;  // text index, cache key
  for (size_t m : misses) targets.emplace_back(begin + m, keys[m]);
  auto finish = [this, job, targets = std::move(targets)](Result<scheduling::InferResult> r) {
    if (!r.ok()) {
      job->Fail(r.status());
      return;
    }
    auto rows_out = Rows(r.value(), targets.size());
    if (!rows_out.ok()) {
      job->Fail(rows_out.status());
      return;
    }
    for (size_t k = 0; k < targets.size(); ++k) {
      auto& e = (*rows_out)[k];
      auto cached = std::make_shared<const Embedding>(e);
      text_cache_.Put(targets[k].second, cached, HeapBlockBytes(cached->capacity() * sizeof(float)));
    }
    text_cache_bytes_->Set(static_cast<double>(text_cache_.used_bytes()));
    {
      std::lock_guard lock(job->mu);
      if (job->failed) return;
      for (size_t k = 0; k < targets.size(); ++k)
        job->out.vectors[targets[k].first] = std::move((*rows_out)[k]);
    }
    job->ChunkDone();
  };
  Status s = SubmitTensorInference(*f.text, std::move(inputs), o, OnPool(pool_, finish));
  if (!s.ok()) job->Fail(s);
}

void ClipService::EmbedImage(const ClipFamily& f, std::shared_ptr<const std::string> bytes,
                             const TensorInferOptions& options, EmbeddingCallback done) {
  const std::string key = f.name + "|" + ContentHash(*bytes);
  if (auto hit = image_cache_.Get(key)) {
    image_hits_->Inc();
    ImageEmbedding r;
    r.embedding = *hit;
    r.cache_hit = true;
    return done(std::move(r));
  }
  image_misses_->Inc();
  pool_.Submit([this, &f, bytes, options, done, key] {
    if (options.context && options.context->cancelled())
      return done(Status(StatusCode::kCancelled, "client went away"));
    const auto t0 = std::chrono::steady_clock::now();
    const auto& ii = *f.vision->config.image_input;
    auto t =
        EncodedImageToTensor(*bytes, ii, f.vision->signature.FindInput(ii.input)->dtype, options_.limits);
    if (!t.ok()) return done(t.status());
    const double decode_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::vector<Tensor> inputs;
    inputs.push_back(std::move(t).value());
    TensorInferOptions o = options;
    o.outputs = {f.vision->signature.outputs.front().name};
    auto finish = [this, done, key, decode_ms](Result<scheduling::InferResult> r) {
      if (!r.ok()) return done(r.status());
      auto e = FirstRow(r.value());
      if (!e.ok()) return done(e.status());
      auto cached = std::make_shared<const Embedding>(*e);
      image_cache_.Put(key, cached, HeapBlockBytes(cached->capacity() * sizeof(float)));
      image_cache_bytes_->Set(static_cast<double>(image_cache_.used_bytes()));
      ImageEmbedding out;
      out.embedding = std::move(e).value();
      out.decode_ms = decode_ms;
      const auto& tm = r.value().timing;
      out.queue_ms = std::chrono::duration<double, std::milli>(tm.started - tm.enqueued).count();
      out.infer_ms = std::chrono::duration<double, std::milli>(tm.finished - tm.started).count();
      done(std::move(out));
    };
    Status s = SubmitTensorInference(*f.vision, std::move(inputs), o, OnPool(pool_, finish));
    if (!s.ok()) finish(s);
  });
}

void ClipService::Classify(const ClipFamily& f, std::shared_ptr<const std::string> image,
                           std::vector<std::string> labels, std::string prompt_template,
                           const TensorInferOptions& options, ClassifyCallback done) {
  if (labels.empty()) return done(InvalidArgument("give at least one label (labels or label_set)"));
  if (prompt_template.empty()) prompt_template = f.prompt_template;
  if (prompt_template.find("{}") == std::string::npos)
    return done(InvalidArgument("prompt_template must contain {} where the label goes"));
  std::vector<std::string> prompts;
  for (const auto& l : labels) prompts.push_back(Prompt(prompt_template, l));
  struct State {
    std::mutex mu;
    std::optional<Embedding> image;
    std::optional<std::vector<Embedding>> texts;
    bool answered = false;
  };
  auto st = std::make_shared<State>();
  const double scale = f.logit_scale;
  auto maybe_finish = [st, labels, scale, done](std::optional<Status> error) {
    std::unique_lock lock(st->mu);
    if (st->answered) return;
    if (error) {
      st->answered = true;
      lock.unlock();
      return done(*error);
    }
    if (!st->image || !st->texts) return;
    st->answered = true;
    lock.unlock();
    done(Score(*st->image, labels, *st->texts, scale));
  };
  EmbedTexts(
      f, std::move(prompts), options,
      [st, maybe_finish](Result<TextEmbeddings> r) {
        if (!r.ok()) return maybe_finish(r.status());
        {
          std::lock_guard lock(st->mu);
          st->texts = std::move(r.value().vectors);
        }
        maybe_finish(std::nullopt);
      },
      /*whole_only=*/true);
  EmbedImage(f, std::move(image), options, [st, maybe_finish](Result<ImageEmbedding> r) {
    if (!r.ok()) return maybe_finish(r.status());
    {
      std::lock_guard lock(st->mu);
      st->image = std::move(r.value().embedding);
    }
    maybe_finish(std::nullopt);
  });
}

void ClipService::ClassifyEnsemble(const ClipFamily& f, const std::string& label_set,
                                   std::shared_ptr<const std::string> image, int64_t clip_timeout_ms,
                                   std::string prompt_template, const TensorInferOptions& options,
                                   EnsembleCallback done) {
  auto it = f.ensembles.find(label_set);
  if (it == f.ensembles.end()) return done(NotFound("label set '" + label_set + "' has no ensemble"));
  const ClipFamily::Ensemble* ens = &it->second;
  const std::vector<std::string> labels = f.label_sets.at(label_set);
  const ClipFamily* fam = &f;
  pool_.Submit([this, fam, ens, labels, image, clip_timeout_ms, prompt_template, options, done] {
    scheduling::ServedModel& cls = *ens->classifier;
    const auto& ii = *cls.config.image_input;
    const auto t0 = std::chrono::steady_clock::now();
    auto t = EncodedImageToTensor(*image, ii, cls.signature.FindInput(ii.input)->dtype, options_.limits);
    if (!t.ok()) return done(t.status());
    const double decode_ms = Ms(std::chrono::steady_clock::now() - t0);
    std::vector<Tensor> inputs;
    inputs.push_back(std::move(t).value());
    TensorInferOptions o = options;
    o.outputs = {cls.signature.outputs.front().name};
    auto after_classifier = [this, fam, ens, labels, image, clip_timeout_ms, prompt_template, options, done,
                             decode_ms](Result<scheduling::InferResult> r) {
      if (!r.ok()) return done(r.status());
      const Tensor& out = r.value().outputs.front();
      if (out.dtype != DataType::kFp32 || out.data.size() < labels.size() * 4)
        return done(Internal("classifier output must be FP32 with one value per label"));
      std::vector<double> p(labels.size());
      for (size_t i = 0; i < labels.size(); ++i) {
        float v;
        std::memcpy(&v, out.data.data() + i * 4, 4);
        p[i] = v;
      }
      if (!ens->config.classifier_outputs_probabilities) {
        const double mx = *std::max_element(p.begin(), p.end());
        double sum = 0;
        for (double& x : p) sum += (x = std::exp(x - mx));
        for (double& x : p) x /= sum;
      }
      EnsembleResult res;
      const auto& tm = r.value().timing;
      res.decode_ms = decode_ms;
      res.queue_ms = Ms(tm.started - tm.enqueued);
      res.infer_ms = Ms(tm.finished - tm.started);
      for (size_t i = 0; i < labels.size(); ++i) res.classifier.push_back({labels[i], p[i], 0});
      std::stable_sort(
          res.classifier.begin(), res.classifier.end(),
          [](const LabelScore& a, const LabelScore& b) { return a.probability > b.probability; });
      const LabelScore top = res.classifier.front();
      const auto& pl = ens->config.priority_labels;
      const bool priority = std::find(pl.begin(), pl.end(), top.label) != pl.end();
      const bool between = top.probability >= ens->config.low && top.probability < ens->config.high;
      char why[256];
      if (!priority && !between) {
        std::snprintf(why, sizeof why, "classifier top-1 '%s' at %.3f is %s", top.label.c_str(),
                      top.probability,
                      top.probability >= ens->config.high ? "at or above the high threshold (confident)"
                                                          : "below the low threshold (CLIP not consulted)");
        res.labels = res.classifier;
        res.reason = why;
        return done(std::move(res));
      }
      if (priority)
        std::snprintf(why, sizeof why, "classifier top-1 '%s' is a priority label", top.label.c_str());
      else
        std::snprintf(why, sizeof why, "classifier top-1 '%s' at %.3f is between %.2f and %.2f",
                      top.label.c_str(), top.probability, ens->config.low, ens->config.high);
      const std::string reason = why;
      TensorInferOptions co = options;
      co.timeout_us = (clip_timeout_ms > 0 ? clip_timeout_ms : ens->config.clip_timeout_ms) * 1000;
      const auto clip_start = std::chrono::steady_clock::now();
      Classify(*fam, image, labels, prompt_template, co,
               [res = std::move(res), reason, top, done,
                clip_start](Result<std::vector<LabelScore>> clip) mutable {
                 res.infer_ms += Ms(std::chrono::steady_clock::now() - clip_start);  // CLIP's part, whole
                 if (!clip.ok()) {
                   res.labels = res.classifier;
                   res.reason =
                       reason + "; CLIP failed (" + clip.status().message() + "): the classifier's answer";
                   return done(std::move(res));
                 }
                 res.clip = *clip;
                 res.vlm_used = true;
                 // Confidence-weighted: each side weighs by its own top-1 probability.
                 const double wc = top.probability, wv = clip->front().probability;
                 std::map<std::string, double> pv, sim;
                 for (const auto& s : *clip) {
                   pv[s.label] = s.probability;
                   sim[s.label] = s.similarity;
                 }
                 for (const auto& s : res.classifier)
                   res.labels.push_back(
                       {s.label, (wc * s.probability + wv * pv[s.label]) / (wc + wv), sim[s.label]});
                 std::stable_sort(
                     res.labels.begin(), res.labels.end(),
                     [](const LabelScore& a, const LabelScore& b) { return a.probability > b.probability; });
                 res.reason =
                     reason + ": CLIP consulted, probabilities weighted by each side's top-1 confidence";
                 done(std::move(res));
               });
    };
    Status s = SubmitTensorInference(cls, std::move(inputs), o, OnPool(pool_, after_classifier));
    if (!s.ok()) after_classifier(s);
  });
}

}  // namespace sightline::tasks
