// A video's summary, callable without HTTP, in stages each timed:
//   probe -> decode + shot detection (one pass at analysis size, each frame's sharpness kept) ->
//   keyframes (per shot its sharpest frame, one per long stretch of a long shot; those frames
//   decoded again at keyframe size by seeking) -> dedupe (perceptual hash: keyframes alike an
//   earlier kept one are dropped as its duplicates) -> captioning (each kept keyframe through the
//   generation engine, all in flight together so the batchers batch them) -> summary (the
//   vision-language model's, prompted with the ordered, timestamped captions and shown the keyframe
//   of the longest shot; else an extractive timeline of the captions) -> the answer, with
//   thumbnails on request.
//   Safety: each kept keyframe through the safety classifier (tasks/image_classifier.h, e.g.
//   Yahoo's open_nsfw), flagged at its threshold, and the video flagged when any keyframe is.
//   With a CLIP model: keyframes embedded (the embedding stage), dedupe by their cosine, and vibe
//   tags by zero-shot over a label set, aggregated over the video.
//   Labels per shot from an ImageNet classifier (EfficientNet-Lite0), as video-understanding APIs
//   give.
// Shots come from any detector, TransNetV2 included (tasks/shot_boundary_model.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "media/image_ops.h"
#include "media/video/keyframes.h"
#include "media/video/shot_detection.h"
#include "tasks/caption.h"
#include "tasks/clip.h"
#include "tasks/image_classifier.h"
#include "tasks/video_input.h"

namespace sightline::tasks {

struct SummarizeVideoDeps {
  VideoTaskDeps video;
  const Captioners* captioners = nullptr;  // null or empty: no captions, the summary says so
  ThreadPool* work_pool = nullptr;         // caption decoding and post-processing
  // Safety classifiers (the default one, or `safety_model`); null or none: CLIP zero-shot when CLIP
  // is loaded, else no safety flags, and the answer says so.
  const ImageClassifiers* classifiers = nullptr;
  ClipService* clip = nullptr;               // null or empty: perceptual-hash dedupe, no tags
  const ImageClassifier* labeler = nullptr;  // ImageNet-style labels per shot (null: none)
};

// Vibe tags asked of CLIP when a request names none.
std::vector<std::string> DefaultVideoTags();
// Safety by CLIP zero-shot (no safety classifier loaded): the safe label, and the unsafe ones
// asked when a request names none.
inline constexpr const char* kSafeLabel = "a safe, ordinary image";
// What the vision-language model is asked for a summary: this, the timeline ("[00:00:02] a cat on
// a sofa" per kept keyframe, in order), then kVideoSummaryAsk.
inline constexpr const char* kVideoSummaryIntro =
    "This image is a keyframe of a video. These are captions of the video's keyframes, in order, each "
    "with its time:";
inline constexpr const char* kVideoSummaryAsk =
    "Summarize what happens in the video in two or three sentences.";
std::vector<std::string> DefaultUnsafeLabels();

struct SummarizeVideoParams {
  media::ShotDetectorOptions detector;
  media::KeyframeOptions keyframes;
  int keyframe_size = 512;   // width of the keyframes the models see (never up)
  bool thumbnails = true;    // keyframes=base64: each kept keyframe encoded in the answer
  int thumbnail_size = 256;  // longer side, pixels
  media::ImageFormat thumbnail_format = media::ImageFormat::kJpeg;
  bool dedupe = true;
  // "auto": CLIP image-embedding cosine when a CLIP model is loaded, else the perceptual hash;
  // "clip" (a 400 without CLIP) or "perceptual_hash".
  std::string dedupe_method = "auto";
  // Similarity at or above which a keyframe is a duplicate of an earlier kept one: CLIP's cosine
  // of their image embeddings, or 1 - the Hamming distance of their 64-bit perceptual hashes / 64.
  // Unset (< 0): 0.95 for CLIP, 0.85 for the hash.
  double dedupe_threshold = -1;
  // Vibe tags: CLIP zero-shot over `tag_labels` (empty: DefaultVideoTags()) per kept keyframe,
  // aggregated over the video weighted by the time each keyframe stands for; `top_tags` reported.
  bool tags = true;
  std::vector<std::string> tag_labels;
  int top_tags = 5;
  // Labels per shot from the labels classifier (EfficientNet-Lite0 over ImageNet's classes): the
  // mean of its keyframes' probabilities, `top_labels` of them.
  bool labels = true;
  int top_labels = 3;
  bool captions = true;
  std::string caption_model;  // "" = the first captioner
  CaptionParams caption;      // prompt and generation settings
  // The summary: "auto" (the vision-language model's when one is loaded and there are captions,
  // else the extractive timeline), "vlm" (a 400 without a vision-language model or captions),
  // "extractive". A timeline too long for the model's context keeps evenly spaced lines.
  std::string summary_method = "auto";
  std::string summary_model;  // "" = the first vision-language model
  int summary_max_tokens = 128;
  // Safety flags per kept keyframe: from the safety classifier when one is loaded, else CLIP
  // zero-shot over kSafeLabel and `safety_labels` (empty: DefaultUnsafeLabels()), flagged at
  // `safety_threshold` (the classifier's own threshold applies to it).
  bool safety = true;
  std::string safety_model;  // "" = the default safety classifier (its block's "default": true)
  std::vector<std::string> safety_labels;
  double safety_threshold = 0.5;
  // Progress: called after each stage with its name and milliseconds (on the video pool).
  std::function<void(const std::string& stage, double ms)> on_stage;
};

// Errors: kInvalidArgument naming the parameter.
Status ValidateSummarizeVideoParams(const SummarizeVideoParams& params);

struct VideoKeyframe {
  int shot = 0;
  int64_t frame = 0;
  double time_s = 0;
  double sharpness = 0;
  uint64_t hash = 0;      // dHash
  int duplicate_of = -1;  // index of the kept keyframe it repeats; -1: kept
  double similarity = 0;  // to that keyframe
  std::string thumbnail;  // encoded, when asked and kept
  std::string caption;    // when captioned
  Status caption_status;  // a caption that failed fails only its keyframe
  // Safety: the classifier's unsafe probability and its top label, when it ran.
  bool safety_checked = false;
  double unsafe_probability = 0;
  std::string safety_label;
  Status safety_status;
  std::vector<LabelScore> tags;  // CLIP zero-shot, highest first (kept keyframes)
  Status tags_status;
  std::vector<LabelProbability> labels;  // the labels classifier's, highest first (kept keyframes)
  Status labels_status;
};

struct VideoTag {
  std::string label;
  double confidence = 0;  // time-weighted mean probability over the kept keyframes
};

struct VideoSummaryTiming {
  double download_ms = 0, probe_ms = 0, decode_ms = 0, shot_detection_ms = 0, keyframes_ms = 0, dedupe_ms = 0,
         embedding_ms = 0, safety_ms = 0, labels_ms = 0, captioning_ms = 0, summary_ms = 0, tags_ms = 0,
         total_ms = 0;
};

struct VideoSummary {
  media::VideoInfo video;
  media::ShotDetectorKind detector = media::ShotDetectorKind::kAdaptive;
  int64_t frames = 0;
  double decoded_duration_s = 0;
  int64_t corrupt_packets = 0;
  std::vector<media::Shot> shots;
  std::vector<VideoKeyframe> keyframes;
  std::string dedupe_method;  // "clip", "perceptual_hash" or "none"
  double dedupe_threshold = 0;
  std::string clip_model;                          // empty: no CLIP stage ran
  std::vector<VideoTag> tags;                      // top_tags, highest first
  std::string labels_model;                        // empty: no labels classifier ran
  std::vector<std::vector<VideoTag>> shot_labels;  // per shot, top_labels, highest first
  std::string caption_model;                       // empty: no captions
  std::string summary_method;  // "vlm", "extractive" (a timeline of the captions) or "none"
  std::string summary;
  std::string summary_model;   // the vision-language model that wrote it ("vlm")
  std::string summary_prompt;  // what it was asked ("vlm")
  Status summary_status;       // a failed VLM summary: why (the extractive one is given instead)
  std::string safety_model;    // empty: no safety check ran
  std::string safety_method;   // "classifier" or "clip_zero_shot"
  double safety_threshold = 0;
  VideoSummaryTiming timing;
};

void SummarizeVideo(const SummarizeVideoDeps& deps, VideoSource source, SummarizeVideoParams params,
                    RequestContextPtr context, std::function<void(Result<VideoSummary>)> done);

// The same on the caller's thread for an input in hand (the offline command). Captions still run
// through the captioners' batchers and the work pool.
Result<VideoSummary> SummarizeVideoNow(const SummarizeVideoDeps& deps, media::VideoInput input,
                                       const SummarizeVideoParams& params, const RequestContextPtr& context);

}  // namespace sightline::tasks
