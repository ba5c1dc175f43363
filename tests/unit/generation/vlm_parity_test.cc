// The C++ generation engine against the Python reference loop (scripts/reference_generate.py),
// token for token, on the decoder-only vision-language fixture (scripts/gen_vlm_fixture.py,
// FastVLM's layout): the image's features at the prompt's image tokens, then greedy, seeded
// sampling, repetition penalty, no-repeat n-grams, min_new_tokens and beam search, with two EOS ids.
#include <gtest/gtest.h>

#include "captioner_fixture.h"
#include "generation/decoder_graphs.h"
#include "generation/generate_one.h"
#include "generation/reference_cases.h"
#include "generation/tensor_rows.h"
#include "runtime/onnxruntime/ort_backend.h"

namespace sightline::generation {
namespace {

namespace json = boost::json;

class VlmParity : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(VlmDir() / "refs.json")) << "run scripts/gen_vlm_fixture.py";
    auto factory = runtime::CreateOrtBackendFactory("test");
    ASSERT_TRUE(factory.ok());
    factory_ = std::move(factory).value();
    refs_ = ReadRefs(VlmDir());
    encoder_ = Load("vision_encoder.onnx");
    graphs_.embed_tokens = Load("embed_tokens.onnx");
    graphs_.merged = Load("decoder_model_merged.onnx");
    graphs_.image_token_id = refs_.at("image_token_id").to_number<int64_t>();
    ASSERT_TRUE(encoder_ && graphs_.embed_tokens && graphs_.merged);
  }

  std::unique_ptr<runtime::Backend> Load(const char* file) {
    auto b = factory_->Load(VlmDir() / "onnx" / file, {});
    EXPECT_TRUE(b.ok()) << file << ": " << b.status().ToString();
    return b.ok() ? std::move(b).value() : nullptr;
  }

  Tensor Features(int64_t image) {
    Tensor px = VlmPixels(image);
    auto out = encoder_->Run({&px});
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return out.ok() ? std::move(out->front()) : Tensor{};
  }

  // Every reference case through `graphs_`; the number checked and how many ended on EOS.
  void CheckEveryCase() {
    auto stepper = graphs_.OpenStepper();
    ASSERT_TRUE(stepper.ok()) << stepper.status().ToString();
    const auto eos = Ids(refs_.at("eos_ids"));
    ASSERT_EQ(eos.size(), 2u);
    std::map<int64_t, Tensor> features;
    int checked = 0, ended_on_eos = 0;
    for (const auto& c : refs_.at("cases").as_array()) {
      const int64_t image = c.at("image").to_number<int64_t>();
      if (!features.count(image)) features[image] = Features(image);
      const auto prompt = Ids(refs_.at("prompts").at(c.at("prompt").to_number<size_t>()).at("expanded"));
      const auto& p = c.at("params").as_object();
      const uint64_t seed = p.contains("seed") ? p.at("seed").to_number<uint64_t>() : 0;
      auto ids = GenerateOne(**stepper, features[image], prompt, ParamsOf(p, eos), seed);
      ASSERT_TRUE(ids.ok()) << ids.status().ToString();
      const auto expected = Ids(c.at("ids"));
      EXPECT_EQ(*ids, expected) << c.at("name").as_string() << " on image " << image << ", prompt "
                                << c.at("prompt").to_number<int>();
      if (!expected.empty() && (expected.back() == eos[0] || expected.back() == eos[1])) ++ended_on_eos;
      ++checked;
    }
    EXPECT_EQ(checked, 54);
    EXPECT_GE(ended_on_eos, 5) << "the fixture should end some answers on EOS";
  }

  std::unique_ptr<runtime::BackendFactory> factory_;
  json::value refs_;
  std::unique_ptr<runtime::Backend> encoder_;
  DecoderGraphs graphs_;
};

TEST_F(VlmParity, EveryStrategyMatchesTheReferenceLoopTokenForToken) {
  CheckEveryCase();
}

// The server loads the decoder rewritten so its LM head runs on the last position only
// (runtime/last_position_logits.h); the reference loop runs the export as it is. Same tokens.
TEST_F(VlmParity, TheDecoderComputingLastPositionLogitsOnlyAnswersTheSame) {
  runtime::BackendOptions o;
  o.last_position_outputs = {"logits"};
  auto b = factory_->Load(VlmDir() / "onnx" / "decoder_model_merged.onnx", o);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ((*b)->last_position_outputs(), std::vector<std::string>{"logits"});
  graphs_.merged = std::move(b).value();
  CheckEveryCase();
}

// The image matters: the same prompt on different images does not always give the same answer.
TEST_F(VlmParity, TheImageFeaturesReachTheAnswer) {
  std::set<std::vector<int64_t>> answers;
  for (const auto& c : refs_.at("cases").as_array())
    if (c.at("name").as_string() == "greedy" && c.at("prompt").to_number<int>() == 0)
      answers.insert(Ids(c.at("ids")));
  EXPECT_GE(answers.size(), 2u);
}

std::vector<int64_t> RefIds(const json::value& refs, const char* name, int image, int prompt) {
  for (const auto& c : refs.at("cases").as_array())
    if (c.at("name").as_string() == name && c.at("image").to_number<int>() == image &&
        c.at("prompt").to_number<int>() == prompt)
      return Ids(c.at("ids"));
  return {};
}

int64_t Argmax(std::span<const float> logits) {
  return std::max_element(logits.begin(), logits.end()) - logits.begin();
}

// Absorb: rows at different positions share runs (left-padded, masked) and keep their own ids;
// when the longest row leaves, the padding the others share is cut from the cache.
TEST_F(VlmParity, AbsorbedRowsKeepTheirIdsAndSharedPaddingIsCutWhenTheLongestLeaves) {
  auto a = graphs_.OpenStepper();
  auto b = graphs_.OpenStepper();
  ASSERT_TRUE(a.ok() && b.ok());
  const auto p0 = Ids(refs_.at("prompts").at(0).at("expanded"));
  const auto p1 = Ids(refs_.at("prompts").at(1).at("expanded"));
  ASSERT_GT(p1.size(), p0.size() + 10);
  const auto long_ref = RefIds(refs_, "greedy_long", 0, 1), short_ref = RefIds(refs_, "greedy_long", 1, 0);
  ASSERT_GE(long_ref.size(), 2u);
  ASSERT_GE(short_ref.size(), 3u);
  ASSERT_TRUE((*a)->Start(Features(0), PromptRows({&p1}, 1)).ok());
  ASSERT_TRUE((*b)->Start(Features(1), PromptRows({&p0}, 1)).ok());
  EXPECT_EQ(Argmax((*a)->Logits(0)), long_ref[0]);
  EXPECT_EQ(Argmax((*b)->Logits(0)), short_ref[0]);
  ASSERT_TRUE((*a)->Absorb(**b).ok());
  ASSERT_EQ((*a)->rows(), 2u);
  EXPECT_EQ((*a)->past_length(), static_cast<int64_t>(p1.size()));
  ASSERT_TRUE((*a)->Next({long_ref[0], short_ref[0]}).ok());
  EXPECT_EQ(Argmax((*a)->Logits(0)), long_ref[1]);
  EXPECT_EQ(Argmax((*a)->Logits(1)), short_ref[1]);
  ASSERT_TRUE((*a)->Next({short_ref[1]}, {1}).ok());  // the long row leaves
  EXPECT_EQ((*a)->past_length(), static_cast<int64_t>(p0.size()) + 2) << "its padding is gone";
  EXPECT_EQ(Argmax((*a)->Logits(0)), short_ref[2]);
}

TEST_F(VlmParity, APromptWithoutOneImageTokenPerFeatureIsRefused) {
  auto stepper = graphs_.OpenStepper();
  ASSERT_TRUE(stepper.ok());
  const Tensor f = Features(0);
  auto prompt = Ids(refs_.at("prompts").at(0).at("ids"));  // one <image>, not expanded
  auto ids = GenerateOne(**stepper, f, prompt, ParamsOf(json::object{{"max_new_tokens", 4}}, {1}), 0);
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(ids.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(ids.status().message().find("image tokens"), std::string::npos) << ids.status().message();
}

TEST_F(VlmParity, AVisionLanguageDecoderWithoutEmbedTokensIsRefusedAtOpen) {
  DecoderGraphs broken;
  broken.merged = Load("decoder_model_merged.onnx");
  broken.embed_tokens = Load("vision_encoder.onnx");  // not input_ids -> inputs_embeds
  auto s = broken.OpenStepper();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("embed_tokens"), std::string::npos);
}

}  // namespace
}  // namespace sightline::generation

namespace sightline::generation {
namespace {

// fp16-I/O exports (transformers.js `_fp16`, `_q4f16`) are refused at load, saying which variants work.
TEST(KvCacheInput, OnlyFp32CachesOfFixedHeadsAreTaken) {
  EXPECT_TRUE(CheckKvCacheInput({"past_key_values.0.key", DataType::kFp32, {-1, 2, -1, 64}}).ok());
  auto fp16 = CheckKvCacheInput({"past_key_values.0.key", DataType::kFp16, {-1, 2, -1, 64}});
  EXPECT_EQ(fp16.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(fp16.message().find("is FP16; only fp32 KV caches are supported"), std::string::npos)
      << fp16.message();
  EXPECT_NE(fp16.message().find("_q4f16"), std::string::npos);
  EXPECT_FALSE(CheckKvCacheInput({"past_key_values.0.key", DataType::kFp32, {-1, -1, -1, 64}}).ok());
}

}  // namespace
}  // namespace sightline::generation
