#include "runtime/last_position_logits.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <random>

#include "captioner_fixture.h"
#include "model_fixtures.h"
#include "runtime/onnx_graph.h"
#include "runtime/onnxruntime/ort_backend.h"

namespace sightline::runtime {
namespace {

std::string ReadBytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Result<std::optional<std::string>> Rewrite(const std::string& bytes, const std::string& output = "logits") {
  return SliceOutputToLastPosition(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), output);
}

Tensor Filled(const std::string& name, DataType dtype, Shape shape, std::mt19937& rng) {
  Tensor t{name, dtype, shape, {}};
  size_t n = 1;
  for (auto d : shape) n *= static_cast<size_t>(d);
  if (dtype == DataType::kInt64) {
    t.data.resize(n * 8);
    auto* p = t.as<int64_t>();
    for (size_t i = 0; i < n; ++i) p[i] = 1;  // attention_mask: every key seen
  } else {
    t.data.resize(n * 4);
    std::normal_distribution<float> dist;
    for (size_t i = 0; i < n; ++i) t.as<float>()[i] = dist(rng);
  }
  return t;
}

// A prefill of 7 positions for 2 rows on the VLM fixture's decoder (FastVLM's layout): the
// rewritten graph's logits are the original's last position, bit for bit, and its caches the same.
TEST(LastPositionLogits, ThePrefillOfTheRewrittenDecoderGivesTheLastRowOfTheOriginal) {
  auto factory = CreateOrtBackendFactory("test");
  ASSERT_TRUE(factory.ok());
  const auto file = VlmDir() / "onnx" / "decoder_model_merged.onnx";
  auto original = (*factory)->Load(file, {});
  BackendOptions o;
  o.last_position_outputs = {"logits", "no_such_output"};
  auto rewritten = (*factory)->Load(file, o);
  ASSERT_TRUE(original.ok() && rewritten.ok()) << rewritten.status().ToString();
  EXPECT_TRUE((*original)->last_position_outputs().empty());
  EXPECT_EQ((*rewritten)->last_position_outputs(), std::vector<std::string>{"logits"});

  const int64_t rows = 2, positions = 7;
  std::mt19937 rng(5);
  std::vector<Tensor> inputs;
  for (const auto& spec : (*original)->signature().inputs) {
    Shape shape;
    if (spec.name == "inputs_embeds")
      shape = {rows, positions, spec.shape.back()};
    else if (spec.name == "attention_mask" || spec.name == "position_ids")
      shape = {rows, positions};
    else
      shape = {rows, spec.shape[1], 0, spec.shape[3]};  // past_key_values.*: empty
    inputs.push_back(Filled(spec.name, spec.dtype, shape, rng));
    if (spec.name == "position_ids")
      for (int64_t i = 0; i < rows * positions; ++i) inputs.back().as<int64_t>()[i] = i % positions;
  }
  std::vector<const Tensor*> feed;
  for (const auto& t : inputs) feed.push_back(&t);
  auto a = (*original)->Run(feed);
  auto b = (*rewritten)->Run(feed);
  ASSERT_TRUE(a.ok() && b.ok()) << b.status().ToString();
  ASSERT_EQ(a->size(), b->size());
  const Tensor& full = a->front();
  const Tensor& last = b->front();
  ASSERT_EQ(full.shape.size(), 3u);
  const int64_t vocab = full.shape[2];
  EXPECT_EQ(full.shape, (Shape{rows, positions, vocab}));
  EXPECT_EQ(last.shape, (Shape{rows, 1, vocab}));
  for (int64_t r = 0; r < rows; ++r)
    EXPECT_EQ(0, std::memcmp(full.as<float>() + (r * positions + positions - 1) * vocab,
                             last.as<float>() + r * vocab, vocab * sizeof(float)))
        << "row " << r;
  for (size_t i = 1; i < a->size(); ++i) {  // present.*: unchanged
    EXPECT_EQ((*a)[i].shape, (*b)[i].shape);
    EXPECT_EQ((*a)[i].data, (*b)[i].data);
  }
}

// Graphs without the pattern are left alone: logits made inside an If (Optimum's merged
// encoder-decoder), no output of that name, an output made by another op.
TEST(LastPositionLogits, GraphsWithoutALoneLmHeadAreLeftAlone) {
  auto merged = Rewrite(ReadBytes(CaptionerDir() / "onnx" / "decoder_model_merged.onnx"));
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_FALSE(merged->has_value());
  auto simple = Rewrite(ReadBytes(ModelFixturesDir() / "simple" / "model.onnx"));
  ASSERT_TRUE(simple.ok());
  EXPECT_FALSE(simple->has_value());
  const auto vlm = ReadBytes(VlmDir() / "onnx" / "decoder_model_merged.onnx");
  auto present = Rewrite(vlm, "present.0.key");  // a Concat's output
  ASSERT_TRUE(present.ok());
  EXPECT_FALSE(present->has_value());
  // The separate decoder of the encoder-decoder fixture has its LM head at the top level.
  auto plain = Rewrite(ReadBytes(CaptionerDir() / "onnx" / "decoder_model.onnx"));
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->has_value());
}

TEST(LastPositionLogits, GarbageIsAnErrorAndNoPrefixCrashes) {
  const std::string garbage = "\x3a\xff\xff\xff\xff\x0f\x01";  // a length past the end
  EXPECT_FALSE(Rewrite(garbage).ok());
  const auto vlm = ReadBytes(VlmDir() / "onnx" / "decoder_model_merged.onnx");
  for (size_t n = 0; n < vlm.size(); n += 997) (void)Rewrite(vlm.substr(0, n));
  // The rewrite parses as a model again (the graph reader walks it whole).
  auto once = Rewrite(vlm);
  ASSERT_TRUE(once.ok() && once->has_value());
  EXPECT_TRUE(
      ReadEmbeddingIndexLimits(reinterpret_cast<const uint8_t*>((*once)->data()), (*once)->size()).ok());
}

}  // namespace
}  // namespace sightline::runtime
