// Zero-shot classification of one or many images (the batch-classification service's "classify
// these 110 images"): labels given in the request or a label set named in the model's config,
// prompts embedded once per request (cached across requests), every image embedded through the
// vision tower's batcher, and each answered in order with its top-k labels or its own error. A
// label set paired with a conventional classifier runs the confidence-gated ensemble per image.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tasks/clip.h"
#include "tasks/image_batch.h"

namespace sightline::tasks {

struct ClassifyParams {
  std::vector<std::string> labels;  // either labels...
  std::string label_set;            // ...or a set named in the model's zero_shot config
  std::string prompt_template;      // empty: the model's
  size_t top_k = 0;                 // 0: every label
  bool metadata = false;
  bool ensemble = true;         // false: CLIP alone even where the label set has an ensemble
  int64_t clip_timeout_ms = 0;  // 0: the ensemble's configured one
};

// At most this many labels per request (ImageNet's 1000 classes fit).
inline constexpr size_t kMaxLabels = 1000;
// A label must fit a text tower's context once in its prompt (CLIP: 77 tokens, a token at most a
// few dozen bytes): one longer than this is refused before it is tokenized (413).
inline constexpr size_t kMaxLabelBytes = 8192;

struct ClassifiedImage {
  Status status;
  std::vector<LabelScore> labels;          // top_k, sorted by probability
  std::optional<EnsembleResult> ensemble;  // when the ensemble ran (its classifier and CLIP sides)
  std::optional<media::ImageMetadata> metadata;
  StageTiming timing;
  bool cache_hit = false;
};

struct ClassifyImagesResult {
  std::string model;
  std::vector<ClassifiedImage> items;
  BatchSummary summary;
};

// The labels `params` names (its list, or the family's label set): errors are kInvalidArgument
// (none, too many) or kNotFound (unknown set).
Result<std::vector<std::string>> ResolveLabels(const ClipFamily& family, const ClassifyParams& params);

// `done` gets a request-level error (bad labels, the prompts could not be embedded: overload,
// deadline) or every item. `on_item` (optional) reports each item as it ends.
void ClassifyImages(ClipService& clip, const ClipFamily& family, const ImageTaskDeps& deps,
                    std::vector<sources::ImageSource> images, ClassifyParams params,
                    RequestContextPtr context, std::function<void(size_t, const ClassifiedImage&)> on_item,
                    std::function<void(Result<ClassifyImagesResult>)> done);

}  // namespace sightline::tasks
