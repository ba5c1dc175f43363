// Per-model serving configuration: read from an optional `sightline.json` beside the model file,
// with defaults completed from the ONNX signature. Field names follow Triton's config so users
// know them (max_batch_size, dynamic_batching, default_queue_policy, instance_group).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "repository/image_input_config.h"
#include "runtime/model_signature.h"
#include "runtime/pool_threads.h"

namespace sightline::runtime {

inline constexpr const char* kModelConfigFile = "sightline.json";

struct QueuePolicy {
  int64_t max_queue_size = 256;        // requests waiting, all priorities; 0 = unbounded
  int64_t default_timeout_us = 0;      // 0 = no deadline unless the request sets one
  bool allow_timeout_override = true;  // may a request's `timeout` parameter set its own?
  // Admission by predicted wait: refuse a request whose expected queueing time (backlog x
  // measured per-item service time / instances) exceeds this. 0 = off. Keeps accepted latency
  // near the unloaded latency under overload, which a count bound alone cannot.
  int64_t max_queue_wait_us = 0;
};

using repository::ImageInputConfig;

struct ModelConfig {
  std::string name;
  std::string version = "1";
  // -1: decide from the signature (8 when the batch dim is dynamic, else 0). 0: no batch dim
  // handling — each request runs alone, concurrency comes from instances.
  int max_batch_size = -1;
  bool dynamic_batching = true;
  int64_t max_queue_delay_us = 500;
  std::vector<int> preferred_batch_sizes;
  int priority_levels = 2;  // 1 = interactive (highest) ... N = batch
  int default_priority_level = 1;
  QueuePolicy queue;
  int instance_count = -1;  // -1: 1 for batching models, 2 for fixed-batch ones
  int intra_op_threads = 0;
  int inter_op_threads = 0;
  Spinning spinning = Spinning::kOff;                  // optimization.spinning (see runtime/pool_threads.h)
  bool spinning_set = false;                           // whether sightline.json chose `spinning`
  PoolPriority pool_priority = PoolPriority::kNormal;  // optimization.pool_priority
  bool memory_pattern = true;                          // see BackendOptions::memory_pattern
  // A generative decoder's scheduler (sightline.json "generation" block): decode rows at once,
  // all sequences together (1 = one sequence at a time), and the KV-cache budget in MiB.
  int generation_max_rows = 64;
  int generation_kv_cache_mb = 512;
  int generation_admission_window_us = 2000;  // generation.admission_window_us
  // generation.last_position_logits: the decoder's LM head runs on the last position only
  // (runtime/last_position_logits.h); false keeps the export's graph as it is.
  bool generation_last_position_logits = true;
  bool save_optimized_graph = true;  // optimization.save_optimized_graph: BackendOptions::optimized_graph_dir
  std::string variant = "fp32";      // fp32 | fp16 | int8 | quantized | any suffix
  bool warmup = true;
  std::optional<ImageInputConfig> image_input;
  // What the model is for, beyond raw tensors: "background_removal" makes it serve
  // /v1/remove-background (input: image_input; output: a [.., 1, H, W] foreground probability);
  // "image_classification": an image classifier (its `classification` block, tasks/
  // image_classifier.h) that video summaries use for safety flags or labels;
  // "shot_boundary_detection": TransNetV2, for detector=transnetv2 (tasks/shot_boundary_model.h).
  std::string task;
  // Hugging Face layout only (set by the loader, not read from sightline.json): the folder that
  // holds both towers, and which tower this is ("vision" | "text").
  std::string family;
  std::string role;
  // Blocks of sightline.json that a task claims (its name -> the block as JSON text), parsed
  // and checked by that task (tasks/: "zero_shot" by the CLIP task). A block nobody claims is
  // an error at load, naming the file and the field.
  std::map<std::string, std::string> task_blocks;
  std::string config_file;  // sightline.json's path, for the tasks' error messages

  bool batching() const { return max_batch_size > 0; }
};

// Reads `dir/sightline.json` if present (else defaults). Errors name the file and the field.
// `task_blocks`: the top-level blocks tasks claim (kept as text in ModelConfig::task_blocks);
// any other unknown block is an error.
Result<ModelConfig> LoadModelConfig(const std::filesystem::path& dir, const std::string& name,
                                    const std::set<std::string>& task_blocks = {});
Result<ModelConfig> ParseModelConfig(const std::string& json_text, const std::string& file_label,
                                     const std::string& name, const std::set<std::string>& task_blocks = {});

// Completes defaults from the loaded signature and checks the config against it.
Status FinalizeModelConfig(ModelConfig& config, const ModelSignature& signature,
                           const std::string& file_label);

}  // namespace sightline::runtime
