// Per-model serving configuration: read from an optional `sightline.json` beside the model file,
// with defaults completed from the ONNX signature. Field names follow Triton's config so users
// know them (max_batch_size, dynamic_batching, default_queue_policy, instance_group).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
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

// Server-side image decoding for a model input: clients send encoded images (KServe BYTES) and
// the server decodes, resizes and normalises them: value = (pixel * scale - mean[c]) / std[c].
struct ImageInputConfig {
  std::string input;                                 // the 4-D FP32/FP16 input that takes images
  std::string resize = "shortest_edge_center_crop";  // | "stretch" | "letterbox"
  int width = 0;                                     // 0: from the input's shape
  int height = 0;
  double scale = 1.0 / 255.0;
  std::vector<double> mean{0.0, 0.0, 0.0};
  std::vector<double> std{1.0, 1.0, 1.0};
  std::string channel_order = "RGB";  // | "BGR"
  std::string layout = "NCHW";        // | "NHWC"
  int pad = 0;                        // letterbox background
};

// Under load, serve from a smaller/faster variant of the same model: switch when the predicted
// queue wait passes switch_wait_ms, come back once both variants' waits fall below
// restore_wait_ms (hysteresis, so it does not flap).
struct AdaptiveQualityConfig {
  std::string fallback_variant;
  int64_t switch_wait_ms = 2000;
  int64_t restore_wait_ms = 500;
};

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
  PoolPriority pool_priority = PoolPriority::kNormal;  // optimization.pool_priority
  bool memory_pattern = true;                          // see BackendOptions::memory_pattern
  std::string variant = "fp32";                        // fp32 | fp16 | int8 | quantized | any suffix
  bool warmup = true;
  std::optional<ImageInputConfig> image_input;
  // What the model is for, beyond raw tensors: "background_removal" makes it serve
  // /v1/remove-background (input: image_input; output: a [.., 1, H, W] foreground probability).
  std::string task;
  std::optional<AdaptiveQualityConfig> adaptive_quality;
  // Hugging Face layout only (set by the loader, not read from sightline.json): the folder that
  // holds both towers, and which tower this is ("vision" | "text").
  std::string family;
  std::string role;
  // Zero-shot classification (CLIP families): logit scale (CLIP's trained exp(logit_scale) is
  // 100), the prompt template and named label sets embedded at start-up.
  double logit_scale = 100.0;
  std::string prompt_template = "a photo of a {}";
  std::vector<std::pair<std::string, std::vector<std::string>>> label_sets;
  // Confidence-gated ensembles: a label set paired with a conventional classifier model whose
  // outputs are the same labels in the same order. CLIP runs only when the classifier's top-1
  // confidence is in [low, high) or its top label is a priority label.
  struct Ensemble {
    std::string label_set;
    std::string classifier;  // model name in the repository
    double low = 0.3;
    double high = 0.9;
    std::vector<std::string> priority_labels;
    int64_t clip_timeout_ms = 1000;
    bool classifier_outputs_probabilities = false;  // else logits: softmax applied
  };
  std::vector<Ensemble> ensembles;

  bool batching() const { return max_batch_size > 0; }
};

// File for a variant: fp32 -> model.onnx, X -> model_X.onnx.
std::string VariantFileName(const std::string& variant);

// Reads `dir/sightline.json` if present (else defaults). Errors name the file and the field.
Result<ModelConfig> LoadModelConfig(const std::filesystem::path& dir, const std::string& name);
Result<ModelConfig> ParseModelConfig(const std::string& json_text, const std::string& file_label,
                                     const std::string& name);

// Completes defaults from the loaded signature and checks the config against it.
Status FinalizeModelConfig(ModelConfig& config, const ModelSignature& signature,
                           const std::string& file_label);

}  // namespace sightline::runtime
