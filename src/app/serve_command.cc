#include "app/serve_command.h"

#include <cstdlib>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>

#include "core/heap_trimmer.h"
#include "core/net_address.h"
#include "core/thread_pool.h"
#include "http/api_routes.h"
#include "http/server.h"
#include "media/library_log.h"
#include "observability/logger.h"
#include "observability/process_metrics.h"
#include "observability/server_metrics.h"
#include "runtime/onnxruntime/ort_backend.h"
#include "scheduling/model_registry.h"
#include "sources/source_resolver.h"
#include "tasks/shot_boundary_model.h"
#include "tasks/task_config_blocks.h"

#ifndef SIGHTLINE_VERSION
#define SIGHTLINE_VERSION "0.1.0"
#endif

namespace sightline::app {

int RunServe(const ServeOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  observability::LogLevel level;
  if (!observability::ParseLogLevel(o.log_level, &level)) {
    std::fprintf(stderr, "--log-level must be debug, info, warn, error or off\n");
    return 2;
  }
  auto log = observability::Logger::Create(level);
  auto fail = [&](const Status& s) {
    log->Error("startup_failed", observability::LogFields().Add("error", s.ToString()));
    std::fprintf(stderr, "sightline: %s\n", s.message().c_str());
    return 1;
  };

  // libvips' GLib warnings (a corrupt tile, a bad PNG chunk) go to the JSON log, not raw stderr.
  media::SetLibraryLogSink([log](std::string_view domain, std::string_view level, std::string_view message) {
    log->Warn(
        "library_log",
        observability::LogFields().Add("library", domain).Add("glib_level", level).Add("message", message));
  });
  struct ClearLibraryLogSink {
    ~ClearLibraryLogSink() { media::SetLibraryLogSink({}); }
  } clear_library_log_sink;

  observability::MetricsRegistry registry;
  observability::ServerMetrics metrics(registry);
  observability::RegisterProcessMetrics(registry);
  observability::Counter& trims = registry
                                      .AddCounter("sightline_malloc_trims_total",
                                                  "Times malloc_trim gave free arena pages back to the OS")
                                      .WithLabels({});
  observability::Counter& trimmed = registry
                                        .AddCounter("sightline_malloc_trimmed_bytes_total",
                                                    "Resident bytes malloc_trim gave back to the OS")
                                        .WithLabels({});
  HeapTrimmer heap_trimmer(
      {std::chrono::milliseconds(o.malloc_trim_interval_ms), o.malloc_trim_min_free_mb << 20},
      [&trims, &trimmed](size_t released) {
        trims.Inc();
        trimmed.Inc(static_cast<double>(released));
      });

  auto access = http::AccessControl::Create(o.api_key_file, o.allow_cidrs);
  if (!access.ok()) return fail(access.status());

  sources::FetchOptions fo;
  fo.timeout_ms = o.fetch_timeout_ms;
  fo.max_bytes = o.fetch_max_mb << 20;
  for (const auto& c : o.fetch_allow_cidrs) {
    auto cidr = ParseCidr(c);
    if (!cidr.ok()) return fail(FailedPrecondition("--fetch-allow-cidr: " + cidr.status().message()));
    fo.allowed_private.push_back(cidr.value());
  }
  sources::UrlFetcher fetcher(fo);
  auto paths = sources::PathPolicy::Create(o.allow_paths);
  if (!paths.ok()) return fail(paths.status());

  // Listen first, with the start-up routes: liveness answers and readiness says "loading" while
  // the models load and warm up (seconds for ISNet), as orchestrators' probes expect.
  http::RouteTable startup_routes;
  http::AddStartupRoutes(startup_routes, registry);
  http::RouteTable routes;  // the full set, installed once the models are ready
  http::ServerOptions so;
  so.host = o.host;
  so.port = static_cast<uint16_t>(o.port);
  so.io_threads = o.http_threads;
  so.max_connections = o.max_connections;
  so.max_body_bytes = o.max_body_mb << 20;
  if (!o.upload_dir.empty()) {
    so.upload_dir = o.upload_dir;
  } else if (const char* tmp = std::getenv("TMPDIR"); tmp && *tmp) {
    so.upload_dir = tmp;
  }
  so.max_header_bytes = o.max_header_kb << 10;
  so.read_timeout = std::chrono::milliseconds(o.read_timeout_ms);
  auto server = http::HttpServer::Create(so, startup_routes, access.value(), metrics, *log);
  if (!server.ok()) return fail(server.status());
  auto fail_serving = [&](const Status& s) {
    server.value()->Stop();
    return fail(s);
  };

  std::promise<void> stop;
  auto stopped = stop.get_future();
  std::atomic<bool> signalled{false};
  server.value()->OnShutdownSignal([&] {
    if (!signalled.exchange(true)) stop.set_value();
  });
  server.value()->Start();
  const uint16_t port = server.value()->port();
  if (!o.port_file.empty()) std::ofstream(o.port_file) << port << "\n";
  log->Info("listening", observability::LogFields()
                             .Add("host", o.host)
                             .Add("port", static_cast<int>(port))
                             .Add("state", "loading"));

  // ONNX Runtime's own lines (a failed kernel, say) join the JSON log instead of raw stderr.
  auto factory = runtime::CreateOrtBackendFactory(
      "sightline", [log](std::string_view severity, std::string_view where, std::string_view message) {
        log->Warn("library_log", observability::LogFields()
                                     .Add("library", "onnxruntime")
                                     .Add("severity", severity)
                                     .Add("where", where)
                                     .Add("message", message));
      });
  if (!factory.ok()) return fail_serving(factory.status());
  auto models = scheduling::ModelRegistry::LoadAll(*factory.value(), o.model_repository, metrics, *log,
                                                   tasks::TaskConfigBlocks(), tasks::AdaptiveQualityPlan);
  if (!models.ok()) return fail_serving(models.status());

  ThreadPool decode_pool(o.decode_threads, "sl-decode");
  ThreadPool fetch_pool(o.fetch_threads, "sl-fetch");
  ThreadPool video_pool(o.video_workers, "sl-video");
  CancelToken video_shutdown;  // fired when the drain deadline passes: videos still decoding stop
  media::DecodeLimits decode_limits;
  decode_limits.max_pixels = o.max_image_pixels;
  sources::SourceResolver resolver(&fetcher, &paths.value(), &fetch_pool);
  tasks::ImageTaskDeps image_deps;
  image_deps.sources = &resolver;
  image_deps.pool = &decode_pool;
  image_deps.items = &registry.AddCounter(
      "sightline_task_items_total",
      "Items of many-image tasks ended, by task and outcome (ok, error, cancelled)", {"task", "outcome"});

  tasks::BackgroundRemoval::Options bo;
  bo.limits = decode_limits;
  bo.cache_bytes = o.result_cache_mb << 20;
  tasks::BackgroundRemoval background_removal(decode_pool, registry, bo);
  tasks::ClipService::Options co;
  co.limits = decode_limits;
  co.text_cache_bytes = o.text_embedding_cache_mb << 20;
  co.image_cache_bytes = o.image_embedding_cache_mb << 20;
  auto clip = tasks::ClipService::Create(*models.value(), decode_pool, registry, co);
  if (!clip.ok()) return fail_serving(clip.status());
  auto captioners = tasks::Captioners::Load(*models.value(), decode_limits);
  if (!captioners.ok()) return fail_serving(captioners.status());

  http::AddSystemRoutes(routes, {models.value().get(), &registry});
  http::KServeRouteDeps kserve;
  kserve.models = models.value().get();
  kserve.decode_pool = &decode_pool;
  kserve.decode_limits = decode_limits;
  kserve.server_version = SIGHTLINE_VERSION;
  http::AddKServeRoutes(routes, kserve);
  http::AddImageRoutes(routes, {models.value().get(), &background_removal, image_deps});
  http::ClipRouteDeps clip_deps{clip.value().get(), image_deps};
  const char* disable = std::getenv("DISABLE_CAPTIONS");
  clip_deps.captions_disabled = o.captions == "off" || (disable && std::string(disable) == "1");
  if (!clip_deps.captions_disabled) clip_deps.captioners = captioners.value().get();
  http::AddClipRoutes(routes, clip_deps);
  http::AddCaptionRoutes(routes, {captioners.value().get(), image_deps});
  http::VideoRouteDeps video;
  video.video.sources = &resolver;
  video.video.paths = &paths.value();
  video.video.pool = &video_pool;
  video.video.shutdown = &video_shutdown;
  video.video.limits.max_duration_s = o.video_max_duration_s;
  video.video.limits.max_width = video.video.limits.max_height = o.video_max_dimension;
  video.video.limits.max_frames = o.video_max_frames;
  video.video.limits.threads = o.video_decode_threads;
  video.video.max_waiting = o.video_queue;
  video.video.workers = o.video_workers;
  tasks::RegisterVideoMetrics(registry, video.video);
  video.captioners = captioners.value().get();
  video.captions_disabled = clip_deps.captions_disabled;
  video.work_pool = &decode_pool;
  video.max_upload_bytes = static_cast<uint64_t>(o.max_upload_mb) << 20;
  auto classifiers = tasks::ImageClassifiers::Load(*models.value());
  if (!classifiers.ok()) return fail_serving(classifiers.status());
  video.classifiers = classifiers.value().get();
  video.clip = clip.value().get();
  video.labeler = classifiers.value()->Find(tasks::ImageClassifier::Role::kLabels);
  auto shot_model = tasks::FindShotBoundaryModel(*models.value());
  if (!shot_model.ok()) return fail_serving(shot_model.status());
  video.video.shot_model = shot_model.value();
  http::AddVideoRoutes(routes, video);

  server.value()->SetRoutes(routes);
  log->Info("ready", observability::LogFields().Add(
                         "startup_seconds",
                         std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()));

  stopped.wait();
  log->Info("shutting_down", observability::LogFields().Add("drain_timeout_ms", o.drain_timeout_ms));
  server.value()->StopAccepting();
  // One deadline for the whole drain. Fetched images reach the decode pool, unless a slow image
  // host would keep them past the deadline: then the fetches in flight are aborted (their items
  // answer 'shutting down').
  const auto drain_deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(o.drain_timeout_ms);
  if (!fetch_pool.WaitIdleUntil(drain_deadline)) fetcher.AbortAll();
  fetch_pool.WaitIdle();
  decode_pool.WaitIdle();  // decoded requests reach their batchers before those drain,
  models.value()->Drain(std::chrono::duration_cast<std::chrono::milliseconds>(std::max(
      drain_deadline - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration::zero())));
  decode_pool.WaitIdle();  // and post-inference work (mattes, encoding) finishes.
  if (!video_pool.WaitIdleUntil(drain_deadline)) video_shutdown.Cancel();
  video_pool.WaitIdle();
  // Give the I/O threads a moment to write the answers the drain produced.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.value()->Stop();
  log->Info("stopped");
  return 0;
}

}  // namespace sightline::app
