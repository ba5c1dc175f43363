// The CLIP task's own config block, as the loader hands it over (runtime keeps it as text).
#include "tasks/zero_shot_config.h"

#include <gtest/gtest.h>

#include "runtime/model_config.h"
#include "tasks/task_config_blocks.h"

namespace sightline::tasks {
namespace {

Result<ZeroShotConfig> Parse(const char* sightline_json, const std::string& file) {
  auto c = runtime::ParseModelConfig(sightline_json, file, "m", TaskConfigBlocks());
  if (!c.ok()) return c.status();
  auto it = c->task_blocks.find(kZeroShotBlock);
  return ParseZeroShotConfig(it == c->task_blocks.end() ? "" : it->second, c->config_file);
}

TEST(ZeroShotConfig, LabelSetsAndEnsembles) {
  auto c = Parse(R"({"zero_shot": {"logit_scale": 50, "label_sets": {"pets": ["cat", "dog"]},
    "ensembles": {"pets": {"classifier": "pets-cnn", "low": 0.2, "high": 0.8, "priority_labels": ["dog"],
                           "clip_timeout_ms": 250}}}})",
                 "m/sightline.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->logit_scale, 50);
  ASSERT_EQ(c->label_sets.size(), 1u);
  EXPECT_EQ(c->label_sets[0].second, (std::vector<std::string>{"cat", "dog"}));
  ASSERT_EQ(c->ensembles.size(), 1u);
  EXPECT_EQ(c->ensembles[0].classifier, "pets-cnn");
  EXPECT_EQ(c->ensembles[0].priority_labels, (std::vector<std::string>{"dog"}));
  EXPECT_EQ(c->ensembles[0].clip_timeout_ms, 250);

  auto err = [](const char* text) { return Parse(text, "s.json").status().message(); };
  EXPECT_EQ(err(R"({"zero_shot": {"ensembles": {"birds": {"classifier": "x"}}}})"),
            "s.json: field 'zero_shot.ensembles.birds' names no label set in zero_shot.label_sets");
  EXPECT_EQ(
      err(R"({"zero_shot": {"label_sets": {"p": ["a"]}, "ensembles": {"p": {"classifier": "x", "low": 0.9, "high": 0.2}}}})"),
      "s.json: field 'zero_shot.ensembles.p.low' needs 0 <= low <= high <= 1");
  EXPECT_EQ(err(R"({"zero_shot": {"prompt_template": "no slot"}})"),
            "s.json: field 'zero_shot.prompt_template' must contain {} where the label goes");
  EXPECT_EQ(err(R"({"zero_shot": {"labels": []}})"),
            "s.json: field 'zero_shot.labels' is not a known setting");
}

TEST(ZeroShotConfig, NoBlockMeansDefaults) {
  auto c = ParseZeroShotConfig("", "s.json");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->logit_scale, 100.0);
  EXPECT_EQ(c->prompt_template, "a photo of a {}");
  EXPECT_TRUE(c->label_sets.empty());
}

}  // namespace
}  // namespace sightline::tasks
