// Continuous batching across positions on the vision-language fixture (scripts/gen_vlm_fixture.py):
// sequences with prompts of different lengths, arriving while others are mid-way, are folded into
// the running group (left-padded, masked) and still produce the reference loop's ids exactly.
// No sleeps: arrivals are triggered from the scheduler's own token callbacks.
#include <gtest/gtest.h>

#include <future>
#include <map>

#include "captioner_fixture.h"
#include "generation/reference_cases.h"
#include "observability/metrics.h"
#include "observability/server_metrics.h"
#include "runtime/onnxruntime/ort_backend.h"
#include "scheduling/generation_scheduler.h"

namespace sightline::scheduling {
namespace {

namespace json = boost::json;

class VlmSchedulingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(VlmDir() / "refs.json")) << "run scripts/gen_vlm_fixture.py";
    auto f = runtime::CreateOrtBackendFactory("test");
    ASSERT_TRUE(f.ok());
    factory_ = std::move(f).value();
    refs_ = generation::ReadRefs(VlmDir());
    auto enc = factory_->Load(VlmDir() / "onnx" / "vision_encoder.onnx", {});
    ASSERT_TRUE(enc.ok());
    for (int k = 0; k < 3; ++k) {
      Tensor px = VlmPixels(k);
      auto out = (*enc)->Run({&px});
      ASSERT_TRUE(out.ok());
      features_.push_back(std::move(out->front()));
    }
    for (const auto& p : refs_.at("prompts").as_array())
      prompts_.push_back(generation::Ids(p.at("expanded")));
    eos_ = generation::Ids(refs_.at("eos_ids"));
  }

  std::unique_ptr<GenerationScheduler> Make() {
    generation::DecoderGraphs g;
    auto embed = factory_->Load(VlmDir() / "onnx" / "embed_tokens.onnx", {});
    auto dec = factory_->Load(VlmDir() / "onnx" / "decoder_model_merged.onnx", {});
    EXPECT_TRUE(embed.ok() && dec.ok());
    g.embed_tokens = std::move(embed).value();
    g.merged = std::move(dec).value();
    g.image_token_id = refs_.at("image_token_id").to_number<int64_t>();
    metrics_ = std::make_unique<observability::ServerMetrics>(registry_);
    GenerationOptions o;
    o.model = "vlm-tiny";
    auto s = GenerationScheduler::Create(o, std::move(g), metrics_->ForGeneration("vlm-tiny"));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  GenerationSequence Seq(int image, int prompt, int max_new_tokens,
                         std::promise<Result<GenerationOutcome>>& out) {
    GenerationSequence s;
    s.image_states = features_[static_cast<size_t>(image)];
    s.prompt = prompts_[static_cast<size_t>(prompt)];
    s.params = generation::ParamsOf(json::object{{"max_new_tokens", max_new_tokens}}, eos_);
    s.done = [&out](Result<GenerationOutcome> r) { out.set_value(std::move(r)); };
    return s;
  }

  std::vector<int64_t> Ref(const std::string& name, int image, int prompt) const {
    for (const auto& c : refs_.at("cases").as_array())
      if (c.at("name").as_string() == name && c.at("image").to_number<int>() == image &&
          c.at("prompt").to_number<int>() == prompt)
        return generation::Ids(c.at("ids"));
    ADD_FAILURE() << "no reference " << name;
    return {};
  }

  double Metric(const std::string& name) const {
    const std::string text = registry_.Render();
    const std::string key = name + "{model=\"vlm-tiny\"} ";
    const size_t at = text.find(key);
    return at == std::string::npos ? -1 : std::stod(text.substr(at + key.size()));
  }

  std::unique_ptr<runtime::BackendFactory> factory_;
  observability::MetricsRegistry registry_;
  std::unique_ptr<observability::ServerMetrics> metrics_;
  json::value refs_;
  std::vector<Tensor> features_;
  std::vector<std::vector<int64_t>> prompts_;
  std::vector<int64_t> eos_;
};

TEST_F(VlmSchedulingTest, SequencesOfAnyLengthJoiningMidwayShareOneRunAndMatchTheReference) {
  auto sched = Make();
  ASSERT_TRUE(sched);
  std::promise<Result<GenerationOutcome>> out[3];
  // The first (70-id prompt) runs 40 tokens; at its 3rd token a 101-id prompt joins, at its 6th a
  // third sequence: three different positions at every later step.
  auto second = std::make_shared<GenerationSequence>(Seq(1, 1, 40, out[1]));
  auto third = std::make_shared<GenerationSequence>(Seq(2, 0, 40, out[2]));
  GenerationSequence first = Seq(0, 0, 40, out[0]);
  std::atomic<int> tokens{0};
  first.on_token = [&, second, third](int64_t) {
    const int n = ++tokens;
    if (n == 3 || n == 6) {
      std::vector<GenerationSequence> join;
      join.push_back(std::move(n == 3 ? *second : *third));
      EXPECT_TRUE(sched->Submit(std::move(join)).ok());
    }
  };
  std::vector<GenerationSequence> one;
  one.push_back(std::move(first));
  ASSERT_TRUE(sched->Submit(std::move(one)).ok());
  std::vector<Result<GenerationOutcome>> r;
  for (auto& o : out) r.push_back(o.get_future().get());
  for (const auto& x : r) ASSERT_TRUE(x.ok()) << x.status().ToString();
  EXPECT_EQ(r[0]->ids, Ref("greedy_long", 0, 0));
  EXPECT_EQ(r[1]->ids, Ref("greedy_long", 1, 1));
  EXPECT_EQ(r[2]->ids, Ref("greedy_long", 2, 0));
  // Counted before the runs that follow each fold, so final once the outcomes are in.
  EXPECT_EQ(Metric("sightline_generation_group_merges_total"), 2);
  // Apart, the three would take one run per token each; folded together they share runs.
  const double tokens_total = static_cast<double>(r[0]->ids.size() + r[1]->ids.size() + r[2]->ids.size());
  EXPECT_LT(Metric("sightline_generation_steps_total"), tokens_total - 20);
}

TEST_F(VlmSchedulingTest, ARowLeavingAFoldedGroupLeavesTheOthersExact) {
  auto sched = Make();
  ASSERT_TRUE(sched);
  std::promise<Result<GenerationOutcome>> out[3];
  auto late = std::make_shared<GenerationSequence>(Seq(1, 0, 40, out[2]));
  GenerationSequence a = Seq(2, 1, 3, out[0]);  // leaves after 3 tokens, right after the fold
  GenerationSequence b = Seq(0, 0, 40, out[1]);
  std::atomic<int> tokens{0};
  b.on_token = [&, late](int64_t) {
    if (++tokens == 2) {
      std::vector<GenerationSequence> join;
      join.push_back(std::move(*late));
      EXPECT_TRUE(sched->Submit(std::move(join)).ok());
    }
  };
  std::vector<GenerationSequence> two;
  two.push_back(std::move(a));
  two.push_back(std::move(b));
  ASSERT_TRUE(sched->Submit(std::move(two)).ok());
  std::vector<Result<GenerationOutcome>> r;
  for (auto& o : out) r.push_back(o.get_future().get());
  for (const auto& x : r) ASSERT_TRUE(x.ok()) << x.status().ToString();
  const auto a_ref = Ref("greedy_long", 2, 1);
  EXPECT_EQ(r[0]->ids, std::vector<int64_t>(a_ref.begin(), a_ref.begin() + 3));
  EXPECT_EQ(r[1]->ids, Ref("greedy_long", 0, 0));
  EXPECT_EQ(r[2]->ids, Ref("greedy_long", 1, 0));
  EXPECT_GE(Metric("sightline_generation_group_merges_total"), 2);
  // The gauges are published at the end of the last step boundary: drain for them, not time.
  sched->Drain(std::chrono::steady_clock::now() + std::chrono::seconds(30));
  EXPECT_EQ(Metric("sightline_generation_kv_cache_bytes"), 0);
  EXPECT_EQ(Metric("sightline_generation_active_sequences"), 0);
}

}  // namespace
}  // namespace sightline::scheduling
