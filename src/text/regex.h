// Regular expressions for tokenizer.json patterns (Split pre-tokenizers, Replace normalizers,
// ByteLevel's GPT-2 split), on Oniguruma: the engine the Hugging Face `tokenizers` package uses
// (its `onig` feature, the default), with the same syntax (ONIG_SYNTAX_ONIGURUMA: Unicode classes
// \p{L}, \p{N}, \s, look-ahead, (?i:...)) and the same iteration over matches, so any pattern
// that package accepts behaves here id for id. std::regex has no \p{...} and no Unicode \s.
// A compiled Regex is immutable and may be searched from many threads at once.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace sightline::text {

class Regex {
 public:
  // Compiles a UTF-8 pattern; a pattern Oniguruma rejects is InvalidArgument naming the reason.
  static Result<Regex> Compile(std::string_view pattern);
  // A pattern matching `literal` exactly (Split's {"String": ...} form).
  static Regex Literal(std::string_view literal);

  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;
  ~Regex();

  // Every match in `text` as [begin, end) byte offsets, left to right, as the `onig` crate's
  // find_iter yields them: an empty match right after the previous match is skipped (the search
  // moves on one character). If the engine gives up on a pathological input (its per-search
  // backtracking limit), the matches found so far are returned and `complete` is set to false.
  std::vector<std::pair<size_t, size_t>> FindAll(std::string_view text, bool* complete = nullptr) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Compiled;
  Regex() = default;
  std::string pattern_;
  std::string literal_;  // set for Literal(): searched with string_view::find, not Oniguruma
  bool is_literal_ = false;
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace sightline::text
