#include "app/offline_models.h"

#include "runtime/onnxruntime/ort_backend.h"
#include "tasks/adaptive_quality_config.h"
#include "tasks/task_config_blocks.h"

namespace sightline::app {

Result<std::unique_ptr<OfflineModels>> LoadOfflineModels(const std::string& repository,
                                                         bool adaptive_quality) {
  auto m = std::make_unique<OfflineModels>();
  m->log = observability::Logger::Create(observability::LogLevel::kWarn);
  m->metrics = std::make_unique<observability::ServerMetrics>(m->registry);
  ASSIGN_OR_RETURN(m->factory, runtime::CreateOrtBackendFactory());
  ASSIGN_OR_RETURN(m->models,
                   scheduling::ModelRegistry::LoadAll(
                       *m->factory, repository, *m->metrics, *m->log, tasks::TaskConfigBlocks(),
                       adaptive_quality ? tasks::AdaptiveQualityPlan : scheduling::FallbackPlanner()));
  return m;
}

}  // namespace sightline::app
