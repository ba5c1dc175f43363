#include "text/tokenizer.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace sightline::text {
namespace {

namespace json = boost::json;

// Written by scripts/gen_tokenizer_refs.py (scripts/test.sh runs it before the tests): a
// tokenizer.json and the ids the Hugging Face `tokenizers` package gave for each text.
std::string Dir() {
  const char* env = std::getenv("SIGHTLINE_TOKENIZER_FIXTURES");
  return env ? env : SIGHTLINE_TOKENIZER_FIXTURES_DIR;
}

json::value Refs(const std::string& name) {
  std::ifstream in(Dir() + "/" + name + "/refs.json");
  EXPECT_TRUE(in.good()) << "missing " << Dir() << "/" << name << ": run scripts/gen_tokenizer_refs.py";
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

std::vector<int64_t> Ids(const json::value& v) {
  std::vector<int64_t> out;
  for (const auto& x : v.get_array()) out.push_back(x.to_number<int64_t>());
  return out;
}

void ExpectParity(const std::string& name) {
  auto tok = Tokenizer::FromFile(Dir() + "/" + name + "/tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const json::value refs = Refs(name);
  const int max_length = static_cast<int>(refs.at("max_length").to_number<int64_t>());
  int checked = 0;
  for (const auto& r : refs.at("refs").get_array()) {
    const std::string text(r.at("text").get_string());
    EXPECT_EQ((*tok)->Encode(text).ids, Ids(r.at("ids"))) << name << ": \"" << text << "\"";
    EncodeOptions o;
    o.max_length = max_length;
    EXPECT_EQ((*tok)->Encode(text, o).ids, Ids(r.at("ids_truncated")))
        << name << " truncated: \"" << text << "\"";
    ++checked;
  }
  EXPECT_GE(checked, 15);
}

TEST(Tokenizer, ClipMatchesHuggingFaceWithTheRealVocabulary) {
  ExpectParity("clip");
}

TEST(Tokenizer, Gpt2ByteLevelBpeMatchesHuggingFace) {
  ExpectParity("gpt2");
}

TEST(Tokenizer, BertWordPieceMatchesHuggingFace) {
  ExpectParity("bert");
}

TEST(Tokenizer, ClipPadsToTheContextLength) {
  auto tok = Tokenizer::FromFile(Dir() + "/clip/tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EncodeOptions o;
  o.max_length = 77;
  o.pad_to_max = true;
  const Encoding e = (*tok)->Encode("a photo of a cat", o);
  ASSERT_EQ(e.ids.size(), 77u);
  EXPECT_EQ(e.ids[0], 49406);
  EXPECT_EQ(e.ids[6], 49407);
  EXPECT_EQ(e.ids[76], (*tok)->pad_id());
  EXPECT_EQ(e.attention_mask[6], 1);
  EXPECT_EQ(e.attention_mask[7], 0);
  EXPECT_EQ((*tok)->TokenId("<|endoftext|>"), 49407);
  EXPECT_EQ((*tok)->vocab_size(), 49408u + 2u);  // model vocabulary + the added-token table
}

TEST(Tokenizer, UnsupportedPiecesAreClearErrors) {
  auto bad = Tokenizer::FromJson(R"({"model": {"type": "Unigram", "vocab": {}}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("Unigram"), std::string::npos);
  auto pattern = Tokenizer::FromJson(
      R"({"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "[a-z]+"}, "behavior": "Isolated"},
          "model": {"type": "WordPiece", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"}})");
  ASSERT_FALSE(pattern.ok());
  EXPECT_NE(pattern.status().message().find("not supported"), std::string::npos);
  EXPECT_FALSE(Tokenizer::FromJson("{not json").ok());
}

}  // namespace
}  // namespace sightline::text
