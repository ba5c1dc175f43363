#include <boost/json.hpp>

#include <climits>
#include <map>
#include <shared_mutex>

#include "text/components.h"
#include "text/unicode.h"

namespace sightline::text {
namespace {

namespace json = boost::json;

using Vocab = std::unordered_map<std::string, int64_t>;

Result<Vocab> ReadVocab(const json::object& o) {
  const auto* v = o.if_contains("vocab");
  if (!v || !v->is_object()) return InvalidArgument("tokenizer.json: model.vocab must be an object");
  Vocab vocab;
  vocab.reserve(v->get_object().size());
  for (const auto& [k, id] : v->get_object()) {
    if (!id.is_int64() && !id.is_uint64())
      return InvalidArgument("tokenizer.json: vocab ids must be integers");
    vocab.emplace(std::string(k), id.to_number<int64_t>());
  }
  return vocab;
}

std::string StringOr(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

// Byte-pair encoding: a word's characters (the last one carrying end_of_word_suffix, later ones
// continuing_subword_prefix) are merged pair by pair, lowest merge rank first, then mapped to ids.
class Bpe final : public Model {
 public:
  Bpe(Vocab vocab, std::unordered_map<std::string, int> ranks, std::string suffix, std::string prefix,
      std::string unk)
      : vocab_(std::move(vocab)),
        ranks_(std::move(ranks)),
        suffix_(std::move(suffix)),
        prefix_(std::move(prefix)) {
    if (auto it = vocab_.find(unk); !unk.empty() && it != vocab_.end()) unk_id_ = it->second;
  }

  void Tokenize(const std::string& word, std::vector<int64_t>& out) const override {
    {
      std::shared_lock lock(mu_);
      if (auto it = cache_.find(word); it != cache_.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<std::string> symbols;
    const std::u32string cps = DecodeUtf8(word);
    for (size_t i = 0; i < cps.size(); ++i) {
      std::string s;
      if (i > 0) s = prefix_;
      AppendUtf8(s, cps[i]);
      if (i + 1 == cps.size()) s += suffix_;
      symbols.push_back(std::move(s));
    }
    while (symbols.size() > 1) {
      int best = INT_MAX;
      size_t at = 0;
      for (size_t i = 0; i + 1 < symbols.size(); ++i) {
        auto it = ranks_.find(Key(symbols[i], symbols[i + 1]));
        if (it != ranks_.end() && it->second < best) {
          best = it->second;
          at = i;
        }
      }
      if (best == INT_MAX) break;
      // Merge every occurrence of the best pair, left to right.
      const std::string a = symbols[at], b = symbols[at + 1];
      std::vector<std::string> next;
      for (size_t i = 0; i < symbols.size();) {
        if (i + 1 < symbols.size() && symbols[i] == a && symbols[i + 1] == b) {
          next.push_back(MergedSymbol(a, b));
          i += 2;
        } else {
          next.push_back(std::move(symbols[i]));
          ++i;
        }
      }
      symbols = std::move(next);
    }
    std::vector<int64_t> ids;
    for (const auto& s : symbols) {
      if (auto it = vocab_.find(s); it != vocab_.end()) {
        ids.push_back(it->second);
      } else if (unk_id_ >= 0) {
        ids.push_back(unk_id_);
      }
    }
    out.insert(out.end(), ids.begin(), ids.end());
    std::unique_lock lock(mu_);
    if (cache_.size() > 100'000) cache_.clear();  // bounded; words repeat, so it refills with the common ones
    cache_.emplace(word, std::move(ids));
  }

  int64_t TokenId(std::string_view token) const override {
    auto it = vocab_.find(std::string(token));
    return it == vocab_.end() ? -1 : it->second;
  }
  size_t vocab_size() const override { return vocab_.size(); }

 private:
  static std::string Key(const std::string& a, const std::string& b) { return a + ' ' + b; }
  // The merged symbol keeps one continuing prefix (from `a`); `b`'s own prefix goes.
  std::string MergedSymbol(const std::string& a, const std::string& b) const {
    if (!prefix_.empty() && b.rfind(prefix_, 0) == 0) return a + b.substr(prefix_.size());
    return a + b;
  }

  Vocab vocab_;
  std::unordered_map<std::string, int> ranks_;
  std::string suffix_, prefix_;
  int64_t unk_id_ = -1;
  mutable std::shared_mutex mu_;
  mutable std::unordered_map<std::string, std::vector<int64_t>> cache_;
};

// WordPiece: greedy longest match from the left, continuation pieces carrying "##"; a word with
// any unmatchable part is the unknown token as a whole.
class WordPiece final : public Model {
 public:
  WordPiece(Vocab vocab, std::string unk, std::string prefix, size_t max_chars)
      : vocab_(std::move(vocab)), prefix_(std::move(prefix)), max_chars_(max_chars) {
    if (auto it = vocab_.find(unk); it != vocab_.end()) unk_id_ = it->second;
  }

  void Tokenize(const std::string& word, std::vector<int64_t>& out) const override {
    const std::u32string cps = DecodeUtf8(word);
    if (cps.size() > max_chars_) {
      if (unk_id_ >= 0) out.push_back(unk_id_);
      return;
    }
    std::vector<int64_t> ids;
    size_t start = 0;
    while (start < cps.size()) {
      size_t end = cps.size();
      int64_t found = -1;
      while (end > start) {
        std::string piece = start > 0 ? prefix_ : std::string();
        piece += EncodeUtf8(std::u32string_view(cps).substr(start, end - start));
        if (auto it = vocab_.find(piece); it != vocab_.end()) {
          found = it->second;
          break;
        }
        --end;
      }
      if (found < 0) {
        if (unk_id_ >= 0) out.push_back(unk_id_);
        return;
      }
      ids.push_back(found);
      start = end;
    }
    out.insert(out.end(), ids.begin(), ids.end());
  }

  int64_t TokenId(std::string_view token) const override {
    auto it = vocab_.find(std::string(token));
    return it == vocab_.end() ? -1 : it->second;
  }
  size_t vocab_size() const override { return vocab_.size(); }

 private:
  Vocab vocab_;
  std::string prefix_;
  size_t max_chars_;
  int64_t unk_id_ = -1;
};

}  // namespace

Result<std::unique_ptr<Model>> MakeModel(const json::value& spec) {
  if (!spec.is_object()) return InvalidArgument("tokenizer.json: model must be an object");
  const auto& o = spec.get_object();
  std::string type = StringOr(o, "type");
  if (type.empty()) type = o.contains("merges") ? "BPE" : "WordPiece";
  ASSIGN_OR_RETURN(Vocab vocab, ReadVocab(o));
  if (type == "BPE") {
    std::unordered_map<std::string, int> ranks;
    const auto* merges = o.if_contains("merges");
    if (!merges || !merges->is_array()) return InvalidArgument("tokenizer.json: BPE model without merges");
    int rank = 0;
    for (const auto& m : merges->get_array()) {
      std::string key;
      if (m.is_string()) {
        key = std::string(m.get_string());  // "a b"
      } else if (m.is_array() && m.get_array().size() == 2 && m.get_array()[0].is_string() &&
                 m.get_array()[1].is_string()) {
        key = std::string(m.get_array()[0].get_string()) + " " + std::string(m.get_array()[1].get_string());
      } else {
        return InvalidArgument("tokenizer.json: a BPE merge must be \"a b\" or [\"a\", \"b\"]");
      }
      ranks.emplace(std::move(key), rank++);
    }
    if (const auto* bf = o.if_contains("byte_fallback"); bf && bf->is_bool() && bf->get_bool())
      return InvalidArgument("tokenizer.json: BPE byte_fallback is not supported");
    return std::unique_ptr<Model>(
        new Bpe(std::move(vocab), std::move(ranks), StringOr(o, "end_of_word_suffix"),
                StringOr(o, "continuing_subword_prefix"), StringOr(o, "unk_token")));
  }
  if (type == "WordPiece") {
    std::string prefix =
        o.contains("continuing_subword_prefix") ? StringOr(o, "continuing_subword_prefix") : "##";
    size_t max_chars = 100;
    if (const auto* m = o.if_contains("max_input_chars_per_word"); m && (m->is_int64() || m->is_uint64()))
      max_chars = static_cast<size_t>(m->to_number<int64_t>());
    return std::unique_ptr<Model>(
        new WordPiece(std::move(vocab), StringOr(o, "unk_token"), prefix, max_chars));
  }
  return InvalidArgument("tokenizer.json: model type '" + type + "' is not supported (BPE, WordPiece)");
}

}  // namespace sightline::text
