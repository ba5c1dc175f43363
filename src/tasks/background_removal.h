// Background removal: image bytes in, cutout / mask / effect renderings out. Decoding and
// preprocessing run on the decode pool, inference on the model's batcher, and the matte work
// (mask upsampling, clean-up, compositing, effects, encoding) back on the pool, so no I/O
// thread and no batcher thread does pixel work. Results are cached by content hash.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/lru_cache.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "media/effects.h"
#include "media/image_decoder.h"
#include "media/image_metadata.h"
#include "media/image_ops.h"
#include "observability/metrics.h"
#include "scheduling/model_registry.h"
#include "tasks/tensor_inference.h"

namespace sightline::tasks {

enum class MatteOutput { kCutout, kMask, kBoth };

struct RemoveBackgroundParams {
  MatteOutput output = MatteOutput::kCutout;
  media::ImageFormat format = media::ImageFormat::kPng;
  std::optional<std::array<uint8_t, 3>> bg_color;  // flatten the cutout over it (JPEG: white if unset)
  int max_side = 0;                                // 0 = keep the input's size
  bool post_process = false;                       // opening + blur + threshold on the mask
  std::vector<media::Effect> effects;              // each replaces the plain cutout with a rendering
  bool metadata = false;                           // also answer the input's EXIF metadata
  int quality = 90;                                // WebP / JPEG

  // Canonical text of everything that changes the output (part of the cache key).
  std::string Canonical() const;
};

// Whether `name` is one of the parameters above (output, format, bg_color, max_side,
// post_process, effects, metadata, quality); routes reject names that are not.
bool IsRemoveBackgroundParam(std::string_view name);
// Sets one parameter from its text form; errors say which value was wrong and what is allowed.
Status SetRemoveBackgroundParam(RemoveBackgroundParams& params, std::string_view name,
                                std::string_view value);

struct EncodedImage {
  std::string name;          // "cutout", "mask", or an effect name
  std::string content_type;  // "image/png", ...
  std::string bytes;
};

struct RemoveBackgroundTiming {
  double decode_ms = 0, preprocess_ms = 0, queue_ms = 0, infer_ms = 0, postprocess_ms = 0, encode_ms = 0,
         total_ms = 0;
};

struct RemoveBackgroundResult {
  std::vector<EncodedImage> outputs;
  int width = 0;  // of the outputs
  int height = 0;
  std::optional<media::ImageMetadata> metadata;
  RemoveBackgroundTiming timing;
  bool cache_hit = false;
  std::string model;
  std::string variant;           // the model file variant that ran ("fp16", "quint8", ...)
  bool reduced_quality = false;  // adaptive quality picked the fallback variant
};

using RemoveBackgroundCallback = std::function<void(Result<RemoveBackgroundResult>)>;

// The background-removal model named `name`, or the first one in the repository when `name` is
// empty. Errors: kNotFound (unknown, or none loaded), kInvalidArgument (not such a model).
Result<scheduling::ServedModel*> FindBackgroundRemovalModel(const scheduling::ModelRegistry& models,
                                                            const std::string& name);

class BackgroundRemoval {
 public:
  struct Options {
    media::DecodeLimits limits;
    size_t cache_bytes = 256u << 20;  // 0 disables the result cache
  };
  BackgroundRemoval(ThreadPool& pool, observability::MetricsRegistry& metrics, Options options);

  // Calls `done` exactly once, from a pool or batcher thread (or inline on a cache hit or an
  // immediate refusal). `model` must have task background_removal and outlive the call.
  void Run(scheduling::ServedModel& model, std::shared_ptr<const std::string> image,
           RemoveBackgroundParams params, TensorInferOptions options, RemoveBackgroundCallback done);

 private:
  struct Job;
  void Prepare(std::shared_ptr<Job> job);  // decode, preprocess, submit (on the pool)
  void Finish(std::shared_ptr<Job> job, Result<scheduling::InferResult> inferred);
  void Compose(std::shared_ptr<Job> job, Result<scheduling::InferResult> inferred);

  ThreadPool& pool_;
  Options options_;
  LruCache<RemoveBackgroundResult> cache_;
  observability::Counter* hits_;
  observability::Counter* misses_;
  observability::Gauge* cache_bytes_;
};

}  // namespace sightline::tasks
