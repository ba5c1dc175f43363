#include "generation/logits_processing.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_set>

namespace sightline::generation {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

bool InVocab(int64_t id, size_t n) {
  return id >= 0 && static_cast<size_t>(id) < n;
}

}  // namespace

void ApplyProcessors(std::span<double> scores, std::span<const int64_t> sequence, size_t prompt_length,
                     const GenerationParams& p) {
  const size_t n = scores.size();
  if (p.repetition_penalty != 1.0) {
    std::unordered_set<int64_t> seen(sequence.begin(), sequence.end());
    for (int64_t id : seen) {
      if (!InVocab(id, n)) continue;
      double& s = scores[static_cast<size_t>(id)];
      s = s < 0 ? s * p.repetition_penalty : s / p.repetition_penalty;
    }
  }
  const size_t ngram = static_cast<size_t>(std::max(0, p.no_repeat_ngram_size));
  if (ngram > 0 && sequence.size() + 1 >= ngram) {
    // The last ngram-1 ids; every earlier occurrence of them bans the id that followed.
    const auto prefix = sequence.subspan(sequence.size() + 1 - ngram);
    for (size_t i = 0; i + ngram <= sequence.size(); ++i)
      if (std::equal(prefix.begin(), prefix.end(), sequence.begin() + static_cast<std::ptrdiff_t>(i))) {
        const int64_t banned = sequence[i + ngram - 1];
        if (InVocab(banned, n)) scores[static_cast<size_t>(banned)] = kNegInf;
      }
  }
  if (sequence.size() < prompt_length + static_cast<size_t>(std::max(0, p.min_new_tokens)))
    for (int64_t eos : p.eos_token_ids)
      if (InVocab(eos, n)) scores[static_cast<size_t>(eos)] = kNegInf;
}

void ApplyWarpers(std::span<double> scores, const GenerationParams& p) {
  if (p.temperature != 1.0)
    for (double& s : scores) s /= p.temperature;
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < scores.size()) {
    std::vector<double> sorted(scores.begin(), scores.end());
    std::nth_element(sorted.begin(), sorted.begin() + (p.top_k - 1), sorted.end(), std::greater<>());
    const double kth = sorted[static_cast<size_t>(p.top_k - 1)];
    for (double& s : scores)
      if (s < kth) s = kNegInf;
  }
  if (p.top_p < 1.0) {
    std::vector<size_t> order(scores.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
    std::vector<double> sorted(order.size());
    for (size_t i = 0; i < order.size(); ++i) sorted[i] = scores[order[i]];
    // softmax over the ascending scores, as the reference does (same order, same sums).
    const double max = sorted.back();
    double total = 0;
    for (double& s : sorted) total += (s = std::exp(s - max));
    double cumulative = 0;
    for (size_t i = 0; i + 1 < order.size(); ++i) {  // the most likely (last) is always kept
      cumulative += sorted[i] / total;
      if (cumulative <= 1 - p.top_p) scores[order[i]] = kNegInf;
    }
  }
}

int64_t Argmax(std::span<const double> scores) {
  return static_cast<int64_t>(std::max_element(scores.begin(), scores.end()) - scores.begin());
}

int64_t Draw(std::span<const double> scores, SplitMix64& rng) {
  const double u = rng.Uniform();
  const double max = *std::max_element(scores.begin(), scores.end());
  std::vector<double> e(scores.size());
  double total = 0;
  for (size_t i = 0; i < scores.size(); ++i) total += (e[i] = std::exp(scores[i] - max));
  double cumulative = 0;
  int64_t last = 0;
  for (size_t i = 0; i < e.size(); ++i) {
    const double q = e[i] / total;
    if (q > 0) last = static_cast<int64_t>(i);
    cumulative += q;
    if (cumulative > u) return static_cast<int64_t>(i);
  }
  return last;
}

void LogSoftmax(std::span<double> scores) {
  const double max = *std::max_element(scores.begin(), scores.end());
  double total = 0;
  for (double s : scores) total += std::exp(s - max);
  const double log_total = std::log(total);
  for (double& s : scores) s = s - max - log_total;
}

std::vector<double> ToScores(std::span<const float> logits) {
  return {logits.begin(), logits.end()};
}

}  // namespace sightline::generation
