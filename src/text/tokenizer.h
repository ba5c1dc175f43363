// Text to token ids, reading a Hugging Face `tokenizer.json`: normalizers (NFC/NFD/NFKC/NFKD,
// Lowercase, Replace, Strip, StripAccents, BertNormalizer, Sequence), pre-tokenizers (CLIP's and
// GPT-2's split patterns, ByteLevel, BertPreTokenizer, Whitespace, WhitespaceSplit, Sequence),
// models (byte-level BPE with end-of-word suffix, WordPiece), added/special tokens and the
// post-processors (Roberta, Bert, Template). Output matches the `tokenizers` package id for id
// (tests/unit/text, checked against ids that package produced). Thread-safe after loading.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
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
  // The id of a vocabulary or added token, or -1.
  virtual int64_t TokenId(std::string_view token) const = 0;
  virtual int64_t pad_id() const = 0;
  virtual size_t vocab_size() const = 0;
  // Bytes held by the word cache (BPE: words seen -> their ids; bounded at 4 MB), so a server can
  // account for its memory.
  virtual size_t cache_bytes() const = 0;
};

}  // namespace sightline::text
