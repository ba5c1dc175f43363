// Per-model dynamic batcher. One scheduler thread keeps priority queues, stacks compatible
// requests along the batch dim up to max_batch_size (waiting at most max_queue_delay), enforces
// deadlines with a timer (an expired request is answered at once, even while its batch runs),
// drops requests whose client hung up, and hands batches to one thread per backend instance.
// A full batch is staged while every instance is busy, so the next run starts without delay.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <queue>
#include <span>
#include <thread>
#include <vector>

#include "observability/server_metrics.h"
#include "runtime/backend.h"
#include "scheduling/inference_request.h"
#include "scheduling/scheduler.h"

namespace sightline::scheduling {

struct BatcherOptions {
  std::string model_name;
  int max_batch_size = 0;  // 0: each request runs alone
  bool dynamic_batching = true;
  std::chrono::microseconds max_queue_delay{500};
  std::vector<int> preferred_batch_sizes;
  int priority_levels = 2;
  int default_priority_level = 1;
  size_t max_queue_size = 256;                   // 0: unbounded
  std::chrono::microseconds default_timeout{0};  // 0: none
  bool allow_timeout_override = true;
  std::chrono::microseconds max_queue_wait{0};  // 0: off; see QueuePolicy::max_queue_wait_us
  // Backend seconds per row measured at warm-up (0: unknown). Seeds the service-time estimate, so
  // predicted-wait admission and adaptive quality work from the first burst, not only after the
  // first real run (before it the estimate was 1 ms a row).
  double initial_seconds_per_row = 0;
};

class Batcher final : public Scheduler {
 public:
  static Result<std::unique_ptr<Batcher>> Create(BatcherOptions options,
                                                 std::vector<std::unique_ptr<runtime::Backend>> instances,
                                                 observability::ModelMetrics metrics);
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues the request or refuses it at once: kOverloaded (with retry_after) when the queue is
  // full, kUnavailable while draining, kInvalidArgument for a bad priority. On success the
  // request's completion fires later, exactly once.
  Status Enqueue(std::shared_ptr<InferRequest> request);

  // Would a request be refused right now? Lets the transport shed before reading a body; the
  // answer can change before Enqueue (which checks again). Refusals are counted here.
  Status CheckAdmission() const override;

  // Wakes the scheduler to sweep requests whose client went away.
  void NotifyCancelled() override;

  // Honest wait estimate for a client told to come back: the predicted wait below, doubled per
  // previous attempt.
  double EstimateRetryAfterSeconds(int attempt) const override;

  size_t queued() const override;
  // Predicted wait of a request enqueued now: what the running batches have left plus the rows
  // waiting ahead of it (queued and staged), times the measured per-row time, over instances.
  double EstimatedWaitSeconds() const override;
  const BatcherOptions& options() const { return options_; }

  // Stops taking requests (new ones get kUnavailable, kind draining); queued work still runs.
  void BeginDrain() override;
  // Stops taking requests, lets queued and running work finish until `deadline`, then answers
  // whatever is left with kUnavailable and joins the threads.
  void Drain(Clock::time_point deadline) override;
  void Drain(std::chrono::milliseconds timeout);

 private:
  struct Batch {
    std::vector<std::shared_ptr<InferRequest>> requests;
    int64_t rows = 0;
  };
  struct DeadlineEntry {
    Clock::time_point deadline;
    std::shared_ptr<InferRequest> request;
    bool operator>(const DeadlineEntry& o) const { return deadline > o.deadline; }
  };
  using Completion = std::pair<std::shared_ptr<InferRequest>, Status>;

  Batcher(BatcherOptions options, std::vector<std::unique_ptr<runtime::Backend>> instances,
          observability::ModelMetrics metrics);
  // `continuation`: a later part of an admitted request skips the predicted-wait budget.
  Status AdmitLocked(bool continuation = false) const;
  double EstimateWaitSecondsLocked(Clock::time_point now) const;
  int64_t RunningRowsLocked() const;
  void SchedulerLoop();
  void InstanceLoop(size_t index);
  // Runs a batch on instance `index` (called by that instance's thread only).
  void Execute(size_t index, Batch& batch);
  // Runs `requests` as one batch on instance `index` and answers each; on a failure, re-runs
  // them in halves (isolating: already inside such a re-run).
  void RunAndAnswer(size_t index, std::span<const std::shared_ptr<InferRequest>> requests, bool isolating);
  // The following run with mu_ held.
  void ExpireDeadlinesLocked(Clock::time_point now, std::vector<Completion>& out);
  void SweepLocked(std::vector<Completion>& out);
  void RemoveFromQueueLocked(const InferRequest* r);
  bool ShouldFormBatchLocked(Clock::time_point now, Clock::time_point* wake_at) const;
  Batch FormBatchLocked(std::vector<Completion>& out);
  // Forms and stages a batch if one is due now. The scheduler thread uses it, and so do Enqueue
  // and the instances, so the common case needs no hop through the scheduler. Returns whether one
  // was staged; `wake_at`, when given, is lowered to when one will be due (a batching window).
  bool TryFormLocked(Clock::time_point now, std::vector<Completion>& done,
                     Clock::time_point* wake_at = nullptr);
  // Answers a request once (whoever claims it first), counting `outcome` (may be null).
  void Answer(InferRequest& r, Result<InferResult> result, observability::Counter* outcome);
  void RunCompletions(std::vector<Completion>& done);

  const BatcherOptions options_;
  std::vector<std::unique_ptr<runtime::Backend>> instances_;
  observability::ModelMetrics metrics_;

  mutable std::mutex mu_;
  std::condition_variable scheduler_cv_;
  std::condition_variable instance_cv_;
  std::condition_variable drained_cv_;
  std::vector<std::deque<std::shared_ptr<InferRequest>>> queues_;  // index 0 = highest priority
  size_t queued_ = 0;
  int64_t queued_rows_ = 0;
  std::priority_queue<DeadlineEntry, std::vector<DeadlineEntry>, std::greater<>> deadlines_;
  std::deque<Batch> ready_;
  int idle_instances_ = 0;
  int64_t staged_rows_ = 0;  // formed into batches in ready_, not yet running
  struct Running {
    Clock::time_point started;
    int64_t rows = 0;  // 0: idle
  };
  std::vector<Running> running_;  // per instance
  // Per instance, touched only by its thread: stacked batch inputs, kept between batches.
  std::vector<std::vector<Tensor>> stacked_;
  bool sweep_requested_ = false;
  // When the scheduler thread will next wake by itself (min while it is awake): a new request
  // with an earlier deadline must wake it.
  Clock::time_point scheduler_sleeps_until_ = Clock::time_point::min();
  bool draining_ = false;
  bool stop_ = false;
  std::atomic<double> per_row_seconds_{0.0};  // EWMA of backend time per batch row

  std::thread scheduler_;
  std::vector<std::thread> workers_;
};

}  // namespace sightline::scheduling
