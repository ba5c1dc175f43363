#include "generation/beam_search.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "generation/logits_processing.h"

namespace sightline::generation {

BeamSearch::BeamSearch(const GenerationParams& params, std::vector<int64_t> prompt)
    : params_(params), prompt_length_(prompt.size()) {
  const size_t n = static_cast<size_t>(std::max(1, params_.num_beams));
  beams_.assign(n, prompt);
  scores_.assign(n, -1e9);
  scores_[0] = 0;
}

BeamSearch::Step BeamSearch::Advance(std::span<const float> logits, size_t vocab) {
  const size_t n = beams_.size();
  std::vector<double> candidates(n * vocab);
  for (size_t b = 0; b < n; ++b) {
    std::span<double> row(candidates.data() + b * vocab, vocab);
    for (size_t v = 0; v < vocab; ++v) row[v] = logits[b * vocab + v];
    LogSoftmax(row);
    ApplyProcessors(row, beams_[b], prompt_length_, params_);
    for (double& s : row) s += scores_[b];
  }
  const size_t keep = std::min(candidates.size(), std::max<size_t>(2, 1 + params_.eos_token_ids.size()) * n);
  std::vector<size_t> order(candidates.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep), order.end(),
                    [&](size_t a, size_t b) {
                      return candidates[a] > candidates[b] || (candidates[a] == candidates[b] && a < b);
                    });
  const size_t new_tokens = beams_[0].size() + 1 - prompt_length_;
  Step step;
  std::vector<std::vector<int64_t>> next;
  std::vector<double> next_scores;
  for (size_t rank = 0; rank < keep && next.size() < n; ++rank) {
    const size_t idx = order[rank];
    const int src = static_cast<int>(idx / vocab);
    const auto token = static_cast<int64_t>(idx % vocab);
    const double score = candidates[idx];
    const bool eos = std::find(params_.eos_token_ids.begin(), params_.eos_token_ids.end(), token) !=
                     params_.eos_token_ids.end();
    if (eos) {
      if (rank >= n) continue;
      auto ids = beams_[static_cast<size_t>(src)];
      ids.push_back(token);
      Add(std::move(ids), score, new_tokens);
      continue;
    }
    auto ids = beams_[static_cast<size_t>(src)];
    ids.push_back(token);
    next.push_back(std::move(ids));
    next_scores.push_back(score);
    step.sources.push_back(src);
    step.tokens.push_back(token);
  }
  done_ = IsDone(candidates[order[0]], new_tokens);
  step.done = done_;
  if (!done_) {
    beams_ = std::move(next);
    scores_ = std::move(next_scores);
  }
  return step;
}

std::vector<int64_t> BeamSearch::Finish() {
  if (!done_)
    for (size_t b = 0; b < beams_.size(); ++b) Add(beams_[b], scores_[b], beams_[b].size() - prompt_length_);
  const std::pair<double, std::vector<int64_t>>* best = nullptr;
  for (const auto& h : hyps_.kept)
    if (!best || h.first >= best->first) best = &h;
  if (!best) return {};
  return {best->second.begin() + static_cast<std::ptrdiff_t>(prompt_length_), best->second.end()};
}

void BeamSearch::Add(std::vector<int64_t> ids, double sum_logprobs, size_t new_tokens) {
  const double score = sum_logprobs / std::pow(static_cast<double>(new_tokens), params_.length_penalty);
  const size_t n = beams_.size();
  if (hyps_.kept.size() < n || score > hyps_.worst) {
    hyps_.kept.emplace_back(score, std::move(ids));
    if (hyps_.kept.size() > n) {
      // Drop the worst (the first of the worst on ties, as a stable sort puts it); the worst
      // score becomes the second lowest.
      std::vector<size_t> idx(hyps_.kept.size());
      std::iota(idx.begin(), idx.end(), size_t{0});
      std::stable_sort(idx.begin(), idx.end(),
                       [&](size_t a, size_t b) { return hyps_.kept[a].first < hyps_.kept[b].first; });
      hyps_.worst = hyps_.kept[idx[1]].first;
      hyps_.kept.erase(hyps_.kept.begin() + static_cast<std::ptrdiff_t>(idx[0]));
    } else {
      hyps_.worst = std::min(score, hyps_.worst);
    }
  }
}

bool BeamSearch::IsDone(double best_sum_logprobs, size_t new_tokens) const {
  if (hyps_.kept.size() < beams_.size()) return false;
  switch (params_.early_stopping) {
    case EarlyStopping::kTrue: return true;
    case EarlyStopping::kNever:
      if (params_.length_penalty > 0)
        return hyps_.worst >= best_sum_logprobs / std::pow(static_cast<double>(params_.max_new_tokens),
                                                           params_.length_penalty);
      break;
    case EarlyStopping::kFalse: break;
  }
  return hyps_.worst >= best_sum_logprobs / std::pow(static_cast<double>(new_tokens), params_.length_penalty);
}

}  // namespace sightline::generation
