#include "generation/logits_processing.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <limits>

#include "generation/generation_params.h"
#include "generation/splitmix64.h"

namespace sightline::generation {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(SplitMix64, MatchesThePublishedStream) {
  SplitMix64 r(0);
  EXPECT_EQ(r.Next(), 0xE220A8397B1DCDAFull);  // splitmix64 with seed 0, first output
  EXPECT_EQ(r.Next(), 0x6E789E6AA1B965F4ull);
  SplitMix64 u(42);
  for (int i = 0; i < 1000; ++i) {
    const double x = u.Uniform();
    ASSERT_GE(x, 0.0);
    ASSERT_LT(x, 1.0);
  }
}

TEST(LogitsProcessing, RepetitionPenaltyShrinksSeenScoresTowardsLessLikely) {
  GenerationParams p;
  p.repetition_penalty = 2.0;
  std::vector<double> s = {2, -2, 1, 4};
  const std::vector<int64_t> seq = {0, 1, 0, 99};  // repeats count once; out-of-vocab ids are ignored
  ApplyProcessors(s, seq, 1, p);
  EXPECT_EQ(s, (std::vector<double>{1, -4, 1, 4}));
}

TEST(LogitsProcessing, NoRepeatNgramBansWhatWouldRepeatAnNgram) {
  GenerationParams p;
  p.no_repeat_ngram_size = 3;
  std::vector<double> s(6, 0.0);
  ApplyProcessors(s, std::vector<int64_t>{5, 1, 2, 5, 1}, 1, p);  // "5 1" was followed by 2
  EXPECT_EQ(s[2], -kInf);
  for (int i : {0, 1, 3, 4, 5}) EXPECT_EQ(s[i], 0.0) << i;
  std::vector<double> short_seq(6, 0.0);
  ApplyProcessors(short_seq, std::vector<int64_t>{5}, 1, p);  // too short for any 3-gram
  EXPECT_EQ(short_seq, std::vector<double>(6, 0.0));
}

TEST(LogitsProcessing, MinNewTokensForbidsEosUntilEnoughFollowThePrompt) {
  GenerationParams p;
  p.min_new_tokens = 2;
  p.eos_token_ids = {0, 3};
  std::vector<double> s(4, 1.0);
  ApplyProcessors(s, std::vector<int64_t>{7, 7, 8}, 2, p);  // one new token after a 2-id prompt
  EXPECT_EQ(s[0], -kInf);
  EXPECT_EQ(s[3], -kInf);
  std::vector<double> later(4, 1.0);
  ApplyProcessors(later, std::vector<int64_t>{7, 7, 8, 9}, 2, p);
  EXPECT_EQ(later[0], 1.0);
}

TEST(LogitsProcessing, TopKKeepsTiesWithTheKthAndTopPKeepsTheMostLikely) {
  GenerationParams p;
  p.top_k = 2;
  std::vector<double> s = {1, 3, 2, 3, 0};
  ApplyWarpers(s, p);
  EXPECT_EQ(s, (std::vector<double>{-kInf, 3, -kInf, 3, -kInf}));
  GenerationParams q;
  q.top_p = 0.01;  // smaller than any probability: only the most likely survives
  std::vector<double> t = {0, 1, 5, 2};
  ApplyWarpers(t, q);
  EXPECT_EQ(t, (std::vector<double>{-kInf, -kInf, 5, -kInf}));
  GenerationParams r;
  r.top_p = 0.85;  // softmax(0, 0, log 8) = 0.1, 0.1, 0.8: 0.1 <= 0.15 goes, 0.1 + 0.1 > 0.15 stays
  std::vector<double> u = {0, 0, std::log(8.0)};
  ApplyWarpers(u, r);
  EXPECT_EQ(u[0], -kInf);
  EXPECT_EQ(u[1], 0.0);
}

TEST(LogitsProcessing, TemperatureDivides) {
  GenerationParams p;
  p.temperature = 0.5;
  std::vector<double> s = {1, -2};
  ApplyWarpers(s, p);
  EXPECT_EQ(s, (std::vector<double>{2, -4}));
}

TEST(LogitsProcessing, ArgmaxTakesTheLowestIdOnTies) {
  EXPECT_EQ(Argmax(std::vector<double>{1, 5, 5, 2}), 1);
}

TEST(LogitsProcessing, DrawsFollowTheDistributionAndASeedRepeatsThem) {
  const std::vector<double> s = {std::log(0.7), std::log(0.2), std::log(0.1), -kInf};
  SplitMix64 a(9), b(9);
  std::vector<int> counts(4);
  for (int i = 0; i < 20000; ++i) {
    const int64_t x = Draw(s, a);
    ASSERT_EQ(x, Draw(s, b));
    ++counts[static_cast<size_t>(x)];
  }
  EXPECT_NEAR(counts[0] / 20000.0, 0.7, 0.02);
  EXPECT_NEAR(counts[1] / 20000.0, 0.2, 0.02);
  EXPECT_NEAR(counts[2] / 20000.0, 0.1, 0.02);
  EXPECT_EQ(counts[3], 0);  // -inf is never drawn
}

TEST(LogitsProcessing, LogSoftmaxNormalises) {
  std::vector<double> s = {1, 2, 3};
  LogSoftmax(s);
  double total = 0;
  for (double x : s) total += std::exp(x);
  EXPECT_NEAR(total, 1.0, 1e-12);
}

TEST(GenerationParams, EveryBadValueNamesItsField) {
  auto bad = [](auto edit) {
    GenerationParams p;
    edit(p);
    return p.Validate(512).message();
  };
  EXPECT_NE(bad([](auto& p) { p.max_new_tokens = 0; }).find("max_new_tokens"), std::string::npos);
  EXPECT_NE(bad([](auto& p) { p.max_new_tokens = 513; }).find("max_new_tokens"), std::string::npos);
  EXPECT_NE(bad([](auto& p) { p.min_new_tokens = 100; }).find("min_new_tokens"), std::string::npos);
  EXPECT_NE(bad([](auto& p) { p.temperature = 0; }).find("temperature"), std::string::npos);
  EXPECT_NE(bad([](auto& p) { p.temperature = NAN; }).find("temperature"), std::string::npos);
  EXPECT_NE(bad([](auto& p) { p.top_p = 1.5; }).find("top_p"), std::string::npos);
  EXPECT_NE(bad([](auto& p) { p.top_p = 0; }).find("top_p"), std::string::npos);
  EXPECT_NE(bad([](auto& p) { p.top_k = -1; }).find("top_k"), std::string::npos);
  EXPECT_NE(bad([](auto& p) { p.repetition_penalty = 0; }).find("repetition_penalty"), std::string::npos);
  EXPECT_NE(bad([](auto& p) { p.num_beams = 0; }).find("num_beams"), std::string::npos);
  EXPECT_NE(bad([](auto& p) {
              p.num_beams = 2;
              p.do_sample = true;
            }).find("num_beams"),
            std::string::npos);
  EXPECT_NE(bad([](auto& p) { p.stop = {""}; }).find("stop"), std::string::npos);
  EXPECT_TRUE(GenerationParams{}.Validate(512).ok());
}

TEST(GenerationParams, GenerationConfigSetsTheModelsDefaults) {
  auto p = ParamsFromGenerationConfig(
      boost::json::parse(
          R"({"eos_token_id": [2, 7], "max_length": 16, "num_beams": 4, "early_stopping": "never",
                              "repetition_penalty": 1.2, "do_sample": false, "unknown_key": {}})"),
      GenerationParams{});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->eos_token_ids, (std::vector<int64_t>{2, 7}));
  EXPECT_EQ(p->max_new_tokens, 16);
  EXPECT_EQ(p->num_beams, 4);
  EXPECT_EQ(p->early_stopping, EarlyStopping::kNever);
  EXPECT_DOUBLE_EQ(p->repetition_penalty, 1.2);
  auto single =
      ParamsFromGenerationConfig(boost::json::parse(R"({"eos_token_id": 50256})"), GenerationParams{});
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->eos_token_ids, (std::vector<int64_t>{50256}));
  EXPECT_EQ(single->max_new_tokens, GenerationParams{}.max_new_tokens);  // no silent 20-token default
  EXPECT_FALSE(
      ParamsFromGenerationConfig(boost::json::parse(R"({"num_beams": "four"})"), GenerationParams{}).ok());
  EXPECT_FALSE(
      ParamsFromGenerationConfig(boost::json::parse(R"({"early_stopping": 3})"), GenerationParams{}).ok());
  EXPECT_FALSE(ParamsFromGenerationConfig(boost::json::parse(R"([])"), GenerationParams{}).ok());
}

}  // namespace
}  // namespace sightline::generation
