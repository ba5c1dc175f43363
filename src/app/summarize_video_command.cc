#include "app/summarize_video_command.h"

#include <cstdio>

#include "app/offline_models.h"
#include "core/thread_pool.h"
#include "http/video_codec.h"
#include "tasks/shot_boundary_model.h"

namespace sightline::app {

int RunSummarizeVideo(const SummarizeVideoOptions& o) {
  auto fail = [](const std::string& msg) {
    std::fprintf(stderr, "sightline summarize-video: %s\n", msg.c_str());
    return 1;
  };
  tasks::SummarizeVideoParams params = o.params;
  auto kind = media::ParseShotDetector(o.detector);
  if (!kind.ok()) return fail(kind.status().message());
  params.detector.kind = *kind;
  if (o.keyframes != "base64" && o.keyframes != "none") return fail("--keyframes must be base64 or none");
  params.thumbnails = o.keyframes == "base64";
  params.captions = !o.no_captions;
  params.safety = !o.no_safety;
  Status valid = tasks::ValidateSummarizeVideoParams(params);
  if (!valid.ok()) return fail(valid.message());

  // The repository's captioner and safety classifier, when captions or safety flags are wanted.
  std::unique_ptr<OfflineModels> offline;
  std::unique_ptr<tasks::Captioners> captioners;
  std::unique_ptr<tasks::ImageClassifiers> classifiers;
  const bool transnet = params.detector.kind == media::ShotDetectorKind::kTransNetV2;
  if (params.captions || params.safety || params.tags || params.dedupe_method != "perceptual_hash" ||
      transnet) {
    auto loaded = LoadOfflineModels(o.model_repository, /*adaptive_quality=*/false);
    if (!loaded.ok()) return fail(loaded.status().message());
    offline = std::move(loaded).value();
    auto c = tasks::Captioners::Load(*offline->models, media::DecodeLimits{});
    if (!c.ok()) return fail(c.status().message());
    captioners = std::move(c).value();
    auto k = tasks::ImageClassifiers::Load(*offline->models);
    if (!k.ok()) return fail(k.status().message());
    classifiers = std::move(k).value();
  }
  ThreadPool work(2, "sl-work");
  // CLIP, when the repository has one: dedupe by image embeddings and vibe tags.
  std::unique_ptr<tasks::ClipService> clip;
  if (offline) {
    auto c = tasks::ClipService::Create(*offline->models, work, offline->registry, {});
    if (!c.ok()) return fail(c.status().message());
    clip = std::move(c).value();
  }
  tasks::SummarizeVideoDeps deps;
  if (offline) {
    auto shot_model = tasks::FindShotBoundaryModel(*offline->models);
    if (!shot_model.ok()) return fail(shot_model.status().message());
    deps.video.shot_model = shot_model.value();
  }
  deps.captioners = params.captions ? captioners.get() : nullptr;
  deps.work_pool = &work;
  deps.classifiers = classifiers.get();
  deps.clip = clip.get();
  deps.labeler = classifiers ? classifiers->Find(tasks::ImageClassifier::Role::kLabels) : nullptr;
  media::VideoInput input;
  input.path = o.input;
  input.label = o.input;
  auto summary =
      tasks::SummarizeVideoNow(deps, std::move(input), params, BackgroundContext("summarize-video"));
  work.WaitIdle();
  if (offline) offline->models->Drain(std::chrono::milliseconds(1000));
  if (!summary.ok()) return fail(summary.status().message());
  std::printf("%s\n", http::EncodeVideoSummary(*summary, params).c_str());
  return 0;
}

}  // namespace sightline::app
