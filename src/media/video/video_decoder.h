// Decodes untrusted video with FFmpeg's libraries (libavformat, libavcodec, libswscale) into small
// RGB frames for analysis: every frame of the best video stream, scaled in the decoder path to the
// width the analysis needs (never full-size RGB), rotated as the container's display matrix says,
// each with its presentation time from its own timestamp (variable frame rate safe).
//
// Containers: MP4/MOV (3GP, M4V), Matroska/WebM, AVI, MPEG-TS, FLV — a whitelist given to
// libavformat, so playlists, concat scripts, image files and other demuxers never open (and so
// never reach other files or the network). Codecs: whatever Debian's libavcodec decodes among
// H.264, HEVC, VP8, VP9, AV1, MPEG-4 part 2, MJPEG, ProRes.
//
// Errors (values, never exceptions):
//   kInvalidArgument, kind invalid_video: empty, unknown or corrupt container, no video stream
//     (audio only), an image posing as video, nothing decodable, or a file that ends long before
//     the duration its header declares (truncated);
//   kPayloadTooLarge, kind limit_exceeded: a header's width, height or duration, or the frames
//     actually decoded, over VideoLimits (the message names the limit);
//   kCancelled / kDeadlineExceeded: what the frame callback returned to stop early.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

struct AVFrame;

namespace sightline::media {

// Where the bytes are: a file (opened by FFmpeg's file protocol alone), or bytes in memory (read
// through a custom AVIOContext: no protocol at all).
struct VideoInput {
  std::string path;                          // non-empty: read this file
  std::shared_ptr<const std::string> bytes;  // otherwise: these bytes
  std::string_view view;                     // or bytes held by `owner` (a mapped upload)
  std::shared_ptr<const void> owner;         // keeps `view` (or a temporary `path`) alive
  std::string label = "video";               // names the input in error messages

  std::string_view data() const { return bytes ? std::string_view(*bytes) : view; }
};

struct VideoLimits {
  double max_duration_s = 3 * 3600.0;  // declared and decoded
  int max_width = 8192;                // coded frame size, from the header, before decoding
  int max_height = 8192;
  int64_t max_frames = 1'000'000;  // frames decoded
  int threads = 2;                 // libavcodec decoding threads per video
};

// What the header says, with the display rotation applied to width/height.
struct VideoInfo {
  std::string container;  // libavformat's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
  std::string codec;      // e.g. "h264"
  int width = 0;          // displayed (after rotation)
  int height = 0;
  int rotation = 0;       // degrees clockwise applied to decoded frames: 0, 90, 180 or 270
  double duration_s = 0;  // declared; 0 when unknown
  // The declared duration is the video stream's own, not the container's (which also spans
  // audio that may run longer): only then can a short read be called truncated.
  bool duration_is_video = false;
  double frame_rate = 0;    // average frames per second (r_frame_rate when unknown)
  int64_t frame_count = 0;  // declared; 0 when unknown
  bool has_audio = false;
};

// One decoded frame at analysis size, packed RGB24 rows (stride width*3). The pixels belong to the
// decoder and are overwritten by the next frame: copy what you keep.
struct AnalysisFrame {
  int64_t index = 0;  // 0-based, in presentation order
  double time_s = 0;  // presentation time from the frame's timestamp, relative to the stream start
  int width = 0;
  int height = 0;
  const uint8_t* rgb = nullptr;
};

// Called per frame; a non-ok status stops decoding and is returned by DecodeFrames.
using FrameSink = std::function<Status(const AnalysisFrame&)>;

class VideoDecoder {
 public:
  // Opens and probes (reads the header and enough packets to know the stream). Errors above.
  static Result<std::unique_ptr<VideoDecoder>> Open(VideoInput input, const VideoLimits& limits);
  ~VideoDecoder();
  VideoDecoder(const VideoDecoder&) = delete;
  VideoDecoder& operator=(const VideoDecoder&) = delete;

  const VideoInfo& info() const { return info_; }

  // Decodes every frame once, each scaled to `analysis_width` wide (never up; height keeps the
  // displayed aspect ratio, both even-free, at least 1) and handed to `sink` in order.
  // Corrupt packets inside an otherwise good stream are skipped (counted in corrupt_packets()).
  Status DecodeFrames(int analysis_width, const FrameSink& sink);

  // After DecodeFrames: decodes again and hands `sink` the first frame at or after each of
  // `times` (seconds, ascending, as DecodeFrames reported them), scaled to `width` wide (never
  // up), seeking over gaps of more than 3 s. AnalysisFrame::index is the position in `times`.
  // Times past the last frame get none.
  Status DecodeFramesAt(const std::vector<double>& times, int width, const FrameSink& sink);

  int64_t corrupt_packets() const { return corrupt_packets_; }

 private:
  struct State;
  class Converter;
  explicit VideoDecoder(std::unique_ptr<State> state);
  // Demuxes and decodes the stream from where it stands, handing each decoded frame to
  // `on_frame` until it sets `stop`, fails, or the stream ends (then the decoder is drained).
  Status Pump(const std::function<Status(AVFrame*, bool& stop)>& on_frame, bool* read_failed);
  int64_t first_ts_ = INT64_MIN;  // the stream's first timestamp (AV_NOPTS_VALUE's value: unknown)
  std::unique_ptr<State> state_;
  VideoInfo info_;
  VideoLimits limits_;
  int64_t corrupt_packets_ = 0;
};

// An SMPTE timecode "HH:MM:SS:FF" (non-drop-frame, at the nominal rate round(frame_rate)) of a time.
std::string SmpteTimecode(double seconds, double frame_rate);

}  // namespace sightline::media
