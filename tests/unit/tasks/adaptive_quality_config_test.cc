// Background removal's own config block, as the loader hands it over (runtime keeps it as text).
#include "tasks/adaptive_quality_config.h"

#include <gtest/gtest.h>

#include "tasks/task_config_blocks.h"

namespace sightline::tasks {
namespace {

Result<std::optional<scheduling::FallbackPlan>> Plan(const char* sightline_json, const std::string& file) {
  auto c = runtime::ParseModelConfig(sightline_json, file, "m", TaskConfigBlocks());
  if (!c.ok()) return c.status();
  return AdaptiveQualityPlan(*c);
}

TEST(AdaptiveQualityConfig, PlanAndErrors) {
  auto p = Plan(R"({"task": "background_removal", "variant": "fp16",
    "image_input": {"input": "input", "resize": "stretch"},
    "adaptive_quality": {"fallback_variant": "quint8", "switch_wait_ms": 3000, "restore_wait_ms": 100}})",
                "m/sightline.json");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_TRUE(p->has_value());
  EXPECT_EQ((*p)->variant, "quint8");
  EXPECT_EQ((*p)->switch_wait_ms, 3000);
  EXPECT_EQ((*p)->restore_wait_ms, 100);
  auto none = Plan(R"({"variant": "fp16"})", "m/sightline.json");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  auto err = [](const char* text) { return Plan(text, "s.json").status().message(); };
  EXPECT_EQ(err(R"({"adaptive_quality": {"fallback_variant": "fp32"}})"),
            "s.json: field 'adaptive_quality.fallback_variant' must differ from 'variant'");
  EXPECT_EQ(
      err(R"({"adaptive_quality": {"fallback_variant": "q", "switch_wait_ms": 10, "restore_wait_ms": 20}})"),
      "s.json: field 'adaptive_quality.restore_wait_ms' must not exceed switch_wait_ms");
  EXPECT_EQ(err(R"({"adaptive_quality": {"fallback_variant": "q", "speed": 1}})"),
            "s.json: field 'adaptive_quality.speed' is not a known setting");
}

}  // namespace
}  // namespace sightline::tasks
