// Image classifiers a task can call on decoded images (video summaries: safety flags per
// keyframe, labels per shot). A model is one when its sightline.json says
// "task": "image_classification" and has an `image_input` block and this task's block:
//   "classification": {"labels": ["sfw", "nsfw"],              (the output's order)
//                      "outputs": "logits" | "probabilities",  (logits get a softmax)
//                      "role": "safety" | "labels",
//                      "unsafe_labels": ["nsfw"],   (role safety: what counts as unsafe)
//                      "threshold": 0.5,            (role safety: flag at this probability)
//                      "default": true}             (the one used when a request names none)
// The first output holds one score per label, in order. Errors name the file and the field.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/request_context.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "media/image.h"
#include "scheduling/model_registry.h"

namespace sightline::tasks {

inline constexpr const char* kClassificationBlock = "classification";

struct ImageClassifier {
  enum class Role { kSafety, kLabels };
  scheduling::ServedModel* model = nullptr;
  std::vector<std::string> labels;
  bool outputs_probabilities = false;
  Role role = Role::kLabels;
  std::vector<size_t> unsafe;  // indices into labels (safety)
  double threshold = 0.5;
  bool is_default = false;
};

struct LabelProbability {
  std::string label;
  double probability = 0;
};

class ImageClassifiers {
 public:
  // Every image_classification model of `models` with its labels. Errors: kFailedPrecondition
  // naming the file and the field (no labels, a count that is not the output's, two defaults for
  // one role, ...).
  static Result<std::unique_ptr<ImageClassifiers>> Load(const scheduling::ModelRegistry& models);
  // The model named `name` with this role; with no name, the one marked "default", else the first
  // by model name. Null when none.
  const ImageClassifier* Find(ImageClassifier::Role role, std::string_view name = {}) const;

 private:
  std::vector<ImageClassifier> classifiers_;
};

// Classifies one decoded image: preprocessing (the model's image_input) on the calling thread,
// the model's batcher, then `done` on `pool` with every label's probability, highest first.
void ClassifyImage(const ImageClassifier& classifier, ThreadPool& pool, const media::Image& image,
                   const RequestContextPtr& context,
                   std::function<void(Result<std::vector<LabelProbability>>)> done);

// A safety classifier's unsafe probability: the sum over its unsafe labels.
double UnsafeProbability(const ImageClassifier& classifier, const std::vector<LabelProbability>& scores);

}  // namespace sightline::tasks
