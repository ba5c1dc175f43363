// Internal to text/: the pieces a tokenizer.json describes, each a small value type built by
// tokenizer.cc from its JSON. Kept apart so each has one job and can be tested alone.
#pragma once

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "text/regex.h"

namespace sightline::text {

// A tokenizer.json pattern, {"String": s} (a literal) or {"Regex": r} (Oniguruma); `what` names
// the component in errors ("Split", "Replace normalizer", ...).
Result<Regex> PatternFromJson(const boost::json::value* pattern, const std::string& what);
// `text` with every match of `pattern` replaced by `content` (the Replace normalizer and decoder).
std::string ReplaceMatches(const Regex& pattern, std::string_view text, const std::string& content);

// ---- normalizers: text -> text ---------------------------------------------------------------
class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual std::string Apply(std::string_view text) const = 0;
};
Result<std::unique_ptr<Normalizer>> MakeNormalizer(const boost::json::value& spec);

// ---- pre-tokenizers: text -> words ------------------------------------------------------------
class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits every piece in `pieces` further (pieces are UTF-8).
  virtual std::vector<std::string> Split(std::vector<std::string> pieces) const = 0;
};
Result<std::unique_ptr<PreTokenizer>> MakePreTokenizer(const boost::json::value& spec);

// GPT-2's byte -> printable character table, as UTF-8 strings (ByteLevel's alphabet).
const std::vector<std::string>& ByteLevelAlphabet();

// ---- models: word -> ids ------------------------------------------------------------------------
class Model {
 public:
  virtual ~Model() = default;
  virtual void Tokenize(const std::string& word, std::vector<int64_t>& out) const = 0;
  virtual int64_t TokenId(std::string_view token) const = 0;
  // The vocabulary string of an id, or nullptr when the model has none.
  virtual const std::string* IdToToken(int64_t id) const = 0;
  virtual size_t vocab_size() const = 0;
  // Bytes held by the model's word cache (BPE), for memory accounting; 0 without one.
  virtual size_t cache_bytes() const { return 0; }
};
Result<std::unique_ptr<Model>> MakeModel(const boost::json::value& spec);

// ---- decoders: token strings -> text -----------------------------------------------------------
class Decoder {
 public:
  virtual ~Decoder() = default;
  // One step of the chain (the `tokenizers` crate's decode_chain); the text is the concatenation
  // of what the last step returns.
  virtual std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const = 0;
};
Result<std::unique_ptr<Decoder>> MakeDecoder(const boost::json::value& spec);

}  // namespace sightline::text
