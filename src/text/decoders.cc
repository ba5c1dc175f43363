// The tokenizer.json decoders: token strings -> text, each a port of the `tokenizers` crate's
// decode_chain (src/decoders/*.rs), so generated text matches what Python's tokenizer.decode()
// prints, character for character (tests/unit/text/decoder_test.cc against that package's output).
#include <boost/json.hpp>

#include <optional>

#include "text/components.h"
#include "text/regex.h"
#include "text/unicode.h"

namespace sightline::text {
namespace {

namespace json = boost::json;

std::string StringOr(const json::object& o, const char* key, std::string fallback) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : fallback;
}
bool BoolOr(const json::object& o, const char* key, bool fallback) {
  const auto* v = o.if_contains(key);
  return v && v->is_bool() ? v->get_bool() : fallback;
}
size_t SizeOr(const json::object& o, const char* key, size_t fallback) {
  const auto* v = o.if_contains(key);
  return v && (v->is_int64() || v->is_uint64()) ? v->to_number<size_t>() : fallback;
}

// Every occurrence of a non-empty literal replaced, as Rust's str::replace.
std::string ReplaceAll(std::string_view s, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(s);
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string_view::npos; pos = hit + from.size()) {
    out.append(s.substr(pos, hit - pos));
    out.append(to);
  }
  out.append(s.substr(pos));
  return out;
}

// ByteLevel: each character back to the byte GPT-2's alphabet gave it; a token holding a
// character outside the alphabet (an added token) keeps its own UTF-8 bytes. The bytes of all
// tokens are one string, invalid sequences U+FFFD (from_utf8_lossy).
class ByteLevelDecoder final : public Decoder {
 public:
  ByteLevelDecoder() {
    const auto& alphabet = ByteLevelAlphabet();
    for (int b = 0; b < 256; ++b) byte_of_[DecodeUtf8(alphabet[b])[0]] = static_cast<char>(b);
  }
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    std::string bytes;
    for (const auto& t : tokens) {
      std::string mapped;
      bool all = true;
      for (char32_t c : DecodeUtf8(t)) {
        auto it = byte_of_.find(c);
        if (it == byte_of_.end()) {
          all = false;
          break;
        }
        mapped += it->second;
      }
      bytes += all ? mapped : t;
    }
    return {EncodeUtf8(DecodeUtf8(bytes))};
  }

 private:
  std::unordered_map<char32_t, char> byte_of_;
};

// WordPiece: "##" continues the previous word, anything else after the first token starts a new
// one; `cleanup` undoes BERT's spacing around punctuation and contractions.
class WordPieceDecoder final : public Decoder {
 public:
  WordPieceDecoder(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      auto& t = tokens[i];
      if (i != 0) {
        if (t.starts_with(prefix_)) {
          t.erase(0, prefix_.size());
        } else {
          t.insert(t.begin(), ' ');
        }
      }
      if (cleanup_) t = Cleanup(t);
    }
    return tokens;
  }

 private:
  static std::string Cleanup(std::string s) {
    static constexpr std::pair<std::string_view, std::string_view> kRules[] = {
        {" .", "."},   {" ?", "?"},           {" !", "!"},   {" ,", ","},     {" ' ", "'"},   {" n't", "n't"},
        {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    for (const auto& [from, to] : kRules) s = ReplaceAll(s, from, to);
    return s;
  }
  std::string prefix_;
  bool cleanup_;
};

// Metaspace: the replacement character (U+2581) back to a space, except in the first token when
// the encoder prepended one (every one of that token's, as the crate does).
class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(char32_t replacement, bool prepended) : replacement_(replacement), prepended_(prepended) {}
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      for (char32_t c : DecodeUtf8(tokens[i])) {
        if (c != replacement_) {
          AppendUtf8(out, c);
        } else if (i != 0 || !prepended_) {
          out += ' ';
        }
      }
      tokens[i] = std::move(out);
    }
    return tokens;
  }

 private:
  char32_t replacement_;
  bool prepended_;
};

// BPEDecoder: the end-of-word suffix becomes a space, or nothing in the last token.
class BpeSuffixDecoder final : public Decoder {
 public:
  explicit BpeSuffixDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i)
      tokens[i] = ReplaceAll(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ");
    return tokens;
  }

 private:
  std::string suffix_;
};

class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(Regex pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    for (auto& t : tokens) t = ReplaceMatches(pattern_, t, content_);
    return tokens;
  }

 private:
  Regex pattern_;
  std::string content_;
};

// ByteFallback: runs of <0xXX> tokens become the bytes they name, if those are valid UTF-8; an
// invalid run is one U+FFFD per byte (not from_utf8_lossy's per sequence).
class ByteFallbackDecoder final : public Decoder {
 public:
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    std::string run;
    size_t run_bytes = 0;
    auto flush = [&] {
      if (run_bytes == 0) return;
      if (EncodeUtf8(DecodeUtf8(run)) == run) {  // valid UTF-8 survives the lossy round trip
        out.push_back(run);
      } else {
        for (size_t i = 0; i < run_bytes; ++i) out.push_back("\xEF\xBF\xBD");
      }
      run.clear();
      run_bytes = 0;
    };
    for (auto& t : tokens) {
      if (auto b = ByteOf(t)) {
        run += static_cast<char>(*b);
        ++run_bytes;
        continue;
      }
      flush();
      out.push_back(std::move(t));
    }
    flush();
    return out;
  }

 private:
  static std::optional<int> ByteOf(const std::string& t) {
    if (t.size() != 6 || !t.starts_with("<0x") || t.back() != '>') return std::nullopt;
    int v = 0;
    for (char c : t.substr(3, 2)) {
      v *= 16;
      if (c >= '0' && c <= '9') {
        v += c - '0';
      } else if (c >= 'a' && c <= 'f') {
        v += c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        v += c - 'A' + 10;
      } else {
        return std::nullopt;
      }
    }
    return v;
  }
};

class FuseDecoder final : public Decoder {
 public:
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    return {all};
  }
};

// Strip: up to `start` leading and `stop` trailing `content` characters off each token.
class StripDecoder final : public Decoder {
 public:
  StripDecoder(char32_t content, size_t start, size_t stop) : content_(content), start_(start), stop_(stop) {}
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    for (auto& t : tokens) {
      std::u32string cps = DecodeUtf8(t);
      size_t b = 0, e = cps.size();
      while (b < e && b < start_ && cps[b] == content_) ++b;
      size_t stripped = 0;
      while (e > b && stripped < stop_ && cps[e - 1] == content_) --e, ++stripped;
      t = EncodeUtf8(std::u32string_view(cps).substr(b, e - b));
    }
    return tokens;
  }

 private:
  char32_t content_;
  size_t start_, stop_;
};

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts) : parts_(std::move(parts)) {}
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    for (const auto& p : parts_) tokens = p->DecodeChain(std::move(tokens));
    return tokens;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

Result<char32_t> OneCharacter(const std::string& s, const char* what) {
  std::u32string cps = DecodeUtf8(s);
  if (cps.size() != 1)
    return InvalidArgument(std::string("tokenizer.json: decoder ") + what + " must be one character");
  return cps[0];
}

}  // namespace

Result<std::unique_ptr<Decoder>> MakeDecoder(const json::value& spec) {
  if (!spec.is_object()) return InvalidArgument("tokenizer.json: decoder must be an object");
  const auto& o = spec.get_object();
  const std::string t = StringOr(o, "type", "");
  if (t == "ByteLevel") return std::unique_ptr<Decoder>(new ByteLevelDecoder());
  if (t == "WordPiece")
    return std::unique_ptr<Decoder>(
        new WordPieceDecoder(StringOr(o, "prefix", "##"), BoolOr(o, "cleanup", true)));
  if (t == "Metaspace") {
    ASSIGN_OR_RETURN(char32_t r, OneCharacter(StringOr(o, "replacement", "\xE2\x96\x81"), "replacement"));
    // prepend_scheme "always"/"first" (0.14+), or the older add_prefix_space flag.
    bool prepended = BoolOr(o, "add_prefix_space", true);
    if (const auto* s = o.if_contains("prepend_scheme"); s && s->is_string())
      prepended = s->get_string() != "never";
    return std::unique_ptr<Decoder>(new MetaspaceDecoder(r, prepended));
  }
  if (t == "BPEDecoder") return std::unique_ptr<Decoder>(new BpeSuffixDecoder(StringOr(o, "suffix", "</w>")));
  if (t == "Replace") {
    const auto* content = o.if_contains("content");
    if (!content || !content->is_string())
      return InvalidArgument("tokenizer.json: Replace decoder needs pattern and content");
    ASSIGN_OR_RETURN(Regex pattern, PatternFromJson(o.if_contains("pattern"), "Replace decoder"));
    return std::unique_ptr<Decoder>(
        new ReplaceDecoder(std::move(pattern), std::string(content->get_string())));
  }
  if (t == "ByteFallback") return std::unique_ptr<Decoder>(new ByteFallbackDecoder());
  if (t == "Fuse") return std::unique_ptr<Decoder>(new FuseDecoder());
  if (t == "Strip") {
    ASSIGN_OR_RETURN(char32_t c, OneCharacter(StringOr(o, "content", " "), "Strip content"));
    return std::unique_ptr<Decoder>(new StripDecoder(c, SizeOr(o, "start", 0), SizeOr(o, "stop", 0)));
  }
  if (t == "Sequence") {
    const auto* list = o.if_contains("decoders");
    if (!list || !list->is_array())
      return InvalidArgument("tokenizer.json: Sequence decoder needs 'decoders'");
    std::vector<std::unique_ptr<Decoder>> parts;
    for (const auto& d : list->get_array()) {
      ASSIGN_OR_RETURN(auto part, MakeDecoder(d));
      parts.push_back(std::move(part));
    }
    return std::unique_ptr<Decoder>(new SequenceDecoder(std::move(parts)));
  }
  return InvalidArgument("tokenizer.json: decoder type '" + t + "' is not supported");
}

}  // namespace sightline::text
