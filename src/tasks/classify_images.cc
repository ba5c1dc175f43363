#include "tasks/classify_images.h"

#include <mutex>

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
  if (labels.size() > kMaxLabels)
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

  struct State {
    std::mutex mu;
    ClassifyImagesResult result;
    std::vector<Embedding> label_embeddings;
  };
  auto st = std::make_shared<State>();
  st->result.model = family.name;
  st->result.items.resize(images.size());
  TensorInferOptions opts;
  opts.context = context;
  const size_t top_k = params.top_k == 0 ? labels->size() : std::min(params.top_k, labels->size());
  auto labels_shared = std::make_shared<const std::vector<std::string>>(std::move(labels).value());

  auto work = [&clip, &family, deps, params, opts, st, ensemble, top_k, labels_shared](
                  size_t i, sources::Bytes bytes, ItemRun::Finish finish) {
    std::optional<media::ImageMetadata> md;
    if (params.metadata) {
      auto m = ReadMetadata(deps, *bytes);
      if (m.ok()) md = std::move(m).value();
    }
    if (ensemble) {
      const auto t0 = std::chrono::steady_clock::now();
      return clip.ClassifyEnsemble(
          family, params.label_set, bytes, params.clip_timeout_ms, opts,
          [st, i, md = std::move(md), finish, top_k, t0](Result<EnsembleResult> r) mutable {
            StageTiming t;
            t.inference_ms = MsSince(t0);
            if (!r.ok()) return finish(r.status(), t, false);
            {
              std::lock_guard lock(st->mu);
              auto& item = st->result.items[i];
              item.labels.assign(r->labels.begin(), r->labels.begin() + std::min(top_k, r->labels.size()));
              item.ensemble = std::move(r).value();
              item.metadata = std::move(md);
            }
            finish(Status::Ok(), t, false);
          });
    }
    clip.EmbedImage(family, bytes, opts,
                    [st, i, md = std::move(md), finish, top_k, labels_shared,
                     scale = family.logit_scale](Result<ImageEmbedding> e) mutable {
                      StageTiming t;
                      if (!e.ok()) return finish(e.status(), t, false);
                      t.decode_ms = e->decode_ms;
                      t.queue_ms = e->queue_ms;
                      t.inference_ms = e->infer_ms;
                      // label_embeddings is written once before any item starts.
                      auto scores =
                          ClipService::Score(e->embedding, *labels_shared, st->label_embeddings, scale);
                      scores.resize(std::min(top_k, scores.size()));
                      {
                        std::lock_guard lock(st->mu);
                        auto& item = st->result.items[i];
                        item.labels = std::move(scores);
                        item.metadata = std::move(md);
                        item.cache_hit = e->cache_hit;
                      }
                      finish(Status::Ok(), t, e->cache_hit);
                    });
  };
  auto report = [st, on_item](size_t i, const Status& s, const StageTiming& t) {
    std::unique_lock lock(st->mu);
    auto& item = st->result.items[i];
    item.status = s;
    item.timing = t;
    if (!on_item) return;
    ClassifiedImage copy = item;
    lock.unlock();
    on_item(i, copy);
  };
  auto run_items = [st, deps, images = std::move(images), context, work, report, done]() mutable {
    ItemRun::Start(deps, std::move(images), kImageWindow, context, work, report,
                   [st, done](BatchSummary summary) {
                     std::unique_lock lock(st->mu);
                     st->result.summary = summary;
                     ClassifyImagesResult out = std::move(st->result);
                     lock.unlock();
                     done(std::move(out));
                   });
  };
  if (ensemble) return run_items();  // the ensemble embeds prompts itself, only when CLIP is consulted
  // The label prompts once for the whole request (cached across requests), then the images.
  std::vector<std::string> prompts;
  for (const auto& l : *labels_shared) prompts.push_back(ClipService::Prompt(tmpl, l));
  clip.EmbedTexts(family, std::move(prompts), opts,
                  [st, run_items = std::move(run_items), done](Result<TextEmbeddings> r) mutable {
                    if (!r.ok()) return done(r.status());
                    st->label_embeddings = std::move(r.value().vectors);
                    run_items();
                  });
}

}  // namespace sightline::tasks
