// The optimized-graph cache on the real ONNX Runtime: the first load saves ORT's optimized graph,
// later loads open it with the optimizer off and compute the same; a damaged or unwritable cache
// never stops a model from loading; a changed model file misses the cache.
#include "runtime/onnxruntime/optimized_graph_cache.h"

#include <gtest/gtest.h>

#include <fstream>

#include "model_fixtures.h"
#include "runtime/onnxruntime/ort_backend.h"

namespace sightline::runtime {
namespace {
namespace fs = std::filesystem;

class OptimizedGraphCache : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sl-optgraph-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const char* m : {"convnet", "simple", "simple_fixed"}) {
      const fs::path src = ModelFixturesDir() / m / "model.onnx";
      ASSERT_TRUE(fs::exists(src)) << src << " is missing: run scripts/gen_fixtures.py";
      fs::create_directories(dir_ / m);
      fs::copy_file(src, dir_ / m / "model.onnx");
    }
    auto f = CreateOrtBackendFactory("test");
    ASSERT_TRUE(f.ok());
    factory_ = std::move(f.value());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Backend> Load(const std::string& model, const fs::path& cache_dir) {
    BackendOptions o;
    o.intra_op_threads = 1;
    o.optimized_graph_dir = cache_dir;
    auto b = factory_->Load(dir_ / model / "model.onnx", o);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? std::move(b.value()) : nullptr;
  }
  // The saved graphs in `d` (their seals, "<graph>.xxh3", are checked beside them).
  std::vector<fs::path> FilesIn(const fs::path& d) {
    std::vector<fs::path> out;
    std::error_code ec;
    size_t all = 0;
    for (const auto& e : fs::directory_iterator(d, ec)) {
      ++all;
      if (e.path().extension() == ".onnx") out.push_back(e.path());
    }
    for (const auto& g : out) EXPECT_TRUE(fs::exists(g.string() + ".xxh3")) << g;
    EXPECT_EQ(all, out.size() * 2) << "a graph and its seal each, no temporary file left";
    return out;
  }
  static std::vector<float> Logits(Backend& b) {
    Tensor x;
    x.name = "input";
    x.dtype = DataType::kFp32;
    x.shape = {2, 3, 64, 64};
    x.data.resize(2 * 3 * 64 * 64 * 4);
    for (size_t i = 0; i < 2 * 3 * 64 * 64; ++i)
      x.as<float>()[i] = static_cast<float>((i * 7919) % 255) / 255.0f;
    auto out = b.Run({&x});
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    if (!out.ok()) return {};
    const Tensor& t = out.value()[0];
    return {t.as<float>(), t.as<float>() + t.data.size() / 4};
  }

  fs::path dir_;
  std::unique_ptr<BackendFactory> factory_;
};

TEST_F(OptimizedGraphCache, TheFirstLoadSavesTheGraphAndLaterLoadsUseItWithTheSameResults) {
  const fs::path cache = dir_ / "convnet" / ".sightline-optimized";
  auto plain = Load("convnet", "");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->graph_source(), GraphSource::kModelFile);
  EXPECT_FALSE(fs::exists(cache));

  auto first = Load("convnet", cache);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->graph_source(), GraphSource::kOptimizedAndSaved);
  const auto files = FilesIn(cache);
  ASSERT_EQ(files.size(), 1u) << "one graph, no temporary file left";
  auto expected = OptimizedGraphPath(cache, dir_ / "convnet" / "model.onnx", "");
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(files[0].extension(), ".onnx");
  EXPECT_EQ(files[0].stem().stem(), "model");

  auto second = Load("convnet", cache);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->graph_source(), GraphSource::kOptimizedCache);
  const auto want = Logits(*plain);
  ASSERT_EQ(want.size(), 20u);
  const auto got_first = Logits(*first), got_second = Logits(*second);
  ASSERT_EQ(got_second.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got_first[i], want[i], 1e-5f) << i;
    EXPECT_NEAR(got_second[i], want[i], 1e-5f) << i;
  }
}

TEST_F(OptimizedGraphCache, ALaterLoadReadsTheCachedFileNotTheModelFile) {
  const fs::path cache = dir_ / "simple" / ".sightline-optimized";
  ASSERT_TRUE(Load("simple", cache));
  const auto files = FilesIn(cache);
  ASSERT_EQ(files.size(), 1u);
  // Swap in another model's graph under the cache name (sealed anew): its fixed batch of 1 shows
  // it was read.
  fs::copy_file(dir_ / "simple_fixed" / "model.onnx", files[0], fs::copy_options::overwrite_existing);
  ASSERT_TRUE(SealOptimizedGraph(files[0]).ok());
  auto again = Load("simple", cache);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->graph_source(), GraphSource::kOptimizedCache);
  EXPECT_EQ(again->signature().inputs[0].shape[0], 1);
}

TEST_F(OptimizedGraphCache, ADamagedCacheFileIsReplacedAndTheModelStillLoads) {
  const fs::path cache = dir_ / "convnet" / ".sightline-optimized";
  ASSERT_TRUE(Load("convnet", cache));
  const auto files = FilesIn(cache);
  ASSERT_EQ(files.size(), 1u);
  std::ofstream(files[0], std::ios::binary | std::ios::trunc) << "not a model";
  auto repaired = Load("convnet", cache);
  ASSERT_TRUE(repaired);
  EXPECT_EQ(repaired->graph_source(), GraphSource::kOptimizedAndSaved);
  EXPECT_GT(fs::file_size(files[0]), 1000u);
  auto again = Load("convnet", cache);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->graph_source(), GraphSource::kOptimizedCache);
}

TEST_F(OptimizedGraphCache, AGraphChangedAfterItWasSavedIsNotTrusted) {
  // Bytes flipped in the middle of a weight: ORT would load it and compute garbage (-inf, nan).
  const fs::path cache = dir_ / "convnet" / ".sightline-optimized";
  auto plain = Load("convnet", "");
  ASSERT_TRUE(plain && Load("convnet", cache));
  const auto files = FilesIn(cache);
  ASSERT_EQ(files.size(), 1u);
  {
    std::fstream f(files[0], std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(fs::file_size(files[0]) / 2));
    f.write(std::string(64, '\xff').data(), 64);
  }
  EXPECT_FALSE(VerifyOptimizedGraph(files[0]));
  auto again = Load("convnet", cache);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->graph_source(), GraphSource::kOptimizedAndSaved);
  EXPECT_TRUE(VerifyOptimizedGraph(files[0]));
  const auto want = Logits(*plain), got = Logits(*again);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5f) << i;
}

TEST_F(OptimizedGraphCache, AnUnwritableCacheFolderOnlyMeansNothingIsSaved) {
  std::ofstream(dir_ / "a_file") << "x";  // a folder cannot be made under a file, even as root
  auto b = Load("convnet", dir_ / "a_file" / "cache");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->graph_source(), GraphSource::kModelFile);
  EXPECT_EQ(Logits(*b).size(), 20u);
}

TEST_F(OptimizedGraphCache, TheKeyChangesWithTheModelBytesAndTheEngineVersion) {
  const fs::path m = dir_ / "convnet" / "model.onnx";
  auto a = OptimizedGraphPath(dir_, m, "1.22.0");
  auto same = OptimizedGraphPath(dir_, m, "1.22.0");
  auto other_engine = OptimizedGraphPath(dir_, m, "1.23.0");
  ASSERT_TRUE(a.ok() && same.ok() && other_engine.ok());
  EXPECT_EQ(a.value(), same.value());
  EXPECT_NE(a.value(), other_engine.value());
  std::ofstream(m, std::ios::binary | std::ios::app) << '\0';
  auto changed = OptimizedGraphPath(dir_, m, "1.22.0");
  ASSERT_TRUE(changed.ok());
  EXPECT_NE(a.value(), changed.value());
  EXPECT_EQ(OptimizedGraphPath(dir_, dir_ / "missing.onnx", "").status().code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace sightline::runtime
