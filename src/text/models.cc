#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <queue>
#include <shared_mutex>

#include "core/heap_bytes.h"
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

// id -> token, pointing into the vocabulary's own keys (stable: the map is node-based and never
// changes after loading). A map rather than a vector: ids may be sparse.
class ReverseVocab {
 public:
  explicit ReverseVocab(const Vocab& vocab) {
    tokens_.reserve(vocab.size());
    for (const auto& [token, id] : vocab) tokens_.emplace(id, &token);
  }
  const std::string* Find(int64_t id) const {
    auto it = tokens_.find(id);
    return it == tokens_.end() ? nullptr : it->second;
  }

 private:
  std::unordered_map<int64_t, const std::string*> tokens_;
};

bool BoolOr(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_bool() && v->get_bool();
}

std::string StringOr(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

struct BpeOptions {
  std::string unk_token, suffix, prefix;  // end_of_word_suffix, continuing_subword_prefix
  bool fuse_unk = false, byte_fallback = false, ignore_merges = false;
};

// Byte-pair encoding as the `tokenizers` package runs it (models/bpe/{model,word}.rs): a word's
// characters become vocabulary ids (prefix on all but the first, suffix on the last; unknown
// characters as <0xXX> byte tokens under byte_fallback, else the unknown token, fused if asked),
// then the lowest-ranked adjacent pair is merged, repeatedly, through a min-heap over
// (rank, position) with lazy invalidation: O(n log n) in the word's length, where re-scanning
// every pair after each merge is O(n^2) and lets one long word stall a thread for seconds.
class Bpe final : public Model {
 public:
  struct Merge {
    int rank;
    int64_t new_id;
  };

  Bpe(Vocab vocab, std::unordered_map<uint64_t, Merge> merges, BpeOptions options)
      : vocab_(std::move(vocab)), reverse_(vocab_), merges_(std::move(merges)), o_(std::move(options)) {
    if (auto it = vocab_.find(o_.unk_token); !o_.unk_token.empty() && it != vocab_.end())
      unk_id_ = it->second;
  }

  void Tokenize(const std::string& word, std::vector<int64_t>& out) const override {
    if (word.empty()) return;
    if (o_.ignore_merges)
      if (auto it = vocab_.find(word); it != vocab_.end()) {
        out.push_back(it->second);
        return;
      }
    const bool cacheable = word.size() < kMaxCachedWordBytes;
    if (cacheable) {
      std::shared_lock lock(mu_);
      if (auto it = cache_.find(word); it != cache_.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<int64_t> ids = MergeAll(InitialSymbols(word));
    out.insert(out.end(), ids.begin(), ids.end());
    if (!cacheable) return;
    const size_t entry = EntryBytes(word, ids);
    std::unique_lock lock(mu_);
    // Bounded in bytes, emptied when full: words repeat, so it refills with the common ones. (A
    // bound by count let fresh words — numbers, ids — hold ~30 MB that no gauge showed.)
    if (cache_bytes_ + entry + BucketBytesWith(cache_.size() + 1) > kMaxCacheBytes) {
      cache_.clear();
      cache_bytes_ = 0;
    }
    if (cache_.emplace(word, std::move(ids)).second) cache_bytes_ += entry;
  }

  size_t cache_bytes() const override {
    std::shared_lock lock(mu_);
    return cache_bytes_ + BucketBytesWith(cache_.size());
  }

  int64_t TokenId(std::string_view token) const override {
    auto it = vocab_.find(std::string(token));
    return it == vocab_.end() ? -1 : it->second;
  }
  const std::string* IdToToken(int64_t id) const override { return reverse_.Find(id); }
  size_t vocab_size() const override { return vocab_.size(); }

  static uint64_t PairKey(int64_t a, int64_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

 private:
  // tokenizers caches words shorter than this (bpe/model.rs MAX_LENGTH); longer ones are rare and
  // would let one request fill the cache with megabytes.
  static constexpr size_t kMaxCachedWordBytes = 256;
  static constexpr size_t kMaxCacheBytes = 4u << 20;
  // A cache entry's heap blocks: the node (next pointer, key, ids vector, cached hash), the key's
  // characters when longer than the short-string buffer, and the ids.
  static size_t EntryBytes(const std::string& word, const std::vector<int64_t>& ids) {
    constexpr size_t kNode =
        sizeof(void*) + sizeof(std::pair<const std::string, std::vector<int64_t>>) + sizeof(size_t);
    return HeapBlockBytes(kNode) + (word.size() > 15 ? HeapBlockBytes(word.size() + 1) : 0) +
           (ids.empty() ? 0 : HeapBlockBytes(ids.capacity() * sizeof(int64_t)));
  }

  // The bucket array (one heap block, kept across clear()) once the cache holds `entries`: libstdc++
  // roughly doubles it when the load factor would pass its maximum.
  size_t BucketBytesWith(size_t entries) const {
    size_t buckets = cache_.bucket_count();
    if (static_cast<float>(entries) > static_cast<float>(buckets) * cache_.max_load_factor())
      buckets = 2 * buckets + 1;
    return buckets > 1 ? HeapBlockBytes(buckets * sizeof(void*)) : 0;
  }

  // merge_word(): the word's characters as ids.
  std::vector<int64_t> InitialSymbols(const std::string& word) const {
    std::vector<int64_t> ids;
    ids.reserve(word.size());
    int64_t pending_unk = -1;  // an unknown run not yet emitted (fuse_unk extends it)
    size_t i = 0;
    std::string s;
    while (i < word.size()) {
      size_t n = 1;
      const auto lead = static_cast<unsigned char>(word[i]);
      if (lead >= 0xF0)
        n = 4;
      else if (lead >= 0xE0)
        n = 3;
      else if (lead >= 0xC0)
        n = 2;
      n = std::min(n, word.size() - i);
      const bool first = i == 0, last = i + n == word.size();
      s.clear();
      if (!first) s += o_.prefix;
      s.append(word, i, n);
      if (last) s += o_.suffix;
      i += n;
      if (auto it = vocab_.find(s); it != vocab_.end()) {
        if (pending_unk >= 0) ids.push_back(pending_unk), pending_unk = -1;
        ids.push_back(it->second);
        continue;
      }
      if (o_.byte_fallback) {
        std::vector<int64_t> bytes;
        for (unsigned char b : s) {
          char code[8];
          std::snprintf(code, sizeof code, "<0x%02X>", b);
          auto it = vocab_.find(code);
          if (it == vocab_.end()) break;
          bytes.push_back(it->second);
        }
        if (bytes.size() == s.size()) {
          // As tokenizers does, a pending unknown run is not emitted before the bytes.
          ids.insert(ids.end(), bytes.begin(), bytes.end());
          continue;
        }
      }
      if (unk_id_ < 0) continue;  // no unknown token: the character is dropped
      if (pending_unk >= 0 && !o_.fuse_unk) ids.push_back(pending_unk);
      pending_unk = unk_id_;
    }
    if (pending_unk >= 0) ids.push_back(pending_unk);
    return ids;
  }

  // merge_all(): a doubly linked list of symbols and a min-heap of candidate merges ordered by
  // (rank, position); an entry is stale if its symbol was merged away or its pair changed.
  std::vector<int64_t> MergeAll(std::vector<int64_t> ids) const {
    const int n = static_cast<int>(ids.size());
    if (n < 2) return ids;
    std::vector<int> prev(n), next(n);
    std::vector<bool> gone(n, false);
    for (int i = 0; i < n; ++i) prev[i] = i - 1, next[i] = i + 1 < n ? i + 1 : -1;
    struct Candidate {
      int rank, pos;
      int64_t new_id;
      bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
    auto consider = [&](int pos) {
      if (pos < 0 || next[pos] < 0) return;
      if (auto it = merges_.find(PairKey(ids[pos], ids[next[pos]])); it != merges_.end())
        heap.push({it->second.rank, pos, it->second.new_id});
    };
    for (int i = 0; i + 1 < n; ++i) consider(i);
    while (!heap.empty()) {
      const Candidate top = heap.top();
      heap.pop();
      if (gone[top.pos] || next[top.pos] < 0) continue;
      const int right = next[top.pos];
      auto it = merges_.find(PairKey(ids[top.pos], ids[right]));
      if (it == merges_.end() || it->second.new_id != top.new_id) continue;  // stale
      ids[top.pos] = top.new_id;
      gone[right] = true;
      next[top.pos] = next[right];
      if (next[right] >= 0) prev[next[right]] = top.pos;
      consider(prev[top.pos]);
      consider(top.pos);
    }
    std::vector<int64_t> out;
    out.reserve(n);
    for (int i = 0; i < n; ++i)
      if (!gone[i]) out.push_back(ids[i]);
    return out;
  }

  Vocab vocab_;
  ReverseVocab reverse_;
  std::unordered_map<uint64_t, Merge> merges_;
  BpeOptions o_;
  int64_t unk_id_ = -1;
  mutable std::shared_mutex mu_;
  mutable std::unordered_map<std::string, std::vector<int64_t>> cache_;
  mutable size_t cache_bytes_ = 0;
};

// WordPiece: greedy longest match from the left, continuation pieces carrying "##"; a word with
// any unmatchable part is the unknown token as a whole.
class WordPiece final : public Model {
 public:
  WordPiece(Vocab vocab, std::string unk, std::string prefix, size_t max_chars)
      : vocab_(std::move(vocab)), reverse_(vocab_), prefix_(std::move(prefix)), max_chars_(max_chars) {
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
  const std::string* IdToToken(int64_t id) const override { return reverse_.Find(id); }
  size_t vocab_size() const override { return vocab_.size(); }

 private:
  Vocab vocab_;
  ReverseVocab reverse_;
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
    BpeOptions options{
        StringOr(o, "unk_token"), StringOr(o, "end_of_word_suffix"), StringOr(o, "continuing_subword_prefix"),
        BoolOr(o, "fuse_unk"),    BoolOr(o, "byte_fallback"),        BoolOr(o, "ignore_merges")};
    const auto* merges = o.if_contains("merges");
    if (!merges || !merges->is_array()) return InvalidArgument("tokenizer.json: BPE model without merges");
    std::unordered_map<uint64_t, Bpe::Merge> table;
    table.reserve(merges->get_array().size());
    int rank = 0;
    for (const auto& m : merges->get_array()) {
      std::string a, b;
      if (m.is_string()) {  // "a b"
        const std::string_view line(m.get_string());
        const size_t space = line.find(' ');
        if (space == std::string_view::npos)
          return InvalidArgument("tokenizer.json: a BPE merge must be \"a b\" or [\"a\", \"b\"]");
        a = std::string(line.substr(0, space));
        b = std::string(line.substr(space + 1));
      } else if (m.is_array() && m.get_array().size() == 2 && m.get_array()[0].is_string() &&
                 m.get_array()[1].is_string()) {
        a = std::string(m.get_array()[0].get_string());
        b = std::string(m.get_array()[1].get_string());
      } else {
        return InvalidArgument("tokenizer.json: a BPE merge must be \"a b\" or [\"a\", \"b\"]");
      }
      // The merged token drops b's continuing prefix, as tokenizers builds it.
      std::string merged = a;
      if (b.size() >= options.prefix.size()) merged += b.substr(options.prefix.size());
      auto ia = vocab.find(a), ib = vocab.find(b), im = vocab.find(merged);
      if (ia == vocab.end() || ib == vocab.end() || im == vocab.end())
        return InvalidArgument("tokenizer.json: BPE merge '" + a + " " + b +
                               "' uses a token outside the vocabulary");
      // A repeated pair keeps its last rank, as tokenizers' map collection does.
      table[Bpe::PairKey(ia->second, ib->second)] = Bpe::Merge{rank++, im->second};
    }
    return std::unique_ptr<Model>(new Bpe(std::move(vocab), std::move(table), std::move(options)));
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
