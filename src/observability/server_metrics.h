// Every metric Sightline exports, declared in one place. Layers get the handles they need
// (ModelMetrics for a scheduler, the HTTP families for the server) rather than the registry.
#pragma once

#include <string>

#include "observability/metrics.h"

namespace sightline::observability {

// Handles for one model, resolved once at load so the hot path does no label lookups.
struct ModelMetrics {
  Histogram* queue_seconds = nullptr;
  Histogram* compute_seconds = nullptr;
  Histogram* batch_size = nullptr;
  Gauge* pending = nullptr;
  Counter* inference_count = nullptr;  // items inferred (rows)
  Counter* exec_count = nullptr;       // backend calls (batches)
  Counter* success = nullptr;
  Counter* rejected_queue_full = nullptr;
  Counter* rejected_wait_budget = nullptr;
  Counter* rejected_deadline = nullptr;
  Counter* rejected_cancelled = nullptr;
  Counter* failed = nullptr;      // backend errors
  Counter* isolations = nullptr;  // failed batched runs re-run in parts to find the culprit
  Gauge* load_seconds = nullptr;
  Gauge* warmup_seconds = nullptr;
  Gauge* ready = nullptr;
};

// Handles for one generative model's scheduler (scheduling/generation_scheduler.h).
struct GenerationMetrics {
  Histogram* time_to_first_token = nullptr;    // seconds from submission to the first new id
  Histogram* time_per_output_token = nullptr;  // seconds per id after the first, per sequence
  Counter* tokens = nullptr;                   // new ids generated
  Counter* steps = nullptr;                    // decoder runs
  Counter* merges = nullptr;                   // groups folded into the running one
  Histogram* step_rows = nullptr;              // rows per decoder run
  Gauge* active = nullptr;                     // sequences being decoded
  Gauge* waiting = nullptr;                    // sequences admitted, waiting for KV memory or a slot
  Gauge* kv_bytes = nullptr;                   // KV cache held now
  Gauge* kv_reserved_bytes = nullptr;          // KV cache promised to admitted sequences (worst case)
  Gauge* kv_budget_bytes = nullptr;
  Counter *finished_eos = nullptr, *finished_length = nullptr, *finished_stop = nullptr,
          *finished_cancelled = nullptr, *finished_deadline = nullptr, *finished_error = nullptr;
  Counter* rejected_queue_full = nullptr;
};

class ServerMetrics {
 public:
  explicit ServerMetrics(MetricsRegistry& registry);

  ModelMetrics ForModel(const std::string& model);
  GenerationMetrics ForGeneration(const std::string& model);

  Family<Counter>& http_requests;    // route, method, status
  Family<Histogram>& http_duration;  // route
  Family<Counter>& http_rejected;    // reason: connections, unauthorized, forbidden, ...
  Gauge& http_connections;
  Family<Histogram>& queue_seconds;
  Family<Histogram>& compute_seconds;
  Family<Histogram>& batch_size;
  Family<Gauge>& pending;
  Family<Counter>& inference_count;
  Family<Counter>& exec_count;
  Family<Counter>& success;
  Family<Counter>& rejected;  // model, reason
  Family<Counter>& failed;
  Family<Counter>& isolations;
  Family<Gauge>& load_seconds;
  Family<Gauge>& warmup_seconds;
  Family<Gauge>& ready;
  Family<Gauge>& degraded;  // model: 1 while adaptive quality serves the fallback variant
  Family<Histogram>& gen_ttft;
  Family<Histogram>& gen_tpot;
  Family<Counter>& gen_tokens;
  Family<Counter>& gen_steps;
  Family<Counter>& gen_merges;
  Family<Histogram>& gen_step_rows;
  Family<Gauge>& gen_active;
  Family<Gauge>& gen_waiting;
  Family<Gauge>& gen_kv_bytes;
  Family<Gauge>& gen_kv_reserved;
  Family<Gauge>& gen_kv_budget;
  Family<Counter>& gen_finished;  // model, reason: eos, length, cancelled, deadline_exceeded, error
};

}  // namespace sightline::observability
