// One inference request as the scheduler sees it: validated input tensors, priority, deadline,
// a cancellation flag the transport sets when the client hangs up, and a completion that fires
// exactly once — whoever answers first (batch result, deadline timer, cancellation) wins.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/cancel_token.h"
#include "core/request_context.h"
#include "core/status.h"
#include "core/tensor.h"

namespace sightline::scheduling {

using Clock = std::chrono::steady_clock;

struct InferTiming {
  Clock::time_point enqueued{};
  Clock::time_point started{};  // batch start (backend call)
  Clock::time_point finished{};
  int batch_size = 0;  // rows in the batch this request ran in
};

struct InferResult {
  std::vector<Tensor> outputs;  // in model signature order
  InferTiming timing;
};

using InferCallback = std::function<void(Result<InferResult>)>;

class InferRequest {
 public:
  InferRequest(std::vector<Tensor> inputs, InferCallback done)
      : inputs(std::move(inputs)), done_(std::move(done)) {}

  std::vector<Tensor> inputs;  // signature order, already validated against the model
  int64_t rows = 1;            // size of the batch dim (1 for models without one)
  std::vector<int> outputs;    // signature output indices wanted, ascending; empty = all
  // The request this inference serves: id, trace, priority, cancellation, end-to-end deadline.
  // Null for background work (default priority, never cancelled, no deadline).
  RequestContextPtr context;
  std::optional<std::chrono::microseconds> timeout;  // the model's queue timeout, when overridden
  bool continuation = false;                         // see TensorInferOptions::continuation

  // Filled in by the scheduler.
  Clock::time_point enqueued{};
  Clock::time_point deadline = Clock::time_point::max();
  int level = 0;  // 0-based priority queue index

  // 1 = highest; 0 = the model's default level.
  int priority() const { return context ? context->priority : 0; }
  bool IsCancelled() const { return context && context->cancelled(); }
  bool completed() const { return completed_.load(std::memory_order_acquire); }

  // Claims the right to answer; only the first caller gets true. The winner updates its
  // bookkeeping (metrics) and then calls Deliver, so observers never see an answer before it.
  bool TryClaim() {
    bool expected = false;
    return completed_.compare_exchange_strong(expected, true, std::memory_order_acq_rel);
  }
  void Deliver(Result<InferResult> result) {
    auto done = std::move(done_);
    done_ = nullptr;
    if (done) done(std::move(result));
  }

 private:
  std::atomic<bool> completed_{false};
  InferCallback done_;
};

}  // namespace sightline::scheduling
