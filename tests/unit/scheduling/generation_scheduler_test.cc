// Step-level batching on the real ONNX Runtime and the captioner fixture: every sequence's ids are
// the reference loop's (scripts/reference_generate.py, refs.json) however it was batched — in a
// group with others, joining while another was mid-way, leaving early — and the KV budget,
// cancellation, deadlines and drain behave as the header says. No sleeps: the tests act from the
// scheduler's own token callbacks (exact step boundaries) and wait on completions.
#include "scheduling/generation_scheduler.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <fstream>
#include <future>
#include <map>
#include <sstream>

#include "captioner_fixture.h"
#include "core/cancel_token.h"
#include "observability/metrics.h"
#include "observability/server_metrics.h"
#include "runtime/onnxruntime/ort_backend.h"

namespace sightline::scheduling {
namespace {

namespace json = boost::json;
using generation::GenerationParams;

std::filesystem::path Dir() {
  return ModelFixturesDir() / "captioner-tiny";
}

class GenerationSchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(Dir() / "refs.json")) << "run scripts/gen_captioner_fixture.py";
    auto f = runtime::CreateOrtBackendFactory("test");
    ASSERT_TRUE(f.ok());
    factory_ = std::move(f).value();
    auto enc = factory_->Load(Dir() / "onnx" / "encoder_model.onnx", {});
    ASSERT_TRUE(enc.ok()) << enc.status().ToString();
    std::ifstream in(Dir() / "refs.json");
    std::stringstream ss;
    ss << in.rdbuf();
    const json::value refs = json::parse(ss.str());
    eos_ = refs.at("eos_id").to_number<int64_t>();
    start_ = refs.at("start_id").to_number<int64_t>();
    for (const auto& c : refs.at("cases").as_array()) {
      std::vector<int64_t> ids;
      for (const auto& x : c.at("ids").as_array()) ids.push_back(x.to_number<int64_t>());
      refs_[{std::string(c.at("name").as_string()), c.at("image").to_number<int>()}] = ids;
    }
    for (int k = 0; k < 4; ++k) {
      Tensor t = CaptionerPixels(k);
      auto out = (*enc)->Run({&t});
      ASSERT_TRUE(out.ok());
      states_.push_back(std::move(out->front()));
    }
  }

  std::unique_ptr<GenerationScheduler> Make(GenerationOptions o = {}) {
    o.model = "captioner-tiny";
    auto dec = factory_->Load(Dir() / "onnx" / "decoder_model_merged.onnx", {});
    EXPECT_TRUE(dec.ok()) << dec.status().ToString();
    metrics_ = std::make_unique<observability::ServerMetrics>(registry_);
    generation::DecoderGraphs graphs;
    graphs.merged = std::move(dec).value();
    auto s = GenerationScheduler::Create(o, std::move(graphs), metrics_->ForGeneration("captioner-tiny"));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  GenerationParams Greedy(int max_new_tokens) const {
    GenerationParams p;
    p.max_new_tokens = max_new_tokens;
    p.eos_token_ids = {eos_};
    return p;
  }

  // A sequence whose outcome lands in the returned future.
  GenerationSequence Seq(int image, GenerationParams p, std::promise<Result<GenerationOutcome>>& out) {
    GenerationSequence s;
    s.image_states = states_[static_cast<size_t>(image)];
    s.prompt = {start_};
    s.params = std::move(p);
    s.done = [&out](Result<GenerationOutcome> r) { out.set_value(std::move(r)); };
    return s;
  }

  std::vector<int64_t> Ref(const std::string& name, int image) const { return refs_.at({name, image}); }
  // The value of `name{model="captioner-tiny"}` in the exposition, or -1 when absent.
  double Metric(const std::string& name) const {
    const std::string text = registry_.Render();
    const std::string key = name + "{model=\"captioner-tiny\"} ";
    const size_t at = text.find(key);
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + key.size()));
  }

  std::unique_ptr<runtime::BackendFactory> factory_;
  observability::MetricsRegistry registry_;
  std::unique_ptr<observability::ServerMetrics> metrics_;
  std::vector<Tensor> states_;
  std::map<std::pair<std::string, int>, std::vector<int64_t>> refs_;
  int64_t eos_ = 0, start_ = 0;
};

TEST_F(GenerationSchedulerTest, ABatchOfSequencesDecodesEachAsItWouldAlone) {
  auto sched = Make();
  std::promise<Result<GenerationOutcome>> out[6];
  std::vector<GenerationSequence> batch;
  for (int k = 0; k < 4; ++k) batch.push_back(Seq(k, Greedy(40), out[k]));
  GenerationParams sample = Greedy(12);  // the fixture's "sample" case, in the same group
  sample.do_sample = true;
  sample.temperature = 0.8;
  sample.top_k = 50;
  sample.top_p = 0.9;
  batch.push_back(Seq(2, sample, out[4]));
  batch.back().seed = 7;
  GenerationParams beam = Greedy(10);  // and a beam search beside them
  beam.num_beams = 3;
  beam.early_stopping = generation::EarlyStopping::kTrue;
  batch.push_back(Seq(1, beam, out[5]));
  ASSERT_TRUE(sched->Submit(std::move(batch)).ok());
  for (int k = 0; k < 4; ++k) {
    auto r = out[k].get_future().get();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->ids, Ref("greedy_long", k)) << "image " << k;
    EXPECT_EQ(r->reason, r->ids.back() == eos_ ? FinishReason::kEos : FinishReason::kLength);
    EXPECT_EQ(r->prompt_tokens, 1u);
  }
  auto s = out[4].get_future().get();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->ids, Ref("sample", 2));
  auto b = out[5].get_future().get();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->ids, Ref("beam", 1));
  // The five greedy/sampled rows ran as one group, the beams as another: at most 40 + 10 runs,
  // several rows each on average (one at a time would be 65 runs of one row).
  EXPECT_LE(Metric("sightline_generation_steps_total"), 50);
  EXPECT_GT(Metric("sightline_generation_step_rows_sum") / Metric("sightline_generation_step_rows_count"),
            2.0);
}

TEST_F(GenerationSchedulerTest, SequencesSubmittedApartButTogetherShareAGroup) {
  // Two submissions in a row (as a request's images arrive from the encoder) within the admission
  // window: one group, so every step runs both rows at once.
  GenerationOptions o;
  o.admission_window = std::chrono::milliseconds(300);
  auto sched = Make(o);
  std::promise<Result<GenerationOutcome>> out[2];
  for (int k = 0; k < 2; ++k) {
    std::vector<GenerationSequence> one;
    one.push_back(Seq(k == 0 ? 1 : 2, Greedy(40), out[k]));
    ASSERT_TRUE(sched->Submit(std::move(one)).ok());
  }
  auto a = out[0].get_future().get();
  auto b = out[1].get_future().get();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->ids, Ref("greedy_long", 1));
  EXPECT_EQ(b->ids, Ref("greedy_long", 2));
  // One group: as many runs as the longer sequence has tokens, not the two together.
  EXPECT_EQ(Metric("sightline_generation_steps_total"),
            static_cast<double>(std::max(a->ids.size(), b->ids.size())));
}

TEST_F(GenerationSchedulerTest, ASequenceJoiningMidwayGetsTheSameTokens) {
  auto sched = Make();
  std::promise<Result<GenerationOutcome>> long_out, joiner_out;
  std::atomic<int> long_tokens{0}, tokens_when_joiner_started{-1};
  GenerationSequence joiner = Seq(0, Greedy(40), joiner_out);
  joiner.on_token = [&](int64_t) {
    int expected = -1;
    tokens_when_joiner_started.compare_exchange_strong(expected, long_tokens.load());
  };
  auto pending_joiner = std::make_shared<GenerationSequence>(std::move(joiner));
  GenerationSequence first = Seq(1, Greedy(40), long_out);
  first.on_token = [&, pending_joiner](int64_t) {
    // On the scheduler thread, at the long sequence's third token: the joiner arrives mid-way.
    if (++long_tokens == 3) {
      std::vector<GenerationSequence> joining;
      joining.push_back(std::move(*pending_joiner));
      EXPECT_TRUE(sched->Submit(std::move(joining)).ok());
    }
  };
  std::vector<GenerationSequence> one;
  one.push_back(std::move(first));
  ASSERT_TRUE(sched->Submit(std::move(one)).ok());
  auto a = long_out.get_future().get();
  auto b = joiner_out.get_future().get();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->ids, Ref("greedy_long", 1));
  EXPECT_EQ(b->ids, Ref("greedy_long", 0));
  EXPECT_GE(tokens_when_joiner_started.load(), 3);
  EXPECT_LT(tokens_when_joiner_started.load(), static_cast<int>(a->ids.size()))
      << "it joined while the other ran";
}

TEST_F(GenerationSchedulerTest, SequencesOfDifferentLengthsFinishIndependently) {
  auto sched = Make();
  std::mutex mu;
  std::vector<int> finished;  // max_new_tokens, in finishing order
  std::promise<Result<GenerationOutcome>> out[3];
  const int lengths[3] = {2, 30, 5};
  std::vector<GenerationSequence> batch;
  for (int k = 0; k < 3; ++k) {
    batch.push_back(Seq(1, Greedy(lengths[k]), out[k]));  // image 1 runs 24 tokens before EOS
    batch.back().done = [&, k](Result<GenerationOutcome> r) {
      {
        std::lock_guard lock(mu);
        finished.push_back(lengths[k]);
      }
      out[k].set_value(std::move(r));
    };
  }
  ASSERT_TRUE(sched->Submit(std::move(batch)).ok());
  const auto full = Ref("greedy_long", 1);
  for (int k = 0; k < 3; ++k) {
    auto r = out[k].get_future().get();
    ASSERT_TRUE(r.ok());
    const size_t n = std::min(full.size(), static_cast<size_t>(lengths[k]));
    EXPECT_EQ(r->ids, std::vector<int64_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)));
  }
  EXPECT_EQ(finished, (std::vector<int>{2, 5, 30}));
}

TEST_F(GenerationSchedulerTest, TheKvBudgetQueuesWhatDoesNotFitAndRefusesWhatNeverWill) {
  GenerationOptions o;
  auto probe = Make(o);
  const size_t per_position = probe->kv_bytes_per_position();
  probe.reset();
  o.kv_budget_bytes = per_position * (1 + 40) + per_position / 2;  // one 40-token sequence, not two
  auto sched = Make(o);
  std::promise<Result<GenerationOutcome>> out[2];
  std::atomic<long> waiting_while_first_ran{-1};
  std::vector<GenerationSequence> two;
  two.push_back(Seq(0, Greedy(40), out[0]));
  two.back().on_token = [&](int64_t) {
    long expected = -1;
    waiting_while_first_ran.compare_exchange_strong(expected, static_cast<long>(sched->queued()));
  };
  two.push_back(Seq(3, Greedy(40), out[1]));
  ASSERT_TRUE(sched->Submit(std::move(two)).ok());
  auto a = out[0].get_future().get();
  auto b = out[1].get_future().get();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(waiting_while_first_ran.load(), 1) << "the second waits for the first's cache";
  EXPECT_EQ(a->ids, Ref("greedy_long", 0));
  EXPECT_EQ(b->ids, Ref("greedy_long", 3));
  EXPECT_GT(b->queue_seconds, 0.0);

  std::promise<Result<GenerationOutcome>> never;
  std::vector<GenerationSequence> big;
  big.push_back(Seq(0, Greedy(100), never));
  const Status refused = sched->Submit(std::move(big));
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("max_new_tokens"), std::string::npos) << refused.message();
}

TEST_F(GenerationSchedulerTest, AFullWaitingLineIsOverloadWithAnHonestRetryAfter) {
  GenerationOptions o;
  o.max_waiting = 2;
  auto sched = Make(o);
  std::promise<Result<GenerationOutcome>> out[3];
  std::vector<GenerationSequence> three;
  for (int k = 0; k < 3; ++k) three.push_back(Seq(k, Greedy(5), out[k]));
  const Status s = sched->Submit(std::move(three));
  EXPECT_EQ(s.code(), StatusCode::kOverloaded);
  EXPECT_EQ(s.kind(), ErrorKind::kQueueFull);
  ASSERT_TRUE(s.retry_after_sec().has_value());
  EXPECT_GT(*s.retry_after_sec(), 0.0);
}

TEST_F(GenerationSchedulerTest, CancellationEndsASequenceAtTheNextStepAndFreesItsCache) {
  auto sched = Make();
  auto ctx = std::make_shared<RequestContext>();
  ctx->cancel = std::make_shared<CancelToken>();
  std::promise<Result<GenerationOutcome>> out;
  GenerationSequence s = Seq(1, Greedy(40), out);
  s.context = ctx;
  std::atomic<int> tokens{0};
  s.on_token = [&](int64_t) {
    if (++tokens == 2) {
      ctx->cancel->Cancel();  // the client hangs up mid-generation
      sched->NotifyCancelled();
    }
  };
  std::vector<GenerationSequence> one;
  one.push_back(std::move(s));
  ASSERT_TRUE(sched->Submit(std::move(one)).ok());
  auto r = out.get_future().get();
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
  EXPECT_EQ(tokens.load(), 2) << "no step after the one that saw the hang-up";
  // The gauges are published at the end of that step boundary: wait for them, not for time.
  sched->Drain(std::chrono::steady_clock::now() + std::chrono::seconds(30));
  EXPECT_EQ(Metric("sightline_generation_kv_cache_bytes"), 0);
  EXPECT_EQ(Metric("sightline_generation_active_sequences"), 0);
  EXPECT_EQ(Metric("sightline_generation_kv_cache_reserved_bytes"), 0);
  const std::string text = registry_.Render();
  EXPECT_NE(
      text.find("sightline_generation_sequences_total{model=\"captioner-tiny\",reason=\"cancelled\"} 1"),
      std::string::npos);
}

TEST_F(GenerationSchedulerTest, AnExpiredDeadlineEndsTheSequence) {
  auto sched = Make();
  auto ctx = std::make_shared<RequestContext>();
  ctx->deadline = RequestContext::Clock::now() - std::chrono::milliseconds(1);
  std::promise<Result<GenerationOutcome>> out;
  GenerationSequence s = Seq(0, Greedy(40), out);
  s.context = ctx;
  std::vector<GenerationSequence> one;
  one.push_back(std::move(s));
  ASSERT_TRUE(sched->Submit(std::move(one)).ok());
  EXPECT_EQ(out.get_future().get().status().code(), StatusCode::kDeadlineExceeded);
}

TEST_F(GenerationSchedulerTest, DrainAnswersEverySequenceAndThenRefuses) {
  auto sched = Make();
  std::promise<Result<GenerationOutcome>> out[3];
  std::vector<GenerationSequence> batch;
  for (int k = 0; k < 3; ++k) batch.push_back(Seq(k, Greedy(40), out[k]));
  ASSERT_TRUE(sched->Submit(std::move(batch)).ok());
  sched->Drain(std::chrono::steady_clock::now());  // no time at all: what is left is answered 503
  for (auto& o : out) {
    auto r = o.get_future().get();
    EXPECT_TRUE(r.ok() || r.status().code() == StatusCode::kUnavailable) << r.status().ToString();
  }
  std::promise<Result<GenerationOutcome>> late;
  std::vector<GenerationSequence> more;
  more.push_back(Seq(0, Greedy(4), late));
  EXPECT_EQ(sched->Submit(std::move(more)).code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace sightline::scheduling
