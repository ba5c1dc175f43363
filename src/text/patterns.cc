// The pattern field Split, Replace (normalizer) and Replace (decoder) share in tokenizer.json.
#include <boost/json.hpp>

#include "text/components.h"

namespace sightline::text {

Result<Regex> PatternFromJson(const boost::json::value* pattern, const std::string& what) {
  const auto* o = pattern && pattern->is_object() ? &pattern->get_object() : nullptr;
  if (const auto* s = o ? o->if_contains("String") : nullptr; s && s->is_string())
    return Regex::Literal(std::string_view(s->get_string()));
  if (const auto* r = o ? o->if_contains("Regex") : nullptr; r && r->is_string()) {
    auto re = Regex::Compile(std::string_view(r->get_string()));
    if (!re.ok()) return InvalidArgument("tokenizer.json: " + what + " pattern: " + re.status().message());
    return re;
  }
  return InvalidArgument("tokenizer.json: " + what +
                         " needs a pattern {\"String\": ...} or {\"Regex\": ...}");
}

std::string ReplaceMatches(const Regex& pattern, std::string_view text, const std::string& content) {
  std::string out;
  size_t pos = 0;
  for (const auto& [s, e] : pattern.FindAll(text)) {
    out.append(text.substr(pos, s - pos));
    out += content;
    pos = e;
  }
  out.append(text.substr(pos));
  return out;
}

}  // namespace sightline::text
