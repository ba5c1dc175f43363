// The C++ generation engine against the Python reference loop (scripts/reference_generate.py),
// token for token, on the captioner fixture (scripts/gen_captioner_fixture.py): greedy, sampled
// with a seed, repetition penalty, no-repeat n-grams, min_new_tokens and beam search, on the merged
// decoder and on the split decoder_model + decoder_with_past_model pair.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "captioner_fixture.h"
#include "generation/encoder_decoder_stepper.h"
#include "generation/generate_one.h"
#include "generation/reference_cases.h"
#include "runtime/onnxruntime/ort_backend.h"

namespace sightline::generation {
namespace {

namespace json = boost::json;

std::filesystem::path Dir() {
  return ModelFixturesDir() / "captioner-tiny";
}

class CaptionerParity : public ::testing::TestWithParam<bool> {};  // merged decoder or split pair

TEST_P(CaptionerParity, EveryStrategyMatchesTheReferenceLoopTokenForToken) {
  ASSERT_TRUE(std::filesystem::exists(Dir() / "refs.json")) << "run scripts/gen_captioner_fixture.py";
  const bool merged = GetParam();
  auto factory = runtime::CreateOrtBackendFactory("test");
  ASSERT_TRUE(factory.ok());
  auto load = [&](const char* file) {
    auto b = (*factory)->Load(Dir() / "onnx" / file, {});
    EXPECT_TRUE(b.ok()) << file << ": " << b.status().ToString();
    return b.ok() ? std::move(b).value() : nullptr;
  };
  auto encoder = load("encoder_model.onnx");
  std::unique_ptr<runtime::Backend> dec, first, with_past;
  if (merged) {
    dec = load("decoder_model_merged.onnx");
  } else {
    first = load("decoder_model.onnx");
    with_past = load("decoder_with_past_model.onnx");
  }
  ASSERT_TRUE(encoder && (dec || (first && with_past)));
  auto stepper = EncoderDecoderStepper::Open(dec.get(), first.get(), with_past.get());
  ASSERT_TRUE(stepper.ok()) << stepper.status().ToString();

  const json::value refs = ReadRefs(Dir());
  const int64_t eos = refs.at("eos_id").to_number<int64_t>();
  const std::vector<int64_t> prompt = {refs.at("start_id").to_number<int64_t>()};
  std::map<int64_t, Tensor> states;
  int checked = 0, ended_on_eos = 0;
  for (const auto& c : refs.at("cases").as_array()) {
    const int64_t image = c.at("image").to_number<int64_t>();
    if (!states.count(image)) {
      Tensor px = CaptionerPixels(image);
      auto out = encoder->Run({&px});
      ASSERT_TRUE(out.ok()) << out.status().ToString();
      states[image] = std::move(out->front());
    }
    const auto& p = c.at("params").as_object();
    const GenerationParams params = ParamsOf(p, {eos});
    const uint64_t seed = p.contains("seed") ? p.at("seed").to_number<uint64_t>() : 0;
    auto ids = GenerateOne(**stepper, states[image], prompt, params, seed);
    ASSERT_TRUE(ids.ok()) << ids.status().ToString();
    const auto expected = Ids(c.at("ids"));
    EXPECT_EQ(*ids, expected) << c.at("name").as_string() << " on image " << image;
    if (!expected.empty() && expected.back() == eos) ++ended_on_eos;
    ++checked;
  }
  EXPECT_GE(checked, 36);
  EXPECT_GE(ended_on_eos, 10) << "the fixture should end many captions on EOS";
}

INSTANTIATE_TEST_SUITE_P(Layouts, CaptionerParity, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Merged" : "Split"; });

}  // namespace
}  // namespace sightline::generation
