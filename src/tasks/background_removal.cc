#include "tasks/background_removal.h"

#include <new>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "core/half.h"
#include "core/heap_bytes.h"
#include "media/matte.h"
#include "media/preprocess.h"
#include "tasks/content_hash.h"
#include "tasks/image_input.h"

namespace sightline::tasks {
namespace {

Status OutOfMemory() {
  return Status(StatusCode::kUnavailable, "not enough memory to process this image now").WithRetryAfter(1.0);
}

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

Result<int> ParseInt(std::string_view name, std::string_view v, int lo, int hi) {
  int out = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), out);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size() || out < lo || out > hi)
    return InvalidArgument(std::string(name) + " must be an integer in " + std::to_string(lo) + ".." +
                           std::to_string(hi) + ", not '" + std::string(v) + "'");
  return out;
}

Result<bool> ParseBool(std::string_view name, std::string_view v) {
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off" || v.empty()) return false;
  return InvalidArgument(std::string(name) + " must be true or false, not '" + std::string(v) + "'");
}

// "#rrggbb", "rrggbb" or "r,g,b".
Result<std::array<uint8_t, 3>> ParseColor(std::string_view v) {
  std::array<uint8_t, 3> c{};
  std::string_view s = v;
  if (!s.empty() && s[0] == '#') s.remove_prefix(1);
  if (s.size() == 6 && s.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos) {
    for (int i = 0; i < 3; ++i) {
      unsigned x = 0;
      std::from_chars(s.data() + 2 * i, s.data() + 2 * i + 2, x, 16);
      c[i] = static_cast<uint8_t>(x);
    }
    return c;
  }
  int i = 0;
  size_t pos = 0;
  while (i < 3) {
    const size_t comma = s.find(',', pos);
    auto part = s.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    auto n = ParseInt("bg_color", part, 0, 255);
    if (!n.ok()) break;
    c[i++] = static_cast<uint8_t>(*n);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  if (i == 3 && s.find(',', pos) == std::string_view::npos) return c;
  return InvalidArgument("bg_color must be #rrggbb or r,g,b, not '" + std::string(v) + "'");
}

// The model's foreground probability map: the last two dims of its first output.
Result<media::Mask> MaskFromOutput(const Tensor& t) {
  if (t.shape.size() < 2) return Internal("background model output must have at least 2 dims");
  const int64_t h = t.shape[t.shape.size() - 2], w = t.shape[t.shape.size() - 1];
  if (h <= 0 || w <= 0 || h * w > (1 << 26)) return Internal("background model output has a bad shape");
  const size_t n = static_cast<size_t>(h * w);
  std::vector<float> p(n);
  if (t.dtype == DataType::kFp32 && t.data.size() >= n * 4) {
    std::memcpy(p.data(), t.data.data(), n * 4);
  } else if (t.dtype == DataType::kFp16 && t.data.size() >= n * 2) {
    for (size_t i = 0; i < n; ++i) {
      uint16_t bits;
      std::memcpy(&bits, t.data.data() + 2 * i, 2);
      p[i] = HalfToFloat(bits);
    }
  } else {
    return Internal("background model output must be FP32 or FP16");
  }
  return media::MaskFromProbabilities(p.data(), static_cast<int>(w), static_cast<int>(h));
}

// What a cached result owns on the heap beyond sizeof (the cache adds its own bookkeeping): the
// encoded outputs, which are the bulk, and the few strings around them.
size_t ResultHeapBytes(const RemoveBackgroundResult& r) {
  size_t n = HeapBlockBytes(r.outputs.capacity() * sizeof(EncodedImage)) + StringHeapBytes(r.model) +
             StringHeapBytes(r.variant);
  for (const auto& o : r.outputs)
    n += HeapBlockBytes(o.bytes.capacity()) + StringHeapBytes(o.name) + StringHeapBytes(o.content_type);
  if (const auto& m = r.metadata) {
    n += StringHeapBytes(m->format);
    for (const auto* s : {&m->make, &m->model, &m->lens, &m->captured_at})
      if (*s) n += StringHeapBytes(**s);
  }
  return n;
}

}  // namespace

std::string RemoveBackgroundParams::Canonical() const {
  std::string s =
      "o=" + std::to_string(static_cast<int>(output)) + ";f=" + std::to_string(static_cast<int>(format));
  if (bg_color)
    s += ";bg=" + std::to_string((*bg_color)[0]) + "," + std::to_string((*bg_color)[1]) + "," +
         std::to_string((*bg_color)[2]);
  s += ";ms=" + std::to_string(max_side) + ";pp=" + (post_process ? "1" : "0") +
       ";q=" + std::to_string(quality);
  s += ";md=" + std::string(metadata ? "1" : "0") + ";fx=";
  for (auto e : effects) s += std::string(media::EffectName(e)) + ",";
  return s;
}

bool IsRemoveBackgroundParam(std::string_view n) {
  return n == "output" || n == "format" || n == "bg_color" || n == "max_side" || n == "post_process" ||
         n == "effects" || n == "metadata" || n == "quality";
}

Status SetRemoveBackgroundParam(RemoveBackgroundParams& p, std::string_view name, std::string_view v) {
  if (name == "output") {
    if (v == "cutout")
      p.output = MatteOutput::kCutout;
    else if (v == "mask")
      p.output = MatteOutput::kMask;
    else if (v == "both")
      p.output = MatteOutput::kBoth;
    else
      return InvalidArgument("output must be cutout, mask or both, not '" + std::string(v) + "'");
  } else if (name == "format") {
    ASSIGN_OR_RETURN(p.format, media::ParseImageFormat(v));
  } else if (name == "bg_color") {
    if (v.empty())
      p.bg_color.reset();
    else {
      ASSIGN_OR_RETURN(p.bg_color, ParseColor(v));
    }
  } else if (name == "max_side") {
    ASSIGN_OR_RETURN(p.max_side, ParseInt(name, v, 0, 30000));
  } else if (name == "post_process") {
    ASSIGN_OR_RETURN(p.post_process, ParseBool(name, v));
  } else if (name == "metadata") {
    ASSIGN_OR_RETURN(p.metadata, ParseBool(name, v));
  } else if (name == "quality") {
    ASSIGN_OR_RETURN(p.quality, ParseInt(name, v, 1, 100));
  } else if (name == "effects") {
    p.effects.clear();
    size_t pos = 0;
    while (pos <= v.size()) {
      size_t comma = v.find(',', pos);
      if (comma == std::string_view::npos) comma = v.size();
      auto item = v.substr(pos, comma - pos);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (!item.empty()) {
        ASSIGN_OR_RETURN(auto e, media::ParseEffect(item));
        p.effects.push_back(e);
      }
      pos = comma + 1;
    }
    if (p.effects.size() > 8) return InvalidArgument("at most 8 effects per request");
  } else {
    return InvalidArgument("unknown parameter '" + std::string(name) + "'");
  }
  return Status::Ok();
}

struct BackgroundRemoval::Job {
  scheduling::ServedModel* requested = nullptr;  // what the caller asked for
  scheduling::ServedModel* model = nullptr;      // what runs it (a fallback variant under load)
  std::shared_ptr<const std::string> bytes;
  RemoveBackgroundParams params;
  TensorInferOptions options;
  RemoveBackgroundCallback done;
  std::string cache_key;
  Clock::time_point start;
  media::Image working;  // decoded, limited to max_side: the outputs' size
  RemoveBackgroundResult result;
};

BackgroundRemoval::BackgroundRemoval(ThreadPool& pool, observability::MetricsRegistry& metrics,
                                     Options options)
    : pool_(pool), options_(options), cache_(options.cache_bytes) {
  auto& lookups =
      metrics.AddCounter("sightline_result_cache_lookups_total",
                         "Result cache lookups by cache and outcome (hit, miss)", {"cache", "result"});
  hits_ = &lookups.WithLabels({"remove_background", "hit"});
  misses_ = &lookups.WithLabels({"remove_background", "miss"});
  cache_bytes_ =
      &metrics.AddGauge("sightline_result_cache_bytes", "Bytes held by each result cache", {"cache"})
           .WithLabels({"remove_background"});
}

Result<scheduling::ServedModel*> FindBackgroundRemovalModel(const scheduling::ModelRegistry& models,
                                                            const std::string& name) {
  if (!name.empty()) {
    auto* m = models.Find(name);
    if (!m) return NotFound("unknown model '" + name + "'");
    if (m->config.task != "background_removal")
      return InvalidArgument("model '" + name + "' is not a background-removal model");
    return m;
  }
  for (const auto* m : models.All())
    if (m->config.task == "background_removal") return models.Find(m->config.name);
  return NotFound("no background-removal model is loaded (a model with \"task\": \"background_removal\")");
}

void BackgroundRemoval::Run(scheduling::ServedModel& model, std::shared_ptr<const std::string> image,
                            RemoveBackgroundParams params, TensorInferOptions options,
                            RemoveBackgroundCallback done) {
  auto job = std::make_shared<Job>();
  job->start = Clock::now();
  job->requested = &model;
  job->model = &model;
  job->bytes = std::move(image);
  job->params = std::move(params);
  job->options = std::move(options);
  job->done = std::move(done);
  if (!model.config.image_input)
    return job->done(FailedPrecondition("model '" + model.config.name + "' takes no images"));

  if (options_.cache_bytes > 0) {
    // The variant that ran completes the key (at Put). A full-quality result always serves; a
    // reduced one only while the model is degraded anyway.
    job->cache_key = ContentHash(*job->bytes) + "|" + model.config.name + "|" + job->params.Canonical() + "|";
    auto hit = cache_.Get(job->cache_key + model.config.variant);
    if (!hit && model.fallback && model.degraded.load(std::memory_order_relaxed))
      hit = cache_.Get(job->cache_key + model.fallback->config.variant);
    if (hit) {
      hits_->Inc();
      RemoveBackgroundResult r = *hit;
      r.cache_hit = true;
      r.timing = {};
      r.timing.total_ms = Ms(Clock::now() - job->start);
      return job->done(std::move(r));
    }
    misses_->Inc();
  }

  pool_.Submit([this, job] {
    // Pixel work may still run out of memory under a limit: that fails this image alone.
    try {
      Prepare(job);
    } catch (const std::bad_alloc&) {
      job->done(OutOfMemory());
    }
  });
}

void BackgroundRemoval::Prepare(std::shared_ptr<Job> job) {
  if (job->options.context && job->options.context->cancelled())
    return job->done(Status(StatusCode::kCancelled, "client went away"));
  const auto& ii = *job->requested->config.image_input;
  media::DecodeOptions dec;
  dec.limits = options_.limits;
  if (job->params.max_side > 0) {
    // Outputs are at most max_side, the model wants its own size: shrink on load to cover both.
    dec.min_width = dec.min_height = std::max({job->params.max_side, ii.width, ii.height});
  }
  auto t0 = Clock::now();
  auto decoded =
      media::DecodeImage(reinterpret_cast<const uint8_t*>(job->bytes->data()), job->bytes->size(), dec);
  if (!decoded.ok()) return job->done(decoded.status());
  if (job->params.metadata) {
    auto md =
        media::ReadImageMetadata(reinterpret_cast<const uint8_t*>(job->bytes->data()), job->bytes->size());
    if (md.ok()) job->result.metadata = std::move(md).value();
  }
  auto working = media::LimitLongSide(std::move(decoded).value(), job->params.max_side);
  if (!working.ok()) return job->done(working.status());
  job->working = std::move(working).value();
  // WebP cannot hold more than 16383 px a side (libwebp's WEBP_MAX_DIMENSION): refuse now, not
  // after seconds of inference. JPEG's limit (65535) is above every accepted image.
  constexpr int kWebpMaxSide = 16383;
  if (job->params.format == media::ImageFormat::kWebp &&
      std::max(job->working.width, job->working.height) > kWebpMaxSide)
    return job->done(InvalidArgument("a WebP answer is at most " + std::to_string(kWebpMaxSide) +
                                     " px a side and this image is " + std::to_string(job->working.width) +
                                     "x" + std::to_string(job->working.height) +
                                     "; ask for format=png, or set max_side"));
  // Adaptive quality decides now, when this request is about to queue: under load the
  // fallback variant runs it (its input dtype may differ, so preprocessing follows the choice).
  scheduling::ServedModel& model = scheduling::SelectVariant(*job->requested);
  job->model = &model;
  job->result.variant = model.config.variant;
  job->result.reduced_quality = &model != job->requested;
  const DataType dtype = model.signature.FindInput(ii.input)->dtype;
  auto t1 = Clock::now();
  auto tensor = media::ImageToTensor(job->working, PreprocessSpecFor(ii, dtype), ii.input);
  if (!tensor.ok()) return job->done(tensor.status());
  auto t2 = Clock::now();
  job->result.timing.decode_ms = Ms(t1 - t0);
  job->result.timing.preprocess_ms = Ms(t2 - t1);
  std::vector<Tensor> inputs;
  inputs.push_back(std::move(tensor).value());
  job->options.outputs = {model.signature.outputs.front().name};
  Status s = SubmitTensorInference(
      model, std::move(inputs), job->options, [this, job](Result<scheduling::InferResult> r) {
        // Off the batcher thread: pixel work belongs to the pool.
        pool_.Submit([this, job, r = std::move(r)]() mutable { Finish(job, std::move(r)); });
      });
  if (!s.ok()) job->done(s);
}

void BackgroundRemoval::Finish(std::shared_ptr<Job> job, Result<scheduling::InferResult> inferred) {
  try {
    Compose(job, std::move(inferred));
  } catch (const std::bad_alloc&) {
    job->done(OutOfMemory());
  }
}

void BackgroundRemoval::Compose(std::shared_ptr<Job> job, Result<scheduling::InferResult> inferred) {
  if (!inferred.ok()) return job->done(inferred.status());
  auto& res = job->result;
  const auto& r = inferred.value();
  res.timing.queue_ms = Ms(r.timing.started - r.timing.enqueued);
  res.timing.infer_ms = Ms(r.timing.finished - r.timing.started);
  res.model = job->model->config.name;
  if (r.outputs.empty()) return job->done(Internal("background model returned no output"));
  const auto& p = job->params;
  const media::Image& img = job->working;

  auto t0 = Clock::now();
  auto small = MaskFromOutput(r.outputs.front());
  if (!small.ok()) return job->done(small.status());
  auto mask = media::ResizeImage(*small, img.width, img.height);
  if (!mask.ok()) return job->done(mask.status());
  if (p.post_process) {
    mask = media::CleanUpMask(*mask);
    if (!mask.ok()) return job->done(mask.status());
  }
  std::vector<std::pair<std::string, media::Image>> images;
  if (p.output != MatteOutput::kMask || !p.effects.empty()) {
    auto cut = media::Cutout(img, *mask);
    if (!cut.ok()) return job->done(cut.status());
    if (p.effects.empty()) {
      images.emplace_back("cutout", std::move(cut).value());
    } else {
      auto fx = media::ApplyEffects(*cut, p.effects);
      if (!fx.ok()) return job->done(fx.status());
      for (size_t i = 0; i < p.effects.size(); ++i)
        images.emplace_back(std::string(media::EffectName(p.effects[i])), std::move((*fx)[i]));
    }
    const bool flatten = p.bg_color || p.format == media::ImageFormat::kJpeg;
    if (flatten)
      for (auto& [name, im] : images)
        im = media::FlattenOver(im, p.bg_color.value_or(std::array<uint8_t, 3>{255, 255, 255}));
  }
  if (p.output != MatteOutput::kCutout) images.emplace_back("mask", std::move(mask).value());
  auto t1 = Clock::now();
  for (auto& [name, im] : images) {
    auto enc = media::EncodeImage(im, p.format, p.quality);
    if (!enc.ok()) return job->done(enc.status());
    res.outputs.push_back({name, std::string(media::ContentTypeOf(p.format)), std::move(enc).value()});
  }
  auto t2 = Clock::now();
  res.width = img.width;
  res.height = img.height;
  res.timing.postprocess_ms = Ms(t1 - t0);
  res.timing.encode_ms = Ms(t2 - t1);
  res.timing.total_ms = Ms(t2 - job->start);
  if (!job->cache_key.empty()) {
    auto shared = std::make_shared<const RemoveBackgroundResult>(res);
    cache_.Put(job->cache_key + job->model->config.variant, shared, ResultHeapBytes(res));
    cache_bytes_->Set(static_cast<double>(cache_.used_bytes()));
  }
  job->done(std::move(res));
}

}  // namespace sightline::tasks
