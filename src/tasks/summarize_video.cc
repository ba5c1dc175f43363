#include "tasks/summarize_video.h"

#include "tasks/video_shots.h"

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>

namespace sightline::tasks {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kTask = "summarize";

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// "[00:01:02] a cat on a sofa", ... from the kept keyframes' captions in time order; a caption
// equal to the one before it adds nothing and is left out.
std::vector<std::string> TimelineLines(const std::vector<VideoKeyframe>& keyframes, double frame_rate) {
  std::vector<std::string> lines;
  std::string previous;
  for (const auto& k : keyframes) {
    if (k.duplicate_of >= 0 || k.caption.empty() || k.caption == previous) continue;
    std::string stamp = media::SmpteTimecode(k.time_s, frame_rate).substr(0, 8);
    lines.push_back("[" + stamp + "] " + k.caption);
    previous = k.caption;
  }
  return lines;
}

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += (out.empty() ? "" : "\n") + l;
  return out;
}

// Waits for `n` callbacks that may run on any thread.
class Latch {
 public:
  void Add() {
    std::lock_guard lock(mu_);
    ++pending_;
  }
  void Done() {
    std::lock_guard lock(mu_);
    if (--pending_ == 0) cv_.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return pending_ == 0; });
  }
  std::mutex& mu() { return mu_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t pending_ = 0;
};

// Starts `launch(i, finish)` for each keyframe (the kept ones only, or all) at once — all in
// flight together, so the model's batcher batches them — and waits for the last. A call's
// `finish(apply)` runs `apply` (storing its result) under one lock, then counts the call done.
using Finish = std::function<void(const std::function<void()>& apply)>;
void ForEachKeyframe(const std::vector<VideoKeyframe>& keyframes, bool kept_only,
                     const std::function<void(size_t, const Finish&)>& launch) {
  Latch latch;
  const Finish finish = [&latch](const std::function<void()>& apply) {
    {
      std::lock_guard lock(latch.mu());
      apply();
    }
    latch.Done();
  };
  for (size_t i = 0; i < keyframes.size(); ++i) {
    if (kept_only && keyframes[i].duplicate_of >= 0) continue;
    latch.Add();
    launch(i, finish);
  }
  latch.Wait();
}

// The safety classifier a request names (safety_model), else the default one; null when safety is
// off or none is loaded. Errors (400) when the name is not a loaded safety classifier.
Result<const ImageClassifier*> SafetyClassifier(const SummarizeVideoDeps& deps,
                                                const SummarizeVideoParams& params) {
  if (!params.safety) return nullptr;
  const ImageClassifier* c = deps.classifiers
                                 ? deps.classifiers->Find(ImageClassifier::Role::kSafety, params.safety_model)
                                 : nullptr;
  if (!c && !params.safety_model.empty())
    return InvalidArgument("safety_model: no safety classifier named '" + params.safety_model + "'");
  return c;
}

// The vision-language model a summary is asked of, and whether it is asked at all (null: the
// extractive summary). Errors (400) when the request names a model that is not there, asks for
// vlm without one or without captions, or leaves the model no room for its prompt.
Result<const CaptionerFamily*> SummaryModel(const SummarizeVideoDeps& deps,
                                            const SummarizeVideoParams& params) {
  const CaptionerFamily* vlm = nullptr;
  for (const auto& name : deps.captioners ? deps.captioners->names() : std::vector<std::string>{}) {
    const CaptionerFamily* f = deps.captioners->Find(name);
    if (f->kind == CaptionerFamily::Kind::kVisionLanguage &&
        (params.summary_model.empty() || params.summary_model == name)) {
      vlm = f;
      break;
    }
  }
  if (!params.summary_model.empty() && !vlm)
    return InvalidArgument("summary_model: no vision-language model named '" + params.summary_model + "'");
  if (params.summary_method == "vlm" && !vlm)
    return InvalidArgument(
        "summary_method vlm needs a vision-language model in the repository; none is loaded");
  if (params.summary_method == "vlm" && !params.captions)
    return InvalidArgument("summary_method vlm summarizes the captions: it cannot go with captions=false");
  if (params.summary_method == "extractive" || !params.captions || !deps.work_pool || !vlm) return nullptr;
  if (vlm->context_length > 0 && params.summary_max_tokens >= vlm->context_length)
    return InvalidArgument("summary_max_tokens " + std::to_string(params.summary_max_tokens) +
                           " leaves no room for the prompt in model '" + vlm->name + "''s context of " +
                           std::to_string(vlm->context_length) + " positions");
  return vlm;
}

// The summary prompt over `lines` of the timeline; while it is over the model's context, every
// other line is left out (the first and last kept).
Result<std::pair<CaptionJob, std::string>> SummaryJob(const CaptionerFamily& family,
                                                      std::vector<std::string> lines, int max_tokens) {
  for (;;) {
    std::string prompt = std::string(kVideoSummaryIntro) + "\n";
    for (const auto& l : lines) prompt += l + "\n";
    prompt += kVideoSummaryAsk;
    CaptionParams p;
    p.prompt = prompt;
    p.generation.max_new_tokens = max_tokens;
    p.generation.min_new_tokens = 1;  // an answer, never an empty summary
    auto job = PrepareCaption(family, p);
    if (job.ok()) return std::make_pair(std::move(job).value(), std::move(prompt));
    if (job.status().kind() != ErrorKind::kInvalidText || lines.size() <= 1) return job.status();
    std::vector<std::string> fewer;
    for (size_t i = 0; i < lines.size(); i += 2) fewer.push_back(lines[i]);
    if (fewer.size() > 1 && fewer.back() != lines.back()) fewer.back() = lines.back();
    lines = std::move(fewer);
  }
}

}  // namespace

std::vector<std::string> DefaultUnsafeLabels() {
  return {"nudity", "sexual content", "graphic violence", "blood and gore", "weapons"};
}

std::vector<std::string> DefaultVideoTags() {
  return {"calm",   "energetic", "joyful",  "dramatic", "dark",       "bright and colorful",
          "nature", "city",      "indoors", "outdoors", "people",     "animals",
          "sports", "music",     "food",    "travel",   "technology", "vintage"};
}

Status ValidateSummarizeVideoParams(const SummarizeVideoParams& p) {
  RETURN_IF_ERROR(media::ValidateShotDetectorOptions(p.detector));
  RETURN_IF_ERROR(media::ValidateKeyframeOptions(p.keyframes));
  if (p.keyframe_size < 32 || p.keyframe_size > 2048)
    return InvalidArgument("keyframe_size must be between 32 and 2048");
  if (p.thumbnail_size < 16 || p.thumbnail_size > 2048)
    return InvalidArgument("thumbnail_size must be between 16 and 2048");
  if (!std::isfinite(p.dedupe_threshold) || p.dedupe_threshold > 1)
    return InvalidArgument("dedupe_threshold must be between 0 and 1");
  if (p.dedupe_method != "auto" && p.dedupe_method != "clip" && p.dedupe_method != "perceptual_hash")
    return InvalidArgument("dedupe_method must be auto, clip or perceptual_hash, not '" + p.dedupe_method +
                           "'");
  if (p.top_tags < 1 || p.top_tags > 100) return InvalidArgument("top_tags must be between 1 and 100");
  if (p.top_labels < 1 || p.top_labels > 100) return InvalidArgument("top_labels must be between 1 and 100");
  if (!std::isfinite(p.safety_threshold) || p.safety_threshold <= 0 || p.safety_threshold > 1)
    return InvalidArgument("safety_threshold must be above 0 and at most 1");
  if (p.safety_labels.size() > 64) return InvalidArgument("safety_labels takes at most 64 labels");
  for (const auto& l : p.safety_labels)
    if (l.empty() || l.size() > 200 || l == kSafeLabel)
      return InvalidArgument("safety_labels must be non-empty, at most 200 bytes, and not the safe label");
  if (p.summary_method != "auto" && p.summary_method != "vlm" && p.summary_method != "extractive")
    return InvalidArgument("summary_method must be auto, vlm or extractive, not '" + p.summary_method + "'");
  if (p.summary_max_tokens < 1 || p.summary_max_tokens > kMaxNewTokensLimit)
    return InvalidArgument("summary_max_tokens must be between 1 and " + std::to_string(kMaxNewTokensLimit));
  if (p.tag_labels.size() > 256) return InvalidArgument("tag_labels takes at most 256 labels");
  for (const auto& l : p.tag_labels)
    if (l.empty() || l.size() > 200)
      return InvalidArgument("tag_labels must be non-empty, at most 200 bytes each");
  return Status::Ok();
}

Result<VideoSummary> SummarizeVideoNow(const SummarizeVideoDeps& deps, media::VideoInput input,
                                       const SummarizeVideoParams& params, const RequestContextPtr& context) {
  RETURN_IF_ERROR(ValidateSummarizeVideoParams(params));
  RETURN_IF_ERROR(VideoInterrupted(deps.video, context));
  ASSIGN_OR_RETURN(const CaptionerFamily* summarizer, SummaryModel(deps, params));
  ASSIGN_OR_RETURN(const ImageClassifier* safety, SafetyClassifier(deps, params));
  const VideoTaskDeps& vd = deps.video;
  auto stage = [&](const char* name, double ms) {
    ObserveVideoStage(vd, kTask, name, ms);
    if (params.on_stage) params.on_stage(name, ms);
  };
  const auto start = Clock::now();
  VideoSummary out;

  // Probe, then one pass: shots, and each frame's sharpness for choosing keyframes.
  std::vector<double> sharpness;
  DetectShotsParams shot_params;
  shot_params.detector = params.detector;
  ASSIGN_OR_RETURN(ShotPass pass, RunShotPass(vd, kTask, std::move(input), shot_params, context,
                                              [&](const media::AnalysisFrame& f) {
                                                sharpness.push_back(media::FrameSharpness(f));
                                              }));
  auto& decoder = pass.decoder;
  const std::vector<double>& times = pass.times;
  out.detector = pass.result.detector;
  out.video = pass.result.video;
  out.frames = pass.result.frames;
  out.decoded_duration_s = pass.result.decoded_duration_s;
  out.shots = std::move(pass.result.shots);
  out.timing.probe_ms = pass.result.timing.probe_ms;
  out.timing.decode_ms = pass.result.timing.decode_ms;
  out.timing.shot_detection_ms = pass.result.timing.shot_detection_ms;
  if (params.on_stage) {
    params.on_stage("probe", out.timing.probe_ms);
    params.on_stage("decode", out.timing.decode_ms);
    params.on_stage("shot_detection", out.timing.shot_detection_ms);
  }

  // Keyframes, decoded again at keyframe size.
  const auto t_key = Clock::now();
  const auto choices = media::ChooseKeyframes(out.shots, sharpness, times, params.keyframes);
  std::vector<double> at;
  for (const auto& c : choices) at.push_back(c.time_s);
  std::vector<media::Image> images(choices.size());
  // At keyframe size, or larger when thumbnails are asked larger (models resize for themselves).
  const int decode_width =
      params.thumbnails ? std::max(params.keyframe_size, params.thumbnail_size) : params.keyframe_size;
  RETURN_IF_ERROR(decoder->DecodeFramesAt(at, decode_width, [&](const media::AnalysisFrame& f) {
    RETURN_IF_ERROR(VideoInterrupted(vd, context));
    media::Image& image = images[static_cast<size_t>(f.index)];
    image.width = f.width;
    image.height = f.height;
    image.channels = 3;
    image.format = "video";
    image.source_width = out.video.width;
    image.source_height = out.video.height;
    image.pixels.assign(f.rgb, f.rgb + static_cast<size_t>(f.width) * f.height * 3);
    return Status::Ok();
  }));
  out.corrupt_packets = decoder->corrupt_packets();
  for (size_t i = 0; i < choices.size(); ++i) {
    if (images[i].pixels.empty()) continue;  // past the last decodable frame
    VideoKeyframe k;
    k.shot = choices[i].shot;
    k.frame = choices[i].frame;
    k.time_s = choices[i].time_s;
    k.sharpness = choices[i].sharpness;
    out.keyframes.push_back(std::move(k));
  }
  {
    size_t j = 0;  // drop the images that had no frame, keeping the two lists aligned
    for (size_t i = 0; i < images.size(); ++i) {
      if (images[i].pixels.empty()) continue;
      if (i != j) images[j] = std::move(images[i]);  // never a self-move: that empties it
      ++j;
    }
    images.resize(j);
  }
  out.timing.keyframes_ms = Ms(Clock::now() - t_key) + pass.per_frame_ms;

  // The keyframes as JPEG for the models that take encoded images (CLIP, captioners).
  const ClipFamily* clip = deps.clip && !deps.clip->empty() ? deps.clip->Find("") : nullptr;
  if (params.dedupe_method == "clip" && !clip)
    return FailedPrecondition("dedupe_method clip needs a CLIP model in the repository");
  const bool want_captions =
      params.captions && deps.captioners && !deps.captioners->empty() && deps.work_pool;
  std::vector<std::shared_ptr<const std::string>> jpegs(out.keyframes.size());
  if (clip || want_captions) {
    for (size_t i = 0; i < images.size(); ++i) {
      auto jpeg = media::EncodeImage(images[i], media::ImageFormat::kJpeg, 92);
      if (!jpeg.ok()) return jpeg.status();
      jpegs[i] = std::make_shared<const std::string>(std::move(jpeg).value());
    }
  }

  // Embedding: every keyframe through CLIP's vision tower (cached by content; tags reuse them).
  const auto t_embed = Clock::now();
  const bool clip_dedupe = params.dedupe && clip && params.dedupe_method != "perceptual_hash";
  std::vector<Embedding> embeddings(out.keyframes.size());
  if (clip_dedupe) {
    out.clip_model = clip->name;
    Status failed;
    TensorInferOptions o;
    o.context = context;
    ForEachKeyframe(out.keyframes, /*kept_only=*/false, [&](size_t i, const Finish& finish) {
      deps.clip->EmbedImage(*clip, jpegs[i], o, [&, i, finish](Result<ImageEmbedding> r) {
        finish([&] {
          if (r.ok())
            embeddings[i] = std::move(r.value().embedding);
          else if (failed.ok())
            failed = r.status();
        });
      });
    });
    RETURN_IF_ERROR(failed);
    out.timing.embedding_ms = Ms(Clock::now() - t_embed);
    stage("embedding", out.timing.embedding_ms);
  }

  // Dedupe: a keyframe alike an earlier kept one is its duplicate.
  const auto t_dedupe = Clock::now();
  out.dedupe_method = !params.dedupe ? "none" : clip_dedupe ? "clip" : "perceptual_hash";
  out.dedupe_threshold = params.dedupe_threshold >= 0 ? params.dedupe_threshold : clip_dedupe ? 0.95 : 0.85;
  for (size_t i = 0; i < out.keyframes.size(); ++i) {
    auto& k = out.keyframes[i];
    k.hash = media::DifferenceHash(images[i].pixels.data(), images[i].width, images[i].height);
    if (!params.dedupe) continue;
    double best = -1;
    for (size_t j = 0; j < i; ++j) {
      if (out.keyframes[j].duplicate_of >= 0) continue;
      double similarity = 0;
      if (clip_dedupe) {
        const auto& a = embeddings[i];
        const auto& b = embeddings[j];
        for (size_t d = 0; d < std::min(a.size(), b.size()); ++d)
          similarity += static_cast<double>(a[d]) * b[d];
      } else {
        similarity = 1.0 - media::HammingDistance(k.hash, out.keyframes[j].hash) / 64.0;
      }
      if (similarity >= out.dedupe_threshold && similarity > best) {
        best = similarity;
        k.duplicate_of = static_cast<int>(j);
        k.similarity = similarity;
      }
    }
  }
  out.timing.dedupe_ms = Ms(Clock::now() - t_dedupe);
  stage("dedupe", out.timing.dedupe_ms);

  // Thumbnails of the kept keyframes (counted with the keyframes stage).
  const auto t_thumbs = Clock::now();
  if (params.thumbnails) {
    for (size_t i = 0; i < out.keyframes.size(); ++i) {
      if (out.keyframes[i].duplicate_of >= 0) continue;
      auto small = media::LimitLongSide(images[i], params.thumbnail_size);
      if (!small.ok()) return small.status();
      auto encoded = media::EncodeImage(*small, params.thumbnail_format, 85);
      if (!encoded.ok()) return encoded.status();
      out.keyframes[i].thumbnail = std::move(encoded).value();
    }
  }
  out.timing.keyframes_ms += Ms(Clock::now() - t_thumbs);
  stage("keyframes", out.timing.keyframes_ms);
  RETURN_IF_ERROR(VideoInterrupted(vd, context));

  // Safety: every kept keyframe through the safety classifier, all in flight together.
  const auto t_safety = Clock::now();
  if (safety && deps.work_pool) {
    out.safety_model = safety->model->config.name;
    out.safety_method = "classifier";
    out.safety_threshold = safety->threshold;
    ForEachKeyframe(out.keyframes, /*kept_only=*/true, [&](size_t i, const Finish& finish) {
      ClassifyImage(*safety, *deps.work_pool, images[i], context,
                    [&, i, finish](Result<std::vector<LabelProbability>> r) {
                      finish([&] {
                        auto& k = out.keyframes[i];
                        k.safety_checked = true;
                        if (r.ok()) {
                          k.unsafe_probability = UnsafeProbability(*safety, *r);
                          k.safety_label = r->front().label;
                        } else {
                          k.safety_status = r.status();
                        }
                      });
                    });
    });
    out.timing.safety_ms = Ms(Clock::now() - t_safety);
    stage("safety", out.timing.safety_ms);
  } else if (params.safety && clip) {
    // No safety classifier: CLIP zero-shot over a safe label and the unsafe ones; a keyframe's
    // unsafe probability is everything but the safe label's.
    out.safety_model = clip->name;
    out.safety_method = "clip_zero_shot";
    out.safety_threshold = params.safety_threshold;
    std::vector<std::string> labels = {kSafeLabel};
    for (const auto& l : params.safety_labels.empty() ? DefaultUnsafeLabels() : params.safety_labels)
      labels.push_back(l);
    TensorInferOptions o;
    o.context = context;
    ForEachKeyframe(out.keyframes, /*kept_only=*/true, [&](size_t i, const Finish& finish) {
      deps.clip->Classify(*clip, jpegs[i], labels, "", o, [&, i, finish](Result<std::vector<LabelScore>> r) {
        finish([&] {
          auto& k = out.keyframes[i];
          k.safety_checked = true;
          if (r.ok()) {
            double safe = 0;
            for (const auto& l : *r)
              if (l.label == kSafeLabel) safe = l.probability;
            k.unsafe_probability = 1.0 - safe;
            k.safety_label = r->front().label;
          } else {
            k.safety_status = r.status();
          }
        });
      });
    });
    out.timing.safety_ms = Ms(Clock::now() - t_safety);
    stage("safety", out.timing.safety_ms);
  }
  RETURN_IF_ERROR(VideoInterrupted(vd, context));

  // Labels: every kept keyframe through the labels classifier; a shot's labels are the mean of
  // its keyframes' (a repeated keyframe lends its original's).
  const auto t_labels = Clock::now();
  if (params.labels && deps.labeler && deps.work_pool) {
    out.labels_model = deps.labeler->model->config.name;
    ForEachKeyframe(out.keyframes, /*kept_only=*/true, [&](size_t i, const Finish& finish) {
      ClassifyImage(*deps.labeler, *deps.work_pool, images[i], context,
                    [&, i, finish](Result<std::vector<LabelProbability>> r) {
                      finish([&] {
                        if (r.ok())
                          out.keyframes[i].labels = std::move(r).value();
                        else
                          out.keyframes[i].labels_status = r.status();
                      });
                    });
    });
    out.shot_labels.assign(out.shots.size(), {});
    for (const auto& shot : out.shots) {
      std::map<std::string, double> sum;
      int n = 0;
      for (const auto& k : out.keyframes) {
        if (k.shot != shot.index) continue;
        const auto& source = k.duplicate_of >= 0 ? out.keyframes[static_cast<size_t>(k.duplicate_of)] : k;
        if (source.labels.empty()) continue;
        ++n;
        for (const auto& l : source.labels) sum[l.label] += l.probability;
      }
      auto& labels = out.shot_labels[static_cast<size_t>(shot.index)];
      for (const auto& [label, total] : sum) labels.push_back({label, total / n});
      std::stable_sort(labels.begin(), labels.end(),
                       [](const VideoTag& a, const VideoTag& b) { return a.confidence > b.confidence; });
      if (labels.size() > static_cast<size_t>(params.top_labels))
        labels.resize(static_cast<size_t>(params.top_labels));
    }
    out.timing.labels_ms = Ms(Clock::now() - t_labels);
    stage("labels", out.timing.labels_ms);
  }
  RETURN_IF_ERROR(VideoInterrupted(vd, context));

  // Captions: every kept keyframe in flight at once, so the encoder's batcher and the decoder's
  // step-level scheduler batch them; this thread waits for the last.
  const auto t_captions = Clock::now();
  const CaptionerFamily* family = want_captions ? deps.captioners->Find(params.caption_model) : nullptr;
  if (params.captions && deps.captioners && !params.caption_model.empty() && !family)
    return NotFound("no captioning model named '" + params.caption_model + "'");
  if (family) {
    ASSIGN_OR_RETURN(CaptionJob job, PrepareCaption(*family, params.caption));
    out.caption_model = family->name;
    ForEachKeyframe(out.keyframes, /*kept_only=*/true, [&](size_t i, const Finish& finish) {
      CaptionOne(*deps.captioners, *family, *deps.work_pool, jpegs[i], job, i, context,
                 [&, i, finish](CaptionedImage c, StageTiming) {
                   finish([&] {
                     out.keyframes[i].caption_status = c.status;
                     if (c.status.ok()) out.keyframes[i].caption = std::move(c.text);
                   });
                 });
    });
  }
  out.timing.captioning_ms = Ms(Clock::now() - t_captions);
  if (family) stage("captioning", out.timing.captioning_ms);
  RETURN_IF_ERROR(VideoInterrupted(vd, context));

  // Vibe tags: CLIP zero-shot per kept keyframe, weighted by the time each keyframe stands for
  // (its share of its shot, plus the shares of the keyframes that repeat it).
  const auto t_tags = Clock::now();
  if (params.tags && clip) {
    out.clip_model = clip->name;
    const std::vector<std::string> labels =
        params.tag_labels.empty() ? DefaultVideoTags() : params.tag_labels;
    TensorInferOptions o;
    o.context = context;
    ForEachKeyframe(out.keyframes, /*kept_only=*/true, [&](size_t i, const Finish& finish) {
      deps.clip->Classify(*clip, jpegs[i], labels, "", o, [&, i, finish](Result<std::vector<LabelScore>> r) {
        finish([&] {
          if (r.ok())
            out.keyframes[i].tags = std::move(r).value();
          else
            out.keyframes[i].tags_status = r.status();
        });
      });
    });
    std::vector<double> weight(out.keyframes.size(), 0);
    for (size_t i = 0; i < out.keyframes.size(); ++i) {
      const auto& k = out.keyframes[i];
      size_t in_shot = 0;
      for (const auto& other : out.keyframes) in_shot += other.shot == k.shot;
      const auto& shot = out.shots[static_cast<size_t>(k.shot)];
      const double share = (shot.end_s - shot.start_s) / static_cast<double>(std::max<size_t>(1, in_shot));
      weight[k.duplicate_of >= 0 ? static_cast<size_t>(k.duplicate_of) : i] += share;
    }
    std::map<std::string, double> total;
    double weights = 0;
    for (size_t i = 0; i < out.keyframes.size(); ++i) {
      const auto& k = out.keyframes[i];
      if (k.duplicate_of >= 0 || k.tags.empty()) continue;
      weights += weight[i];
      for (const auto& t : k.tags) total[t.label] += weight[i] * t.probability;
    }
    if (weights > 0) {
      for (const auto& [label, sum] : total) out.tags.push_back({label, sum / weights});
      std::stable_sort(out.tags.begin(), out.tags.end(),
                       [](const VideoTag& a, const VideoTag& b) { return a.confidence > b.confidence; });
      if (out.tags.size() > static_cast<size_t>(params.top_tags))
        out.tags.resize(static_cast<size_t>(params.top_tags));
    }
    out.timing.tags_ms = Ms(Clock::now() - t_tags);
    stage("tags", out.timing.tags_ms);
  }
  RETURN_IF_ERROR(VideoInterrupted(vd, context));

  const auto t_summary = Clock::now();
  std::vector<std::string> timeline = TimelineLines(out.keyframes, out.video.frame_rate);
  out.summary = JoinLines(timeline);
  out.summary_method = out.summary.empty() ? "none" : "extractive";
  if (summarizer && !timeline.empty()) {
    // Shown the captioned keyframe of the longest shot, asked over the timeline.
    size_t shown = out.keyframes.size();
    double longest = -1;
    for (size_t i = 0; i < out.keyframes.size(); ++i) {
      const auto& k = out.keyframes[i];
      if (k.duplicate_of >= 0 || k.caption.empty() || !jpegs[i]) continue;
      const auto& shot = out.shots[static_cast<size_t>(k.shot)];
      if (shot.end_s - shot.start_s > longest) {
        longest = shot.end_s - shot.start_s;
        shown = i;
      }
    }
    auto job = SummaryJob(*summarizer, std::move(timeline), params.summary_max_tokens);
    if (!job.ok() && params.summary_method == "vlm") return job.status();  // asked for: no fallback
    if (!job.ok()) {
      out.summary_status = job.status();
    } else if (shown < out.keyframes.size()) {
      // The callback keeps the promise alive while it sets it (it runs on the work pool).
      auto answered = std::make_shared<std::promise<CaptionedImage>>();
      auto answer = answered->get_future();
      CaptionOne(*deps.captioners, *summarizer, *deps.work_pool, jpegs[shown], job->first, 0, context,
                 [answered](CaptionedImage c, StageTiming) { answered->set_value(std::move(c)); });
      CaptionedImage c = answer.get();
      if (!c.status.ok()) {
        out.summary_status = c.status;
      } else if (c.text.empty()) {
        out.summary_status = Internal("the model's summary was empty");
      } else {
        out.summary = std::move(c.text);
        out.summary_method = "vlm";
        out.summary_model = summarizer->name;
        out.summary_prompt = std::move(job->second);
      }
    }
  }
  out.timing.summary_ms = Ms(Clock::now() - t_summary);
  stage("summary", out.timing.summary_ms);
  out.timing.total_ms = Ms(Clock::now() - start);
  return out;
}

void SummarizeVideo(const SummarizeVideoDeps& deps, VideoSource source, SummarizeVideoParams params,
                    RequestContextPtr context, std::function<void(Result<VideoSummary>)> done) {
  auto finish = [deps, done = std::move(done)](Result<VideoSummary> r) {
    CountVideoOutcome(deps.video, kTask, r.status());
    done(std::move(r));
  };
  Status valid = ValidateSummarizeVideoParams(params);
  if (valid.ok()) valid = ValidateDetectorAvailable(deps.video, params.detector);
  if (!valid.ok()) return finish(valid);
  const auto start = Clock::now();
  RunVideoTask(
      deps.video, kTask, std::move(source), context,
      [deps, params, context, finish, start](media::VideoInput input, double download_ms) {
        auto r = SummarizeVideoNow(deps, std::move(input), params, context);
        if (r.ok()) {
          r->timing.download_ms = download_ms;
          r->timing.total_ms = Ms(Clock::now() - start);
          ObserveVideoStage(deps.video, kTask, "total", r->timing.total_ms);
        }
        finish(std::move(r));
      },
      [finish](Status s) { finish(s); });
}

}  // namespace sightline::tasks
