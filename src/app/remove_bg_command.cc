#include "app/remove_bg_command.h"

#include "app/offline_models.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>

#include "core/thread_pool.h"
#include "observability/logger.h"
#include "observability/metrics.h"
#include "observability/server_metrics.h"
#include "runtime/onnxruntime/ort_backend.h"
#include "scheduling/model_registry.h"
#include "tasks/background_removal.h"
#include "tasks/task_config_blocks.h"

namespace sightline::app {

int RunRemoveBg(const RemoveBgOptions& o) {
  auto fail = [](const std::string& msg) {
    std::fprintf(stderr, "sightline remove-bg: %s\n", msg.c_str());
    return 1;
  };
  namespace fs = std::filesystem;
  tasks::RemoveBackgroundParams params;
  auto params_in = o.params;
  if (params_in["format"].empty()) {
    std::string ext = fs::path(o.output_path).extension().string();
    if (!ext.empty()) ext = ext.substr(1);
    for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    params_in["format"] = ext.empty() ? "png" : ext;
  }
  if (o.post_process) params_in["post_process"] = "true";
  for (const auto& [k, v] : params_in) {
    if (v.empty()) continue;
    Status s = tasks::SetRemoveBackgroundParam(params, k, v);
    if (!s.ok()) return fail(s.message());
  }
  std::ifstream in(o.input, std::ios::binary | std::ios::ate);
  if (!in) return fail("cannot read " + o.input);
  std::string data(static_cast<size_t>(in.tellg()), '\0');
  in.seekg(0);
  if (!in.read(data.data(), static_cast<std::streamsize>(data.size()))) return fail("cannot read " + o.input);
  auto bytes = std::make_shared<const std::string>(std::move(data));

  auto offline = LoadOfflineModels(o.model_repository, /*adaptive_quality=*/true);
  if (!offline.ok()) return fail(offline.status().message());
  auto& models = offline.value()->models;
  auto& registry = offline.value()->registry;
  auto found = tasks::FindBackgroundRemovalModel(*models, o.model);
  if (!found.ok()) return fail(found.status().message() + " in " + o.model_repository);
  scheduling::ServedModel* model = found.value();

  ThreadPool pool(1);
  tasks::BackgroundRemoval::Options bo;
  bo.cache_bytes = 0;
  tasks::BackgroundRemoval task(pool, registry, bo);
  std::promise<Result<tasks::RemoveBackgroundResult>> promise;
  auto future = promise.get_future();
  tasks::TensorInferOptions run_options;
  run_options.context = BackgroundContext("remove-bg");
  task.Run(*model, bytes, params, run_options,
           [&](Result<tasks::RemoveBackgroundResult> r) { promise.set_value(std::move(r)); });
  auto result = future.get();
  pool.WaitIdle();
  models->Drain(std::chrono::milliseconds(1000));
  if (!result.ok()) return fail(result.status().message());

  const fs::path out(o.output_path);
  for (const auto& output : result->outputs) {
    fs::path path = out;
    if (result->outputs.size() > 1)
      path = out.parent_path() / (out.stem().string() + "_" + output.name + out.extension().string());
    std::ofstream f(path, std::ios::binary);
    f.write(output.bytes.data(), static_cast<std::streamsize>(output.bytes.size()));
    if (!f) return fail("cannot write " + path.string());
    std::printf("%s\n", path.string().c_str());
  }
  const auto& t = result->timing;
  std::fprintf(stderr,
               "decode %.1f ms, preprocess %.1f ms, infer %.1f ms, postprocess %.1f ms, encode %.1f ms\n",
               t.decode_ms, t.preprocess_ms, t.infer_ms, t.postprocess_ms, t.encode_ms);
  return 0;
}

}  // namespace sightline::app
