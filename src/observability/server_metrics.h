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

class ServerMetrics {
 public:
  explicit ServerMetrics(MetricsRegistry& registry);

  ModelMetrics ForModel(const std::string& model);

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
};

}  // namespace sightline::observability
