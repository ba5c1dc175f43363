#include "tasks/classify_images.h"

#include <set>
#include <string_view>

namespace sightline::tasks {

Result<std::vector<std::string>> ResolveLabels(const ClipFamily& f, const ClassifyParams& p) {
  std::vector<std::string> labels = p.labels;
  if (labels.empty() && !p.label_set.empty()) {
    auto it = f.label_sets.find(p.label_set);
    if (it == f.label_sets.end())
      return NotFound("model '" + f.name + "' has no label set '" + p.label_set + "'");
    labels = it->second;
  }
  if (labels.empty())
    return InvalidArgument("give labels (a list) or label_set (a name from the model's config)");
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i].size() > kMaxLabelBytes)
      return Status(StatusCode::kPayloadTooLarge, "labels[" + std::to_string(i) + "] is " +
                                                      std::to_string(labels[i].size()) + " bytes; at most " +
                                                      std::to_string(kMaxLabelBytes) +
                                                      " (it must fit the model's context)")
          .WithKind(ErrorKind::kLimitExceeded);
  // A label given twice would split its probability between the copies.
  std::set<std::string_view> seen;
  for (const auto& l : labels)
    if (!seen.insert(l).second) return InvalidArgument("label '" + l + "' is given more than once");
  // The bound is on what a request sends; a label set is the server's own config, embedded once at
  // start-up, and served whatever its size.
  if (!p.labels.empty() && labels.size() > kMaxLabels)
    return Status(StatusCode::kPayloadTooLarge, "give at most " + std::to_string(kMaxLabels) +
                                                    " labels; got " + std::to_string(labels.size()))
        .WithKind(ErrorKind::kLimitExceeded);
  return labels;
}

void ClassifyImages(ClipService& clip, const ClipFamily& family, const ImageTaskDeps& deps,
                    std::vector<sources::ImageSource> images, ClassifyParams params,
                    RequestContextPtr context, std::function<void(size_t, const ClassifiedImage&)> on_item,
                    std::function<void(Result<ClassifyImagesResult>)> done) {
  auto labels = ResolveLabels(family, params);
  if (!labels.ok()) return done(labels.status());
  std::string tmpl = params.prompt_template.empty() ? family.prompt_template : params.prompt_template;
  if (tmpl.find("{}") == std::string::npos)
    return done(InvalidArgument("prompt_template must contain {} where the label goes"));
  const bool ensemble = params.ensemble && !params.label_set.empty() && params.labels.empty() &&
                        family.ensembles.count(params.label_set);

  auto results = std::make_shared<ItemResults<ClassifiedImage>>(images.size(), std::move(on_item));
  // Written once, before any item starts (the prompts are embedded first).
  auto label_embeddings = std::make_shared<std::vector<Embedding>>();
  TensorInferOptions opts;
  opts.context = context;
  const size_t top_k = params.top_k == 0 ? labels->size() : std::min(params.top_k, labels->size());
  auto labels_shared = std::make_shared<const std::vector<std::string>>(std::move(labels).value());

  auto work = [&clip, &family, deps, params, opts, results, label_embeddings, ensemble, top_k, labels_shared](
                  size_t i, sources::Bytes bytes, ItemRun::Finish finish) {
    std::optional<media::ImageMetadata> md;
    if (params.metadata) {
      auto m = ReadMetadata(deps, *bytes);
      if (m.ok()) md = std::move(m).value();
    }
    if (ensemble) {
      return clip.ClassifyEnsemble(
          family, params.label_set, bytes, params.clip_timeout_ms, params.prompt_template, opts,
          [results, i, md = std::move(md), finish, top_k](Result<EnsembleResult> r) mutable {
            StageTiming t;
            if (!r.ok()) return finish(r.status(), t, false);
            t.decode_ms = r->decode_ms;
            t.queue_ms = r->queue_ms;
            t.inference_ms = r->infer_ms;
            results->Update(i, [&](ClassifiedImage& item) {
              item.labels.assign(r->labels.begin(), r->labels.begin() + std::min(top_k, r->labels.size()));
              item.ensemble = std::move(r).value();
              item.metadata = std::move(md);
            });
            finish(Status::Ok(), t, false);
          });
    }
    clip.EmbedImage(family, bytes, opts,
                    [results, label_embeddings, i, md = std::move(md), finish, top_k, labels_shared,
                     scale = family.logit_scale](Result<ImageEmbedding> e) mutable {
                      StageTiming t;
                      if (!e.ok()) return finish(e.status(), t, false);
                      t.decode_ms = e->decode_ms;
                      t.queue_ms = e->queue_ms;
                      t.inference_ms = e->infer_ms;
                      auto scores =
                          ClipService::Score(e->embedding, *labels_shared, *label_embeddings, scale);
                      scores.resize(std::min(top_k, scores.size()));
                      const bool hit = e->cache_hit;
                      results->Update(i, [&](ClassifiedImage& item) {
                        item.labels = std::move(scores);
                        item.metadata = std::move(md);
                        item.cache_hit = hit;
                      });
                      finish(Status::Ok(), t, hit);
                    });
  };
  auto run_items = [results, deps, images = std::move(images), context, work, model = family.name,
                    done]() mutable {
    RunItems<ClassifiedImage>("classify_images", results, deps, std::move(images), kImageWindow, context,
                              work, [model, done](std::vector<ClassifiedImage> items, BatchSummary summary) {
                                done(ClassifyImagesResult{model, std::move(items), summary});
                              });
  };
  if (ensemble) return run_items();  // the ensemble embeds prompts itself, only when CLIP is consulted
  // The label prompts once for the whole request (cached across requests), then the images.
  std::vector<std::string> prompts;
  for (const auto& l : *labels_shared) prompts.push_back(ClipService::Prompt(tmpl, l));
  clip.EmbedTexts(
      family, std::move(prompts), opts,
      [label_embeddings, run_items = std::move(run_items), done](Result<TextEmbeddings> r) mutable {
        if (!r.ok()) return done(r.status());
        *label_embeddings = std::move(r.value().vectors);
        run_items();
      },
      /*whole_only=*/true);
}

}  // namespace sightline::tasks
