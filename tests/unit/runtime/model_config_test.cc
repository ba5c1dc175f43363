#include "runtime/model_config.h"

#include "repository/model_folders.h"

#include <gtest/gtest.h>

namespace sightline::runtime {
namespace {

ModelSignature Sig(int64_t batch_dim) {
  ModelSignature s;
  s.inputs.push_back({"x", DataType::kFp32, {batch_dim, 4}});
  s.outputs.push_back({"y", DataType::kFp32, {batch_dim, 4}});
  return s;
}

TEST(ModelConfig, ParsesTritonStyleFields) {
  auto c = ParseModelConfig(R"({
    "max_batch_size": 16, "variant": "fp16",
    "dynamic_batching": {"max_queue_delay_microseconds": 800, "preferred_batch_size": [4, 8],
      "priority_levels": 3, "default_priority_level": 2,
      "default_queue_policy": {"max_queue_size": 12, "default_timeout_microseconds": 5000,
                               "allow_timeout_override": false, "max_queue_wait_microseconds": 9000}},
    "instance_group": {"count": 2, "kind": "KIND_CPU"},
    "optimization": {"intra_op_threads": 1, "inter_op_threads": 1, "allow_spinning": true}})",
                            "m/sightline.json", "m");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->max_batch_size, 16);
  EXPECT_EQ(c->variant, "fp16");
  EXPECT_EQ(c->max_queue_delay_us, 800);
  EXPECT_EQ(c->preferred_batch_sizes, (std::vector<int>{4, 8}));
  EXPECT_EQ(c->priority_levels, 3);
  EXPECT_EQ(c->default_priority_level, 2);
  EXPECT_EQ(c->queue.max_queue_size, 12);
  EXPECT_EQ(c->queue.default_timeout_us, 5000);
  EXPECT_FALSE(c->queue.allow_timeout_override);
  EXPECT_EQ(c->queue.max_queue_wait_us, 9000);
  EXPECT_EQ(c->instance_count, 2);
  EXPECT_EQ(c->spinning, Spinning::kAlways);  // the older bool spelling
  EXPECT_EQ(repository::VariantFileName(c->variant), "model_fp16.onnx");
  EXPECT_EQ(repository::VariantFileName("fp32"), "model.onnx");
}

TEST(ModelConfig, ErrorsNameTheFileAndTheField) {
  auto err = [](const char* text) {
    return ParseModelConfig(text, "repo/m/sightline.json", "m").status().message();
  };
  EXPECT_EQ(err(R"({"max_batch_size": "8"})"),
            "repo/m/sightline.json: field 'max_batch_size' must be an integer");
  EXPECT_EQ(
      err(R"({"dynamic_batching": {"default_queue_policy": {"max_queue_size": -1}}})"),
      "repo/m/sightline.json: field 'dynamic_batching.default_queue_policy.max_queue_size' must be between 0 "
      "and 10000000");
  EXPECT_EQ(err(R"({"max_batch_sise": 8})"),
            "repo/m/sightline.json: field 'max_batch_sise' is not a known setting");
  EXPECT_EQ(err(R"({"instance_group": {"count": 0}})"),
            "repo/m/sightline.json: field 'instance_group.count' must be between 1 and 64");
  EXPECT_NE(err("{not json").find("repo/m/sightline.json: not valid JSON"), std::string::npos);
}

TEST(ModelConfig, SpinningPolicy) {
  auto spin = [](const char* text) { return ParseModelConfig(text, "m/sightline.json", "m"); };
  EXPECT_EQ(spin("{}")->spinning, Spinning::kOff);
  EXPECT_EQ(spin(R"({"optimization": {"spinning": "off"}})")->spinning, Spinning::kOff);
  EXPECT_EQ(spin(R"({"optimization": {"spinning": "always"}})")->spinning, Spinning::kAlways);
  EXPECT_EQ(spin(R"({"optimization": {"allow_spinning": false}})")->spinning, Spinning::kOff);
  // Whether the file chose at all (a generation decoder spins unless it did).
  EXPECT_FALSE(spin("{}")->spinning_set);
  EXPECT_TRUE(spin(R"({"optimization": {"spinning": "off"}})")->spinning_set);
  EXPECT_TRUE(spin(R"({"optimization": {"allow_spinning": false}})")->spinning_set);
  EXPECT_FALSE(spin(R"({"generation": {"last_position_logits": false}})")->generation_last_position_logits);
  EXPECT_TRUE(spin("{}")->generation_last_position_logits);
  EXPECT_EQ(spin(R"({"optimization": {"spinning": "sometimes"}})").status().message(),
            "m/sightline.json: field 'optimization.spinning' must be one of off, always");
  EXPECT_EQ(
      spin(R"({"optimization": {"spinning": "off", "allow_spinning": true}})").status().message(),
      "m/sightline.json: field 'optimization.allow_spinning' cannot be given together with 'spinning' (its "
      "newer spelling)");
}

TEST(ModelConfig, PoolPriority) {
  auto parse = [](const char* text) { return ParseModelConfig(text, "m/sightline.json", "m"); };
  EXPECT_EQ(parse("{}")->pool_priority, PoolPriority::kNormal);
  EXPECT_EQ(parse(R"({"optimization": {"pool_priority": "normal"}})")->pool_priority, PoolPriority::kNormal);
  EXPECT_EQ(parse(R"({"optimization": {"pool_priority": "idle"}})")->pool_priority, PoolPriority::kIdle);
  EXPECT_EQ(parse(R"({"optimization": {"pool_priority": "low"}})").status().message(),
            "m/sightline.json: field 'optimization.pool_priority' must be one of normal, idle");
}

TEST(ModelConfig, GenerationBlock) {
  auto parse = [](const char* text) { return ParseModelConfig(text, "m/sightline.json", "m"); };
  EXPECT_EQ(parse("{}")->generation_max_rows, 64);
  EXPECT_EQ(parse("{}")->generation_kv_cache_mb, 512);
  auto c = parse(R"({"generation": {"max_rows": 1, "kv_cache_mb": 64}})");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->generation_max_rows, 1);
  EXPECT_EQ(c->generation_kv_cache_mb, 64);
  EXPECT_NE(parse(R"({"generation": {"max_rows": 0}})").status().message().find("generation.max_rows"),
            std::string::npos);
  EXPECT_NE(parse(R"({"generation": {"beams": 2}})").status().message().find("generation.beams"),
            std::string::npos);
}

TEST(ModelConfig, Task) {
  auto c = ParseModelConfig(R"({"task": "background_removal", "variant": "fp16",
    "image_input": {"input": "input", "resize": "stretch"}})",
                            "m/sightline.json", "m");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->task, "background_removal");
  // adaptive_quality is background removal's block (tests/unit/tasks/adaptive_quality_config_test.cc).

  auto err = [](const char* text) { return ParseModelConfig(text, "s.json", "m").status().message(); };
  EXPECT_EQ(
      err(R"({"task": "background_removal"})"),
      "s.json: field 'task' background_removal needs an image_input block (how images become the input)");
  EXPECT_NE(err(R"({"task": "segment"})").find("field 'task' must be one of"), std::string::npos);
}

TEST(ModelConfig, TaskBlocksAreKeptForTheirTaskAndOthersAreErrors) {
  // A block a task claims is kept as text for that task (tasks/zero_shot_config parses it)...
  auto c = ParseModelConfig(R"({"max_batch_size": 4, "zero_shot": {"logit_scale": 50}})", "m/sightline.json",
                            "m", {"zero_shot"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->task_blocks.count("zero_shot"), 1u);
  EXPECT_EQ(c->task_blocks.at("zero_shot"), R"({"logit_scale":50})");
  EXPECT_EQ(c->config_file, "m/sightline.json");
  // ...one nobody claims is still an error naming the file and the field.
  EXPECT_EQ(ParseModelConfig(R"({"zero_shot": {}})", "s.json", "m").status().message(),
            "s.json: field 'zero_shot' is not a known setting");
  EXPECT_EQ(ParseModelConfig(R"({"zero_shot": 5})", "s.json", "m", {"zero_shot"}).status().message(),
            "s.json: field 'zero_shot' must be an object");
}

TEST(ModelConfig, DefaultsComeFromTheSignature) {
  ModelConfig dyn;
  ASSERT_TRUE(FinalizeModelConfig(dyn, Sig(-1), "f").ok());
  EXPECT_EQ(dyn.max_batch_size, 8);
  EXPECT_EQ(dyn.instance_count, 1);
  ModelConfig fixed;
  ASSERT_TRUE(FinalizeModelConfig(fixed, Sig(1), "f").ok());
  EXPECT_EQ(fixed.max_batch_size, 0);
  EXPECT_EQ(fixed.instance_count, 2);  // concurrency through instances
}

TEST(ModelConfig, BatchingAFixedBatchModelIsAnError) {
  ModelConfig c;
  c.max_batch_size = 4;
  Status s = FinalizeModelConfig(c, Sig(1), "m/sightline.json");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("field 'max_batch_size'"), std::string::npos);
  ModelConfig p;
  p.max_batch_size = 4;
  p.preferred_batch_sizes = {8};
  EXPECT_FALSE(FinalizeModelConfig(p, Sig(-1), "f").ok());
}

}  // namespace
}  // namespace sightline::runtime
