#include "tasks/adaptive_quality_config.h"

#include "repository/config_reader.h"

namespace sightline::tasks {

Result<std::optional<scheduling::FallbackPlan>> AdaptiveQualityPlan(const runtime::ModelConfig& config) {
  auto block = config.task_blocks.find(kAdaptiveQualityBlock);
  if (block == config.task_blocks.end() || !config.family.empty())
    return std::optional<scheduling::FallbackPlan>();
  ASSIGN_OR_RETURN(auto obj, repository::ParseConfigObject(block->second, config.config_file));
  repository::FieldReader aq(obj, config.config_file, kAdaptiveQualityBlock);
  scheduling::FallbackPlan plan;
  RETURN_IF_ERROR(aq.String("fallback_variant", &plan.variant));
  if (plan.variant.empty()) return aq.Error("fallback_variant", "must name the variant to fall back to");
  if (plan.variant == config.variant) return aq.Error("fallback_variant", "must differ from 'variant'");
  RETURN_IF_ERROR(aq.Int("switch_wait_ms", 0, 3'600'000, &plan.switch_wait_ms));
  RETURN_IF_ERROR(aq.Int("restore_wait_ms", 0, 3'600'000, &plan.restore_wait_ms));
  if (plan.restore_wait_ms > plan.switch_wait_ms)
    return aq.Error("restore_wait_ms", "must not exceed switch_wait_ms");
  RETURN_IF_ERROR(aq.RejectUnknown());
  return std::optional<scheduling::FallbackPlan>(std::move(plan));
}

}  // namespace sightline::tasks
