#include "observability/server_metrics.h"

namespace sightline::observability {
namespace {
std::vector<double> LatencyBuckets() {
  return ExponentialBuckets(0.0001, 2.0, 18);
}  // 0.1ms..13s
}  // namespace

ServerMetrics::ServerMetrics(MetricsRegistry& r)
    : http_requests(r.AddCounter("sightline_http_requests_total", "HTTP requests by route, method and status",
                                 {"route", "method", "status"})),
      http_duration(r.AddHistogram("sightline_http_request_duration_seconds",
                                   "HTTP request duration from first byte read to response written",
                                   {"route"}, LatencyBuckets())),
      http_rejected(r.AddCounter("sightline_http_rejected_total",
                                 "Requests refused before routing, by reason", {"reason"})),
      http_connections(r.AddGauge("sightline_http_open_connections", "Open HTTP connections").WithLabels({})),
      queue_seconds(r.AddHistogram("sightline_inference_queue_duration_seconds",
                                   "Time from enqueue to batch start", {"model"}, LatencyBuckets())),
      compute_seconds(r.AddHistogram("sightline_inference_compute_duration_seconds",
                                     "Backend run time per batch", {"model"}, LatencyBuckets())),
      batch_size(r.AddHistogram("sightline_inference_batch_size", "Items per executed batch", {"model"},
                                {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128, 256})),
      pending(r.AddGauge("sightline_inference_pending_requests", "Requests queued or running", {"model"})),
      inference_count(
          r.AddCounter("sightline_inference_count_total", "Items inferred (batch rows)", {"model"})),
      exec_count(r.AddCounter("sightline_inference_exec_count_total",
                              "Backend executions; inference_count / exec_count = average batch", {"model"})),
      success(r.AddCounter("sightline_inference_request_success_total", "Requests answered with a result",
                           {"model"})),
      rejected(r.AddCounter(
          "sightline_inference_rejected_total",
          "Requests not inferred, by reason (queue_full, wait_budget, deadline_exceeded, cancelled)",
          {"model", "reason"})),
      failed(r.AddCounter("sightline_inference_request_failure_total", "Requests failed in the backend",
                          {"model"})),
      isolations(r.AddCounter("sightline_inference_batch_isolations_total",
                              "Batched runs that failed and were re-run in halves so that only the "
                              "requests that cause the failure fail",
                              {"model"})),
      load_seconds(r.AddGauge("sightline_model_load_seconds", "Seconds to load the model", {"model"})),
      warmup_seconds(r.AddGauge("sightline_model_warmup_seconds", "Seconds spent in warm-up", {"model"})),
      ready(r.AddGauge("sightline_model_ready", "1 when the model is loaded and warm", {"model"})),
      degraded(r.AddGauge("sightline_model_degraded",
                          "1 while adaptive quality sends new requests to the fallback variant", {"model"})),
      gen_ttft(r.AddHistogram("sightline_generation_time_to_first_token_seconds",
                              "Seconds from a sequence's submission to its first generated token", {"model"},
                              LatencyBuckets())),
      gen_tpot(r.AddHistogram("sightline_generation_time_per_output_token_seconds",
                              "Per finished sequence: seconds per generated token after the first", {"model"},
                              LatencyBuckets())),
      gen_tokens(r.AddCounter("sightline_generation_tokens_total", "Tokens generated", {"model"})),
      gen_steps(r.AddCounter("sightline_generation_steps_total", "Decoder runs (one step of a group of rows)",
                             {"model"})),
      gen_merges(r.AddCounter("sightline_generation_group_merges_total",
                              "Groups of sequences folded into the running one (masked decoders)",
                              {"model"})),
      gen_step_rows(r.AddHistogram("sightline_generation_step_rows",
                                   "Rows (sequences or beams) per decoder run", {"model"},
                                   {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128})),
      gen_active(r.AddGauge("sightline_generation_active_sequences", "Sequences being decoded", {"model"})),
      gen_waiting(r.AddGauge("sightline_generation_waiting_sequences",
                             "Sequences admitted and waiting for KV memory or a decode slot", {"model"})),
      gen_kv_bytes(
          r.AddGauge("sightline_generation_kv_cache_bytes", "KV cache held by active sequences", {"model"})),
      gen_kv_reserved(r.AddGauge("sightline_generation_kv_cache_reserved_bytes",
                                 "KV cache promised to admitted sequences at their longest", {"model"})),
      gen_kv_budget(
          r.AddGauge("sightline_generation_kv_cache_budget_bytes", "The model's KV-cache budget", {"model"})),
      gen_finished(
          r.AddCounter("sightline_generation_sequences_total",
                       "Sequences ended, by reason (eos, length, cancelled, deadline_exceeded, error)",
                       {"model", "reason"})) {}

GenerationMetrics ServerMetrics::ForGeneration(const std::string& m) {
  GenerationMetrics g;
  g.time_to_first_token = &gen_ttft.WithLabels({m});
  g.time_per_output_token = &gen_tpot.WithLabels({m});
  g.tokens = &gen_tokens.WithLabels({m});
  g.steps = &gen_steps.WithLabels({m});
  g.merges = &gen_merges.WithLabels({m});
  g.step_rows = &gen_step_rows.WithLabels({m});
  g.active = &gen_active.WithLabels({m});
  g.waiting = &gen_waiting.WithLabels({m});
  g.kv_bytes = &gen_kv_bytes.WithLabels({m});
  g.kv_reserved_bytes = &gen_kv_reserved.WithLabels({m});
  g.kv_budget_bytes = &gen_kv_budget.WithLabels({m});
  g.finished_eos = &gen_finished.WithLabels({m, "eos"});
  g.finished_length = &gen_finished.WithLabels({m, "length"});
  g.finished_stop = &gen_finished.WithLabels({m, "stop"});
  g.finished_cancelled = &gen_finished.WithLabels({m, "cancelled"});
  g.finished_deadline = &gen_finished.WithLabels({m, "deadline_exceeded"});
  g.finished_error = &gen_finished.WithLabels({m, "error"});
  g.rejected_queue_full = &rejected.WithLabels({m, "queue_full"});
  return g;
}

ModelMetrics ServerMetrics::ForModel(const std::string& m) {
  ModelMetrics mm;
  mm.queue_seconds = &queue_seconds.WithLabels({m});
  mm.compute_seconds = &compute_seconds.WithLabels({m});
  mm.batch_size = &batch_size.WithLabels({m});
  mm.pending = &pending.WithLabels({m});
  mm.inference_count = &inference_count.WithLabels({m});
  mm.exec_count = &exec_count.WithLabels({m});
  mm.success = &success.WithLabels({m});
  mm.rejected_queue_full = &rejected.WithLabels({m, "queue_full"});
  mm.rejected_wait_budget = &rejected.WithLabels({m, "wait_budget"});
  mm.rejected_deadline = &rejected.WithLabels({m, "deadline_exceeded"});
  mm.rejected_cancelled = &rejected.WithLabels({m, "cancelled"});
  mm.failed = &failed.WithLabels({m});
  mm.isolations = &isolations.WithLabels({m});
  mm.load_seconds = &load_seconds.WithLabels({m});
  mm.warmup_seconds = &warmup_seconds.WithLabels({m});
  mm.ready = &ready.WithLabels({m});
  return mm;
}

}  // namespace sightline::observability
