// Fuzzes text encoding (untrusted request text): UTF-8 decoding, the CLIP and BERT normalisers
// and pre-tokenisers, byte-level BPE and WordPiece, on small inline tokenizers.
#include <cstdint>
#include <memory>
#include <string_view>

#include "text/tokenizer.h"

namespace {
constexpr const char* kClipLike = R"({
  "added_tokens": [{"id": 5, "content": "<|endoftext|>", "normalized": false, "special": true}],
  "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"},
    {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "}, {"type": "Lowercase"}]},
  "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"},
     "behavior": "Removed", "invert": true},
    {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]},
  "post_processor": {"type": "RobertaProcessing", "sep": ["<|endoftext|>", 5], "cls": ["<|startoftext|>", 4]},
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "a</w>": 2, "ab</w>": 3, "<|startoftext|>": 4},
            "merges": ["a b</w>"], "end_of_word_suffix": "</w>", "unk_token": "<|endoftext|>"}})";
constexpr const char* kBertLike = R"({
  "normalizer": {"type": "BertNormalizer", "lowercase": true},
  "pre_tokenizer": {"type": "BertPreTokenizer"},
  "model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 1, "##b": 2}, "unk_token": "[UNK]"}})";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto clip = sightline::text::Tokenizer::FromJson(kClipLike);
  static auto bert = sightline::text::Tokenizer::FromJson(kBertLike);
  if (!clip.ok() || !bert.ok()) __builtin_trap();  // the inline tokenizers must load
  std::string_view text(reinterpret_cast<const char*>(data), size);
  sightline::text::EncodeOptions o;
  o.max_length = 77;
  o.pad_to_max = true;
  (void)(*clip)->Encode(text, o);
  (void)(*bert)->Encode(text);
  return 0;
}
