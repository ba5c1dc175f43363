// Registers Sightline's routes on a RouteTable. Each route group gets only what it uses:
//   system  health, readiness, metrics, model listing (/healthz, /readyz, /metrics, /v1/models)
//   kserve  the KServe v2 protocol (/v2/...)
//   image   background removal and metadata (/v1/remove-background, /v1/metadata)
//   clip    embeddings, zero-shot, batch embed, tokenize (/v1/embeddings, /v1/classify, /v1/embed,
//           /v1/tokenize)
//   caption captions from encoder-decoder captioners (/v1/caption)
//   video   shot detection and summaries (/v1/videos/shots, /v1/videos/summarize, /summarize_video)
// Routes parse (kserve_codec, v1_codec, image_request), call a task from tasks/, and write what
// it answers; nothing else happens in http/.
#pragma once

#include <string>

#include "core/thread_pool.h"
#include "http/route_table.h"
#include "media/image_decoder.h"
#include "observability/metrics.h"
#include "scheduling/model_registry.h"
#include "tasks/background_removal.h"
#include "tasks/caption.h"
#include "tasks/clip.h"
#include "tasks/image_batch.h"
#include "tasks/summarize_video.h"
#include "tasks/video_shots.h"

namespace sightline::http {

struct SystemRouteDeps {
  const scheduling::ModelRegistry* models = nullptr;
  observability::MetricsRegistry* metrics = nullptr;
};

struct KServeRouteDeps {
  scheduling::ModelRegistry* models = nullptr;
  ThreadPool* decode_pool = nullptr;  // encoded images in BYTES inputs are decoded here
  media::DecodeLimits decode_limits;
  std::string server_name = "sightline";
  std::string server_version;
};

struct ImageRouteDeps {
  const scheduling::ModelRegistry* models = nullptr;
  tasks::BackgroundRemoval* background_removal = nullptr;
  tasks::ImageTaskDeps images;
};

struct CaptionRouteDeps {
  const tasks::Captioners* captioners = nullptr;  // null or empty: /v1/caption answers 404
  tasks::ImageTaskDeps images;
};

struct ClipRouteDeps {
  tasks::ClipService* clip = nullptr;  // null: no CLIP family loaded (the routes answer 404)
  tasks::ImageTaskDeps images;
  // /v1/embed captions=true: the captioner (its first family) that captions each image; null with
  // captions_disabled (--captions off, DISABLE_CAPTIONS=1): caption stays null, nothing runs.
  const tasks::Captioners* captioners = nullptr;
  bool captions_disabled = false;
};

struct VideoRouteDeps {
  tasks::VideoTaskDeps video;
  // Summaries caption keyframes with the first captioner (null or --captions off: no captions).
  const tasks::Captioners* captioners = nullptr;
  bool captions_disabled = false;
  ThreadPool* work_pool = nullptr;                       // caption decoding
  uint64_t max_upload_bytes = 2048ull << 20;             // video bodies, streamed to a temporary file
  const tasks::ImageClassifiers* classifiers = nullptr;  // summaries' safety flags (null: none)
  tasks::ClipService* clip = nullptr;                    // summaries' CLIP dedupe and tags (null: none)
  const tasks::ImageClassifier* labeler = nullptr;       // summaries' labels per shot (null: none)
};

void AddSystemRoutes(RouteTable& routes, const SystemRouteDeps& deps);
// What the server answers while its models load: liveness 200, readiness 503 (KServe's 400),
// /metrics, and 503 + Retry-After for everything else. The full table replaces it once loaded.
void AddStartupRoutes(RouteTable& routes, observability::MetricsRegistry& metrics);
void AddKServeRoutes(RouteTable& routes, const KServeRouteDeps& deps);
void AddImageRoutes(RouteTable& routes, const ImageRouteDeps& deps);
void AddClipRoutes(RouteTable& routes, const ClipRouteDeps& deps);
void AddCaptionRoutes(RouteTable& routes, const CaptionRouteDeps& deps);
void AddVideoRoutes(RouteTable& routes, const VideoRouteDeps& deps);

// "queue;dur=0.12, infer;dur=3.40, total;dur=4.01" (milliseconds), per the Server-Timing spec.
std::string ServerTimingHeader(double queue_ms, double infer_ms, double total_ms);
// A many-image answer (/v1/embed, /v1/classify, /v1/caption): its JSON body with Server-Timing
// of the stage times summed over items, and the wall time.
HttpResponse BatchJson(std::string body, const tasks::BatchSummary& summary);

}  // namespace sightline::http
