#include "media/video/video_decoder.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
}

namespace sightline::media {
namespace {

// Demuxers a video may open with (libavformat names; a demuxer matches when any of its
// comma-separated names is here). Everything else — image2, concat, hls, tty — never opens.
constexpr const char* kContainerWhitelist = "mov,matroska,avi,mpegts,flv";
constexpr const char* kContainersHuman = "MP4/MOV, MKV/WebM, AVI, MPEG-TS, FLV";
constexpr int kIoBufferSize = 64 * 1024;

// FFmpeg logs to stderr from any call. Its messages are captured per thread instead, so the last
// error of a failed open names the cause ("moov atom not found") in the request's own error, and
// corrupt uploads never flood the server's log. Messages from libavcodec's own frame threads
// (no collector there) are dropped.
thread_local std::string* tl_last_error = nullptr;

void CaptureLog(void* avcl, int level, const char* fmt, va_list args) {
  if (level > AV_LOG_ERROR || !tl_last_error) return;
  char line[512];
  int print_prefix = 0;  // no "[mov,mp4,... @ 0x55d0...]": the error names the container, never an address
  av_log_format_line(avcl, level, fmt, args, line, sizeof(line), &print_prefix);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (!text.empty()) *tl_last_error = std::move(text);
}

void InstallLogCapture() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(CaptureLog); });
}

// Sets this thread's collector for the scope of one decoder call.
class LogScope {
 public:
  explicit LogScope(std::string* sink) : previous_(tl_last_error) { tl_last_error = sink; }
  ~LogScope() { tl_last_error = previous_; }

 private:
  std::string* previous_;
};

std::string AvError(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof(text));
  return text;
}

Status InvalidVideo(std::string message) {
  return Status(StatusCode::kInvalidArgument, std::move(message)).WithKind(ErrorKind::kInvalidVideo);
}
Status OverLimit(std::string message) {
  return Status(StatusCode::kPayloadTooLarge, std::move(message)).WithKind(ErrorKind::kLimitExceeded);
}

std::string Fixed(double v, int digits = 1) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", digits, v);
  return text;
}

}  // namespace

struct VideoDecoder::State {
  VideoInput input;
  FILE* file = nullptr;
  int64_t file_size = 0;
  size_t position = 0;  // in `input.bytes`
  AVIOContext* io = nullptr;
  AVFormatContext* format = nullptr;
  AVCodecContext* codec = nullptr;
  SwsContext* scaler = nullptr;  // decoded frame -> YUV 4:2:0 at analysis size
  SwsContext* to_rgb = nullptr;  // -> packed RGB
  AVPacket* packet = nullptr;
  AVFrame* frame = nullptr;
  int stream = -1;
  std::string last_error;  // FFmpeg's last logged error on this decoder's calls

  ~State() {
    sws_freeContext(scaler);
    sws_freeContext(to_rgb);
    av_frame_free(&frame);
    av_packet_free(&packet);
    avcodec_free_context(&codec);
    avformat_close_input(&format);
    if (io) av_freep(&io->buffer);
    avio_context_free(&io);
    if (file) std::fclose(file);
  }

  // The custom AVIOContext's callbacks: the file (opened here, not by a protocol) or the bytes.
  static int Read(void* opaque, uint8_t* out, int size) {
    auto* s = static_cast<State*>(opaque);
    if (s->file) {
      size_t n = std::fread(out, 1, static_cast<size_t>(size), s->file);
      return n == 0 ? AVERROR_EOF : static_cast<int>(n);
    }
    const std::string_view bytes = s->input.data();
    if (s->position >= bytes.size()) return AVERROR_EOF;
    size_t n = std::min(static_cast<size_t>(size), bytes.size() - s->position);
    std::memcpy(out, bytes.data() + s->position, n);
    s->position += n;
    return static_cast<int>(n);
  }
  static int64_t Seek(void* opaque, int64_t offset, int whence) {
    auto* s = static_cast<State*>(opaque);
    const int64_t size = s->file ? s->file_size : static_cast<int64_t>(s->input.data().size());
    if (whence & AVSEEK_SIZE) return size;
    whence &= ~AVSEEK_FORCE;
    int64_t current = s->file ? static_cast<int64_t>(std::ftell(s->file)) : static_cast<int64_t>(s->position);
    int64_t target = whence == SEEK_SET ? offset : whence == SEEK_CUR ? current + offset : size + offset;
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return AVERROR(EINVAL);
    if (target < 0 || target > size) return AVERROR(EINVAL);
    if (s->file) {
      if (std::fseek(s->file, static_cast<long>(target), SEEK_SET) != 0) return AVERROR(EIO);
    } else {
      s->position = static_cast<size_t>(target);
    }
    return target;
  }
};

VideoDecoder::VideoDecoder(std::unique_ptr<State> state) : state_(std::move(state)) {}
VideoDecoder::~VideoDecoder() = default;

Result<std::unique_ptr<VideoDecoder>> VideoDecoder::Open(VideoInput input, const VideoLimits& limits) {
  InstallLogCapture();
  auto s = std::make_unique<State>();
  s->input = std::move(input);
  const std::string& label = s->input.label;
  LogScope log(&s->last_error);

  if (!s->input.path.empty()) {
    s->file = std::fopen(s->input.path.c_str(), "rb");
    if (!s->file) return NotFound(label + ": cannot be opened");
    std::fseek(s->file, 0, SEEK_END);
    s->file_size = std::ftell(s->file);
    std::fseek(s->file, 0, SEEK_SET);
  }
  const int64_t size = s->file ? s->file_size : static_cast<int64_t>(s->input.data().size());
  if (size <= 0) return InvalidVideo(label + " is empty (0 bytes)");

  auto* buffer = static_cast<uint8_t*>(av_malloc(kIoBufferSize));
  if (!buffer) return Internal("out of memory opening " + label);
  s->io = avio_alloc_context(buffer, kIoBufferSize, 0, s.get(), &State::Read, nullptr, &State::Seek);
  if (!s->io) {
    av_free(buffer);
    return Internal("out of memory opening " + label);
  }

  // Probe first, to name what the bytes are when they are not a container we read.
  const AVInputFormat* probed = nullptr;
  int r = av_probe_input_buffer2(s->io, &probed, "", nullptr, 0, 1 << 20);
  if (r < 0 || !probed)
    return InvalidVideo(label + " is not a video Sightline can read (" + kContainersHuman +
                        "): " + (s->last_error.empty() ? AvError(r) : s->last_error));
  if (av_match_list(probed->name, kContainerWhitelist, ',') <= 0) {
    std::string name = probed->name;
    const bool image = name.find("_pipe") != std::string::npos || name.rfind("image2", 0) == 0;
    return InvalidVideo(label +
                        (image ? " is an image (" + name + "), not a video"
                               : " is in a container Sightline does not read (" + name + ")") +
                        "; send " + kContainersHuman);
  }

  s->format = avformat_alloc_context();
  if (!s->format) return Internal("out of memory opening " + label);
  s->format->pb = s->io;
  s->format->flags |= AVFMT_FLAG_CUSTOM_IO;
  s->format->format_whitelist = av_strdup(kContainerWhitelist);
  // No protocol may open anything (external references in MOV, for one): the bytes are all.
  s->format->protocol_whitelist = av_strdup("none");
  r = avformat_open_input(&s->format, nullptr, probed, nullptr);
  if (r < 0)  // avformat_open_input freed the context
    return InvalidVideo(label + " cannot be read as " + probed->name + ": " +
                        (s->last_error.empty() ? AvError(r) : s->last_error));
  r = avformat_find_stream_info(s->format, nullptr);
  if (r < 0)
    return InvalidVideo(
        label + ": its streams cannot be read: " + (s->last_error.empty() ? AvError(r) : s->last_error));

  const AVCodec* decoder = nullptr;
  r = av_find_best_stream(s->format, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
  bool has_audio = false;
  for (unsigned i = 0; i < s->format->nb_streams; ++i)
    has_audio |= s->format->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO;
  if (r == AVERROR_STREAM_NOT_FOUND)
    return InvalidVideo(label + " has no video stream" + (has_audio ? " (audio only)" : ""));
  if (r < 0 || !decoder) {
    const char* codec_name = "unknown";
    for (unsigned i = 0; i < s->format->nb_streams; ++i)
      if (s->format->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO)
        codec_name = avcodec_get_name(s->format->streams[i]->codecpar->codec_id);
    return InvalidVideo(label + ": no decoder here for its video codec (" + codec_name + ")");
  }
  s->stream = r;
  AVStream* st = s->format->streams[r];
  if (st->disposition & AV_DISPOSITION_ATTACHED_PIC)
    return InvalidVideo(label + " has only a cover picture, no video stream" +
                        (has_audio ? " (audio only)" : ""));
  // Only this stream's packets are demuxed further.
  for (unsigned i = 0; i < s->format->nb_streams; ++i)
    if (static_cast<int>(i) != r) s->format->streams[i]->discard = AVDISCARD_ALL;

  const AVCodecParameters* par = st->codecpar;
  if (par->width <= 0 || par->height <= 0)
    return InvalidVideo(label + ": its video stream has no frame size");
  if (par->width > limits.max_width || par->height > limits.max_height)
    return OverLimit(label + " is " + std::to_string(par->width) + "x" + std::to_string(par->height) +
                     ", over the limit of " + std::to_string(limits.max_width) + "x" +
                     std::to_string(limits.max_height) + " (--video-max-dimension)");

  VideoInfo info;
  info.container = s->format->iformat->name;
  info.codec = avcodec_get_name(par->codec_id);
  info.has_audio = has_audio;
  if (st->duration != AV_NOPTS_VALUE && st->duration > 0) {
    info.duration_s = static_cast<double>(st->duration) * av_q2d(st->time_base);
    info.duration_is_video = true;
  } else if (s->format->duration != AV_NOPTS_VALUE && s->format->duration > 0)
    info.duration_s = static_cast<double>(s->format->duration) / AV_TIME_BASE;
  if (!std::isfinite(info.duration_s) || info.duration_s < 0) info.duration_s = 0;
  // (A container's duration may be its audio's: then the decoded frames are what the limit checks.)
  if ((info.duration_is_video || !has_audio) && info.duration_s > limits.max_duration_s)
    return OverLimit(label + " lasts " + Fixed(info.duration_s) + " s, over the limit of " +
                     Fixed(limits.max_duration_s) + " s (--video-max-duration-s)");
  AVRational rate = av_guess_frame_rate(s->format, st, nullptr);
  info.frame_rate = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0;
  if (!std::isfinite(info.frame_rate) || info.frame_rate > 1000) info.frame_rate = 0;
  info.frame_count = st->nb_frames > 0 ? st->nb_frames : 0;

  size_t matrix_size = 0;
  const uint8_t* matrix = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &matrix_size);
  if (matrix && matrix_size >= 9 * sizeof(int32_t)) {
    // av_display_rotation_get is counter-clockwise; frames are turned clockwise by its negation
    // (as ffmpeg's CLI autorotate does). Odd angles snap to the nearest quarter turn.
    double theta = -av_display_rotation_get(reinterpret_cast<const int32_t*>(matrix));
    if (std::isfinite(theta)) {
      int quarter = static_cast<int>(std::lround(theta / 90.0)) % 4;
      info.rotation = ((quarter + 4) % 4) * 90;
    }
  }
  info.width = info.rotation % 180 ? par->height : par->width;
  info.height = info.rotation % 180 ? par->width : par->height;

  s->codec = avcodec_alloc_context3(decoder);
  if (!s->codec) return Internal("out of memory opening " + label);
  if (avcodec_parameters_to_context(s->codec, par) < 0) return InvalidVideo(label + ": bad codec parameters");
  // Frame threads cost more than they give on small frames (measured: 320x180 H.264 decodes in
  // 390 ms on one thread, 520 ms on two; 640x272 in 264 ms on one, 178 ms on two).
  const bool small = static_cast<int64_t>(par->width) * par->height < 100'000;
  s->codec->thread_count = small ? 1 : std::max(1, limits.threads);
  s->codec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  // A stream whose frames later grow past the header's size is refused by the decoder itself.
  s->codec->max_pixels = static_cast<int64_t>(limits.max_width) * limits.max_height;
  s->codec->pkt_timebase = st->time_base;
  r = avcodec_open2(s->codec, decoder, nullptr);
  if (r < 0)
    return InvalidVideo(label + ": its " + info.codec +
                        " stream cannot be decoded: " + (s->last_error.empty() ? AvError(r) : s->last_error));
  s->packet = av_packet_alloc();
  s->frame = av_frame_alloc();
  if (!s->packet || !s->frame) return Internal("out of memory opening " + label);

  auto decoder_object = std::unique_ptr<VideoDecoder>(new VideoDecoder(std::move(s)));
  decoder_object->info_ = std::move(info);
  decoder_object->limits_ = limits;
  return decoder_object;
}

// Frames scaled and turned to one output size: the displayed frame `width` wide (never up),
// aspect kept, packed RGB24.
class VideoDecoder::Converter {
 public:
  Converter(const VideoInfo& info, int width) : rotation_(info.rotation) {
    out_w_ = std::clamp(width, 1, info.width);
    out_h_ =
        std::max(1, static_cast<int>(std::lround(static_cast<double>(info.height) * out_w_ / info.width)));
    const bool turned = rotation_ % 180 != 0;
    scaled_w_ = turned ? out_h_ : out_w_;  // before rotation
    scaled_h_ = turned ? out_w_ : out_h_;
    // swscale's vector code writes whole vectors: strides are padded to 64 bytes and every buffer
    // has a spare row, and the packed result is copied out of its padded rows.
    rgb_stride_ = Align(scaled_w_ * 3);
    padded_.resize(static_cast<size_t>(rgb_stride_) * (scaled_h_ + 1));
    scaled_.resize(static_cast<size_t>(scaled_w_) * scaled_h_ * 3);
    luma_stride_ = Align(scaled_w_);
    chroma_stride_ = Align((scaled_w_ + 1) / 2);
    luma_ = static_cast<size_t>(luma_stride_) * (scaled_h_ + 1);
    chroma_ = static_cast<size_t>(chroma_stride_) * ((scaled_h_ + 1) / 2 + 1);
    planar_.resize(luma_ + 2 * chroma_);
    if (rotation_) rotated_.resize(scaled_.size());
  }
  ~Converter() {
    sws_freeContext(scaler_);
    sws_freeContext(to_rgb_);
  }
  int width() const { return out_w_; }
  int height() const { return out_h_; }

  // Null when the frame's format cannot be converted.
  const uint8_t* Convert(const AVFrame* f) {
    // Two steps, as measured faster (~30% of the whole decode on 320x180 H.264): scale in planar
    // YUV 4:2:0 (swscale's vector paths), then convert at the small size (its unscaled YUV->RGB
    // path), instead of one scaling straight to packed RGB (its scalar output path).
    scaler_ =
        sws_getCachedContext(scaler_, f->width, f->height, static_cast<AVPixelFormat>(f->format), scaled_w_,
                             scaled_h_, AV_PIX_FMT_YUV420P, SWS_BILINEAR, nullptr, nullptr, nullptr);
    to_rgb_ = sws_getCachedContext(to_rgb_, scaled_w_, scaled_h_, AV_PIX_FMT_YUV420P, scaled_w_, scaled_h_,
                                   AV_PIX_FMT_RGB24, SWS_BILINEAR, nullptr, nullptr, nullptr);
    if (!scaler_ || !to_rgb_) return nullptr;
    uint8_t* mid[4] = {planar_.data(), planar_.data() + luma_, planar_.data() + luma_ + chroma_, nullptr};
    int mid_stride[4] = {luma_stride_, chroma_stride_, chroma_stride_, 0};
    sws_scale(scaler_, f->data, f->linesize, 0, f->height, mid, mid_stride);
    uint8_t* dst[4] = {padded_.data(), nullptr, nullptr, nullptr};
    int dst_stride[4] = {rgb_stride_, 0, 0, 0};
    sws_scale(to_rgb_, mid, mid_stride, 0, scaled_h_, dst, dst_stride);
    const size_t row = static_cast<size_t>(scaled_w_) * 3;
    for (int y = 0; y < scaled_h_; ++y)
      std::memcpy(&scaled_[static_cast<size_t>(y) * row], &padded_[static_cast<size_t>(y) * rgb_stride_],
                  row);
    if (!rotation_) return scaled_.data();
    // Turn the small frame clockwise: output (x, y) reads the scaled frame at the source point.
    for (int y = 0; y < out_h_; ++y) {
      for (int x = 0; x < out_w_; ++x) {
        int sx, sy;
        if (rotation_ == 90) {
          sx = y;
          sy = scaled_h_ - 1 - x;
        } else if (rotation_ == 180) {
          sx = scaled_w_ - 1 - x;
          sy = scaled_h_ - 1 - y;
        } else {
          sx = scaled_w_ - 1 - y;
          sy = x;
        }
        std::memcpy(&rotated_[(static_cast<size_t>(y) * out_w_ + x) * 3],
                    &scaled_[(static_cast<size_t>(sy) * scaled_w_ + sx) * 3], 3);
      }
    }
    return rotated_.data();
  }

 private:
  static int Align(int bytes) { return (bytes + 63) / 64 * 64; }

  int rotation_;
  int out_w_ = 0, out_h_ = 0, scaled_w_ = 0, scaled_h_ = 0;
  int rgb_stride_ = 0, luma_stride_ = 0, chroma_stride_ = 0;
  size_t luma_ = 0, chroma_ = 0;
  std::vector<uint8_t> padded_, scaled_, planar_, rotated_;
  SwsContext* scaler_ = nullptr;  // decoded frame -> YUV 4:2:0 at the output size
  SwsContext* to_rgb_ = nullptr;  // -> packed RGB
};

Status VideoDecoder::Pump(const std::function<Status(AVFrame*, bool& stop)>& on_frame, bool* read_failed) {
  State& s = *state_;
  bool stop = false;
  auto drain = [&]() -> Status {
    while (!stop) {
      int r = avcodec_receive_frame(s.codec, s.frame);
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return Status::Ok();
      if (r < 0) {
        ++corrupt_packets_;
        return Status::Ok();
      }
      Status status = s.frame->width > 0 && s.frame->height > 0 && s.frame->format >= 0
                          ? on_frame(s.frame, stop)
                          : (++corrupt_packets_, Status::Ok());
      av_frame_unref(s.frame);
      if (!status.ok()) return status;
    }
    return Status::Ok();
  };
  while (!stop) {
    int r = av_read_frame(s.format, s.packet);
    if (r == AVERROR_EOF) break;
    if (r < 0) {
      if (read_failed) *read_failed = true;  // a demuxer error mid-file: what came before is kept
      break;
    }
    if (s.packet->stream_index != s.stream) {
      av_packet_unref(s.packet);
      continue;
    }
    r = avcodec_send_packet(s.codec, s.packet);
    av_packet_unref(s.packet);
    if (r < 0 && r != AVERROR(EAGAIN)) {
      ++corrupt_packets_;
      continue;
    }
    RETURN_IF_ERROR(drain());
  }
  if (stop) return Status::Ok();
  avcodec_send_packet(s.codec, nullptr);
  return drain();
}

Status VideoDecoder::DecodeFrames(int analysis_width, const FrameSink& sink) {
  State& s = *state_;
  LogScope log(&s.last_error);
  const std::string& label = s.input.label;
  AVStream* st = s.format->streams[s.stream];
  const double time_base = av_q2d(st->time_base);
  Converter converter(info_, analysis_width);

  int64_t index = 0;
  first_ts_ = st->start_time;
  double last_time = -1;
  const double frame_step = info_.frame_rate > 0 ? 1.0 / info_.frame_rate : 1.0 / 25;
  bool read_failed = false;

  Status pumped = Pump(
      [&](AVFrame* f, bool&) -> Status {
        if (index >= limits_.max_frames)
          return OverLimit(label + " has more than " + std::to_string(limits_.max_frames) +
                           " frames (--video-max-frames)");
        int64_t ts = f->best_effort_timestamp;
        double t;
        if (ts == AV_NOPTS_VALUE) {
          t = last_time < 0 ? 0 : last_time + frame_step;
        } else {
          if (first_ts_ == AV_NOPTS_VALUE) first_ts_ = ts;
          t = static_cast<double>(ts - first_ts_) * time_base;
          // Timestamps that go backwards (edit lists, broken muxers) keep frames in decode order.
          if (t <= last_time) t = last_time + 1e-6;
        }
        if (t > limits_.max_duration_s)
          return OverLimit(label + " runs past " + Fixed(limits_.max_duration_s) +
                           " s (--video-max-duration-s)");
        last_time = t;
        const uint8_t* pixels = converter.Convert(f);
        if (!pixels) return InvalidVideo(label + ": a frame's pixel format cannot be converted");
        AnalysisFrame out{index, t, converter.width(), converter.height(), pixels};
        ++index;
        return sink(out);
      },
      &read_failed);
  RETURN_IF_ERROR(pumped);

  if (index == 0)
    return InvalidVideo(label + ": no frame could be decoded" +
                        (s.last_error.empty() ? std::string() : " (" + s.last_error + ")"));
  // A file cut short: its header promises far more than its packets hold.
  const double covered = last_time + frame_step;
  // A lone picture beside audio is cover art (Matroska attachments do not say so), not a video.
  static constexpr const char* kImageCodecs[] = {"mjpeg", "png", "bmp", "gif", "webp", "tiff"};
  if (index == 1 && info_.has_audio &&
      std::any_of(std::begin(kImageCodecs), std::end(kImageCodecs),
                  [&](const char* c) { return info_.codec == c; }))
    return InvalidVideo(label + " has only a cover picture, no video stream (audio only)");
  if ((info_.duration_is_video || !info_.has_audio) && info_.duration_s >= 1.0 &&
      covered < 0.75 * info_.duration_s)
    return InvalidVideo(label + " is truncated or corrupt: its frames end at " + Fixed(covered, 2) +
                        " s of the " + Fixed(info_.duration_s, 2) + " s its header declares" +
                        (read_failed ? " (a read error ended it)" : ""));
  return Status::Ok();
}

Status VideoDecoder::DecodeFramesAt(const std::vector<double>& times, int width, const FrameSink& sink) {
  State& s = *state_;
  LogScope log(&s.last_error);
  if (times.empty()) return Status::Ok();
  if (!std::is_sorted(times.begin(), times.end())) return InvalidArgument("frame times must ascend");
  AVStream* st = s.format->streams[s.stream];
  const double time_base = av_q2d(st->time_base);
  const double half_step = 0.5 / (info_.frame_rate > 0 ? info_.frame_rate : 25);
  const int64_t origin = first_ts_ != AV_NOPTS_VALUE ? first_ts_ : 0;
  Converter converter(info_, width);
  size_t next = 0;
  double last_time = -1;
  size_t seeked_for = SIZE_MAX;
  // Far-apart times are reached by seeking (to the key frame before each, then decoding forward);
  // near ones by decoding on.
  constexpr double kSeekGap = 3.0;
  const double skip_ahead = std::max(0.5, 16 * half_step);  // at least 8 frames ahead
  auto seek_to = [&](double t) {
    const int64_t ts = origin + static_cast<int64_t>(std::floor(t / time_base));
    av_seek_frame(s.format, s.stream, ts, AVSEEK_FLAG_BACKWARD);
    avcodec_flush_buffers(s.codec);
    last_time = -1;
  };
  seek_to(times.front() > kSeekGap ? times.front() : 0);
  seeked_for = 0;
  while (next < times.size()) {
    bool seek = false;
    Status pumped = Pump(
        [&](AVFrame* f, bool& stop) -> Status {
          const int64_t ts = f->best_effort_timestamp;
          const double t = ts == AV_NOPTS_VALUE ? (last_time < 0 ? 0 : last_time + 2 * half_step)
                                                : static_cast<double>(ts - origin) * time_base;
          last_time = t;
          // Far from the next wanted frame, frames no other frame refers to (B-frames, mostly)
          // are not decoded at all: skipping them changes no other frame, and halves the work of
          // decoding on between keyframes. Near it (frame threading delays a switch by a few
          // frames), everything is decoded again.
          s.codec->skip_frame = times[next] - t > skip_ahead ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
          if (times[next] - t > kSeekGap && seeked_for != next) {
            seek = stop = true;
            return Status::Ok();
          }
          while (next < times.size() && t >= times[next] - half_step) {
            const uint8_t* pixels = converter.Convert(f);
            if (!pixels) return InvalidVideo(s.input.label + ": a frame's pixel format cannot be converted");
            RETURN_IF_ERROR(sink(
                AnalysisFrame{static_cast<int64_t>(next), t, converter.width(), converter.height(), pixels}));
            ++next;
          }
          if (next == times.size()) stop = true;
          return Status::Ok();
        },
        nullptr);
    if (!pumped.ok()) {
      s.codec->skip_frame = AVDISCARD_DEFAULT;
      return pumped;
    }
    if (!seek) break;  // the end of the stream: later times have no frame
    seeked_for = next;
    seek_to(times[next]);
  }
  s.codec->skip_frame = AVDISCARD_DEFAULT;
  return Status::Ok();
}

std::string SmpteTimecode(double seconds, double frame_rate) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const int64_t nominal = std::max<int64_t>(1, std::llround(frame_rate > 0 ? frame_rate : 25));
  const int64_t frames = std::llround(seconds * (frame_rate > 0 ? frame_rate : 25));
  const int64_t ff = frames % nominal;
  const int64_t total_s = frames / nominal;
  char text[48];
  std::snprintf(text, sizeof(text), "%02lld:%02lld:%02lld:%02lld", static_cast<long long>(total_s / 3600),
                static_cast<long long>(total_s / 60 % 60), static_cast<long long>(total_s % 60),
                static_cast<long long>(ff));
  return text;
}

}  // namespace sightline::media
