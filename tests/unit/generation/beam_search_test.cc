// Beam search on hand-made logits, where the answer can be worked out on paper; the captioner
// parity test checks it against the reference loop on a real decoder.
#include "generation/beam_search.h"

#include <gtest/gtest.h>

#include <cmath>

namespace sightline::generation {
namespace {

// Rows of log-probabilities (already normalised, so log_softmax leaves them as they are).
std::vector<float> Rows(const std::vector<std::vector<double>>& probs) {
  std::vector<float> out;
  for (const auto& row : probs)
    for (double p : row) out.push_back(static_cast<float>(std::log(p)));
  return out;
}

TEST(BeamSearch, KeepsTheBetterPathThatGreedyWouldMiss) {
  // Vocabulary {0: EOS, 1: a, 2: b}. Greedy takes a (0.6) then is stuck with a 0.3-best next
  // step; b (0.4) leads to a 0.9-certain EOS: 0.4 x 0.9 = 0.36 beats 0.6 x 0.3 = 0.18.
  GenerationParams p;
  p.num_beams = 2;
  p.eos_token_ids = {0};
  p.max_new_tokens = 4;
  p.length_penalty = 0;  // plain sum of log-probabilities
  p.early_stopping = EarlyStopping::kTrue;
  BeamSearch beams(p, {9});
  auto first = beams.Advance(Rows({{0.0001, 0.6, 0.3999}, {0.0001, 0.6, 0.3999}}), 3);
  ASSERT_FALSE(first.done);
  EXPECT_EQ(first.tokens, (std::vector<int64_t>{1, 2}));  // both from beam 0 (the other starts at -1e9)
  EXPECT_EQ(first.sources, (std::vector<int>{0, 0}));
  // Row 0 continues "a": EOS 0.3, a 0.35, b 0.35. Row 1 continues "b": EOS 0.9.
  auto second = beams.Advance(Rows({{0.3, 0.35, 0.35}, {0.9, 0.05, 0.05}}), 3);
  // EOS after b ranks first; then a+a (0.6 x 0.35) and a+b; EOS after a (0.18) ranks 4th: ignored.
  EXPECT_FALSE(second.done);  // one hypothesis of two
  EXPECT_EQ(second.sources, (std::vector<int>{0, 0}));
  // Rows "a a" and "a b": "a b EOS" (0.6 x 0.35 x 0.98) is the second hypothesis: the set is full.
  auto third = beams.Advance(Rows({{0.01, 0.01, 0.98}, {0.98, 0.01, 0.01}}), 3);
  EXPECT_TRUE(third.done);
  EXPECT_EQ(beams.Finish(), (std::vector<int64_t>{2, 0}));  // "b EOS": 0.36 beats 0.21
}

TEST(BeamSearch, AtMaxNewTokensTheLiveBeamsCompete) {
  GenerationParams p;
  p.num_beams = 2;
  p.eos_token_ids = {0};
  p.max_new_tokens = 1;
  BeamSearch beams(p, {5});
  beams.Advance(Rows({{0.01, 0.7, 0.29}, {0.01, 0.7, 0.29}}), 3);
  EXPECT_EQ(beams.Finish(), (std::vector<int64_t>{1}));
}

TEST(BeamSearch, LengthPenaltyFavoursLongerHypothesesWhenPositive) {
  // Two finished candidates: "EOS" at step 1 (0.5) and "a EOS" at step 2 (0.49 x 0.9). With
  // length_penalty 1 they score log(0.5)/1 = -0.69 and log(0.441)/2 = -0.41: the longer wins.
  GenerationParams p;
  p.num_beams = 2;
  p.eos_token_ids = {0};
  p.max_new_tokens = 3;
  p.length_penalty = 1.0;
  p.early_stopping = EarlyStopping::kTrue;
  BeamSearch beams(p, {5});
  auto s1 = beams.Advance(Rows({{0.5, 0.49, 0.01}, {0.5, 0.49, 0.01}}), 3);
  ASSERT_FALSE(s1.done);
  beams.Advance(Rows({{0.9, 0.05, 0.05}, {0.9, 0.05, 0.05}}), 3);
  EXPECT_EQ(beams.Finish(), (std::vector<int64_t>{1, 0}));
}

}  // namespace
}  // namespace sightline::generation
