#include "tasks/shot_boundary_model.h"

#include <atomic>
#include <cstring>
#include <memory>

#include "tasks/tensor_inference.h"

namespace sightline::tasks {
namespace {

constexpr const char* kOutput = "output";

Status CheckSignature(const scheduling::ServedModel& m) {
  const std::string file = m.config.config_file.empty() ? m.config.name : m.config.config_file;
  const auto& in = m.signature.inputs;
  const runtime::TensorSpec* out = nullptr;
  for (const auto& o : m.signature.outputs)
    if (o.name == kOutput) out = &o;
  const Shape want = {media::kTransNetV2Window, media::kTransNetV2Height, media::kTransNetV2Width, 3};
  if (in.empty() || in.front().dtype != DataType::kUint8 || in.front().shape.size() != 5 ||
      Shape(in.front().shape.begin() + 1, in.front().shape.end()) != want)
    return FailedPrecondition(file + ": task " + kShotBoundaryTask +
                              " needs a uint8 input [batch, 100, 27, 48, 3] (TransNetV2's)");
  if (!out || out->dtype != DataType::kFp32)
    return FailedPrecondition(file + ": task " + kShotBoundaryTask +
                              " needs an FP32 output 'output' [batch, 100, 1] (TransNetV2's)");
  return Status::Ok();
}

}  // namespace

Result<scheduling::ServedModel*> FindShotBoundaryModel(const scheduling::ModelRegistry& models) {
  for (const auto* m : models.All()) {
    if (m->config.task != kShotBoundaryTask) continue;
    RETURN_IF_ERROR(CheckSignature(*m));
    return models.Find(m->config.name);
  }
  return static_cast<scheduling::ServedModel*>(nullptr);
}

media::TransNetV2Runner ShotBoundaryRunner(scheduling::ServedModel& model, RequestContextPtr context) {
  auto admitted = std::make_shared<std::atomic<bool>>(false);
  return [&model, context, admitted](TensorBuffer window,
                                     std::function<void(Result<std::vector<float>>)> done) {
    Tensor input;
    input.name = model.signature.inputs.front().name;
    input.dtype = DataType::kUint8;
    input.shape = {1, media::kTransNetV2Window, media::kTransNetV2Height, media::kTransNetV2Width, 3};
    input.data = std::move(window);
    std::vector<Tensor> inputs;
    inputs.push_back(std::move(input));
    TensorInferOptions options;
    options.context = context;
    options.outputs = {kOutput};
    // The first window is admitted like any request (an overloaded model refuses it before much
    // of the video is decoded); the later ones are parts of that admitted request.
    options.continuation = admitted->exchange(true);
    // The callback only copies 100 floats and wakes the video thread that waits for them, so it
    // runs on the batcher thread rather than hopping through a pool.
    Status s =
        SubmitTensorInference(model, std::move(inputs), options, [done](Result<scheduling::InferResult> r) {
          if (!r.ok()) return done(r.status());
          const Tensor& out = r->outputs.front();
          if (out.dtype != DataType::kFp32 || out.data.size() != size_t{media::kTransNetV2Window} * 4)
            return done(Internal("TransNetV2's output must be FP32 [1, 100, 1]"));
          std::vector<float> p(media::kTransNetV2Window);
          std::memcpy(p.data(), out.data.data(), out.data.size());
          done(std::move(p));
        });
    if (!s.ok()) done(s);
  };
}

}  // namespace sightline::tasks
