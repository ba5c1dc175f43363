#include <boost/json.hpp>

#include <functional>

#include "text/components.h"
#include "text/unicode.h"

namespace sightline::text {
namespace {

namespace json = boost::json;

// A pattern is matched by hand-written code (no general regex engine: std::regex has no
// \p{...} classes). Returns the match length at `i`, 0 for no match.
using Matcher = std::function<size_t(const std::u32string&, size_t)>;

constexpr const char* kClipPattern =
    "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";
constexpr const char* kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
constexpr const char* kWhitespacePattern = "\\w+|[^\\w\\s]+";

bool Other(char32_t c) {
  return !IsWhitespace(c) && !IsLetter(c) && !IsNumber(c);
}

size_t Literal(const std::u32string& s, size_t i, std::u32string_view lit) {
  return s.compare(i, lit.size(), lit) == 0 ? lit.size() : 0;
}

size_t Contraction(const std::u32string& s, size_t i) {
  if (s[i] != U'\'') return 0;
  for (std::u32string_view c : {U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"})
    if (size_t n = Literal(s, i, c)) return n;
  return 0;
}

template <typename Pred>
size_t Run(const std::u32string& s, size_t i, Pred p) {
  size_t j = i;
  while (j < s.size() && p(s[j])) ++j;
  return j - i;
}

size_t ClipMatch(const std::u32string& s, size_t i) {
  if (size_t n = Literal(s, i, U"<|startoftext|>")) return n;
  if (size_t n = Literal(s, i, U"<|endoftext|>")) return n;
  if (size_t n = Contraction(s, i)) return n;
  if (IsLetter(s[i])) return Run(s, i, IsLetter);
  if (IsNumber(s[i])) return 1;
  if (Other(s[i])) return Run(s, i, Other);
  return 0;
}

size_t Gpt2Match(const std::u32string& s, size_t i) {
  if (size_t n = Contraction(s, i)) return n;
  const size_t sp = s[i] == U' ' && i + 1 < s.size() ? 1 : 0;
  const char32_t c = s[i + sp];
  if (IsLetter(c)) return sp + Run(s, i + sp, IsLetter);
  if (IsNumber(c)) return sp + Run(s, i + sp, IsNumber);
  if (Other(c)) return sp + Run(s, i + sp, Other);
  if (IsWhitespace(s[i])) {
    const size_t n = Run(s, i, IsWhitespace);
    if (i + n == s.size()) return n;  // \s+(?!\S) at the end
    if (n > 1) return n - 1;          // leave the last space to prefix the next word
    return 1;                         // \s+
  }
  return 0;
}

bool Word(char32_t c) {
  return IsLetter(c) || IsNumber(c) || IsMark(c) || c == U'_';
}
size_t WhitespaceMatch(const std::u32string& s, size_t i) {
  if (Word(s[i])) return Run(s, i, Word);
  if (!IsWhitespace(s[i])) return Run(s, i, [](char32_t c) { return !Word(c) && !IsWhitespace(c); });
  return 0;
}

enum class Behavior { kRemoved, kIsolated };

// Splits one piece into matches and the gaps between them.
std::vector<std::string> SplitOne(const std::string& piece, const Matcher& match, Behavior behavior,
                                  bool invert) {
  const std::u32string s = DecodeUtf8(piece);
  std::vector<std::string> out;
  std::u32string gap;
  auto flush_gap = [&] {
    if (!gap.empty() && (behavior == Behavior::kIsolated || !invert)) out.push_back(EncodeUtf8(gap));
    gap.clear();
  };
  for (size_t i = 0; i < s.size();) {
    const size_t n = match(s, i);
    if (n == 0) {
      gap.push_back(s[i++]);
      continue;
    }
    flush_gap();
    if (behavior == Behavior::kIsolated || invert)
      out.push_back(EncodeUtf8(std::u32string_view(s).substr(i, n)));
    i += n;
  }
  flush_gap();
  return out;
}

class SplitPattern final : public PreTokenizer {
 public:
  SplitPattern(Matcher m, Behavior b, bool invert) : match_(std::move(m)), behavior_(b), invert_(invert) {}
  std::vector<std::string> Split(std::vector<std::string> pieces) const override {
    std::vector<std::string> out;
    for (const auto& p : pieces)
      for (auto& w : SplitOne(p, match_, behavior_, invert_)) out.push_back(std::move(w));
    return out;
  }

 private:
  Matcher match_;
  Behavior behavior_;
  bool invert_;
};

class ByteLevel final : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex) : prefix_(add_prefix_space), regex_(use_regex) {}
  std::vector<std::string> Split(std::vector<std::string> pieces) const override {
    const auto& alphabet = ByteLevelAlphabet();
    std::vector<std::string> out;
    for (auto& p : pieces) {
      if (prefix_ && (p.empty() || p[0] != ' ')) p.insert(p.begin(), ' ');
      std::vector<std::string> words;
      if (regex_) {
        words = SplitOne(p, Gpt2Match, Behavior::kIsolated, false);
      } else {
        words.push_back(p);
      }
      for (const auto& w : words) {
        std::string mapped;
        for (unsigned char b : w) mapped += alphabet[b];
        out.push_back(std::move(mapped));
      }
    }
    return out;
  }

 private:
  bool prefix_, regex_;
};

// BERT: whitespace separates (and is dropped), every punctuation character is its own word.
class BertPre final : public PreTokenizer {
 public:
  std::vector<std::string> Split(std::vector<std::string> pieces) const override {
    std::vector<std::string> out;
    for (const auto& p : pieces) {
      std::u32string word;
      auto flush = [&] {
        if (!word.empty()) out.push_back(EncodeUtf8(word));
        word.clear();
      };
      for (char32_t c : DecodeUtf8(p)) {
        if (IsWhitespace(c)) {
          flush();
        } else if (IsPunctuation(c)) {
          flush();
          out.push_back(EncodeUtf8(std::u32string(1, c)));
        } else {
          word.push_back(c);
        }
      }
      flush();
    }
    return out;
  }
};

class WhitespaceSplit final : public PreTokenizer {
 public:
  std::vector<std::string> Split(std::vector<std::string> pieces) const override {
    std::vector<std::string> out;
    for (const auto& p : pieces) {
      std::u32string word;
      for (char32_t c : DecodeUtf8(p)) {
        if (IsWhitespace(c)) {
          if (!word.empty()) out.push_back(EncodeUtf8(word));
          word.clear();
        } else {
          word.push_back(c);
        }
      }
      if (!word.empty()) out.push_back(EncodeUtf8(word));
    }
    return out;
  }
};

class Sequence final : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> parts) : parts_(std::move(parts)) {}
  std::vector<std::string> Split(std::vector<std::string> pieces) const override {
    for (const auto& p : parts_) pieces = p->Split(std::move(pieces));
    return pieces;
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

bool BoolOr(const json::object& o, const char* key, bool dflt) {
  const auto* v = o.if_contains(key);
  return v && v->is_bool() ? v->get_bool() : dflt;
}

}  // namespace

const std::vector<std::string>& ByteLevelAlphabet() {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      std::string s;
      AppendUtf8(s, printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++));
      t[b] = s;
    }
    return t;
  }();
  return table;
}

Result<std::unique_ptr<PreTokenizer>> MakePreTokenizer(const json::value& spec) {
  if (!spec.is_object()) return InvalidArgument("tokenizer.json: pre_tokenizer must be an object");
  const auto& o = spec.get_object();
  const auto* type = o.if_contains("type");
  if (!type || !type->is_string()) return InvalidArgument("tokenizer.json: pre_tokenizer without a type");
  const std::string t(type->get_string());
  if (t == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    const auto* list = o.if_contains("pretokenizers");
    if (!list || !list->is_array())
      return InvalidArgument("tokenizer.json: Sequence pre_tokenizer without a list");
    for (const auto& p : list->get_array()) {
      ASSIGN_OR_RETURN(auto n, MakePreTokenizer(p));
      parts.push_back(std::move(n));
    }
    return std::unique_ptr<PreTokenizer>(new Sequence(std::move(parts)));
  }
  if (t == "ByteLevel")
    return std::unique_ptr<PreTokenizer>(
        new ByteLevel(BoolOr(o, "add_prefix_space", false), BoolOr(o, "use_regex", true)));
  if (t == "BertPreTokenizer") return std::unique_ptr<PreTokenizer>(new BertPre());
  if (t == "WhitespaceSplit") return std::unique_ptr<PreTokenizer>(new WhitespaceSplit());
  if (t == "Whitespace")
    return std::unique_ptr<PreTokenizer>(new SplitPattern(WhitespaceMatch, Behavior::kIsolated, false));
  if (t == "Split") {
    const auto* pat = o.if_contains("pattern");
    std::string regex;
    if (pat && pat->is_object())
      if (const auto* r = pat->get_object().if_contains("Regex"); r && r->is_string())
        regex = std::string(r->get_string());
    Matcher m;
    if (regex == kClipPattern)
      m = ClipMatch;
    else if (regex == kGpt2Pattern)
      m = Gpt2Match;
    else if (regex == kWhitespacePattern)
      m = WhitespaceMatch;
    else
      return InvalidArgument("tokenizer.json: Split pattern '" + regex +
                             "' is not supported (CLIP's, GPT-2's or \\w+|[^\\w\\s]+)");
    const auto* b = o.if_contains("behavior");
    const std::string behavior = b && b->is_string() ? std::string(b->get_string()) : "Isolated";
    Behavior beh;
    if (behavior == "Removed")
      beh = Behavior::kRemoved;
    else if (behavior == "Isolated")
      beh = Behavior::kIsolated;
    else
      return InvalidArgument("tokenizer.json: Split behavior '" + behavior + "' is not supported");
    return std::unique_ptr<PreTokenizer>(new SplitPattern(m, beh, BoolOr(o, "invert", false)));
  }
  return InvalidArgument("tokenizer.json: pre_tokenizer type '" + t + "' is not supported");
}

}  // namespace sightline::text
