// The CLIP tasks with fake backends (no ONNX Runtime, no HTTP): a repository folder in the
// Hugging Face layout whose towers are scripted, loaded through the real ModelRegistry and
// ClipService. Proves that texts go to the text tower in chunks no larger than max_batch_size,
// never more than the queue holds (a queue of 4 takes 300 texts), row for row the same as one
// at a time; that a 300-label set embeds at start-up; and that completions run on the work pool,
// never on the batcher's threads.
#include <gtest/gtest.h>
#include <pthread.h>

#include "model_fixtures.h"

#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>

#include "observability/logger.h"
#include "observability/server_metrics.h"
#include "scheduling/model_registry.h"
#include "tasks/clip.h"
#include "tasks/task_config_blocks.h"

namespace sightline::tasks {
namespace {
namespace fs = std::filesystem;

std::string ThreadName() {
  char buf[32] = {};
  pthread_getname_np(pthread_self(), buf, sizeof buf);
  return buf;
}

// What the fake towers saw.
struct Record {
  std::mutex mu;
  std::vector<int64_t> text_batches;  // rows per text-tower run
  std::set<std::string> run_threads;
};

// Text tower: [rows, 77] ids -> [rows, 4] = (sum of ids, 1, first id, rows); vision tower:
// [rows, 3, 224, 224] -> [rows, 4] = (mean pixel, 1, 0, 0).
class FakeTower : public runtime::Backend {
 public:
  FakeTower(bool text, Record& record) : text_(text), record_(record) {
    if (text) {
      sig_.inputs.push_back({"input_ids", DataType::kInt64, {-1, 77}});
      sig_.outputs.push_back({"text_embeds", DataType::kFp32, {-1, 4}});
    } else {
      sig_.inputs.push_back({"pixel_values", DataType::kFp32, {-1, 3, 224, 224}});
      sig_.outputs.push_back({"image_embeds", DataType::kFp32, {-1, 4}});
    }
  }
  const runtime::ModelSignature& signature() const override { return sig_; }
  Result<std::vector<Tensor>> Run(const std::vector<const Tensor*>& in, const std::vector<int>&) override {
    const int64_t rows = in[0]->shape[0];
    {
      std::lock_guard lock(record_.mu);
      if (text_) record_.text_batches.push_back(rows);
      record_.run_threads.insert(ThreadName());
    }
    Tensor out;
    out.name = sig_.outputs[0].name;
    out.dtype = DataType::kFp32;
    out.shape = {rows, 4};
    out.data.resize(static_cast<size_t>(rows) * 16);
    const size_t per_row = in[0]->data.size() / static_cast<size_t>(rows);
    for (int64_t r = 0; r < rows; ++r) {
      float* e = out.as<float>() + r * 4;
      e[0] = e[1] = e[2] = e[3] = 0;
      if (text_) {
        const auto* ids = reinterpret_cast<const int64_t*>(in[0]->data.data() + r * per_row);
        double sum = 0;
        for (int k = 0; k < 77; ++k) sum += static_cast<double>(ids[k]);
        e[0] = static_cast<float>(sum);
        e[2] = static_cast<float>(ids[1]);
      } else {
        const auto* px = reinterpret_cast<const float*>(in[0]->data.data() + r * per_row);
        double sum = 0;
        for (size_t k = 0; k < per_row / 4; ++k) sum += px[k];
        e[0] = static_cast<float>(sum / static_cast<double>(per_row / 4));
      }
      e[1] = 1;
    }
    return std::vector<Tensor>{std::move(out)};
  }

 private:
  bool text_;
  Record& record_;
  runtime::ModelSignature sig_;
};

class FakeFactory : public runtime::BackendFactory {
 public:
  explicit FakeFactory(Record& record) : record_(record) {}
  std::string platform() const override { return "fake"; }
  Result<std::unique_ptr<runtime::Backend>> Load(const fs::path& file,
                                                 const runtime::BackendOptions&) override {
    const bool text = file.filename().string().rfind("text_model", 0) == 0;
    return std::unique_ptr<runtime::Backend>(new FakeTower(text, record_));
  }

 private:
  Record& record_;
};

struct ClipFixture {
  fs::path dir = fs::temp_directory_path() / ("sl-clip-task-" + std::to_string(::getpid()));
  Record record;
  FakeFactory factory{record};
  observability::MetricsRegistry registry;
  observability::ServerMetrics metrics{registry};
  std::shared_ptr<observability::Logger> log = observability::Logger::Create(observability::LogLevel::kOff);
  ThreadPool pool{2, "sl-decode"};
  std::unique_ptr<scheduling::ModelRegistry> models;
  std::unique_ptr<ClipService> clip;

  ClipFixture() {
    const fs::path src = ModelFixturesDir() / "clip-tiny";
    fs::create_directories(dir / "clip" / "onnx");
    for (const char* f : {"config.json", "preprocessor_config.json", "tokenizer.json"})
      fs::copy_file(src / f, dir / "clip" / f, fs::copy_options::overwrite_existing);
    std::ofstream(dir / "clip" / "onnx" / "text_model.onnx") << "fake";
    std::ofstream(dir / "clip" / "onnx" / "vision_model.onnx") << "fake";
    std::string labels;
    for (int i = 0; i < 300; ++i) labels += std::string(i ? "," : "") + "\"class " + std::to_string(i) + "\"";
    std::ofstream(dir / "clip" / "sightline.json")
        << R"({"max_batch_size": 8, "warmup": false, "dynamic_batching": {"max_queue_delay_microseconds": 500,
              "default_queue_policy": {"max_queue_size": 4}},
              "zero_shot": {"label_sets": {"many": [)"
        << labels << "]}}}";
  }
  ~ClipFixture() {
    clip.reset();
    models.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  void Load() {
    auto m = scheduling::ModelRegistry::LoadAll(factory, dir, metrics, *log, TaskConfigBlocks());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    models = std::move(m).value();
    ClipService::Options o;
    o.text_cache_bytes = 0;  // every text reaches the tower: results are compared uncached
    auto c = ClipService::Create(*models, pool, registry, o);  // embeds the 300-label set
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    clip = std::move(c).value();
  }
  Result<TextEmbeddings> Embed(std::vector<std::string> texts, std::string* thread = nullptr) {
    std::promise<Result<TextEmbeddings>> p;
    TensorInferOptions o;
    o.context = BackgroundContext();
    clip->EmbedTexts(*clip->Find(""), std::move(texts), o, [&](Result<TextEmbeddings> r) {
      if (thread) *thread = ThreadName();
      p.set_value(std::move(r));
    });
    return p.get_future().get();
  }
};

TEST(ClipTask, ManyTextsGoInChunksThatFitAnyQueue) {
  ClipFixture f;
  ASSERT_NO_FATAL_FAILURE(f.Load());
  {
    std::lock_guard lock(f.record.mu);
    EXPECT_FALSE(f.record.text_batches.empty());  // the 300-label set embedded at start-up
    f.record.text_batches.clear();
  }
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i) texts.push_back("a text numbered " + std::to_string(i * 7919));
  std::string thread;
  auto all = f.Embed(texts, &thread);
  ASSERT_TRUE(all.ok()) << all.status().ToString();  // 300 texts through a queue of 4
  ASSERT_EQ(all->vectors.size(), 300u);
  EXPECT_EQ(thread, "sl-decode");  // completions on the work pool
  {
    std::lock_guard lock(f.record.mu);
    int64_t rows = 0;
    for (int64_t b : f.record.text_batches) {
      EXPECT_LE(b, 8);
      rows += b;
    }
    EXPECT_EQ(rows, 300);  // each text inferred once
    for (const auto& t : f.record.run_threads) EXPECT_EQ(t.rfind("sl-run-", 0), 0u) << t;
  }
  // Row for row what each text gives alone (no cache: each goes through the tower again).
  for (int i : {0, 7, 8, 150, 299}) {
    auto one = f.Embed({texts[static_cast<size_t>(i)]});
    ASSERT_TRUE(one.ok());
    EXPECT_EQ(one->vectors[0], all->vectors[static_cast<size_t>(i)]) << i;
  }
  EXPECT_GT(all->tokens, 300);
}

}  // namespace
}  // namespace sightline::tasks
