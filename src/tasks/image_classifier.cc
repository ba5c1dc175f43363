#include "tasks/image_classifier.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "media/preprocess.h"
#include "repository/config_reader.h"
#include "tasks/image_input.h"
#include "tasks/tensor_inference.h"

namespace sightline::tasks {
namespace {

Result<ImageClassifier> ReadClassifier(scheduling::ServedModel& model) {
  const auto& cfg = model.config;
  const std::string file = cfg.name + "/sightline.json";
  auto block = cfg.task_blocks.find(kClassificationBlock);
  if (block == cfg.task_blocks.end())
    return FailedPrecondition(file + ": task image_classification needs a classification block (its labels)");
  if (!cfg.image_input)
    return FailedPrecondition(file + ": task image_classification needs an image_input block");
  ASSIGN_OR_RETURN(auto obj, repository::ParseConfigObject(block->second, file));
  repository::FieldReader r(obj, file, kClassificationBlock);
  ImageClassifier c;
  c.model = &model;
  RETURN_IF_ERROR(r.StringList("labels", &c.labels));
  if (c.labels.empty()) return r.Error("labels", "must list the output's labels, in the output's order");
  std::string outputs = "logits";
  RETURN_IF_ERROR(r.OneOf("outputs", {"logits", "probabilities"}, &outputs));
  c.outputs_probabilities = outputs == "probabilities";
  std::string role = "labels";
  RETURN_IF_ERROR(r.OneOf("role", {"labels", "safety"}, &role));
  c.role = role == "safety" ? ImageClassifier::Role::kSafety : ImageClassifier::Role::kLabels;
  std::vector<std::string> unsafe;
  RETURN_IF_ERROR(r.StringList("unsafe_labels", &unsafe));
  for (const auto& u : unsafe) {
    auto it = std::find(c.labels.begin(), c.labels.end(), u);
    if (it == c.labels.end()) return r.Error("unsafe_labels", "'" + u + "' is not one of the labels");
    c.unsafe.push_back(static_cast<size_t>(it - c.labels.begin()));
  }
  if (c.role == ImageClassifier::Role::kSafety && c.unsafe.empty())
    return r.Error("unsafe_labels", "a safety classifier must say which labels are unsafe");
  RETURN_IF_ERROR(r.Number("threshold", &c.threshold));
  RETURN_IF_ERROR(r.Bool("default", &c.is_default));
  if (!(c.threshold > 0 && c.threshold <= 1)) return r.Error("threshold", "must be in (0, 1]");
  RETURN_IF_ERROR(r.RejectUnknown());
  // The first output's last dimension must be the labels' count (when the model says it).
  const auto& outs = model.signature.outputs;
  if (outs.empty()) return FailedPrecondition(file + ": the classifier has no outputs");
  const auto& shape = outs.front().shape;
  if (!shape.empty() && shape.back() > 0 && static_cast<size_t>(shape.back()) != c.labels.size())
    return r.Error("labels", "lists " + std::to_string(c.labels.size()) + " labels but output '" +
                                 outs.front().name + "' has " + std::to_string(shape.back()));
  return c;
}

}  // namespace

Result<std::unique_ptr<ImageClassifiers>> ImageClassifiers::Load(const scheduling::ModelRegistry& models) {
  auto out = std::make_unique<ImageClassifiers>();
  for (const auto* m : models.All()) {
    if (m->config.task != "image_classification") continue;
    ASSIGN_OR_RETURN(auto c, ReadClassifier(*models.Find(m->config.name)));
    if (c.is_default)
      if (const auto* other = out->Find(c.role); other && other->is_default)
        return FailedPrecondition(m->config.name + "/sightline.json: classification.default: '" +
                                  other->model->config.name + "' is already the default for this role");
    out->classifiers_.push_back(std::move(c));
  }
  return out;
}

const ImageClassifier* ImageClassifiers::Find(ImageClassifier::Role role, std::string_view name) const {
  const ImageClassifier* first = nullptr;
  for (const auto& c : classifiers_) {
    if (c.role != role) continue;
    if (!name.empty()) {
      if (c.model->config.name == name) return &c;
      continue;
    }
    if (c.is_default) return &c;
    if (!first) first = &c;
  }
  return first;
}

void ClassifyImage(const ImageClassifier& c, ThreadPool& pool, const media::Image& image,
                   const RequestContextPtr& context,
                   std::function<void(Result<std::vector<LabelProbability>>)> done) {
  const auto& ii = *c.model->config.image_input;
  const auto* input = c.model->signature.FindInput(ii.input);
  if (!input) return done(FailedPrecondition("classifier input '" + ii.input + "' is not in the model"));
  auto tensor = media::ImageToTensor(image, PreprocessSpecFor(ii, input->dtype), ii.input);
  if (!tensor.ok()) return done(tensor.status());
  std::vector<Tensor> inputs;
  inputs.push_back(std::move(tensor).value());
  TensorInferOptions options;
  options.context = context;
  options.outputs = {c.model->signature.outputs.front().name};
  const ImageClassifier* cls = &c;
  Status s = SubmitTensorInference(
      *c.model, std::move(inputs), options, OnPool(pool, [cls, done](Result<scheduling::InferResult> r) {
        if (!r.ok()) return done(r.status());
        const Tensor& out = r.value().outputs.front();
        const size_t n = cls->labels.size();
        if (out.dtype != DataType::kFp32 || out.data.size() < n * 4)
          return done(Internal("classifier output must be FP32 with one value per label"));
        std::vector<double> p(n);
        for (size_t i = 0; i < n; ++i) {
          float v;
          std::memcpy(&v, out.data.data() + i * 4, 4);
          p[i] = v;
        }
        if (!cls->outputs_probabilities) {
          const double mx = *std::max_element(p.begin(), p.end());
          double sum = 0;
          for (double& x : p) sum += (x = std::exp(x - mx));
          for (double& x : p) x /= sum;
        }
        std::vector<LabelProbability> scores;
        for (size_t i = 0; i < n; ++i) scores.push_back({cls->labels[i], p[i]});
        std::stable_sort(scores.begin(), scores.end(),
                         [](const auto& a, const auto& b) { return a.probability > b.probability; });
        done(std::move(scores));
      }));
  if (!s.ok()) done(s);
}

double UnsafeProbability(const ImageClassifier& c, const std::vector<LabelProbability>& scores) {
  double p = 0;
  for (size_t i : c.unsafe)
    for (const auto& s : scores)
      if (s.label == c.labels[i]) p += s.probability;
  return p;
}

}  // namespace sightline::tasks
