#include "runtime/onnx_graph.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <vector>

#include "model_fixtures.h"

namespace sightline::runtime {
namespace {

// lookup: IDS -> Cast -> Gather over a 50-row initializer; CODES -> Gather over a Constant node
// (not an initializer: no limit is claimed for it).
TEST(OnnxGraph, FindsTheEmbeddingTableAnIndexInputFeeds) {
  auto limits = ReadEmbeddingIndexLimits(ModelFixturesDir() / "lookup" / "model.onnx");
  ASSERT_TRUE(limits.ok()) << limits.status().ToString();
  EXPECT_EQ(*limits, (std::map<std::string, int64_t>{{"IDS", 50}}));
}

// A real export's layout: the CLIP text tower's token embedding (its vocabulary).
TEST(OnnxGraph, ClipTextTowerTokenIdsAreBoundedByTheVocabulary) {
  auto limits = ReadEmbeddingIndexLimits(ModelFixturesDir() / "clip-tiny" / "onnx" / "text_model.onnx");
  ASSERT_TRUE(limits.ok()) << limits.status().ToString();
  ASSERT_TRUE(limits->count("input_ids"));
  EXPECT_EQ(limits->at("input_ids"), 49408);
}

TEST(OnnxGraph, ModelsWithoutLookupsHaveNoLimitsAndGarbageIsAnError) {
  auto none = ReadEmbeddingIndexLimits(ModelFixturesDir() / "simple" / "model.onnx");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->empty());
  const std::vector<uint8_t> garbage = {0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};  // length past the end
  EXPECT_FALSE(ReadEmbeddingIndexLimits(garbage.data(), garbage.size()).ok());
  // Every prefix of a real model either parses or is refused; none crashes.
  std::ifstream in(ModelFixturesDir() / "lookup" / "model.onnx", std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (size_t n = 0; n < bytes.size(); n += 7) (void)ReadEmbeddingIndexLimits(bytes.data(), n);
  EXPECT_FALSE(ReadEmbeddingIndexLimits("/nonexistent/model.onnx").ok());
}

}  // namespace
}  // namespace sightline::runtime
