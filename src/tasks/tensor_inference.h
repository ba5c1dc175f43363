// Raw tensor inference, the task behind KServe's /infer: checks the inputs against the model's
// signature (names, dtypes, shapes, batch size), orders them as the backend expects, and queues
// them on the model's batcher. Refusals come back at once as a Status (an overload carries the
// retry estimate); accepted work completes later through the callback, exactly once.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/request_context.h"
#include "core/status.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "scheduling/inference_request.h"
#include "scheduling/model_registry.h"

namespace sightline::tasks {

struct TensorInferOptions {
  // Who asked: id, priority, cancellation, deadline, retry attempt, trace. Null: background work
  // (no priority, never cancelled).
  RequestContextPtr context;
  // The model's queue timeout for this request (KServe's `timeout` parameter, an ensemble's
  // clip_timeout_ms); honoured when the model allows overrides. The context's deadline applies
  // on top.
  std::optional<int64_t> timeout_us;
  std::vector<std::string> outputs;  // output names wanted; empty = all
  // A later part of a request whose first part was already admitted (a chunk of texts, an item
  // of a batch): skips the predicted-wait budget, so admitted work is not refused half-way for
  // the backlog it created itself; a full queue still refuses it.
  bool continuation = false;
};

// Orders and checks inputs for `model`; sets *rows to the batch size they carry.
Result<std::vector<Tensor>> BindInputs(const scheduling::ServedModel& model, std::vector<Tensor> inputs,
                                       int64_t* rows);

// Cheap early refusal (before the body is read): the batcher's admission check, with the retry
// estimate attached to an overload.
Status CheckAdmission(const scheduling::ServedModel& model, int retry_attempt);

Status SubmitTensorInference(scheduling::ServedModel& model, std::vector<Tensor> inputs,
                             const TensorInferOptions& options, scheduling::InferCallback done);

// Wraps `done` so it runs on `pool` instead of the batcher thread that completes the inference:
// batcher threads only run models, and whatever a task does with a result (splitting rows,
// softmax, caching, the next step) happens on the pool.
scheduling::InferCallback OnPool(ThreadPool& pool, scheduling::InferCallback done);

}  // namespace sightline::tasks
