// Chat prompts for generative models, from the `chat_template` in a Hugging Face
// tokenizer_config.json: a list of messages -> the prompt text the model was trained on.
//
// Hugging Face renders these templates with Jinja2 (transformers' apply_chat_template:
// trim_blocks, lstrip_blocks, `raise_exception`, `strftime_now`, `bos_token`/`eos_token`).
// Sightline renders them with minja, Google's Jinja implementation for chat templates (the one
// llama.cpp uses; fetched by scripts/fetch_minja.sh from the llama-cpp-python sdist on PyPI, since
// Debian 12 packages no C++ Jinja), so any family's template works, not a list of known ones.
//
// Images: templates that walk typed content parts (SmolVLM, Qwen2-VL, Llama 3.2 Vision...) get
// the image as a {"type": "image"} part before the text and write their own image placeholder;
// templates over plain string content (Qwen2 / FastVLM, LLaVA) get `image_text` (the model's image
// token and a newline, as their processors write) in front of the text. Which kind a template is,
// is found at load by rendering a probe both ways, as minja's own chat_template does.
//
// A template is a program shipped with the model (possibly pulled from a hub), and requests
// steer it through their messages, so it runs as untrusted code. At load: more than 32 KiB of
// source (minja's regexes overflow the stack on ~50 KB), nesting deeper than 64 levels, or a
// one-message probe that takes over 1 s or writes over 1 MiB is refused. Every render (minja as
// patched by scripts/patch_minja.py): 1 s, 1 MiB of stack, 200 levels of nesting, 50,000 loop
// iterations and 256 MiB of built values at most; past any of them, division by zero, or a value
// that would contain itself, the render is an error (kInvalidArgument), never a crash.
//
// tests/unit/text/chat_template_test.cc checks the output byte for byte against jinja2 rendering
// the same template texts (Qwen2's, and the real templates llama.cpp collects:
// scripts/gen_chat_template_refs.py writes the references).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace boost::json {
class object;
}

namespace sightline::text {

struct ChatMessage {
  std::string role;    // "system", "user", "assistant"
  std::string text;    // the message's text
  bool image = false;  // an image comes before the text
};

struct ChatRenderOptions {
  bool add_generation_prompt = true;
  // For templates over string content: what stands for the image in front of the text (e.g.
  // "<image>\n"). Typed-content templates ignore it.
  std::string image_text;
  // strftime_now's clock (local time, as transformers' datetime.now()); tests fix it.
  std::optional<std::chrono::system_clock::time_point> now;
};

class ChatTemplate {
 public:
  // The Jinja source, and the tokenizer's BOS/EOS token texts (templates write them as
  // `bos_token`/`eos_token`). Errors: kFailedPrecondition when the template does not parse, is
  // over the bounds above, or cannot render a one-message conversation (the reason quoted).
  static Result<ChatTemplate> Parse(std::string_view source, std::string bos_token = {},
                                    std::string eos_token = {});
  // From tokenizer_config.json's text: its "chat_template" (a string, or a list of {name,
  // template} of which "default" is taken) and its bos_token/eos_token (strings or AddedToken
  // objects). kNotFound when there is none.
  static Result<ChatTemplate> FromTokenizerConfig(std::string_view json_text);
  // The same from the file already parsed (repository::ReadJsonObjectFile).
  static Result<ChatTemplate> FromTokenizerConfig(const boost::json::object& config);

  // Only the reading of tokenizer_config.json (what FromTokenizerConfig parses), same errors.
  struct Source {
    std::string text;
    std::string bos_token;
    std::string eos_token;
  };
  static Result<Source> SourceFromTokenizerConfig(std::string_view json_text);
  static Result<Source> SourceFromTokenizerConfig(const boost::json::object& config);

  // Errors: kInvalidArgument for an empty conversation, a role other than system, user and
  // assistant (named by its index: "messages[2].role"), or what the template itself refuses
  // (its raise_exception message, e.g. roles that do not alternate).
  Result<std::string> Render(const std::vector<ChatMessage>& messages,
                             const ChatRenderOptions& options = {}) const;
  Result<std::string> Render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
    ChatRenderOptions o;
    o.add_generation_prompt = add_generation_prompt;
    return Render(messages, o);
  }

  // Whether the template reads content as typed parts ([{"type": "text", "text": ...}]) rather
  // than strings.
  bool typed_content() const;
  // Whether the rendered text can depend on the clock (the template calls strftime_now, as Llama
  // 3's "Today Date" does): such a prompt is rendered per request, never cached.
  bool reads_clock() const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
};

}  // namespace sightline::text
