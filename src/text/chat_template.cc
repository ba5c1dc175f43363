#include "text/chat_template.h"

#include <boost/json.hpp>

namespace sightline::text {
namespace {

bool Has(std::string_view s, std::string_view what) {
  return s.find(what) != std::string_view::npos;
}

// A Jinja string literal's escapes (the template's '...\n...' texts).
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    const char c = s[++i];
    out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
  }
  return out;
}

// The default system prompt a ChatML template writes when the conversation has none: the text of
// a literal '<|im_start|>system\n...<|im_end|>\n' (Qwen2: "You are a helpful assistant.").
std::string DefaultSystemPrompt(std::string_view t) {
  for (const char quote : {'\'', '"'}) {
    const std::string open = std::string(1, quote) + "<|im_start|>system\\n";
    for (size_t at = t.find(open); at != std::string_view::npos; at = t.find(open, at + 1)) {
      const size_t begin = at + open.size();
      const size_t end = t.find("<|im_end|>", begin);
      const size_t close = t.find(quote, begin);
      if (end != std::string_view::npos && close != std::string_view::npos && end < close)
        return Unescape(t.substr(begin, end - begin));
    }
  }
  return {};
}

}  // namespace

Result<ChatTemplate> ChatTemplate::Parse(std::string_view source) {
  const auto head = [&] {
    std::string h(source.substr(0, 80));
    return "'" + h + (source.size() > 80 ? "...'" : "'");
  };
  const bool chatml =
      Has(source, "<|im_start|>") && Has(source, "<|im_end|>") &&
      (Has(source, "message['role']") || Has(source, "message.role") || Has(source, "message[\"role\"]"));
  // Templates that walk typed content parts ({"type": "image"} ...) place images their own way
  // (Qwen2-VL's vision tokens, SmolVLM's image grid): not ChatML with a text placeholder.
  const bool typed_parts = Has(source, "['type']") || Has(source, ".type ") || Has(source, "[\"type\"]");
  if (!chatml || typed_parts)
    return FailedPrecondition(
        "chat template " + head() +
        " is not supported: Sightline renders ChatML templates (Qwen2, FastVLM) natively, since no "
        "Jinja engine is packaged for C++; other families are refused rather than guessed");
  ChatTemplate t;
  t.family_ = Family::kChatMl;
  // Only when the template adds it for conversations without a system message.
  if (Has(source, "messages[0]['role'] != 'system'") || Has(source, "messages[0].role != 'system'") ||
      Has(source, "messages[0]['role'] == 'system'") || Has(source, "messages[0].role == 'system'"))
    t.default_system_ = DefaultSystemPrompt(source);
  return t;
}

Result<ChatTemplate> ChatTemplate::FromTokenizerConfig(std::string_view json_text) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(json_text, ec);
  if (ec || !v.is_object()) return InvalidArgument("tokenizer_config.json is not a JSON object");
  return FromTokenizerConfig(v.as_object());
}

Result<ChatTemplate> ChatTemplate::FromTokenizerConfig(const boost::json::object& config) {
  const auto* t = config.if_contains("chat_template");
  if (!t || t->is_null()) return NotFound("tokenizer_config.json has no chat_template");
  if (t->is_string()) return Parse(t->as_string());
  if (t->is_array()) {
    for (const auto& e : t->as_array()) {
      const auto* o = e.if_object();
      if (!o) continue;
      const auto* name = o->if_contains("name");
      const auto* text = o->if_contains("template");
      if (name && name->is_string() && name->as_string() == "default" && text && text->is_string())
        return Parse(text->as_string());
    }
    return NotFound("tokenizer_config.json's chat_template list has no \"default\" template");
  }
  return InvalidArgument("tokenizer_config.json's chat_template must be a string or a list");
}

Result<std::string> ChatTemplate::Render(const std::vector<ChatMessage>& messages,
                                         bool add_generation_prompt) const {
  if (messages.empty()) return InvalidArgument("messages: at least one message is needed");
  std::string out;
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    if (m.role != "system" && m.role != "user" && m.role != "assistant")
      return InvalidArgument("messages[" + std::to_string(i) + "].role: '" + m.role +
                             "' is not one of system, user, assistant");
    if (i == 0 && m.role != "system" && !default_system_.empty())
      out += "<|im_start|>system\n" + default_system_ + "<|im_end|>\n";
    out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

}  // namespace sightline::text
