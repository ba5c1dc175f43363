#include "text/regex.h"

#include <oniguruma.h>

#include <mutex>

namespace sightline::text {

struct Regex::Compiled {
  OnigRegex re = nullptr;
  ~Compiled() {
    if (re) onig_free(re);
  }
};

namespace {

void InitializeOnce() {
  // Oniguruma wants its encodings registered once per process before the first compile.
  static std::once_flag once;
  std::call_once(once, [] {
    OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
    onig_initialize(encodings, 1);
  });
}

size_t Utf8Length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

}  // namespace

Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;
Regex::~Regex() = default;

Result<Regex> Regex::Compile(std::string_view pattern) {
  InitializeOnce();
  Regex r;
  r.pattern_ = std::string(pattern);
  r.compiled_ = std::make_unique<Compiled>();
  OnigErrorInfo info;
  const auto* p = reinterpret_cast<const OnigUChar*>(r.pattern_.data());
  const int rc = onig_new(&r.compiled_->re, p, p + r.pattern_.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                          ONIG_SYNTAX_DEFAULT, &info);
  if (rc != ONIG_NORMAL) {
    OnigUChar message[ONIG_MAX_ERROR_MESSAGE_LEN];
    onig_error_code_to_str(message, rc, &info);
    r.compiled_->re = nullptr;
    return InvalidArgument("regex '" + r.pattern_ + "': " + reinterpret_cast<const char*>(message));
  }
  return r;
}

Regex Regex::Literal(std::string_view literal) {
  Regex r;
  r.pattern_ = std::string(literal);
  r.literal_ = std::string(literal);
  r.is_literal_ = true;
  return r;
}

std::vector<std::pair<size_t, size_t>> Regex::FindAll(std::string_view text, bool* complete) const {
  std::vector<std::pair<size_t, size_t>> out;
  if (complete) *complete = true;
  if (is_literal_) {
    // tokenizers' &str pattern: non-overlapping occurrences; an empty literal matches nothing.
    if (literal_.empty()) return out;
    for (size_t at = text.find(literal_); at != std::string_view::npos;
         at = text.find(literal_, at + literal_.size()))
      out.emplace_back(at, at + literal_.size());
    return out;
  }
  const auto* begin = reinterpret_cast<const OnigUChar*>(text.data());
  const auto* end = begin + text.size();
  OnigRegion* region = onig_region_new();
  size_t from = 0;
  bool have_last = false;
  size_t last_end = 0;
  while (from <= text.size()) {
    const int at = onig_search(compiled_->re, begin, end, begin + from, end, region, ONIG_OPTION_NONE);
    if (at == ONIG_MISMATCH) break;
    if (at < 0) {  // e.g. ONIGERR_RETRY_LIMIT_IN_MATCH_OVER on a pathological input
      if (complete) *complete = false;
      break;
    }
    const auto s = static_cast<size_t>(region->beg[0]);
    const auto e = static_cast<size_t>(region->end[0]);
    if (s == e && have_last && last_end == e) {
      // The onig crate's rule: no empty match right after the previous match; step one character.
      if (from >= text.size()) break;
      from += Utf8Length(static_cast<unsigned char>(text[from]));
      continue;
    }
    out.emplace_back(s, e);
    have_last = true;
    last_end = e;
    from = e;
    if (s == e) {
      // The crate would find the same empty match again and skip it as above; do that here.
      if (from >= text.size()) break;
      from += Utf8Length(static_cast<unsigned char>(text[from]));
    }
  }
  onig_region_free(region, 1);
  return out;
}

}  // namespace sightline::text
