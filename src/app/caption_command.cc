#include "app/caption_command.h"

#include "app/offline_models.h"

#include <boost/json.hpp>

#include <cstdio>
#include <fstream>
#include <future>
#include <sstream>

#include "core/thread_pool.h"
#include "observability/logger.h"
#include "observability/metrics.h"
#include "observability/server_metrics.h"
#include "runtime/onnxruntime/ort_backend.h"
#include "scheduling/model_registry.h"
#include "tasks/task_config_blocks.h"

namespace sightline::app {

int RunCaption(const CaptionOptions& o) {
  auto fail = [](const std::string& msg) {
    std::fprintf(stderr, "sightline caption: %s\n", msg.c_str());
    return 1;
  };
  std::vector<sources::Bytes> files;
  for (const auto& path : o.inputs) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail("cannot read " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    files.push_back(std::make_shared<const std::string>(ss.str()));
  }
  auto offline = LoadOfflineModels(o.model_repository, /*adaptive_quality=*/false);
  if (!offline.ok()) return fail(offline.status().message());
  auto& models = offline.value()->models;
  auto captioners = tasks::Captioners::Load(*models, media::DecodeLimits{});
  if (!captioners.ok()) return fail(captioners.status().message());
  const auto* family = captioners.value()->Find(o.model);
  if (!family)
    return fail("no captioning model" + (o.model.empty() ? "" : " named '" + o.model + "'") + " in " +
                o.model_repository);
  auto job = tasks::PrepareCaption(*family, {o.prompt, o.generation});
  if (!job.ok()) return fail(job.status().message());

  ThreadPool pool(2);
  std::vector<std::promise<tasks::CaptionedImage>> done(files.size());
  for (size_t i = 0; i < files.size(); ++i)
    pool.Submit([&, i] {
      tasks::CaptionOne(
          *captioners.value(), *family, pool, files[i], *job, i, BackgroundContext("caption"),
          [&done, i](tasks::CaptionedImage item, tasks::StageTiming) { done[i].set_value(std::move(item)); });
    });
  int failed = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const tasks::CaptionedImage item = done[i].get_future().get();
    boost::json::object line{{"file", o.inputs[i]}};
    if (item.status.ok()) {
      line["caption"] = item.text;
      line["finish_reason"] = item.finish_reason;
      line["completion_tokens"] = item.completion_tokens;
    } else {
      line["error"] = item.status.message();
      ++failed;
    }
    std::printf("%s\n", boost::json::serialize(line).c_str());
  }
  pool.WaitIdle();
  models->Drain(std::chrono::milliseconds(1000));
  return failed ? 1 : 0;
}

}  // namespace sightline::app
