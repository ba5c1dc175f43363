#include "text/chat_template.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "captioner_fixture.h"
#include "text/tokenizer.h"

namespace sightline::text {
namespace {

std::string ReadText(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

boost::json::object Refs() {
  const std::string text = ReadText(VlmDir() / "refs.json");
  EXPECT_FALSE(text.empty()) << "missing vlm-tiny/refs.json: run scripts/gen_vlm_fixture.py";
  return boost::json::parse(text).as_object();
}

std::vector<ChatMessage> Messages(const boost::json::array& a) {
  std::vector<ChatMessage> out;
  for (const auto& m : a)
    out.push_back({std::string(m.at("role").as_string()), std::string(m.at("content").as_string())});
  return out;
}

// Byte for byte what jinja2 renders from Qwen2's template (refs.json "templates").
TEST(ChatTemplate, Qwen2ChatMlRendersExactlyAsJinja2) {
  auto t = ChatTemplate::FromTokenizerConfig(ReadText(VlmDir() / "tokenizer_config.json"));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->default_system_prompt(), "You are a helpful assistant.");
  const auto refs = Refs();
  const auto& cases = refs.at("templates").as_array();
  ASSERT_EQ(cases.size(), 4u);
  for (const auto& c : cases) {
    auto text = t->Render(Messages(c.at("messages").as_array()), c.at("add_generation_prompt").as_bool());
    ASSERT_TRUE(text.ok()) << text.status().message();
    EXPECT_EQ(*text, std::string(c.at("text").as_string()));
  }
}

// The rendered prompt tokenizes as `tokenizers` does, special tokens (<|im_start|>, <image>) kept.
TEST(ChatTemplate, TheRenderedPromptTokenizesLikeTheTokenizersPackage) {
  auto t = ChatTemplate::FromTokenizerConfig(ReadText(VlmDir() / "tokenizer_config.json"));
  ASSERT_TRUE(t.ok());
  auto tok = Tokenizer::FromFile(VlmDir() / "tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  const auto refs = Refs();
  for (const auto& p : refs.at("prompts").as_array()) {
    auto text = t->Render({{"user", "<image>\n" + std::string(p.at("prompt").as_string())}}, true);
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(*text, std::string(p.at("text").as_string()));
    EncodeOptions o;
    o.add_special_tokens = false;
    const auto enc = (*tok)->Encode(*text, o);
    std::vector<int64_t> want;
    for (const auto& id : p.at("ids").as_array()) want.push_back(id.as_int64());
    EXPECT_EQ(enc.ids, want);
  }
}

TEST(ChatTemplate, OtherFamiliesAreRefusedAtLoadNamingWhatIsSupported) {
  const char* llama3 =
      "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
      "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + "
      "'<|eot_id|>' %}{{ content }}{% endfor %}";
  auto a = ChatTemplate::Parse(llama3);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(a.status().message().find("ChatML"), std::string::npos) << a.status().message();
  // Qwen2-VL: ChatML, but images are typed content parts turned into its own vision tokens.
  const char* qwen2vl =
      "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{% for content in message['content'] "
      "%}{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>{% endif %}{% endfor "
      "%}<|im_end|>\n{% endfor %}";
  EXPECT_FALSE(ChatTemplate::Parse(qwen2vl).ok());
  EXPECT_EQ(ChatTemplate::FromTokenizerConfig("{\"model_max_length\": 8}").status().code(),
            StatusCode::kNotFound);
}

TEST(ChatTemplate, ATemplateWithoutADefaultSystemPromptAddsNone) {
  auto t = ChatTemplate::Parse(
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
      "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% "
      "endif %}");
  ASSERT_TRUE(t.ok()) << t.status().message();
  auto text = t->Render({{"user", "hi"}}, true);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  auto bad = t->Render({{"user", "a"}, {"tool", "b"}}, false);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("messages[1].role"), std::string::npos);
  EXPECT_FALSE(t->Render({}, true).ok());
}

}  // namespace
}  // namespace sightline::text
