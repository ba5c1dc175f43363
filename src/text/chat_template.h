// Chat prompts for generative models, from the `chat_template` in a Hugging Face
// tokenizer_config.json: a list of messages -> the prompt text the model was trained on.
//
// Hugging Face renders these templates with Jinja2. No C++ Jinja implementation is packaged for
// Debian 12 (checked: apt has none; minja ships only inside llama.cpp's sources), so Sightline
// recognises the template families it serves and renders them natively, refusing any other
// template at load with an error that says so:
//
//   ChatML (Qwen2 / Qwen2.5, and FastVLM, whose language model is Qwen2):
//     [<|im_start|>system\n{default system prompt}<|im_end|>\n   when the template supplies one
//                                                                and the first message is not a
//                                                                system message]
//     <|im_start|>{role}\n{content}<|im_end|>\n   per message
//     <|im_start|>assistant\n                     with add_generation_prompt
//
// tests/unit/text/chat_template_test.cc checks the output byte for byte against jinja2 rendering
// the real template text (scripts/gen_vlm_fixture.py writes the references).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace boost::json {
class object;
}

namespace sightline::text {

struct ChatMessage {
  std::string role;     // "system", "user", "assistant"
  std::string content;  // text; images are already their placeholder token (e.g. "<image>\n")
};

class ChatTemplate {
 public:
  enum class Family { kChatMl };

  // `source`: the chat_template string. Errors: kFailedPrecondition naming the families supported
  // when the template is not one of them.
  static Result<ChatTemplate> Parse(std::string_view source);
  // From tokenizer_config.json's text: its "chat_template" (a string, or a list of {name,
  // template} of which "default" is taken). kNotFound when there is none.
  static Result<ChatTemplate> FromTokenizerConfig(std::string_view json_text);
  // The same from the file already parsed (repository::ReadJsonObjectFile).
  static Result<ChatTemplate> FromTokenizerConfig(const boost::json::object& config);

  // Errors: kInvalidArgument for an empty conversation or a role other than system, user and
  // assistant (named by its index: "messages[2].role").
  Result<std::string> Render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;

  Family family() const { return family_; }
  const std::string& default_system_prompt() const { return default_system_; }

 private:
  Family family_ = Family::kChatMl;
  std::string default_system_;  // empty: none
};

}  // namespace sightline::text
