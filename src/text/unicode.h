// Unicode helpers the tokenizers need, backed by ICU: UTF-8 <-> code points, normalisation forms,
// full lower-casing, and the character classes tokenizer patterns use (\p{L}, \p{N}, \s, ...).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sightline::text {

// Invalid UTF-8 sequences become U+FFFD, as Rust's String::from_utf8_lossy does.
std::u32string DecodeUtf8(std::string_view s);
std::string EncodeUtf8(std::u32string_view s);
void AppendUtf8(std::string& out, char32_t c);

enum class NormalForm { kNfc, kNfd, kNfkc, kNfkd };
std::string Normalize(std::string_view utf8, NormalForm form);
// Unicode default full lower-casing (no locale), as Rust's str::to_lowercase.
std::string ToLower(std::string_view utf8);

bool IsLetter(char32_t c);       // \p{L}
bool IsNumber(char32_t c);       // \p{N}
bool IsWhitespace(char32_t c);   // \s (Unicode White_Space)
bool IsPunctuation(char32_t c);  // \p{P}, plus ASCII symbols, as BERT counts them
bool IsControl(char32_t c);      // \p{Cc}, \p{Cf} except tab/newline/CR
bool IsMark(char32_t c);         // \p{Mn} (nonspacing marks, stripped with accents)
bool IsCjk(char32_t c);          // CJK ideographs BERT splits one by one

}  // namespace sightline::text
