#include <boost/json.hpp>

#include "text/components.h"
#include "text/regex.h"
#include "text/unicode.h"

namespace sightline::text {
namespace {

namespace json = boost::json;

class Sequence final : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
  std::string Apply(std::string_view text) const override {
    std::string s(text);
    for (const auto& p : parts_) s = p->Apply(s);
    return s;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

class Unicode final : public Normalizer {
 public:
  explicit Unicode(NormalForm f) : form_(f) {}
  std::string Apply(std::string_view text) const override { return Normalize(text, form_); }

 private:
  NormalForm form_;
};

// Prepend: a prefix on non-empty text (SentencePiece-converted tokenizers prepend U+2581).
class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string Apply(std::string_view text) const override {
    return text.empty() ? std::string() : prefix_ + std::string(text);
  }

 private:
  std::string prefix_;
};

class Lowercase final : public Normalizer {
 public:
  std::string Apply(std::string_view text) const override { return ToLower(text); }
};

// Replace: every match of a literal or an Oniguruma regex becomes `content`.
class Replace final : public Normalizer {
 public:
  Replace(Regex pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  std::string Apply(std::string_view text) const override { return ReplaceMatches(pattern_, text, content_); }

 private:
  Regex pattern_;
  std::string content_;
};

class Strip final : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  std::string Apply(std::string_view text) const override {
    std::u32string cps = DecodeUtf8(text);
    size_t b = 0, e = cps.size();
    if (left_)
      while (b < e && IsWhitespace(cps[b])) ++b;
    if (right_)
      while (e > b && IsWhitespace(cps[e - 1])) --e;
    return EncodeUtf8(std::u32string_view(cps).substr(b, e - b));
  }

 private:
  bool left_, right_;
};

std::string RemoveMarks(std::string_view text) {
  std::u32string out;
  for (char32_t c : DecodeUtf8(text))
    if (!IsMark(c)) out.push_back(c);
  return EncodeUtf8(out);
}

class StripAccents final : public Normalizer {
 public:
  std::string Apply(std::string_view text) const override { return RemoveMarks(text); }
};

// BERT's: drop control characters, map whitespace to ' ', pad CJK ideographs with spaces,
// strip accents (NFD, then drop marks) and lower-case.
class Bert final : public Normalizer {
 public:
  Bert(bool clean, bool chinese, bool strip, bool lower)
      : clean_(clean), chinese_(chinese), strip_(strip), lower_(lower) {}
  std::string Apply(std::string_view text) const override {
    std::u32string out;
    for (char32_t c : DecodeUtf8(text)) {
      if (clean_) {
        if (c == 0 || c == 0xFFFD || IsControl(c)) continue;
        if (IsWhitespace(c)) c = ' ';
      }
      if (chinese_ && IsCjk(c)) {
        out.push_back(' ');
        out.push_back(c);
        out.push_back(' ');
      } else {
        out.push_back(c);
      }
    }
    std::string s = EncodeUtf8(out);
    if (strip_) s = RemoveMarks(Normalize(s, NormalForm::kNfd));
    if (lower_) s = ToLower(s);
    return s;
  }

 private:
  bool clean_, chinese_, strip_, lower_;
};

bool BoolOr(const json::object& o, const char* key, bool dflt) {
  const auto* v = o.if_contains(key);
  return v && v->is_bool() ? v->get_bool() : dflt;
}

}  // namespace

Result<std::unique_ptr<Normalizer>> MakeNormalizer(const json::value& spec) {
  if (!spec.is_object()) return InvalidArgument("tokenizer.json: normalizer must be an object");
  const auto& o = spec.get_object();
  const auto* type = o.if_contains("type");
  if (!type || !type->is_string()) return InvalidArgument("tokenizer.json: normalizer without a type");
  const std::string t(type->get_string());
  if (t == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> parts;
    const auto* list = o.if_contains("normalizers");
    if (!list || !list->is_array())
      return InvalidArgument("tokenizer.json: Sequence normalizer without a list");
    for (const auto& p : list->get_array()) {
      ASSIGN_OR_RETURN(auto n, MakeNormalizer(p));
      parts.push_back(std::move(n));
    }
    return std::unique_ptr<Normalizer>(new Sequence(std::move(parts)));
  }
  if (t == "NFC") return std::unique_ptr<Normalizer>(new Unicode(NormalForm::kNfc));
  if (t == "NFD") return std::unique_ptr<Normalizer>(new Unicode(NormalForm::kNfd));
  if (t == "NFKC") return std::unique_ptr<Normalizer>(new Unicode(NormalForm::kNfkc));
  if (t == "NFKD") return std::unique_ptr<Normalizer>(new Unicode(NormalForm::kNfkd));
  if (t == "Prepend") {
    const auto* v = o.if_contains("prepend");
    if (!v || !v->is_string()) return InvalidArgument("tokenizer.json: Prepend normalizer needs 'prepend'");
    return std::unique_ptr<Normalizer>(new Prepend(std::string(v->get_string())));
  }
  if (t == "Lowercase") return std::unique_ptr<Normalizer>(new Lowercase());
  if (t == "StripAccents") return std::unique_ptr<Normalizer>(new StripAccents());
  if (t == "Strip")
    return std::unique_ptr<Normalizer>(
        new Strip(BoolOr(o, "strip_left", true), BoolOr(o, "strip_right", true)));
  if (t == "BertNormalizer") {
    const bool lower = BoolOr(o, "lowercase", true);
    const auto* sa = o.if_contains("strip_accents");
    const bool strip = sa && sa->is_bool() ? sa->get_bool() : lower;  // null: follows lowercase
    return std::unique_ptr<Normalizer>(
        new Bert(BoolOr(o, "clean_text", true), BoolOr(o, "handle_chinese_chars", true), strip, lower));
  }
  if (t == "Replace") {
    const auto* content = o.if_contains("content");
    if (!content || !content->is_string())
      return InvalidArgument("tokenizer.json: Replace normalizer needs pattern and content");
    ASSIGN_OR_RETURN(Regex pattern, PatternFromJson(o.if_contains("pattern"), "Replace normalizer"));
    return std::unique_ptr<Normalizer>(new Replace(std::move(pattern), std::string(content->get_string())));
  }
  return InvalidArgument("tokenizer.json: normalizer type '" + t + "' is not supported");
}

}  // namespace sightline::text
