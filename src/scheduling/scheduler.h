// What every scheduler of a model's work offers the rest of the server, whatever it schedules:
// admission (may a request come in now, and when should a refused client come back), the wait
// a new request would see, cancellation sweeps, and a drain to one deadline. The dynamic Batcher
// (stateless batches of rows, batcher.h) implements it; a generation scheduler (sequences that
// keep a KV cache between decode steps, joined and left at step boundaries, under a KV-memory
// budget) will implement it beside the Batcher, with its own way in for sequences. The
// ModelRegistry drains every scheduler through this interface, and front doors shed load through
// it before reading a body.
#pragma once

#include <chrono>
#include <cstddef>

#include "core/status.h"

namespace sightline::scheduling {

class Scheduler {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~Scheduler() = default;

  // Would a request be refused right now? kOverloaded (kind queue_full / wait_budget) or
  // kUnavailable (kind draining). The answer can change before the request is queued.
  virtual Status CheckAdmission() const = 0;
  // The honest wait estimate for a client told to come back, doubled per previous attempt.
  virtual double EstimateRetryAfterSeconds(int attempt) const = 0;
  // Predicted queueing time of a request that arrived now.
  virtual double EstimatedWaitSeconds() const = 0;
  // Requests waiting (not yet running).
  virtual size_t queued() const = 0;
  // Wakes the scheduler to drop work whose client went away.
  virtual void NotifyCancelled() = 0;
  // Stops taking new work at once (refusals: kUnavailable, kind draining); queued work still runs.
  virtual void BeginDrain() = 0;
  // Finishes what it can until `deadline`, answers the rest kUnavailable, and stops its threads.
  virtual void Drain(Clock::time_point deadline) = 0;
};

}  // namespace sightline::scheduling
