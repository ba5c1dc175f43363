// What an offline command (remove-bg, caption) needs to run a task without a server: the model
// repository loaded and warmed, with the metrics and the quiet logger the registry reports to.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "observability/logger.h"
#include "observability/metrics.h"
#include "observability/server_metrics.h"
#include "runtime/backend.h"
#include "scheduling/model_registry.h"

namespace sightline::app {

struct OfflineModels {
  std::shared_ptr<observability::Logger> log;
  observability::MetricsRegistry registry;
  std::unique_ptr<observability::ServerMetrics> metrics;
  std::unique_ptr<runtime::BackendFactory> factory;
  std::unique_ptr<scheduling::ModelRegistry> models;
};

// Loads `repository` as `serve` would (the tasks' config blocks; background removal's fallback
// variants when `adaptive_quality` is set). Errors: the registry's, naming file and field.
Result<std::unique_ptr<OfflineModels>> LoadOfflineModels(const std::string& repository,
                                                         bool adaptive_quality);

}  // namespace sightline::app
