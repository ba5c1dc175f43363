// The `adaptive_quality` block of a model's sightline.json: under load, serve new requests from
// a smaller/faster variant of the same model, switching when the predicted queue wait passes
// switch_wait_ms and coming back once both variants' waits fall below restore_wait_ms
// (hysteresis, so it does not flap). Background removal's block; the registry loads the fallback
// variant this plan names and the scheduling layer switches by it (scheduling::SelectVariant).
//   "adaptive_quality": {"fallback_variant": "quint8", "switch_wait_ms": 2000, "restore_wait_ms": 500}
#pragma once

#include <optional>

#include "core/status.h"
#include "runtime/model_config.h"
#include "scheduling/model_registry.h"

namespace sightline::tasks {

inline constexpr const char* kAdaptiveQualityBlock = "adaptive_quality";

// The fallback plan of a loaded model's config, or none (no block; or a Hugging Face tower, which
// has no variants to fall back on). Errors name the file and the field.
Result<std::optional<scheduling::FallbackPlan>> AdaptiveQualityPlan(const runtime::ModelConfig& config);

}  // namespace sightline::tasks
