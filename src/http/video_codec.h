// The /v1/videos routes' wire format, without Beast (unit-tested and fuzzed alone):
//  - a request carries one video as a raw body (Content-Type video/* or application/octet-stream),
//    a multipart/form-data file part (its parameters as other parts), or JSON with `video`
//    (base64 or a data: URI), `video_url` or `video_path`; query parameters add parameters and may
//    name `video_url` / `video_path` too;
//  - shot-detection parameters (PySceneDetect's names where it has them);
//  - the answer: the video's probe, the shots with frames, seconds and SMPTE timecodes, timing.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "http/http_types.h"
#include "tasks/summarize_video.h"
#include "tasks/video_shots.h"

namespace sightline::http {

struct VideoRequest {
  tasks::VideoSource source;
  std::vector<std::pair<std::string, std::string>> fields;  // parameters, in arrival order
  // JSON arrays of strings (tag_labels) as lists; `fields` holds them comma-joined too.
  std::vector<std::pair<std::string, std::vector<std::string>>> lists;
  std::vector<std::string> non_strings;  // parameters given as JSON numbers or booleans
};

// Errors: kInvalidArgument (400) for no video, more than one, malformed JSON/multipart/base64;
// kUnsupportedMediaType (415) for another Content-Type. The raw body is copied once into the
// shared buffer the decoder reads.
Result<VideoRequest> ParseVideoRequest(const HttpRequest& request);

// detector (adaptive | content | threshold), threshold, min_shot_len (seconds; min_scene_len is
// accepted as PySceneDetect's name), adaptive_threshold, window_width, min_content_val, fade_bias.
// Unknown parameters are a 400 naming them.
Result<tasks::DetectShotsParams> ParseShotParams(const VideoRequest& request);

std::string EncodeVideoShotsResponse(const tasks::VideoShotsResult& result);

// The summarize routes' parameters: the shot parameters above, and keyframes (base64 | none),
// thumbnail_size, thumbnail_format (jpeg | webp | png), keyframe_size, keyframes_per_shot,
// long_shot_len (seconds), dedupe (true | false), dedupe_method (auto | clip |
// perceptual_hash), dedupe_threshold (0-1), captions (true | false), model (the captioner),
// prompt, max_new_tokens, safety (true | false), tags (true | false), tag_labels (a JSON list, or
// comma-separated), top_tags, stream (true: progress as Server-Sent Events). Unknown parameters
// are a 400 naming them.
struct SummarizeRequest {
  tasks::SummarizeVideoParams params;
  bool stream = false;
};
Result<SummarizeRequest> ParseSummarizeParams(const VideoRequest& request);

// The summary as JSON: the probe, shots, keyframes (kept and dropped as duplicates of which),
// captions, the summary and the timing block per stage.
std::string EncodeVideoSummary(const tasks::VideoSummary& summary, const tasks::SummarizeVideoParams& params);
// "probe;dur=..., decode;dur=..., ..., total;dur=..." over every stage.
std::string VideoSummaryServerTiming(const tasks::VideoSummaryTiming& timing);

// "probe;dur=1.2, decode;dur=80.1, shot_detection;dur=3.0, total;dur=85.0" (milliseconds).
std::string VideoServerTiming(const tasks::VideoStageTiming& timing);

}  // namespace sightline::http
