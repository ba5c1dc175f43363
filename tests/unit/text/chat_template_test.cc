#include "text/chat_template.h"

#include <gtest/gtest.h>

#include <pthread.h>
#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>

#include "captioner_fixture.h"
#include "text/tokenizer.h"
#include "text/tokenizer_fixtures.h"

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

std::vector<ChatMessage> Turns(const boost::json::array& a) {
  std::vector<ChatMessage> out;
  for (const auto& m : a)
    out.push_back({std::string(m.at("role").as_string()), std::string(m.at("text").as_string()),
                   m.at("image").as_bool()});
  return out;
}

// Byte for byte what jinja2 renders from Qwen2's template (refs.json "templates").
TEST(ChatTemplate, Qwen2ChatMlRendersExactlyAsJinja2) {
  auto t = ChatTemplate::FromTokenizerConfig(ReadText(VlmDir() / "tokenizer_config.json"));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_FALSE(t->typed_content());
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

// Real models' templates (llama.cpp's collection: Llama 3.x, Gemma 2, Phi-3.5, Mistral, Qwen,
// Granite, DeepSeek R1, Command R, gpt-oss..., and SmolVLM's typed-content one) rendered byte for
// byte as jinja2 renders them the transformers way (scripts/gen_chat_template_refs.py), with the
// same typed-or-string content choice; what jinja2 refuses (Gemma's system role, tool-use
// templates without tools) is refused here too.
TEST(ChatTemplate, RealTemplatesOfManyFamiliesRenderExactlyAsJinja2) {
  const auto refs = text::Refs("chat_templates").as_object();
  const auto now = std::chrono::system_clock::from_time_t(refs.at("now").to_number<int64_t>());
  const std::string image_text(refs.at("image_text").as_string());
  const auto& cases = refs.at("cases").as_array();
  ASSERT_GE(cases.size(), 20u);
  int rendered = 0, refused = 0, skipped = 0;
  for (const auto& cv : cases) {
    const auto& c = cv.as_object();
    const std::string name(c.at("name").as_string());
    SCOPED_TRACE(name);
    const auto& renders = c.at("renders").as_array();
    const bool all_refused = std::all_of(renders.begin(), renders.end(),
                                         [](const auto& r) { return r.as_object().contains("error"); });
    auto t = ChatTemplate::Parse(c.at("template").as_string(), std::string(c.at("bos_token").as_string()),
                                 std::string(c.at("eos_token").as_string()));
    if (all_refused) {
      // Tool-use templates (Command R's and Hermes' "tool_use" variants, firefunction): jinja2
      // raises on iterating tools=None, minja iterates nothing. Not compared: Sightline sends no
      // tools and takes a tokenizer_config's "default" template, never its "tool_use" one.
      ++skipped;
      continue;
    }
    ASSERT_TRUE(t.ok()) << t.status().message();
    EXPECT_EQ(t->typed_content(), c.at("typed_content").as_bool());
    for (const auto& rv : renders) {
      const auto& r = rv.as_object();
      ChatRenderOptions o;
      o.add_generation_prompt = r.at("add_generation_prompt").as_bool();
      o.image_text = image_text;
      o.now = now;
      auto text = t->Render(Turns(r.at("turns").as_array()), o);
      if (r.contains("error")) {
        ASSERT_FALSE(text.ok()) << *text;
        EXPECT_EQ(text.status().code(), StatusCode::kInvalidArgument);
        EXPECT_NE(text.status().message().find(std::string(r.at("error").as_string())), std::string::npos)
            << text.status().message();
        ++refused;
      } else {
        ASSERT_TRUE(text.ok()) << text.status().message();
        EXPECT_EQ(*text, std::string(r.at("text").as_string()));
        ++rendered;
      }
    }
  }
  EXPECT_GE(rendered, 100);
  EXPECT_GE(refused, 1);  // Gemma 2 refuses a system message
  EXPECT_LE(skipped, 5);
}

// SmolVLM / Qwen2-VL style: the image is a typed part and the template writes its own tokens.
TEST(ChatTemplate, TypedContentTemplatesGetTheImageAsAPart) {
  const char* qwen2vl =
      "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{% for content in message['content'] "
      "%}{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>{% elif "
      "content['type'] "
      "== 'text' %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endfor %}{% if "
      "add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
  auto t = ChatTemplate::Parse(qwen2vl);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_TRUE(t->typed_content());
  ChatRenderOptions o;
  o.image_text = "<image>\n";  // not used: the template places the image
  auto text = t->Render({{"user", "What is it?", true}}, o);
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_EQ(*text,
            "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What is it?<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplate, ATemplateThatCannotRenderIsRefusedAtLoadWithItsReason) {
  auto broken = ChatTemplate::Parse("{% for message in %}{{ message }}");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(broken.status().message().find("does not parse"), std::string::npos) << broken.status().message();
  auto raising = ChatTemplate::Parse("{{ raise_exception('This model has no chat format') }}");
  ASSERT_FALSE(raising.ok());
  EXPECT_NE(raising.status().message().find("This model has no chat format"), std::string::npos)
      << raising.status().message();
  auto silent = ChatTemplate::Parse("Hello");
  ASSERT_FALSE(silent.ok());
  EXPECT_NE(silent.status().message().find("not in its output"), std::string::npos)
      << silent.status().message();
  EXPECT_EQ(ChatTemplate::FromTokenizerConfig("{\"model_max_length\": 8}").status().code(),
            StatusCode::kNotFound);
}

// A template refused at load, with `says` in its reason; the reason quotes one source location,
// not one per nesting level.
void ExpectRefused(const std::string& source, const std::string& says, const std::string& or_says = "") {
  auto t = ChatTemplate::Parse(source);
  ASSERT_FALSE(t.ok()) << source.substr(0, 80);
  EXPECT_EQ(t.status().code(), StatusCode::kFailedPrecondition);
  const auto& m = t.status().message();
  EXPECT_TRUE(m.find(says) != std::string::npos || (!or_says.empty() && m.find(or_says) != std::string::npos))
      << m;
  EXPECT_LT(m.size(), 2000u);
}

// A memory bomb is stopped by its size cap, or (slower builds: ASan) by the 1 s budget first.
void ExpectBombRefused(const std::string& source, const std::string& says) {
  ExpectRefused(source, says, "costs more than 1 s");
}

// minja recurses per nesting level and renders whole strings: what would blow its stack, or
// make every prompt slow or huge, is refused at load with the reason.
TEST(ChatTemplate, TemplatesTooDeepTooLargeOrTooCostlyAreRefusedAtLoad) {
  const std::string echo = "{% for m in messages %}{{ m['content'] }}{% endfor %}";
  ExpectRefused("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}" + echo, "nests");
  std::string ifs;
  for (int i = 0; i < 70; ++i) ifs += "{% if true %}";
  ifs += echo;
  for (int i = 0; i < 70; ++i) ifs += "{% endif %}";
  ExpectRefused(ifs, "nests 71 levels");  // the 70 ifs and the for inside them
  ExpectRefused(echo + "{#" + std::string(40 * 1024, 'x') + "#}", "more than 32768 is refused");
  ExpectRefused(echo + "{% for i in range(600) %}{{ 'x' * 2000 }}{% endfor %}", "1 MiB");
  // Real nesting stays well inside the bound.
  std::string fine;
  for (int i = 0; i < 20; ++i) fine += "{% if true %}";
  fine += echo;
  for (int i = 0; i < 20; ++i) fine += "{% endif %}";
  EXPECT_TRUE(ChatTemplate::Parse(fine).ok());
}

// Runs `fn` on a thread with a 2 MiB stack: glibc's default for new threads when RLIMIT_STACK is
// unlimited, the smallest a request could be rendered on.
template <typename Fn>
void OnSmallStack(Fn fn) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 2 << 20);
  pthread_t thread;
  auto* arg = new Fn(std::move(fn));
  ASSERT_EQ(pthread_create(
                &thread, &attr,
                [](void* p) -> void* {
                  std::unique_ptr<Fn> f(static_cast<Fn*>(p));
                  (*f)();
                  return nullptr;
                },
                arg),
            0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

// minja as patched by scripts/patch_minja.py: what once crashed the process (a stack overflow, a
// SIGFPE) or held a thread for minutes is an error naming the reason, at load or per request.
TEST(ChatTemplate, HostileTemplatesAreErrorsNotCrashes) {
  const std::string echo = "{% for m in messages %}{{ m['content'] }}{% endfor %}";
  OnSmallStack([&] {
    ExpectRefused("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}" + echo, "recursion is");
    ExpectRefused("{% for m in messages recursive %}{{ loop(messages) }}{% endfor %}" + echo, "recursion is");
  });
  OnSmallStack([&] {
    // Recursion in expression evaluation alone (a default argument calling its own macro) renders
    // no node: the stack check catches it.
    ExpectRefused("{% macro f(x=f()) %}{% endmacro %}{{ f() }}" + echo, "recursion is");
  });
  // Memory bombs, each of which built gigabytes before the size caps, then what once crashed
  // the process or read out of range.
  const std::pair<const char*, const char*> bombs[] = {
      {"{{ range(100000)|map('string')|join(range(100000)|map('string')|join(',')) }}", "over 16 MiB"},
      {"{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}"
       "{{ ns.l|tojson|length }}",
       "over 16 MiB"},
      {"{{ messages|tojson(indent=100000000) }}", "over 16 MiB"},
      {"{% set ns = namespace(s='ab') %}{% for i in range(100) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
       "over 16 MiB"},
      {"{% set ns = namespace(s=[1]) %}{% for i in range(100) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
       "over 1000000 items"},
      {"{{ ('x' * 1000).replace('', 'y' * 100000) }}", "over 16 MiB"},
      {"{{ ('x\n' * 100000) | indent(1000) }}", "over 16 MiB"},
      {"{{ ('x' * 16000000).split('x') | length }}", "more than 1000000 pieces"},
      {"{% set x = 'x' * 1000000 %}{% set ns = namespace(l=[]) %}{% for i in range(5000) %}"
       "{% set ns.l = ns.l + [x] %}{% endfor %}",
       "more than 256 MiB"},
  };
  for (const auto& [source, says] : bombs) ExpectBombRefused(echo + source, says);
  const std::pair<const char*, const char*> faults[] = {
      {"{{ 1 // (messages | length - 1) }}", "division or modulo by zero"},
      {"{{ 1 / 0 }}", "division by zero"},
      {"{{ messages | sum }}", "unknown filter 'sum'"},
      {"{% set ns = namespace(x=[]) %}{% for i in range(1000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x "
       "}}",
       "nests deeper than 256"},
      {"{{ range(1, 5, 0) }}", "must not be zero"},
      {"{{ range(100000000) | length }}", "more than 100000 items"},
      {"{{ 'x' * 100000000 }}", "over 16 MiB"},
      {"{% set l = [1] %}{% set _ = l.append(l) %}{{ l == l }}", "a list cannot contain itself"},
      {"{% set a = [] %}{% set b = [a] %}{% set _ = a.append(b) %}", "a list cannot contain itself"},
      {"{% set ns = namespace(a=1) %}{% set ns.b = ns %}", "an object cannot contain itself"},
      {"{{ 'abc'.split('') }}", "empty separator"},
      {"{{ messages[4294967296] }}", "list index out of range"},
      {"{{ 'x' | indent(5000000000) }}", "over 16 MiB"},
  };
  for (const auto& [source, says] : faults) ExpectRefused(echo + source, says);
  // 10^10 iterations: stopped by the iteration cap (or the one-second budget), not run to the end;
  // a slow render without loops by the budget.
  const auto t0 = std::chrono::steady_clock::now();
  ExpectRefused(echo + "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                "50000 loop iterations", "costs more than 1 s");
  ExpectRefused(echo +
                    "{% macro f(n) %}{{ range(100000) | map('string') | join(',') | length }}"
                    "{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
                "costs more than 1 s", "more than 256 MiB");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
  // Slices clamp as Python's do (they threw std::out_of_range or read past the end).
  auto sliced = ChatTemplate::Parse(
      echo +
      "{{ 'abc'[-10:] }}{{ 'abc'[5:0:-1] }}{{ 'abcdef'[1:100:2] }}"
      "{{ messages[-9223372036854775807:] | length }}{{ 'abcdef'[1::9223372036854775807] }}");
  ASSERT_TRUE(sliced.ok()) << sliced.status().message();
  auto slices = sliced->Render({{"user", "="}}, false);
  ASSERT_TRUE(slices.ok()) << slices.status().message();
  EXPECT_EQ(*slices, "=abccbbdf1b");
  // Arithmetic is Python's: true division, floored // and %.
  auto math = ChatTemplate::Parse(echo + "{{ 7 / 2 }} {{ -7 // 2 }} {{ -7 % 2 }}");
  ASSERT_TRUE(math.ok()) << math.status().message();
  auto quotient = math->Render({{"user", "="}}, false);
  ASSERT_TRUE(quotient.ok()) << quotient.status().message();
  EXPECT_EQ(*quotient, "=3.5 -4 1");

  // Recursion that grows with the conversation passes the load probe and fails per request,
  // cleanly, however long the conversation.
  auto per_message = ChatTemplate::Parse(
      "{% macro f(ms) %}{% if ms %}{{ ms[0]['content'] }}{{ f(ms[1:]) }}{% endif %}{% endmacro %}"
      "{{ f(messages) }}");
  ASSERT_TRUE(per_message.ok()) << per_message.status().message();
  OnSmallStack([&] {
    std::vector<ChatMessage> many(5000, {"user", "x"});
    auto r = per_message->Render(many, false);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("recursion"), std::string::npos) << r.status().message();
    auto two = per_message->Render({{"user", "a"}, {"assistant", "b"}}, false);
    ASSERT_TRUE(two.ok()) << two.status().message();
    EXPECT_EQ(*two, "ab");
  });
}

// minja once searched the rest of the template for every token: 1000 sequential blocks took
// seconds to parse. Linear now; the bound is far above linear and far below quadratic.
TEST(ChatTemplate, ManySequentialBlocksParseInLinearTime) {
  std::string source = "{% for m in messages %}{{ m['content'] }}{% endfor %}";
  while (source.size() < 31 * 1024) source += "{% for x in messages %}{% endfor %}";
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(ChatTemplate::Parse(source).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

// strftime_now writes what it is asked for, however long (it was cut to nothing past 255 bytes).
TEST(ChatTemplate, StrftimeNowWritesLongFormats) {
  auto t = ChatTemplate::Parse("{% for m in messages %}{{ m['content'] }}{% endfor %}{{ strftime_now('" +
                               std::string(300, 'y') + "%Y') }}");
  ASSERT_TRUE(t.ok()) << t.status().message();
  ChatRenderOptions o;
  o.now = std::chrono::system_clock::from_time_t(86400 * 400);  // 1971
  auto text = t->Render({{"user", "u"}}, o);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "u" + std::string(300, 'y') + "1971");
  // Its prompt depends on the clock, so it is never cached; a template without strftime_now is.
  EXPECT_TRUE(t->reads_clock());
  EXPECT_FALSE(ChatTemplate::Parse("{% for m in messages %}{{ m['content'] }}{% endfor %}")->reads_clock());
}

// bos_token / eos_token come from tokenizer_config.json, as strings or AddedToken objects.
TEST(ChatTemplate, TheTokenizersBosAndEosTokensAreTheTemplates) {
  auto t = ChatTemplate::FromTokenizerConfig(
      R"({"bos_token": "<s>", "eos_token": {"content": "</s>", "lstrip": false},
          "chat_template": "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}{{ eos_token }}{% endfor %}"})");
  ASSERT_TRUE(t.ok()) << t.status().message();
  auto text = t->Render({{"user", "hi"}, {"assistant", "yo"}}, false);
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_EQ(*text, "<s>[user] hi</s>[assistant] yo</s>");
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
