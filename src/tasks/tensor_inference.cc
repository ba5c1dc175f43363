#include "tasks/tensor_inference.h"

#include <algorithm>

namespace sightline::tasks {

namespace {

// An index outside the embedding table would make ONNX Runtime fail the whole batched run, and
// with it every other request in the batch (field report 3): refuse this request alone, here.
template <typename Int>
Status CheckIndexValues(const Tensor& t, const runtime::TensorSpec& spec) {
  const auto* v = reinterpret_cast<const Int*>(t.data.data());
  const size_t n = t.data.size() / sizeof(Int);
  const int64_t lo = -spec.index_limit, hi = spec.index_limit - 1;
  for (size_t i = 0; i < n; ++i) {
    const auto x = static_cast<int64_t>(v[i]);
    if (x < lo || x > hi)
      return InvalidArgument("input '" + spec.name + "' holds " + std::to_string(x) + " at element " +
                             std::to_string(i) + ", outside the embedding table it indexes (" +
                             std::to_string(spec.index_limit) + " rows: valid values are " +
                             std::to_string(lo) + ".." + std::to_string(hi) + ")");
  }
  return Status::Ok();
}

Status CheckIndices(const Tensor& t, const runtime::TensorSpec& spec) {
  switch (t.dtype) {
    case DataType::kInt64: return CheckIndexValues<int64_t>(t, spec);
    case DataType::kInt32: return CheckIndexValues<int32_t>(t, spec);
    default: return Status::Ok();
  }
}

}  // namespace

Result<std::vector<Tensor>> BindInputs(const scheduling::ServedModel& model, std::vector<Tensor> inputs,
                                       int64_t* rows) {
  const auto& sig = model.signature;
  const bool batching = model.config.batching();
  for (const auto& t : inputs)
    if (!sig.FindInput(t.name))
      return InvalidArgument("model '" + model.config.name + "' has no input named '" + t.name + "'");
  std::vector<Tensor> ordered;
  ordered.reserve(sig.inputs.size());
  int64_t batch = -1;
  for (const auto& spec : sig.inputs) {
    auto it =
        std::find_if(inputs.begin(), inputs.end(), [&](const Tensor& t) { return t.name == spec.name; });
    if (it == inputs.end())
      return InvalidArgument("input '" + spec.name + "' of model '" + model.config.name + "' is missing");
    Tensor& t = *it;
    if (t.dtype != spec.dtype)
      return InvalidArgument("input '" + spec.name + "' must be " + DataTypeName(spec.dtype) + ", got " +
                             DataTypeName(t.dtype));
    if (t.shape.size() != spec.shape.size())
      return InvalidArgument("input '" + spec.name + "' must have shape " + ShapeToString(spec.shape) +
                             " (-1 = any), got " + ShapeToString(t.shape));
    for (size_t d = 0; d < spec.shape.size(); ++d) {
      if (spec.shape[d] >= 0 && spec.shape[d] != t.shape[d])
        return InvalidArgument("input '" + spec.name + "' must have shape " + ShapeToString(spec.shape) +
                               " (-1 = any), got " + ShapeToString(t.shape));
    }
    if (spec.index_limit > 0) RETURN_IF_ERROR(CheckIndices(t, spec));
    if (batching) {
      if (t.shape[0] < 1) return InvalidArgument("input '" + spec.name + "' has an empty batch dimension");
      if (batch >= 0 && t.shape[0] != batch)
        return InvalidArgument("inputs disagree on the batch size (" + std::to_string(batch) + " vs " +
                               std::to_string(t.shape[0]) + ")");
      batch = t.shape[0];
    }
    RETURN_IF_ERROR(ValidateTensorBytes(t));
    ordered.push_back(std::move(t));
  }
  *rows = batching ? batch : 1;
  if (batching && *rows > model.config.max_batch_size)
    return InvalidArgument("batch of " + std::to_string(*rows) + " exceeds max_batch_size " +
                           std::to_string(model.config.max_batch_size) + " of model '" + model.config.name +
                           "'");
  return ordered;
}

namespace {
// A generative decoder has no batcher: its sequences go through its GenerationScheduler.
Status NotTensorInference(const scheduling::ServedModel& model) {
  return InvalidArgument("model '" + model.config.name +
                         "' is a generative decoder, run step by step by its task (/v1/caption), not by "
                         "tensor inference");
}
}  // namespace

Status CheckAdmission(const scheduling::ServedModel& model, int retry_attempt) {
  if (!model.ready) return Status(StatusCode::kUnavailable, "model '" + model.config.name + "' is not ready");
  if (!model.batcher) {
    if (!model.generation) return NotTensorInference(model);
    Status g = model.generation->CheckAdmission();
    if (g.code() == StatusCode::kOverloaded)
      g.WithRetryAfter(model.generation->EstimateRetryAfterSeconds(retry_attempt));
    return g;
  }
  Status s = model.batcher->CheckAdmission();
  if (s.code() == StatusCode::kOverloaded)
    s.WithRetryAfter(model.batcher->EstimateRetryAfterSeconds(retry_attempt));
  return s;
}

Status SubmitTensorInference(scheduling::ServedModel& model, std::vector<Tensor> inputs,
                             const TensorInferOptions& options, scheduling::InferCallback done) {
  if (!model.ready) return Status(StatusCode::kUnavailable, "model '" + model.config.name + "' is not ready");
  if (!model.batcher) return NotTensorInference(model);
  int64_t rows = 1;
  ASSIGN_OR_RETURN(auto ordered, BindInputs(model, std::move(inputs), &rows));
  auto req = std::make_shared<scheduling::InferRequest>(std::move(ordered), std::move(done));
  req->rows = rows;
  for (const auto& name : options.outputs) {
    const auto& outs = model.signature.outputs;
    auto it = std::find_if(outs.begin(), outs.end(), [&](const auto& o) { return o.name == name; });
    if (it == outs.end())
      return InvalidArgument("model '" + model.config.name + "' has no output named '" + name + "'");
    req->outputs.push_back(static_cast<int>(it - outs.begin()));
  }
  std::sort(req->outputs.begin(), req->outputs.end());
  req->outputs.erase(std::unique(req->outputs.begin(), req->outputs.end()), req->outputs.end());
  const auto& ctx = options.context;
  req->context = ctx;
  req->continuation = options.continuation;
  if (options.timeout_us && *options.timeout_us > 0)
    req->timeout = std::chrono::microseconds(*options.timeout_us);
  Status s = model.batcher->Enqueue(req);
  if (s.ok() && ctx && ctx->cancel) {
    auto* batcher = model.batcher.get();
    ctx->cancel->OnCancel([batcher] { batcher->NotifyCancelled(); });
  }
  if (s.code() == StatusCode::kOverloaded)
    s.WithRetryAfter(model.batcher->EstimateRetryAfterSeconds(ctx ? ctx->retry_attempt : 0));
  return s;
}

scheduling::InferCallback OnPool(ThreadPool& pool, scheduling::InferCallback done) {
  return [&pool, done = std::move(done)](Result<scheduling::InferResult> r) mutable {
    pool.Submit([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  };
}

}  // namespace sightline::tasks
