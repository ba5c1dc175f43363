#include "http/video_codec.h"

#include <boost/json.hpp>

#include <cctype>
#include <cmath>
#include <cstdio>

#include "core/base64.h"
#include "core/utf8.h"
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

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
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
  if (text.substr(0, 5) == "data:") {
    const size_t comma = text.find(',');
    if (comma == std::string_view::npos) return InvalidVideo("video: data: URI without a ','");
    const std::string meta = Lower(text.substr(5, comma - 5));
    if (meta.size() < 7 || meta.compare(meta.size() - 7, 7, ";base64") != 0)
      return InvalidVideo("video: data: URI must be base64-encoded");
    text = text.substr(comma + 1);
  }
  auto bytes = Base64Decode(text);
  if (!bytes) return InvalidVideo("video: not valid base64 or a data: URI");
  if (bytes->empty()) return InvalidVideo("video is empty (0 bytes)");
  VideoSource s;
  s.bytes = std::make_shared<const std::string>(std::move(*bytes));
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
    } else if (v.is_string()) {
      out.fields.emplace_back(key, std::string(v.get_string()));
    } else if (v.is_bool()) {
      out.fields.emplace_back(key, v.get_bool() ? "true" : "false");
    } else if (v.is_number()) {
      out.fields.emplace_back(key, json::serialize(v));
    } else if (!v.is_null()) {
      return InvalidArgument("'" + key + "' has an unsupported JSON type");
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
  const std::string ct = Lower(req.Header("content-type"));
  const std::string_view body = req.body;
  if (ct.rfind("multipart/form-data", 0) == 0) {
    ASSIGN_OR_RETURN(auto boundary, MultipartBoundary(req.Header("content-type")));
    ASSIGN_OR_RETURN(auto parts, ParseMultipart(body, boundary));
    for (const auto& p : parts) {
      const bool file = !p.filename.empty() || p.content_type.rfind("video/", 0) == 0 ||
                        p.content_type == "application/octet-stream";
      if (file) {
        const std::string label = "file '" + ToValidUtf8(p.filename.empty() ? p.name : p.filename) + "'";
        if (p.body.empty()) return InvalidVideo(label + " is empty (0 bytes)");
        found.push_back(Bytes(p.body, label));
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
        "send one video: a video/* body, a multipart file, or JSON with video (base64), video_url or video_path");
  if (found.size() > 1)
    return InvalidArgument("send one video per request; got " + std::to_string(found.size()));
  for (const auto& [k, v] : out.fields)
    if (!IsValidUtf8(k) || !IsValidUtf8(v))
      return InvalidArgument("field '" + ToValidUtf8(k) + "' is not valid UTF-8").WithKind(ErrorKind::kInvalidText);
  out.source = std::move(found.front());
  return out;
}

Result<tasks::DetectShotsParams> ParseShotParams(const VideoRequest& r) {
  RETURN_IF_ERROR(RejectUnknown(r,
                                {"detector", "threshold", "min_shot_len", "min_scene_len", "adaptive_threshold",
                                 "window_width", "min_content_val", "fade_bias"},
                                "detector, threshold, min_shot_len (min_scene_len), adaptive_threshold, "
                                "window_width, min_content_val, fade_bias"));
  tasks::DetectShotsParams p;
  auto& d = p.detector;
  if (const std::string name = Field(r, "detector"); !name.empty()) {
    ASSIGN_OR_RETURN(d.kind, media::ParseShotDetector(name));
  }
  ASSIGN_OR_RETURN(auto threshold, NumberField(r, "threshold"));
  if (threshold) {
    if (*threshold < 0) return InvalidArgument("threshold must be between 0 and 255");
    if (d.kind == media::ShotDetectorKind::kAdaptive)
      d.adaptive_threshold = *threshold;  // the adaptive detector's one threshold is its ratio
    else
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
  RETURN_IF_ERROR(media::ValidateShotDetectorOptions(d));
  return p;
}

std::string EncodeVideoShotsResponse(const tasks::VideoShotsResult& r) {
  const double fps = r.video.frame_rate;
  json::object video;
  video["container"] = r.video.container;
  video["codec"] = r.video.codec;
  video["width"] = r.video.width;
  video["height"] = r.video.height;
  video["rotation"] = r.video.rotation;
  video["duration"] = Round(r.decoded_duration_s);
  video["declared_duration"] = Round(r.video.duration_s);
  video["frame_rate"] = Round(fps);
  video["frames"] = r.frames;
  video["has_audio"] = r.video.has_audio;
  video["corrupt_packets"] = r.corrupt_packets;
  json::array shots;
  for (const auto& s : r.shots) {
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
    shots.push_back(std::move(o));
  }
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
