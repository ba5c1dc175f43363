#include "text/chat_template.h"

#include <time.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <exception>
#include <minja/minja.hpp>
#include <mutex>
#include <nlohmann/json.hpp>

namespace sightline::text {

using ojson = nlohmann::ordered_json;

struct ChatTemplate::Impl {
  std::shared_ptr<minja::TemplateNode> root;
  std::string bos_token;
  std::string eos_token;
  bool typed_content = false;
  bool reads_clock = false;
  // Rendering reads the parsed tree only, but minja does not promise that two renders may share
  // it; a render takes microseconds, so they take turns.
  mutable std::mutex render;
};

namespace {

// transformers' jinja environment: trim_blocks and lstrip_blocks on, trailing newline dropped.
constexpr minja::Options kHuggingFaceOptions{/*trim_blocks=*/true, /*lstrip_blocks=*/true,
                                             /*keep_trailing_newline=*/false};

ojson MessagesJson(const std::vector<ChatMessage>& messages, const ChatRenderOptions& o, bool typed) {
  ojson out = ojson::array();
  for (const auto& m : messages) {
    ojson content;
    if (typed) {
      content = ojson::array();
      if (m.image) content.push_back({{"type", "image"}});
      content.push_back({{"type", "text"}, {"text", m.text}});
    } else {
      content = (m.image ? o.image_text : std::string()) + m.text;
    }
    out.push_back({{"role", m.role}, {"content", std::move(content)}});
  }
  return out;
}

// The "C" locale's case mapping: ASCII only (roles and template literals are ASCII).
char Upper(char c) {
  return static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
}
char Lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

minja::Value StringFilter(std::string name, std::string (*fn)(std::string)) {
  return minja::Value::callable(
      [name, fn](const std::shared_ptr<minja::Context>&, minja::ArgumentsValue& args) {
        args.expectArgs(name, {1, 1}, {0, 0});
        return minja::Value(fn(args.args[0].to_str()));
      });
}

// One render's time budget (minja patched by scripts/patch_minja.py checks it at every node): a
// prompt that takes longer is a broken template, not a slow request.
constexpr auto kMaxRenderTime = std::chrono::seconds(1);
constexpr size_t kMaxErrorBytes = 1024;

// minja throws; the exception stays inside this file.
Result<std::string> RenderJson(const ChatTemplate::Impl& t, ojson messages, const ChatRenderOptions& o) {
  std::lock_guard lock(t.render);
  // The render's time budget and the stack it may use below this frame (minja checks both).
  struct BudgetScope {
    BudgetScope() {
      minja::render_deadline = std::chrono::steady_clock::now() + kMaxRenderTime;
      minja::render_iterations = 0;
      minja::render_bytes = 0;
      minja::render_stack_base = reinterpret_cast<const char*>(__builtin_frame_address(0));
    }
    ~BudgetScope() {
      minja::render_deadline = std::chrono::steady_clock::time_point::max();
      minja::render_stack_base = nullptr;
    }
  } budget;
  try {
    auto ctx = minja::Context::make(minja::Value(
        ojson{{"messages", std::move(messages)}, {"add_generation_prompt", o.add_generation_prompt}}));
    ctx->set("bos_token", t.bos_token);
    ctx->set("eos_token", t.eos_token);
    const auto now = o.now.value_or(std::chrono::system_clock::now());
    // Defined here rather than minja's chat_template's, which calls the non-reentrant localtime.
    ctx->set("strftime_now", minja::Value::callable(
                                 [now](const std::shared_ptr<minja::Context>&, minja::ArgumentsValue& args) {
                                   args.expectArgs("strftime_now", {1, 1}, {0, 0});
                                   const auto format = args.args[0].get<std::string>();
                                   const time_t t = std::chrono::system_clock::to_time_t(now);
                                   struct tm local {};
                                   localtime_r(&t, &local);
                                   // strftime answers 0 when the text does not fit: grow and retry.
                                   std::string buf;
                                   for (size_t cap = 256; cap <= 65536; cap *= 4) {
                                     buf.resize(cap);
                                     const size_t n = strftime(buf.data(), cap, format.c_str(), &local);
                                     if (n > 0) return minja::Value(buf.substr(0, n));
                                   }
                                   return minja::Value(std::string());
                                 }));
    // Jinja filters minja lacks that chat templates use (SmolVLM's `role | capitalize`), with
    // Jinja's definitions.
    ctx->set("capitalize", StringFilter("capitalize", [](std::string s) {
               for (size_t i = 0; i < s.size(); ++i) s[i] = i == 0 ? Upper(s[i]) : Lower(s[i]);
               return s;
             }));
    ctx->set("title", StringFilter("title", [](std::string s) {
               // Jinja's do_title: a word starts after '-', whitespace, '(', '{', '[' or '<'.
               bool start = true;
               for (char& c : s) {
                 c = start ? Upper(c) : Lower(c);
                 start = c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(' ||
                         c == '{' || c == '[' || c == '<';
               }
               return s;
             }));
    ctx->set("tools", minja::Value());  // transformers passes tools=None and documents=None
    ctx->set("documents", minja::Value());
    return t.root->render(ctx);
  } catch (const std::exception& e) {
    // minja quotes the source lines around the error; a one-line template would quote all of it.
    std::string what = e.what();
    if (what.size() > kMaxErrorBytes) what = what.substr(0, kMaxErrorBytes) + "...";
    return InvalidArgument("chat template: " + what);
  }
}

// Real templates are a few KB (gpt-oss's, among the largest, ~15 KB) and nest under ten levels.
constexpr size_t kMaxTemplateBytes =
    32 * 1024;  // minja's std::regex recursion overflows the stack near 50 KB
constexpr int kMaxNesting = 64;
// Probes that take longer or write more than this at load mark a template that would make every
// request slow or huge.
constexpr double kMaxProbeSeconds = 1.0;
constexpr size_t kMaxProbeBytes = 1 << 20;

// The deepest nesting of brackets and of block tags (for/if/macro/... against their end tags),
// counted over the raw text: string literals are not skipped, which can only over-count.
int NestingDepth(std::string_view s) {
  int brackets = 0, blocks = 0, deepest = 0;
  static constexpr std::string_view kOpeners[] = {"for",    "if",         "macro", "call",
                                                  "filter", "generation", "raw"};
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++brackets;
    if ((c == ')' || c == ']' || c == '}') && brackets > 0) --brackets;
    if (c == '{' && i + 1 < s.size() && s[i + 1] == '%') {
      size_t k = i + 2;
      while (k < s.size() && (s[k] == ' ' || s[k] == '-' || s[k] == '+' || s[k] == '\n')) ++k;
      const std::string_view word = s.substr(k, std::min<size_t>(12, s.size() - k));
      const auto starts = [&](std::string_view w) {
        return word.substr(0, w.size()) == w &&
               (word.size() == w.size() || !std::isalnum(static_cast<unsigned char>(word[w.size()])));
      };
      if (word.substr(0, 3) == "end" && blocks > 0) --blocks;
      for (auto o : kOpeners)
        if (starts(o)) ++blocks;
    }
    deepest = std::max(deepest, std::max(brackets, blocks));
  }
  return deepest;
}

// A token as tokenizer_config.json writes it: a string or an AddedToken {"content": ...}.
std::string TokenText(const boost::json::object& config, const char* key) {
  const auto* v = config.if_contains(key);
  if (!v) return {};
  if (v->is_string()) return std::string(v->as_string());
  if (const auto* o = v->if_object())
    if (const auto* c = o->if_contains("content"); c && c->is_string()) return std::string(c->as_string());
  return {};
}

}  // namespace

Result<ChatTemplate> ChatTemplate::Parse(std::string_view source, std::string bos_token,
                                         std::string eos_token) {
  const auto head = [&] {
    std::string h(source.substr(0, 80));
    return "'" + h + (source.size() > 80 ? "...'" : "'");
  };
  // minja's parser and renderer recurse per nesting level: bound the nesting before parsing.
  if (source.size() > kMaxTemplateBytes)
    return FailedPrecondition("chat template is " + std::to_string(source.size()) + " bytes; more than " +
                              std::to_string(kMaxTemplateBytes) + " is refused");
  if (const int depth = NestingDepth(source); depth > kMaxNesting)
    return FailedPrecondition("chat template " + head() + " nests " + std::to_string(depth) +
                              " levels deep (brackets or blocks); more than " + std::to_string(kMaxNesting) +
                              " is refused");
  auto impl = std::make_shared<Impl>();
  impl->bos_token = std::move(bos_token);
  impl->eos_token = std::move(eos_token);
  try {
    impl->root = minja::Parser::parse(std::string(source), kHuggingFaceOptions);
  } catch (const std::exception& e) {
    return FailedPrecondition("chat template " + head() + " does not parse: " + e.what());
  }
  // Typed content when a probe in a string is lost and the same probe in a text part is written.
  const std::string needle = "<User Needle>";
  ChatRenderOptions probe;
  probe.add_generation_prompt = false;
  probe.now = std::chrono::system_clock::from_time_t(0);
  const auto started = std::chrono::steady_clock::now();
  const auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  const auto as_string = RenderJson(*impl, MessagesJson({{"user", needle}}, probe, false), probe);
  // A probe that ran out of its time budget is not run a second time.
  const auto as_parts = elapsed() > kMaxProbeSeconds
                            ? Result<std::string>(as_string.status())
                            : RenderJson(*impl, MessagesJson({{"user", needle}}, probe, true), probe);
  const double seconds = elapsed();
  const size_t written =
      std::max(as_string.ok() ? as_string->size() : 0, as_parts.ok() ? as_parts->size() : 0);
  if (seconds > kMaxProbeSeconds || written > kMaxProbeBytes)
    return FailedPrecondition("chat template " + head() + " takes " + std::to_string(seconds) +
                              " s and writes " + std::to_string(written) +
                              " bytes for a one-message conversation; a prompt "
                              "template that costs more than 1 s or 1 MiB is refused");
  const auto shows = [&](const Result<std::string>& r) {
    return r.ok() && r->find(needle) != std::string::npos;
  };
  impl->typed_content = !shows(as_string) && shows(as_parts);
  impl->reads_clock = source.find("strftime_now") != std::string_view::npos;
  if (!shows(as_string) && !shows(as_parts))
    return FailedPrecondition(
        "chat template " + head() + " cannot render a one-message conversation: " +
        (as_string.ok() ? "the message's text is not in its output" : as_string.status().message()));
  ChatTemplate t;
  t.impl_ = std::move(impl);
  return t;
}

Result<ChatTemplate> ChatTemplate::FromTokenizerConfig(std::string_view json_text) {
  ASSIGN_OR_RETURN(Source source, SourceFromTokenizerConfig(json_text));
  return Parse(source.text, std::move(source.bos_token), std::move(source.eos_token));
}

Result<ChatTemplate> ChatTemplate::FromTokenizerConfig(const boost::json::object& config) {
  ASSIGN_OR_RETURN(Source source, SourceFromTokenizerConfig(config));
  return Parse(source.text, std::move(source.bos_token), std::move(source.eos_token));
}

Result<ChatTemplate::Source> ChatTemplate::SourceFromTokenizerConfig(std::string_view json_text) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(json_text, ec);
  if (ec || !v.is_object()) return InvalidArgument("tokenizer_config.json is not a JSON object");
  return SourceFromTokenizerConfig(v.as_object());
}

Result<ChatTemplate::Source> ChatTemplate::SourceFromTokenizerConfig(const boost::json::object& config) {
  const auto* t = config.if_contains("chat_template");
  if (!t || t->is_null()) return NotFound("tokenizer_config.json has no chat_template");
  const auto source = [&](const boost::json::string& text) {
    return Source{std::string(text), TokenText(config, "bos_token"), TokenText(config, "eos_token")};
  };
  if (t->is_string()) return source(t->as_string());
  if (t->is_array()) {
    for (const auto& e : t->as_array()) {
      const auto* o = e.if_object();
      if (!o) continue;
      const auto* name = o->if_contains("name");
      const auto* text = o->if_contains("template");
      if (name && name->is_string() && name->as_string() == "default" && text && text->is_string())
        return source(text->as_string());
    }
    return NotFound("tokenizer_config.json's chat_template list has no \"default\" template");
  }
  return InvalidArgument("tokenizer_config.json's chat_template must be a string or a list");
}

Result<std::string> ChatTemplate::Render(const std::vector<ChatMessage>& messages,
                                         const ChatRenderOptions& options) const {
  if (messages.empty()) return InvalidArgument("messages: at least one message is needed");
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& role = messages[i].role;
    if (role != "system" && role != "user" && role != "assistant")
      return InvalidArgument("messages[" + std::to_string(i) + "].role: '" + role +
                             "' is not one of system, user, assistant");
  }
  return RenderJson(*impl_, MessagesJson(messages, options, impl_->typed_content), options);
}

bool ChatTemplate::typed_content() const {
  return impl_->typed_content;
}

bool ChatTemplate::reads_clock() const {
  return impl_->reads_clock;
}

}  // namespace sightline::text
