// Fuzzes text encoding (untrusted request text): UTF-8 decoding, the CLIP and BERT normalisers
// and pre-tokenisers, byte-level BPE and WordPiece, on small inline tokenizers.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string_view>
#include <vector>

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
  "decoder": {"type": "Sequence", "decoders": [{"type": "ByteLevel"}, {"type": "BPEDecoder", "suffix": "</w>"}]},
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "a</w>": 2, "ab</w>": 3, "<|startoftext|>": 4, "b</w>": 6},
            "merges": ["a b</w>"], "end_of_word_suffix": "</w>", "unk_token": "<|endoftext|>"}})";
constexpr const char* kBertLike = R"({
  "normalizer": {"type": "BertNormalizer", "lowercase": true},
  "pre_tokenizer": {"type": "BertPreTokenizer"},
  "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
  "model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 1, "##b": 2}, "unk_token": "[UNK]"}})";
// Llama-3's split pattern (case-insensitive group, \p{N}{1,3}, look-ahead) through Oniguruma,
// ignore_merges, byte_fallback and fuse_unk, a Prepend/Replace normaliser and every Split
// behaviour in turn.
constexpr const char* kLlamaLike = R"({
  "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "_"},
    {"type": "Replace", "pattern": {"String": " "}, "content": "_"}]},
  "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     "behavior": "Isolated", "invert": false},
    {"type": "Split", "pattern": {"Regex": "a*"}, "behavior": "MergedWithNext", "invert": true},
    {"type": "Split", "pattern": {"String": "ab"}, "behavior": "Contiguous", "invert": false},
    {"type": "Split", "pattern": {"Regex": "\\d"}, "behavior": "MergedWithPrevious", "invert": false}]},
  "model": {"type": "BPE", "vocab": {"<unk>": 0, "a": 1, "b": 2, "ab": 3, "_": 4, "<0x41>": 5, "<0xC3>": 6, "_a": 7},
            "merges": [["a", "b"], ["_", "a"]], "unk_token": "<unk>", "fuse_unk": true,
            "byte_fallback": true, "ignore_merges": true},
  "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "_"}, "content": " "},
    {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0},
    {"type": "Metaspace", "replacement": "_", "prepend_scheme": "first"}]}})";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto clip = sightline::text::Tokenizer::FromJson(kClipLike);
  static auto bert = sightline::text::Tokenizer::FromJson(kBertLike);
  static auto llama = sightline::text::Tokenizer::FromJson(kLlamaLike);
  for (const auto* t : {&clip, &bert, &llama})
    if (!t->ok()) {  // the inline tokenizers must load
      std::fprintf(stderr, "%s\n", t->status().ToString().c_str());
      __builtin_trap();
    }
  std::string_view text(reinterpret_cast<const char*>(data), size);
  sightline::text::EncodeOptions o;
  o.max_length = 77;
  o.pad_to_max = true;
  (void)(*clip)->Encode(text, o);
  (void)(*bert)->Encode(text);
  const auto encoded = (*llama)->Encode(text);
  // Decoding: the encoding back, and the bytes as ids (a model may generate any id, unknown ones
  // included), whole and streamed id by id.
  std::vector<int64_t> ids(data, data + size);
  for (auto& id : ids) id -= 8;  // a few negative ids too
  for (auto* t : {&clip, &bert, &llama}) {
    const sightline::text::Tokenizer& tok = *t->value();
    (void)tok.Decode(ids, true);
    (void)tok.Decode(ids, false);
    // Streamed: at most the 512 ids a generation can produce (tasks::kMaxNewTokensLimit). Ids that
    // decode to nothing stay in the stream's window, as in the package, so each step re-decodes
    // them: quadratic, fine at 512, but thousands of unknown ids would only time the fuzzer out.
    sightline::text::DecodeStream stream(tok, true);
    for (size_t i = 0; i < ids.size() && i < 512; ++i)
      if (!stream.Step(ids[i]).ok()) break;  // a rewritten prefix ends the stream, as in the package
  }
  (void)(*llama)->Decode(encoded.ids, false);
  return 0;
}
