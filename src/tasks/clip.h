// CLIP-style embeddings and zero-shot classification over a Hugging Face layout family (the
// "<name>.vision" and "<name>.text" models the registry loaded from one folder): text is
// tokenised on the work pool (never on the caller's thread), images decoded and preprocessed
// there too, and both towers run through their models' dynamic batchers. Many texts go in
// chunks of the text tower's max_batch_size, at most a few chunks in flight per request, so any
// number of texts fits any queue. Completions hop back to the pool: batcher threads only run
// models. Embeddings come back unit-normalised. Text embeddings are cached by token ids (so texts the
// tokenizer normalises alike share an entry), image embeddings by content hash (LRUs bounded in bytes); label
// prompts of configured label sets are embedded at start-up.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/lru_cache.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "media/image_decoder.h"
#include "observability/metrics.h"
#include "scheduling/model_registry.h"
#include "tasks/tensor_inference.h"
#include "tasks/zero_shot_config.h"
#include "text/tokenizer.h"

namespace sightline::tasks {

using Embedding = std::vector<float>;

struct ClipFamily {
  std::string name;
  scheduling::ServedModel* vision = nullptr;
  scheduling::ServedModel* text = nullptr;
  std::unique_ptr<text::Tokenizer> tokenizer;
  int context_length = 77;
  double logit_scale = 100.0;
  std::string prompt_template = "a photo of a {}";
  std::map<std::string, std::vector<std::string>> label_sets;
  // Confidence-gated ensembles by label set, with their classifier models resolved.
  struct Ensemble {
    ZeroShotConfig::Ensemble config;
    scheduling::ServedModel* classifier = nullptr;
  };
  std::map<std::string, Ensemble> ensembles;
};

struct LabelScore {
  std::string label;
  double probability = 0;
  double similarity = 0;  // cosine between the image and the label prompt
};

struct ClipTiming {
  double decode_ms = 0, text_ms = 0, image_ms = 0, total_ms = 0;
};

// One image's embedding with where its time went.
struct ImageEmbedding {
  Embedding embedding;
  double decode_ms = 0;  // decode + preprocess
  double queue_ms = 0;
  double infer_ms = 0;
  bool cache_hit = false;
};

// What a confidence-gated ensemble answered and why.
struct EnsembleResult {
  std::vector<LabelScore> labels;      // the answer, sorted by probability
  std::vector<LabelScore> classifier;  // the classifier's own probabilities
  std::vector<LabelScore> clip;        // CLIP's, when it ran and answered
  bool vlm_used = false;               // CLIP was consulted (answers say clip_used)
  std::string reason;
  // Milliseconds: the classifier's decode, queue and inference; CLIP's whole step, when
  // consulted, counts as inference.
  double decode_ms = 0, queue_ms = 0, infer_ms = 0;
};
using EnsembleCallback = std::function<void(Result<EnsembleResult>)>;

// Text embeddings in input order, and how many tokens the texts came to (OpenAI's usage).
struct TextEmbeddings {
  std::vector<Embedding> vectors;
  int64_t tokens = 0;
};

using EmbeddingsCallback = std::function<void(Result<TextEmbeddings>)>;
using EmbeddingCallback = std::function<void(Result<ImageEmbedding>)>;
using ClassifyCallback = std::function<void(Result<std::vector<LabelScore>>)>;

class ClipService {
 public:
  struct Options {
    media::DecodeLimits limits;
    size_t text_cache_bytes = 32u << 20;
    size_t image_cache_bytes = 64u << 20;
  };
  // Finds every complete family in `models`, loads its tokenizer.json, and embeds configured
  // label sets (blocking, at start-up). No family is not an error.
  static Result<std::unique_ptr<ClipService>> Create(scheduling::ModelRegistry& models, ThreadPool& pool,
                                                     observability::MetricsRegistry& metrics,
                                                     Options options);

  // By name; the empty name picks the first family. nullptr if none.
  const ClipFamily* Find(const std::string& name) const;
  bool empty() const { return families_.empty(); }
  std::vector<std::string> names() const;

  using TokenIds = std::vector<std::vector<int64_t>>;
  // Token ids per text (truncated to the context length, unpadded), computed on the pool.
  void Tokenize(const ClipFamily& family, std::vector<std::string> texts, const RequestContextPtr& context,
                std::function<void(Result<TokenIds>)> done) const;
  // All callbacks run exactly once, on a pool thread (or inline for cache hits and refusals).
  // Texts are embedded in chunks (see above); the first refusal fails the request and stops
  // the chunks not yet submitted.
  // `whole_only`: a text longer than the context is refused (kInvalidArgument naming it) rather
  // than truncated, for label prompts, where truncation would cut the label off.
  void EmbedTexts(const ClipFamily& family, std::vector<std::string> texts, const TensorInferOptions& options,
                  EmbeddingsCallback done, bool whole_only = false);
  void EmbedImage(const ClipFamily& family, std::shared_ptr<const std::string> bytes,
                  const TensorInferOptions& options, EmbeddingCallback done);
  // Softmax over logit_scale x cosine(image, "prompt(label)") for every label, sorted by probability.
  void Classify(const ClipFamily& family, std::shared_ptr<const std::string> image,
                std::vector<std::string> labels, std::string prompt_template,
                const TensorInferOptions& options, ClassifyCallback done);
  // The label set's classifier first; CLIP only when the classifier's top-1 confidence is in
  // [low, high) or its top label is a priority label, under clip_timeout_ms (0: the config's).
  // A CLIP failure or timeout answers the classifier's result. Probabilities combine weighted
  // by each side's top-1 confidence.
  // `prompt_template` (empty: the family's) shapes CLIP's prompts when CLIP is consulted.
  void ClassifyEnsemble(const ClipFamily& family, const std::string& label_set,
                        std::shared_ptr<const std::string> image, int64_t clip_timeout_ms,
                        std::string prompt_template, const TensorInferOptions& options,
                        EnsembleCallback done);

  // Zero-shot scores of one image embedding against label embeddings: softmax over
  // logit_scale x cosine, sorted by probability (stable for ties).
  static std::vector<LabelScore> Score(const Embedding& image, const std::vector<std::string>& labels,
                                       const std::vector<Embedding>& label_embeddings, double logit_scale);
  // "a photo of a {}" with the label in place of {}.
  static std::string Prompt(const std::string& prompt_template, const std::string& label);

 private:
  ClipService(ThreadPool& pool, Options options);
  struct TextJob;
  void RunTextChunk(const std::shared_ptr<TextJob>& job, size_t chunk);
  ThreadPool& pool_;
  Options options_;
  std::vector<std::unique_ptr<ClipFamily>> families_;
  LruCache<Embedding> text_cache_;
  LruCache<Embedding> image_cache_;
  observability::Counter* text_hits_ = nullptr;
  observability::Gauge* text_cache_bytes_ = nullptr;
  observability::Gauge* image_cache_bytes_ = nullptr;
  observability::Counter* text_misses_ = nullptr;
  observability::Counter* image_hits_ = nullptr;
  observability::Counter* image_misses_ = nullptr;
};

// Scales to unit length (a zero vector stays zero).
void Normalize(Embedding& v);

}  // namespace sightline::tasks
