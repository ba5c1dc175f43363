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

#include "core/cancel_token.h"
#include "core/status.h"
#include "core/tensor.h"
#include "scheduling/inference_request.h"
#include "scheduling/model_registry.h"

namespace sightline::tasks {

struct TensorInferOptions {
  int priority = 0;
  std::optional<int64_t> timeout_us;
  std::shared_ptr<CancelToken> cancelled;
  int retry_attempt = 0;             // from X-Retry-Attempt: scales the Retry-After estimate
  std::vector<std::string> outputs;  // output names wanted; empty = all
};

// Orders and checks inputs for `model`; sets *rows to the batch size they carry.
Result<std::vector<Tensor>> BindInputs(const scheduling::ServedModel& model, std::vector<Tensor> inputs,
                                       int64_t* rows);

// Cheap early refusal (before the body is read): the batcher's admission check, with the retry
// estimate attached to an overload.
Status CheckAdmission(const scheduling::ServedModel& model, int retry_attempt);

Status SubmitTensorInference(scheduling::ServedModel& model, std::vector<Tensor> inputs,
                             const TensorInferOptions& options, scheduling::InferCallback done);

}  // namespace sightline::tasks
