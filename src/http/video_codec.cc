#include "http/video_codec.h"

#include <boost/json.hpp>

#include <cctype>
#include <cmath>
#include <cstdio>

#include "core/base64.h"
#include "core/mapped_file.h"
#include "core/utf8.h"
#include "http/error_json.h"
#include "http/image_request.h"
#include "http/multipart.h"
#include "http/request_fields.h"

namespace sightline::http {
namespace {

namespace json = boost::json;
using tasks::VideoSource;

Status InvalidVideo(std::string message) {
  return Status(StatusCode::kInvalidArgument, std::move(message)).WithKind(ErrorKind::kInvalidVideo);
}

VideoSource Bytes(std::string_view bytes, std::string label) {
  VideoSource s;
  s.kind = VideoSource::Kind::kBytes;
  s.bytes = std::make_shared<const std::string>(bytes);
  s.label = std::move(label);
  return s;
}

VideoSource Named(VideoSource::Kind kind, std::string value, std::string label) {
  VideoSource s;
  s.kind = kind;
  s.value = std::move(value);
  s.label = std::move(label);
  return s;
}

Result<VideoSource> InlineVideo(std::string_view text) {
  ASSIGN_OR_RETURN(auto bytes, DecodeInlineBytes(text, "video", ErrorKind::kInvalidVideo));
  VideoSource s;
  s.bytes = std::make_shared<const std::string>(std::move(bytes));
  s.label = "video";
  return s;
}

Status ParseJson(std::string_view body, VideoRequest& out, std::vector<VideoSource>& found) {
  boost::system::error_code ec;
  json::value root = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec) return InvalidArgument("request body is not valid JSON: " + ec.message());
  if (!root.is_object()) return InvalidArgument("request body must be a JSON object");
  for (const auto& [k, v] : root.get_object()) {
    const std::string key(k);
    if (key == "video" || key == "video_url" || key == "video_path") {
      if (!v.is_string()) return InvalidArgument("'" + key + "' must be a string");
      std::string_view text(v.get_string().data(), v.get_string().size());
      if (text.empty()) return InvalidArgument("'" + key + "' is empty");
      if (key == "video") {
        ASSIGN_OR_RETURN(auto src, InlineVideo(text));
        found.push_back(std::move(src));
      } else {
        found.push_back(Named(key == "video_url" ? VideoSource::Kind::kUrl : VideoSource::Kind::kPath,
                              std::string(text), key));
      }
    } else {
      RETURN_IF_ERROR(AddJsonParameter(key, v, out.fields, out.lists, &out.non_strings));
    }
  }
  return Status::Ok();
}

json::value Round(double v, double scale = 1000.0) {
  return std::round(v * scale) / scale;
}

}  // namespace

Result<VideoRequest> ParseVideoRequest(const HttpRequest& req) {
  VideoRequest out;
  std::vector<VideoSource> found;
  const std::string ct = AsciiLower(req.Header("content-type"));
  std::string_view body = req.body;
  // A body the transport wrote to a file: a raw video is opened there in place; a multipart or
  // JSON body is mapped and parsed like one in memory, its video part a view of the mapping.
  std::shared_ptr<const void> owner;
  if (req.body_file) {
    if (ct.rfind("video/", 0) == 0 || ct.rfind("application/octet-stream", 0) == 0) {
      if (req.body_file->size == 0) return InvalidVideo("the request body is empty (0 bytes)");
      VideoSource s;
      s.kind = VideoSource::Kind::kUpload;
      s.value = req.body_file->path;
      s.owner = req.body_file;
      s.label = "body";
      found.push_back(std::move(s));
      body = {};
    } else {
      ASSIGN_OR_RETURN(auto mapped, MappedFile::Open(req.body_file->path));
      body = mapped->bytes();
      owner = std::make_shared<std::pair<std::shared_ptr<UploadFile>, std::shared_ptr<const MappedFile>>>(
          req.body_file, std::move(mapped));
    }
  }
  if (!found.empty()) {
    // the raw upload: parameters come from the query alone
  } else if (ct.rfind("multipart/form-data", 0) == 0) {
    ASSIGN_OR_RETURN(auto boundary, MultipartBoundary(req.Header("content-type")));
    ASSIGN_OR_RETURN(auto parts, ParseMultipart(body, boundary));
    for (const auto& p : parts) {
      const bool file = !p.filename.empty() || p.content_type.rfind("video/", 0) == 0 ||
                        p.content_type == "application/octet-stream";
      if (file) {
        const std::string label = "file '" + ToValidUtf8(p.filename.empty() ? p.name : p.filename) + "'";
        if (p.body.empty()) return InvalidVideo(label + " is empty (0 bytes)");
        if (owner) {  // a view of the mapped upload, not a copy
          VideoSource v;
          v.view = p.body;
          v.owner = owner;
          v.label = label;
          found.push_back(std::move(v));
        } else {
          found.push_back(Bytes(p.body, label));
        }
      } else if (p.name == "video_url" || p.name == "video_path") {
        found.push_back(Named(p.name == "video_url" ? VideoSource::Kind::kUrl : VideoSource::Kind::kPath,
                              std::string(p.body), p.name));
      } else {
        out.fields.emplace_back(p.name, std::string(p.body));
      }
    }
  } else if (ct.rfind("video/", 0) == 0 || ct.rfind("application/octet-stream", 0) == 0) {
    if (body.empty()) return InvalidVideo("the request body is empty (0 bytes)");
    found.push_back(Bytes(body, "body"));
  } else if (ct.rfind("application/json", 0) == 0) {
    // An empty body with everything in the query (?video_path=...) is fine.
    if (!body.empty()) RETURN_IF_ERROR(ParseJson(body, out, found));
  } else if (!body.empty()) {
    return Status(StatusCode::kUnsupportedMediaType,
                  "Content-Type '" + ct +
                      "' is not accepted: send video/*, application/octet-stream, multipart/form-data or "
                      "application/json");
  }
  for (auto& [k, v] : ParseQuery(req.query)) {
    if (k == "video_url" || k == "video_path")
      found.push_back(Named(k == "video_url" ? VideoSource::Kind::kUrl : VideoSource::Kind::kPath, v, k));
    else
      out.fields.emplace_back(std::move(k), std::move(v));
  }
  if (found.empty())
    return InvalidArgument(
        "send one video: a video/* body, a multipart file, or JSON with video (base64), video_url or "
        "video_path");
  if (found.size() > 1)
    return InvalidArgument("send one video per request; got " + std::to_string(found.size()));
  for (const auto& [k, v] : out.fields)
    if (!IsValidUtf8(k) || !IsValidUtf8(v))
      return InvalidArgument("field '" + ToValidUtf8(k) + "' is not valid UTF-8")
          .WithKind(ErrorKind::kInvalidText);
  out.source = std::move(found.front());
  return out;
}

namespace {

Status ParseDetectorFields(const VideoRequest& r, media::ShotDetectorOptions& d) {
  ASSIGN_OR_RETURN(const std::string name, TextField(r, "detector"));
  if (!name.empty()) {
    ASSIGN_OR_RETURN(d.kind, media::ParseShotDetector(name));
  }
  ASSIGN_OR_RETURN(auto threshold, NumberField(r, "threshold"));
  if (threshold) {
    if (*threshold < 0) return InvalidArgument("threshold must be between 0 and 255");
    if (d.kind == media::ShotDetectorKind::kAdaptive) {
      // The adaptive detector's one threshold is its ratio (PySceneDetect's detect-adaptive).
      if (*threshold <= 0 || *threshold > 255)
        return InvalidArgument("threshold (the adaptive detector's ratio) must be above 0 and at most 255");
      d.adaptive_threshold = *threshold;
    } else
      d.threshold = *threshold;
  }
  ASSIGN_OR_RETURN(auto min_len, NumberField(r, "min_shot_len"));
  if (!min_len) {
    ASSIGN_OR_RETURN(min_len, NumberField(r, "min_scene_len"));
  }
  if (min_len) d.min_shot_s = *min_len;
  ASSIGN_OR_RETURN(auto adaptive, NumberField(r, "adaptive_threshold"));
  if (adaptive) d.adaptive_threshold = *adaptive;
  ASSIGN_OR_RETURN(auto window, IntField(r, "window_width", 1, 100));
  if (window) d.window_width = *window;
  ASSIGN_OR_RETURN(auto min_content, NumberField(r, "min_content_val"));
  if (min_content) d.min_content_val = *min_content;
  ASSIGN_OR_RETURN(auto bias, NumberField(r, "fade_bias"));
  if (bias) d.fade_bias = *bias;
  return media::ValidateShotDetectorOptions(d);
}

// A list parameter: a JSON list of strings, or comma-separated text (a form field, the query).
std::vector<std::string> ListField(const VideoRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.lists)
    if (k == name) return v;
  std::vector<std::string> out;
  const std::string text = Field(r, name);
  for (size_t start = 0; !text.empty() && start <= text.size();) {
    const size_t comma = std::min(text.find(',', start), text.size());
    std::string item = text.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) out.push_back(std::move(item));
    start = comma + 1;
  }
  return out;
}

Result<bool> Flag(const VideoRequest& r, const char* name, bool fallback) {
  const std::string v = Field(r, name);
  if (v.empty()) return fallback;
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return InvalidArgument(std::string(name) + " must be true or false, not '" + v + "'");
}

json::object ShotValue(const media::Shot& s, double fps) {
  json::object o;
  o["index"] = s.index;
  o["start_frame"] = s.start_frame;
  o["end_frame"] = s.end_frame;
  o["frames"] = s.end_frame - s.start_frame + 1;
  o["start_time"] = Round(s.start_s);
  o["end_time"] = Round(s.end_s);
  o["duration"] = Round(s.end_s - s.start_s);
  o["start_timecode"] = media::SmpteTimecode(s.start_s, fps);
  o["end_timecode"] = media::SmpteTimecode(s.end_s, fps);
  if (s.index > 0)
    o["cut_score"] = Round(s.cut_score);
  else
    o["cut_score"] = nullptr;
  return o;
}

json::object VideoValue(const media::VideoInfo& v, double decoded_duration, int64_t frames, int64_t corrupt) {
  json::object o;
  o["container"] = v.container;
  o["codec"] = v.codec;
  o["width"] = v.width;
  o["height"] = v.height;
  o["rotation"] = v.rotation;
  o["duration"] = Round(decoded_duration);
  o["declared_duration"] = Round(v.duration_s);
  o["frame_rate"] = Round(v.frame_rate);
  o["frames"] = frames;
  o["has_audio"] = v.has_audio;
  o["corrupt_packets"] = corrupt;
  return o;
}

}  // namespace

Result<tasks::DetectShotsParams> ParseShotParams(const VideoRequest& r) {
  RETURN_IF_ERROR(RejectUnknown(r,
                                {"detector", "threshold", "min_shot_len", "min_scene_len",
                                 "adaptive_threshold", "window_width", "min_content_val", "fade_bias"},
                                "detector, threshold, min_shot_len (min_scene_len), adaptive_threshold, "
                                "window_width, min_content_val, fade_bias"));
  tasks::DetectShotsParams p;
  RETURN_IF_ERROR(ParseDetectorFields(r, p.detector));
  return p;
}

Result<SummarizeRequest> ParseSummarizeParams(const VideoRequest& r) {
  RETURN_IF_ERROR(RejectUnknown(
      r,
      {"detector",
       "threshold",
       "min_shot_len",
       "min_scene_len",
       "adaptive_threshold",
       "window_width",
       "min_content_val",
       "fade_bias",
       "keyframes",
       "thumbnail_size",
       "thumbnail_format",
       "keyframe_size",
       "keyframes_per_shot",
       "long_shot_len",
       "dedupe",
       "dedupe_threshold",
       "captions",
       "model",
       "prompt",
       "max_new_tokens",
       "stream",
       "safety",
       "dedupe_method",
       "tags",
       "tag_labels",
       "top_tags",
       "labels",
       "top_labels",
       "safety_labels",
       "safety_threshold",
       "safety_model",
       "summary_method",
       "summary_model",
       "summary_max_tokens"},
      "detector, threshold, min_shot_len, adaptive_threshold, window_width, min_content_val, fade_bias, "
      "keyframes, "
      "thumbnail_size, thumbnail_format, keyframe_size, keyframes_per_shot, long_shot_len, dedupe, "
      "dedupe_method, dedupe_threshold, captions, model, prompt, max_new_tokens, stream, safety, tags, "
      "tag_labels, top_tags, labels, top_labels, safety_labels, safety_threshold, safety_model, "
      "summary_method, summary_model, summary_max_tokens"));
  SummarizeRequest out;
  auto& p = out.params;
  RETURN_IF_ERROR(ParseDetectorFields(r, p.detector));
  ASSIGN_OR_RETURN(const std::string k, TextField(r, "keyframes"));
  if (!k.empty()) {
    if (k != "base64" && k != "none")
      return InvalidArgument("keyframes must be base64 or none, not '" + k + "'");
    p.thumbnails = k == "base64";
  }
  ASSIGN_OR_RETURN(auto thumb, IntField(r, "thumbnail_size", 16, 2048));
  if (thumb) p.thumbnail_size = *thumb;
  ASSIGN_OR_RETURN(const std::string f, TextField(r, "thumbnail_format"));
  if (!f.empty()) {
    ASSIGN_OR_RETURN(p.thumbnail_format, media::ParseImageFormat(f));
  }
  ASSIGN_OR_RETURN(auto key_size, IntField(r, "keyframe_size", 32, 2048));
  if (key_size) p.keyframe_size = *key_size;
  ASSIGN_OR_RETURN(auto per_shot, IntField(r, "keyframes_per_shot", 1, 32));
  if (per_shot) p.keyframes.max_per_shot = *per_shot;
  ASSIGN_OR_RETURN(auto long_len, NumberField(r, "long_shot_len"));
  if (long_len) p.keyframes.long_shot_s = *long_len;
  ASSIGN_OR_RETURN(p.dedupe, Flag(r, "dedupe", true));
  ASSIGN_OR_RETURN(auto dedupe_threshold, NumberField(r, "dedupe_threshold"));
  if (dedupe_threshold) {
    if (*dedupe_threshold < 0 || *dedupe_threshold > 1)
      return InvalidArgument("dedupe_threshold must be between 0 and 1");
    p.dedupe_threshold = *dedupe_threshold;
  }
  ASSIGN_OR_RETURN(p.captions, Flag(r, "captions", true));
  ASSIGN_OR_RETURN(p.caption_model, TextField(r, "model"));
  ASSIGN_OR_RETURN(p.caption.prompt, TextField(r, "prompt"));
  ASSIGN_OR_RETURN(p.caption.generation.max_new_tokens,
                   IntField(r, "max_new_tokens", 1, tasks::kMaxNewTokensLimit));
  ASSIGN_OR_RETURN(out.stream, Flag(r, "stream", false));
  ASSIGN_OR_RETURN(p.safety, Flag(r, "safety", true));
  ASSIGN_OR_RETURN(p.tags, Flag(r, "tags", true));
  ASSIGN_OR_RETURN(p.labels, Flag(r, "labels", true));
  ASSIGN_OR_RETURN(auto safety_threshold, NumberField(r, "safety_threshold"));
  if (safety_threshold) p.safety_threshold = *safety_threshold;
  ASSIGN_OR_RETURN(auto top_labels, IntField(r, "top_labels", 1, 100));
  if (top_labels) p.top_labels = *top_labels;
  ASSIGN_OR_RETURN(const std::string dedupe_method, TextField(r, "dedupe_method"));
  if (!dedupe_method.empty()) p.dedupe_method = dedupe_method;
  ASSIGN_OR_RETURN(auto top, IntField(r, "top_tags", 1, 100));
  if (top) p.top_tags = *top;
  ASSIGN_OR_RETURN(const std::string summary_method, TextField(r, "summary_method"));
  if (!summary_method.empty()) p.summary_method = summary_method;
  ASSIGN_OR_RETURN(p.summary_model, TextField(r, "summary_model"));
  ASSIGN_OR_RETURN(p.safety_model, TextField(r, "safety_model"));
  ASSIGN_OR_RETURN(auto summary_tokens, IntField(r, "summary_max_tokens", 1, tasks::kMaxNewTokensLimit));
  if (summary_tokens) p.summary_max_tokens = *summary_tokens;
  p.tag_labels = ListField(r, "tag_labels");
  p.safety_labels = ListField(r, "safety_labels");
  RETURN_IF_ERROR(tasks::ValidateSummarizeVideoParams(p));
  return out;
}

std::string EncodeVideoSummary(const tasks::VideoSummary& v, const tasks::SummarizeVideoParams& params) {
  const double fps = v.video.frame_rate;
  json::object o;
  o["object"] = "video.summary";
  o["detector"] = media::ShotDetectorName(v.detector);
  o["video"] = VideoValue(v.video, v.decoded_duration_s, v.frames, v.corrupt_packets);
  json::array shots;
  for (const auto& s : v.shots) {
    json::object so = ShotValue(s, fps);
    json::array kf;
    for (size_t i = 0; i < v.keyframes.size(); ++i)
      if (v.keyframes[i].shot == s.index) kf.push_back(static_cast<int64_t>(i));
    so["keyframes"] = std::move(kf);
    if (!v.labels_model.empty() && static_cast<size_t>(s.index) < v.shot_labels.size()) {
      json::array labels;
      for (const auto& l : v.shot_labels[static_cast<size_t>(s.index)])
        labels.push_back(json::object{{"label", l.label}, {"confidence", Round(l.confidence)}});
      so["labels"] = std::move(labels);
    }
    shots.push_back(std::move(so));
  }
  o["shots"] = std::move(shots);
  json::array keyframes, dropped;
  const std::string mime(media::ContentTypeOf(params.thumbnail_format));
  for (size_t i = 0; i < v.keyframes.size(); ++i) {
    const auto& k = v.keyframes[i];
    json::object ko;
    ko["index"] = static_cast<int64_t>(i);
    ko["shot"] = k.shot;
    ko["frame"] = k.frame;
    ko["time"] = Round(k.time_s);
    ko["timecode"] = media::SmpteTimecode(k.time_s, fps);
    ko["sharpness"] = Round(k.sharpness, 10.0);
    char hash[17];
    std::snprintf(hash, sizeof(hash), "%016llx", static_cast<unsigned long long>(k.hash));
    ko["phash"] = hash;
    if (k.duplicate_of >= 0) {
      ko["duplicate_of"] = k.duplicate_of;
      ko["similarity"] = Round(k.similarity);
      dropped.push_back(json::object{{"keyframe", static_cast<int64_t>(i)},
                                     {"duplicate_of", k.duplicate_of},
                                     {"similarity", Round(k.similarity)}});
    } else {
      ko["duplicate_of"] = nullptr;
    }
    if (!k.thumbnail.empty()) ko["thumbnail"] = "data:" + mime + ";base64," + Base64Encode(k.thumbnail);
    if (!k.caption_status.ok())
      ko["caption_error"] = ErrorObject(k.caption_status);
    else if (!k.caption.empty())
      ko["caption"] = k.caption;
    if (!k.tags_status.ok()) {
      ko["tags_error"] = ErrorObject(k.tags_status);
    } else if (!k.tags.empty()) {
      json::array top;
      for (size_t t = 0; t < std::min<size_t>(3, k.tags.size()); ++t)
        top.push_back(
            json::object{{"label", k.tags[t].label}, {"probability", Round(k.tags[t].probability)}});
      ko["tags"] = std::move(top);
    }
    if (k.safety_checked) {
      if (!k.safety_status.ok())
        ko["safety"] = json::object{{"error", ErrorObject(k.safety_status)}};
      else
        ko["safety"] = json::object{{"unsafe_probability", Round(k.unsafe_probability)},
                                    {"top_label", k.safety_label},
                                    {"flagged", k.unsafe_probability >= v.safety_threshold}};
    }
    keyframes.push_back(std::move(ko));
  }
  o["keyframes"] = std::move(keyframes);
  o["duplicates"] = std::move(dropped);
  o["dedupe_method"] = v.dedupe_method;
  if (v.dedupe_method != "none") o["dedupe_threshold"] = Round(v.dedupe_threshold);
  if (v.labels_model.empty())
    o["labels_model"] = nullptr;
  else
    o["labels_model"] = v.labels_model;
  if (v.clip_model.empty())
    o["clip_model"] = nullptr;
  else
    o["clip_model"] = v.clip_model;
  json::array tags;
  for (const auto& t : v.tags)
    tags.push_back(json::object{{"label", t.label}, {"confidence", Round(t.confidence)}});
  o["tags"] = std::move(tags);
  if (v.caption_model.empty())
    o["caption_model"] = nullptr;
  else
    o["caption_model"] = v.caption_model;
  json::object safety;
  if (v.safety_model.empty()) {
    safety["model"] = nullptr;
  } else {
    safety["model"] = v.safety_model;
    safety["method"] = v.safety_method;
    safety["threshold"] = Round(v.safety_threshold);
    json::array flagged;
    double max_p = 0;
    for (size_t i = 0; i < v.keyframes.size(); ++i) {
      const auto& k = v.keyframes[i];
      if (!k.safety_checked || !k.safety_status.ok()) continue;
      max_p = std::max(max_p, k.unsafe_probability);
      if (k.unsafe_probability >= v.safety_threshold)
        flagged.push_back(json::object{{"keyframe", static_cast<int64_t>(i)},
                                       {"time", Round(k.time_s)},
                                       {"timecode", media::SmpteTimecode(k.time_s, fps)},
                                       {"unsafe_probability", Round(k.unsafe_probability)}});
    }
    safety["flagged"] = !flagged.empty();
    safety["max_unsafe_probability"] = Round(max_p);
    safety["flagged_keyframes"] = std::move(flagged);
  }
  o["safety"] = std::move(safety);
  json::object summary;
  summary["method"] = v.summary_method;
  if (v.summary.empty())
    summary["text"] = nullptr;
  else
    summary["text"] = v.summary;
  if (v.summary_method == "vlm") {
    summary["model"] = v.summary_model;
    summary["prompt"] = v.summary_prompt;
  } else {
    summary["model"] = nullptr;
  }
  if (!v.summary_status.ok()) summary["error"] = ErrorObject(v.summary_status);
  o["summary"] = std::move(summary);
  const auto& t = v.timing;
  o["timing"] =
      json::object{{"download_ms", Round(t.download_ms)},   {"probe_ms", Round(t.probe_ms)},
                   {"decode_ms", Round(t.decode_ms)},       {"shot_detection_ms", Round(t.shot_detection_ms)},
                   {"keyframes_ms", Round(t.keyframes_ms)}, {"dedupe_ms", Round(t.dedupe_ms)},
                   {"embedding_ms", Round(t.embedding_ms)}, {"safety_ms", Round(t.safety_ms)},
                   {"labels_ms", Round(t.labels_ms)},       {"captioning_ms", Round(t.captioning_ms)},
                   {"summary_ms", Round(t.summary_ms)},     {"tags_ms", Round(t.tags_ms)},
                   {"total_ms", Round(t.total_ms)}};
  return json::serialize(o);
}

std::string VideoSummaryServerTiming(const tasks::VideoSummaryTiming& t) {
  char text[512];
  std::snprintf(
      text, sizeof(text),
      "download;dur=%.3f, probe;dur=%.3f, decode;dur=%.3f, shot_detection;dur=%.3f, keyframes;dur=%.3f, "
      "dedupe;dur=%.3f, embedding;dur=%.3f, safety;dur=%.3f, labels;dur=%.3f, captioning;dur=%.3f, "
      "summary;dur=%.3f, tags;dur=%.3f, total;dur=%.3f",
      t.download_ms, t.probe_ms, t.decode_ms, t.shot_detection_ms, t.keyframes_ms, t.dedupe_ms,
      t.embedding_ms, t.safety_ms, t.labels_ms, t.captioning_ms, t.summary_ms, t.tags_ms, t.total_ms);
  return text;
}

std::string EncodeVideoShotsResponse(const tasks::VideoShotsResult& r) {
  const double fps = r.video.frame_rate;
  json::object video = VideoValue(r.video, r.decoded_duration_s, r.frames, r.corrupt_packets);
  json::array shots;
  for (const auto& s : r.shots) shots.push_back(ShotValue(s, fps));
  json::object timing;
  timing["download_ms"] = Round(r.timing.download_ms);
  timing["probe_ms"] = Round(r.timing.probe_ms);
  timing["decode_ms"] = Round(r.timing.decode_ms);
  timing["shot_detection_ms"] = Round(r.timing.shot_detection_ms);
  timing["total_ms"] = Round(r.timing.total_ms);
  json::object o;
  o["object"] = "video.shots";
  o["detector"] = media::ShotDetectorName(r.detector);
  o["video"] = std::move(video);
  o["shots"] = std::move(shots);
  o["timing"] = std::move(timing);
  return json::serialize(o);
}

std::string VideoServerTiming(const tasks::VideoStageTiming& t) {
  char text[256];
  std::snprintf(text, sizeof(text),
                "download;dur=%.3f, probe;dur=%.3f, decode;dur=%.3f, shot_detection;dur=%.3f, total;dur=%.3f",
                t.download_ms, t.probe_ms, t.decode_ms, t.shot_detection_ms, t.total_ms);
  return text;
}

}  // namespace sightline::http
