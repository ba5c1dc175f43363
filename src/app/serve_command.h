// `sightline serve`: builds one server object (metrics, logger, runtime, models, routes,
// transport), runs it until SIGINT/SIGTERM, then drains accepted work before exiting.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sightline::app {

struct ServeOptions {
  std::string model_repository = "models";
  std::string host = "0.0.0.0";
  int port = 8000;
  int http_threads = 2;
  size_t max_connections = 1024;
  size_t max_body_mb = 64;
  size_t max_header_kb = 16;
  int read_timeout_ms = 30'000;
  std::string api_key_file;
  std::vector<std::string> allow_cidrs;
  std::string log_level = "info";
  int drain_timeout_ms = 10'000;
  std::string port_file;                       // writes the bound port here once listening (for port 0)
  int decode_threads = 2;                      // image decoding/preprocessing pool
  int64_t max_image_pixels = 100'000'000;      // decompression-bomb limit
  std::vector<std::string> allow_paths;        // image_path roots; none = image_path disabled
  std::vector<std::string> fetch_allow_cidrs;  // internal ranges image_url may reach anyway
  int fetch_timeout_ms = 15'000;
  size_t fetch_max_mb = 50;
  int fetch_threads = 50;               // concurrent image_url downloads (blocking transfers, one per thread)
  size_t result_cache_mb = 256;         // background-removal result cache; 0 = off
  size_t text_embedding_cache_mb = 32;  // CLIP text embeddings; 0 = off
  // "off" (or DISABLE_CAPTIONS=1 in the environment): /v1/embed never captions, answering
  // caption: null at once even when asked and a captioner is loaded.
  std::string captions = "on";
  size_t image_embedding_cache_mb = 64;  // CLIP image embeddings by content hash; 0 = off
  int malloc_trim_interval_ms = 10'000;  // core/heap_trimmer.h; 0 = off
  size_t malloc_trim_min_free_mb = 16;   // trim only when this much is free inside malloc's arenas
  int video_workers = 2;                 // videos decoded at once (each its own pool thread)
  int video_queue = 32;                  // videos waiting for a worker at most (then 503)
  int video_decode_threads = 2;          // libavcodec threads per video
  double video_max_duration_s = 3 * 3600.0;
  int video_max_dimension = 8192;  // width and height of the coded frame
  int64_t video_max_frames = 1'000'000;
  size_t max_upload_mb = 2048;  // video bodies, streamed to --upload-dir
  std::string upload_dir;       // default: $TMPDIR, else /tmp
};

int RunServe(const ServeOptions& options);

}  // namespace sightline::app
