#include <boost/json.hpp>

#include <algorithm>
#include <optional>

#include "text/components.h"
#include "text/regex.h"
#include "text/unicode.h"

namespace sightline::text {
namespace {

namespace json = boost::json;

// GPT-2's split, which ByteLevel applies when `use_regex` is set (tokenizers' byte_level.rs).
constexpr const char* kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
// The Whitespace pre-tokenizer's \w+|[^\w\s]+, written out: tokenizers compiles that one with
// Rust's `regex` crate, whose \w is Alphabetic, marks, decimal digits, connector punctuation and
// Join_Control (ZWJ), wider than Oniguruma's \w.
constexpr const char* kWhitespacePattern =
    "[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}]+"
    "|[^\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}\\s]+";

// tokenizers' SplitDelimiterBehavior.
enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// Splits one piece as tokenizers' NormalizedString::split does: the regex's matches and the gaps
// between them are flagged (matches true, or gaps when inverted), the behaviour decides which
// flagged parts go and which merge with a neighbour, and empty parts are dropped.
std::vector<std::string> SplitOne(const std::string& piece, const Regex& regex, Behavior behavior,
                                  bool invert) {
  struct Part {
    size_t begin, end;
    bool match;
  };
  std::vector<Part> parts;
  size_t prev = 0;
  for (const auto& [s, e] : regex.FindAll(piece)) {
    if (prev != s) parts.push_back({prev, s, invert});
    parts.push_back({s, e, !invert});
    prev = e;
  }
  if (prev != piece.size()) parts.push_back({prev, piece.size(), invert});

  std::vector<std::pair<size_t, size_t>> kept;
  bool previous_match = false;
  switch (behavior) {
    case Behavior::kRemoved:
      for (const auto& p : parts)
        if (!p.match) kept.emplace_back(p.begin, p.end);
      break;
    case Behavior::kIsolated:
      for (const auto& p : parts) kept.emplace_back(p.begin, p.end);
      break;
    case Behavior::kContiguous:
      for (const auto& p : parts) {
        if (p.match == previous_match && !kept.empty())
          kept.back().second = p.end;
        else
          kept.emplace_back(p.begin, p.end);
        previous_match = p.match;
      }
      break;
    case Behavior::kMergedWithPrevious:
      for (const auto& p : parts) {
        if (p.match && !previous_match && !kept.empty())
          kept.back().second = p.end;
        else
          kept.emplace_back(p.begin, p.end);
        previous_match = p.match;
      }
      break;
    case Behavior::kMergedWithNext:
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        if (it->match && !previous_match && !kept.empty())
          kept.back().first = it->begin;
        else
          kept.emplace_back(it->begin, it->end);
        previous_match = it->match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
  }
  std::vector<std::string> out;
  out.reserve(kept.size());
  for (const auto& [b, e] : kept)
    if (e > b) out.push_back(piece.substr(b, e - b));
  return out;
}

class SplitPattern final : public PreTokenizer {
 public:
  SplitPattern(Regex regex, Behavior b, bool invert)
      : regex_(std::move(regex)), behavior_(b), invert_(invert) {}
  std::vector<std::string> Split(std::vector<std::string> pieces) const override {
    std::vector<std::string> out;
    for (const auto& p : pieces)
      for (auto& w : SplitOne(p, regex_, behavior_, invert_)) out.push_back(std::move(w));
    return out;
  }

 private:
  Regex regex_;
  Behavior behavior_;
  bool invert_;
};

class ByteLevel final : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, std::optional<Regex> split)
      : prefix_(add_prefix_space), split_(std::move(split)) {}
  std::vector<std::string> Split(std::vector<std::string> pieces) const override {
    const auto& alphabet = ByteLevelAlphabet();
    std::vector<std::string> out;
    for (auto& p : pieces) {
      if (prefix_ && !p.empty() && p[0] != ' ') p.insert(p.begin(), ' ');  // empty text stays empty
      std::vector<std::string> words;
      if (split_) {
        words = SplitOne(p, *split_, Behavior::kIsolated, false);
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
  bool prefix_;
  std::optional<Regex> split_;
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
  if (t == "ByteLevel") {
    std::optional<Regex> split;
    if (BoolOr(o, "use_regex", true)) {
      ASSIGN_OR_RETURN(Regex r, Regex::Compile(kGpt2Pattern));
      split = std::move(r);
    }
    return std::unique_ptr<PreTokenizer>(
        new ByteLevel(BoolOr(o, "add_prefix_space", false), std::move(split)));
  }
  if (t == "BertPreTokenizer") return std::unique_ptr<PreTokenizer>(new BertPre());
  if (t == "WhitespaceSplit") return std::unique_ptr<PreTokenizer>(new WhitespaceSplit());
  if (t == "Whitespace") {
    ASSIGN_OR_RETURN(Regex r, Regex::Compile(kWhitespacePattern));
    // tokenizers: split(Invert(&RE), Removed) — the matches are the words.
    return std::unique_ptr<PreTokenizer>(new SplitPattern(std::move(r), Behavior::kRemoved, true));
  }
  if (t == "Split") {
    // pattern: {"Regex": "..."} (Oniguruma syntax) or {"String": "..."} (a literal).
    ASSIGN_OR_RETURN(Regex compiled, PatternFromJson(o.if_contains("pattern"), "Split"));
    const auto* b = o.if_contains("behavior");
    const std::string behavior = b && b->is_string() ? std::string(b->get_string()) : "Isolated";
    static constexpr std::pair<const char*, Behavior> kBehaviors[] = {
        {"Removed", Behavior::kRemoved},
        {"Isolated", Behavior::kIsolated},
        {"MergedWithPrevious", Behavior::kMergedWithPrevious},
        {"MergedWithNext", Behavior::kMergedWithNext},
        {"Contiguous", Behavior::kContiguous}};
    for (const auto& [name, beh] : kBehaviors)
      if (behavior == name)
        return std::unique_ptr<PreTokenizer>(
            new SplitPattern(std::move(compiled), beh, BoolOr(o, "invert", false)));
    return InvalidArgument("tokenizer.json: Split behavior '" + behavior + "' is not supported");
  }
  return InvalidArgument("tokenizer.json: pre_tokenizer type '" + t + "' is not supported");
}

}  // namespace sightline::text
