// Registers Sightline's routes on a Router: health, readiness, metrics, model listing
// (/healthz, /readyz, /metrics, /v1/models), the KServe v2 protocol (/v2/...) and the image
// routes (/v1/remove-background, /v1/metadata).
#pragma once

#include <string>

#include "core/thread_pool.h"
#include "http/image_request.h"
#include "http/router.h"
#include "media/image_decoder.h"
#include "observability/metrics.h"
#include "scheduling/model_registry.h"
#include "sources/path_policy.h"
#include "sources/url_fetcher.h"
#include "tasks/background_removal.h"
#include "tasks/clip.h"

namespace sightline::http {

struct ApiContext {
  scheduling::ModelRegistry* models = nullptr;
  observability::MetricsRegistry* metrics = nullptr;
  std::string server_name = "sightline";
  std::string server_version;
  ThreadPool* decode_pool = nullptr;  // image decoding and preprocessing, off the I/O threads
  media::DecodeLimits decode_limits;
  // Image routes (/v1/remove-background, /v1/metadata).
  tasks::BackgroundRemoval* background_removal = nullptr;
  const sources::UrlFetcher* fetcher = nullptr;  // image_url
  const sources::PathPolicy* paths = nullptr;    // image_path
  ThreadPool* fetch_pool = nullptr;              // blocking fetches and file reads
  tasks::ClipService* clip = nullptr;            // /v1/embeddings, /v1/embed, /v1/classify, /v1/tokenize
};

void AddSystemRoutes(Router& router, const ApiContext& ctx);
// What the server answers while its models load: liveness 200, readiness 503 (KServe's 400),
// /metrics, and 503 + Retry-After for everything else. The full router replaces it once loaded.
void AddStartupRoutes(Router& router, observability::MetricsRegistry& metrics);
void AddKServeRoutes(Router& router, const ApiContext& ctx);
void AddImageRoutes(Router& router, const ApiContext& ctx);
void AddClipRoutes(Router& router, const ApiContext& ctx);

// Shared by the image routes: the bytes of one image source, inline ones at once, URLs and
// paths fetched on the fetch pool.
using BytesCallback = std::function<void(Result<std::shared_ptr<const std::string>>)>;
void ResolveImageSource(const ApiContext& ctx, ImageSource source, std::shared_ptr<CancelToken> cancel,
                        BytesCallback done);
// X-Retry-Attempt: how many times the client was already told to come back (0..8; scales the
// Retry-After estimate).
int RetryAttempt(const HttpRequest& request);
// The metadata JSON object of an image.
void AppendMetadataJson(std::string& out, const media::ImageMetadata& metadata);

// "queue;dur=0.12, infer;dur=3.40, total;dur=4.01" (milliseconds), per the Server-Timing spec.
std::string ServerTimingHeader(double queue_ms, double infer_ms, double total_ms);

}  // namespace sightline::http
