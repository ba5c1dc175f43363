// Text to token ids and back, reading a Hugging Face `tokenizer.json`: normalizers (NFC/NFD/NFKC/
// NFKD, Lowercase, Replace, Strip, StripAccents, BertNormalizer, Sequence), pre-tokenizers (Split on
// any Oniguruma pattern, ByteLevel, BertPreTokenizer, Whitespace, WhitespaceSplit, Sequence),
// models (byte-level BPE with end-of-word suffix and byte fallback, WordPiece), added/special
// tokens, the post-processors (Roberta, Bert, Template) and the decoders (ByteLevel, WordPiece,
// Metaspace, BPEDecoder, Replace, ByteFallback, Fuse, Strip, Sequence). Output matches the
// `tokenizers` package id for id and string for string (tests/unit/text, checked against what that
// package produced). Thread-safe after loading.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sightline::text {

struct EncodeOptions {
  bool add_special_tokens = true;
  int max_length = 0;       // > 0: truncate to this many ids (special tokens kept)
  bool pad_to_max = false;  // pad up to max_length with the pad id
};

struct Encoding {
  std::vector<int64_t> ids;
  std::vector<int64_t> attention_mask;  // 1 for real tokens, 0 for padding
};

class Tokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> FromJson(std::string_view json_text);
  static Result<std::unique_ptr<Tokenizer>> FromFile(const std::filesystem::path& file);
  virtual ~Tokenizer() = default;

  virtual Encoding Encode(std::string_view text, const EncodeOptions& options = {}) const = 0;
  // Ids back to text, as the package's Tokenizer.decode: each id's token (added tokens first, then
  // the vocabulary; unknown ids are dropped), special tokens left out when asked, then the
  // decoder chain (none: tokens joined by spaces). Invalid UTF-8 the ids spell becomes U+FFFD.
  virtual std::string Decode(std::span<const int64_t> ids, bool skip_special_tokens) const = 0;

  // The id of a vocabulary or added token, or -1.
  virtual int64_t TokenId(std::string_view token) const = 0;
  // The token string of an id (added tokens first), or nullopt.
  virtual std::optional<std::string> IdToToken(int64_t id) const = 0;
  // Whether the id is an added token marked special (end-of-text, image tokens, chat markers).
  virtual bool IsSpecial(int64_t id) const = 0;
  virtual int64_t pad_id() const = 0;
  virtual size_t vocab_size() const = 0;
  // Bytes held by the word cache (BPE: words seen -> their ids; bounded at 4 MB), so a server can
  // account for its memory.
  virtual size_t cache_bytes() const = 0;
};

// Incremental detokenization for streaming: Step(id) returns the text that id completes, never
// half a UTF-8 character and never text a later id could still change, holding back while the
// tail is undecidable. The chunks concatenate to Decode(all ids). The algorithm and its chunk
// boundaries are the `tokenizers` package's DecodeStream (tokenizer/mod.rs step_decode_stream):
// decode a short window of recent ids, emit what extends the window's previous text.
// Errors: kFailedPrecondition when a new id rewrites text already emitted (a decoder that strips
// or cleans up across tokens; the package raises "invalid prefix" there too).
class DecodeStream {
 public:
  DecodeStream(const Tokenizer& tokenizer, bool skip_special_tokens)
      : tokenizer_(&tokenizer), skip_special_(skip_special_tokens) {}
  Result<std::string> Step(int64_t id);  // "" while holding back

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_;
  std::vector<int64_t> ids_;  // the window
  std::string prefix_;        // Decode(ids_) when the window was last cut
  size_t prefix_index_ = 0;
};

}  // namespace sightline::text
