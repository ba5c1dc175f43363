// Ids back to text: each decoder, Tokenizer::Decode and DecodeStream against what the Hugging Face
// `tokenizers` package produced (scripts/gen_tokenizer_refs.py writes decoders.json and the
// "decodes" of each <name>/refs.json).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "text/components.h"
#include "text/tokenizer.h"
#include "tokenizer_fixtures.h"

namespace sightline::text {
namespace {

namespace json = boost::json;

TEST(Decoders, EachDecoderMatchesHuggingFace) {
  const json::value cases = ReadJson(Dir() + "/decoders.json");
  int checked = 0;
  for (const auto& c : cases.get_array()) {
    const std::string name(c.at("name").get_string());
    auto decoder = MakeDecoder(c.at("decoder"));
    ASSERT_TRUE(decoder.ok()) << name << ": " << decoder.status().ToString();
    const auto& lists = c.at("tokens").get_array();
    const auto& strings = c.at("strings").get_array();
    for (size_t i = 0; i < lists.size(); ++i) {
      std::vector<std::string> tokens;
      for (const auto& t : lists[i].get_array()) tokens.emplace_back(t.get_string());
      std::string text;
      for (const auto& piece : (*decoder)->DecodeChain(tokens)) text += piece;
      EXPECT_EQ(text, std::string(strings[i].get_string())) << name << ", token list " << i;
      ++checked;
    }
  }
  EXPECT_GE(checked, 150);
}

TEST(Decoders, UnknownTypesAndBadSpecsAreRefusedAtLoad) {
  EXPECT_FALSE(MakeDecoder(json::parse(R"({"type":"CTC"})")).ok());
  EXPECT_FALSE(MakeDecoder(json::parse(R"({"type":"Strip","content":"ab","start":1,"stop":0})")).ok());
  EXPECT_FALSE(MakeDecoder(json::parse(R"({"type":"Replace","pattern":{"Regex":"("},"content":""})")).ok());
  EXPECT_FALSE(MakeDecoder(json::parse(R"({"type":"Sequence","decoders":[{"type":"Nope"}]})")).ok());
  EXPECT_FALSE(MakeDecoder(json::parse(R"([1,2])")).ok());
}

void ExpectDecodeParity(const std::string& name) {
  auto tok = Tokenizer::FromFile(Dir() + "/" + name + "/tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const json::value refs = ReadJson(Dir() + "/" + name + "/refs.json");
  int checked = 0, streamed = 0;
  for (const auto& r : refs.at("decodes").get_array()) {
    const std::vector<int64_t> ids = Ids(r.at("ids"));
    EXPECT_EQ((*tok)->Decode(ids, false), std::string(r.at("text").get_string())) << name << " #" << checked;
    EXPECT_EQ((*tok)->Decode(ids, true), std::string(r.at("text_skip_special").get_string()))
        << name << " #" << checked;
    for (const bool skip : {true, false}) {
      const auto& chunks = r.at(skip ? "stream_skip_special" : "stream").get_array();
      DecodeStream stream(**tok, skip);
      for (size_t i = 0; i < chunks.size(); ++i) {
        auto step = stream.Step(ids[i]);
        if (chunks[i].is_null()) {  // the package gave up here: so must we, not stream wrong text
          EXPECT_FALSE(step.ok()) << name << " #" << checked << " id " << i;
          break;
        }
        ASSERT_TRUE(step.ok()) << name << " #" << checked << " id " << i << ": " << step.status().ToString();
        EXPECT_EQ(*step, std::string(chunks[i].get_string())) << name << " #" << checked << " id " << i;
        ++streamed;
      }
    }
    ++checked;
  }
  EXPECT_GE(checked, 80);
  EXPECT_GE(streamed, 400);
}

TEST(Decode, Gpt2ByteLevelMatchesHuggingFace) {
  ExpectDecodeParity("gpt2");
}
TEST(Decode, ClipMatchesHuggingFace) {
  ExpectDecodeParity("clip");
}
TEST(Decode, ClipAsHuggingFaceExportsItMatches) {
  ExpectDecodeParity("clip_hf");
}
TEST(Decode, BertWordPieceMatchesHuggingFace) {
  ExpectDecodeParity("bert");
}
TEST(Decode, Llama3StyleMatchesHuggingFace) {
  ExpectDecodeParity("llama3");
}
TEST(Decode, Qwen2StyleMatchesHuggingFace) {
  ExpectDecodeParity("qwen2");
}
TEST(Decode, SentencePieceBpeWithByteFallbackMatchesHuggingFace) {
  ExpectDecodeParity("sp_bpe");
}

TEST(Decode, StreamedChunksNeverSplitACharacterAndAddUpToTheWhole) {
  auto tok = Tokenizer::FromFile(Dir() + "/gpt2/tokenizer.json");
  ASSERT_TRUE(tok.ok());
  // Characters the fixture's small vocabulary never merged: each is several byte-level ids.
  const std::string text = "emoji 龍 𝄞 café 日本語 naïve";
  const auto ids = (*tok)->Encode(text).ids;
  DecodeStream stream(**tok, true);
  std::string joined;
  int held_back = 0;
  for (int64_t id : ids) {
    auto chunk = stream.Step(id);
    ASSERT_TRUE(chunk.ok());
    if (chunk->empty()) ++held_back;
    EXPECT_EQ(chunk->find("\xEF\xBF\xBD"), std::string::npos) << "half a character was streamed";
    joined += *chunk;
  }
  EXPECT_EQ(joined, text);
  EXPECT_GT(held_back, 0) << "characters spanning several ids: some steps must wait";
}

TEST(Decode, SpecialTokensAreKnownAndSkippedOnRequest) {
  auto tok = Tokenizer::FromFile(Dir() + "/llama3/tokenizer.json");
  ASSERT_TRUE(tok.ok());
  const int64_t bos = (*tok)->TokenId("<|begin_of_text|>");
  ASSERT_GE(bos, 0);
  EXPECT_TRUE((*tok)->IsSpecial(bos));
  EXPECT_EQ((*tok)->IdToToken(bos), "<|begin_of_text|>");
  const auto ids = (*tok)->Encode("a photo").ids;  // begins with <|begin_of_text|>
  EXPECT_EQ(ids.front(), bos);
  EXPECT_FALSE((*tok)->IsSpecial(ids.back()));
  EXPECT_EQ((*tok)->Decode(ids, true), "a photo");
  EXPECT_EQ((*tok)->Decode(ids, false), "<|begin_of_text|>a photo");
  EXPECT_EQ((*tok)->IdToToken(1 << 30), std::nullopt);
  EXPECT_EQ((*tok)->Decode(std::vector<int64_t>{1 << 30, -5}, false), "");  // unknown ids are dropped
}

}  // namespace
}  // namespace sightline::text
