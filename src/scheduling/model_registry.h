// The models this process serves: for each, its config and signature (from runtime/) and the
// batcher that owns its backend instances. Owned by the server object; HTTP handlers and tasks
// look models up here and never touch backends directly.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "observability/logger.h"
#include "observability/server_metrics.h"
#include "runtime/backend.h"
#include "runtime/model_config.h"
#include "scheduling/batcher.h"
#include "scheduling/generation_scheduler.h"

namespace sightline::scheduling {

// A second variant of a model to serve under load (adaptive quality): the file variant, and the
// predicted queue waits at which new requests switch to it and come back (hysteresis). Which
// models get one is their task's call (tasks/adaptive_quality_config.h), not the registry's.
struct FallbackPlan {
  std::string variant;
  int64_t switch_wait_ms = 2000;
  int64_t restore_wait_ms = 500;
};
using FallbackPlanner = std::function<Result<std::optional<FallbackPlan>>(const runtime::ModelConfig&)>;

struct ServedModel {
  runtime::ModelConfig config;
  runtime::ModelSignature signature;
  std::string platform;
  // Exactly one of the two: a batcher for stateless runs, or, for a generative decoder (an
  // encoder-decoder's "<folder>.decoder"), the scheduler that steps its sequences.
  std::unique_ptr<Batcher> batcher;
  std::unique_ptr<GenerationScheduler> generation;
  double load_seconds = 0;
  double warmup_seconds = 0;
  std::atomic<bool> ready{false};
  // Adaptive quality: the same model at fallback_plan->variant, and whether requests are
  // currently sent there.
  std::optional<FallbackPlan> fallback_plan;
  std::unique_ptr<ServedModel> fallback;
  std::atomic<bool> degraded{false};
  observability::Gauge* degraded_gauge = nullptr;
};

// Where a new request for `model` should go: the model itself, or its fallback variant while
// the predicted queue wait is over the plan's switch threshold (see FallbackPlan).
ServedModel& SelectVariant(ServedModel& model);

// One deadline for many schedulers: every one stops taking work at once, then each waits only
// until the shared deadline, so N busy models drain in one timeout, not N.
void DrainAll(const std::vector<Scheduler*>& schedulers, Scheduler::Clock::time_point deadline);

class ModelRegistry {
 public:
  // Loads and warms every model under `repository`; the first failure is returned (start-up
  // must fail loudly rather than serve a partial repository). `task_blocks`: the sightline.json
  // blocks tasks claim (tasks::TaskConfigBlocks()); any other unknown block fails the load.
  // `fallback_planner`: which models also load a fallback variant (adaptive quality).
  static Result<std::unique_ptr<ModelRegistry>> LoadAll(runtime::BackendFactory& factory,
                                                        const std::filesystem::path& repository,
                                                        observability::ServerMetrics& metrics,
                                                        observability::Logger& log,
                                                        const std::set<std::string>& task_blocks = {},
                                                        const FallbackPlanner& fallback_planner = nullptr);
  ~ModelRegistry();

  ServedModel* Find(const std::string& name) const;
  std::vector<const ServedModel*> All() const;
  bool AllReady() const;
  // Stops accepting on every model at once, finishes queued work within one shared `timeout`
  // (not one per model), then stops every batcher.
  void Drain(std::chrono::milliseconds timeout);
  const std::filesystem::path& repository() const { return repository_; }

 private:
  ModelRegistry() = default;
  std::filesystem::path repository_;
  std::map<std::string, std::unique_ptr<ServedModel>> models_;
};

}  // namespace sightline::scheduling
