#include "text/tokenizer.h"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "text/components.h"

namespace sightline::text {
namespace {

namespace json = boost::json;

struct AddedToken {
  std::string content;
  int64_t id = -1;
  bool normalized = false;  // matched after normalisation (else on the raw text)
  bool special = false;
};

// The post-processor's single-sequence template: ids before and after the text.
struct Template {
  std::vector<int64_t> before, after;
};

class JsonTokenizer final : public Tokenizer {
 public:
  Encoding Encode(std::string_view text, const EncodeOptions& options) const override {
    const Template& t = options.add_special_tokens ? template_ : empty_;
    // Truncation keeps the first `room` ids, so the work stops once they are known: a long input
    // costs what the model's context holds, not what the client sent.
    size_t room = SIZE_MAX;
    if (options.max_length > 0)
      room = static_cast<size_t>(
          std::max<int64_t>(0, options.max_length - static_cast<int64_t>(t.before.size() + t.after.size())));
    std::vector<int64_t> ids;
    // 1. Added tokens matched on the raw text split it first; 2. the rest is normalised, split on
    // normalised added tokens, pre-tokenised and run through the model.
    for (const auto& [piece, added] : SplitAdded(std::string(text), /*normalized=*/false)) {
      if (ids.size() >= room) break;
      if (added >= 0) {
        ids.push_back(added);
        continue;
      }
      const std::string norm = normalizer_ ? normalizer_->Apply(piece) : piece;
      for (const auto& [sub, sub_added] : SplitAdded(norm, /*normalized=*/true)) {
        if (ids.size() >= room) break;
        if (sub_added >= 0) {
          ids.push_back(sub_added);
          continue;
        }
        std::vector<std::string> words{sub};
        if (pre_) words = pre_->Split(std::move(words));
        for (const auto& w : words) {
          if (ids.size() >= room) break;
          if (!w.empty()) model_->Tokenize(w, ids);
        }
      }
    }
    if (ids.size() > room) ids.resize(room);
    Encoding e;
    e.ids = t.before;
    e.ids.insert(e.ids.end(), ids.begin(), ids.end());
    e.ids.insert(e.ids.end(), t.after.begin(), t.after.end());
    e.attention_mask.assign(e.ids.size(), 1);
    if (options.pad_to_max && options.max_length > 0 &&
        e.ids.size() < static_cast<size_t>(options.max_length)) {
      e.ids.resize(static_cast<size_t>(options.max_length), pad_id_);
      e.attention_mask.resize(static_cast<size_t>(options.max_length), 0);
    }
    return e;
  }

  std::string Decode(std::span<const int64_t> ids, bool skip_special_tokens) const override {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int64_t id : ids) {
      std::optional<std::string> t = IdToToken(id);
      if (!t || (skip_special_tokens && special_contents_.contains(*t))) continue;
      tokens.push_back(std::move(*t));
    }
    if (!decoder_) {
      std::string out;
      for (size_t i = 0; i < tokens.size(); ++i) {
        if (i) out += ' ';
        out += tokens[i];
      }
      return out;
    }
    std::string out;
    for (const auto& piece : decoder_->DecodeChain(std::move(tokens))) out += piece;
    return out;
  }

  int64_t TokenId(std::string_view token) const override {
    for (const auto& a : added_)
      if (a.content == token) return a.id;
    return model_->TokenId(token);
  }
  std::optional<std::string> IdToToken(int64_t id) const override {
    if (auto it = added_by_id_.find(id); it != added_by_id_.end()) return added_[it->second].content;
    if (const std::string* t = model_->IdToToken(id)) return *t;
    return std::nullopt;
  }
  bool IsSpecial(int64_t id) const override {
    auto t = IdToToken(id);
    return t && special_contents_.contains(*t);
  }
  int64_t pad_id() const override { return pad_id_; }
  size_t vocab_size() const override { return model_->vocab_size() + added_.size(); }
  size_t cache_bytes() const override { return model_->cache_bytes(); }

  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Decoder> decoder_;
  std::vector<AddedToken> added_;
  std::unordered_map<int64_t, size_t> added_by_id_;  // id -> index in added_
  // Contents of the special added tokens: skip_special_tokens tests the token string, as the
  // package's is_special_token does.
  std::unordered_set<std::string> special_contents_;
  Template template_, empty_;
  int64_t pad_id_ = 0;
  // First bytes of the added tokens matched on raw [0] and normalised [1] text.
  std::array<std::array<bool, 256>, 2> added_starts_{};

 private:
  // Splits `s` around added tokens of the given kind, longest match first; id -1 = plain text.
  std::vector<std::pair<std::string, int64_t>> SplitAdded(const std::string& s, bool normalized) const {
    std::vector<std::pair<std::string, int64_t>> out;
    size_t pos = 0, plain = 0;
    const auto& starts = added_starts_[normalized ? 1 : 0];
    while (pos < s.size()) {
      // Most positions cannot start an added token: one table lookup skips them, so the scan
      // costs O(text) rather than O(text x added tokens) (Llama-3 has 256 special tokens).
      if (!starts[static_cast<unsigned char>(s[pos])]) {
        ++pos;
        continue;
      }
      const AddedToken* best = nullptr;
      for (const auto& a : added_)
        if (a.normalized == normalized && !a.content.empty() &&
            s.compare(pos, a.content.size(), a.content) == 0 &&
            (!best || a.content.size() > best->content.size()))
          best = &a;
      if (!best) {
        ++pos;
        continue;
      }
      if (pos > plain) out.emplace_back(s.substr(plain, pos - plain), -1);
      out.emplace_back(best->content, best->id);
      pos += best->content.size();
      plain = pos;
    }
    if (plain < s.size() || out.empty()) out.emplace_back(s.substr(plain), -1);
    return out;
  }
};

Result<int64_t> IdOf(const json::value& v, const char* what) {
  // ["<|endoftext|>", 49407]
  if (v.is_array() && v.get_array().size() == 2 &&
      (v.get_array()[1].is_int64() || v.get_array()[1].is_uint64()))
    return v.get_array()[1].to_number<int64_t>();
  return InvalidArgument(std::string("tokenizer.json: post_processor ") + what + " must be [token, id]");
}

Status ReadPostProcessor(const json::value& pp, JsonTokenizer& t) {
  if (pp.is_null()) return Status::Ok();
  if (!pp.is_object()) return InvalidArgument("tokenizer.json: post_processor must be an object");
  const auto& o = pp.get_object();
  const std::string type =
      o.contains("type") && o.at("type").is_string() ? std::string(o.at("type").get_string()) : "";
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    ASSIGN_OR_RETURN(int64_t cls, IdOf(o.contains("cls") ? o.at("cls") : json::value(), "cls"));
    ASSIGN_OR_RETURN(int64_t sep, IdOf(o.contains("sep") ? o.at("sep") : json::value(), "sep"));
    t.template_.before = {cls};
    t.template_.after = {sep};
    return Status::Ok();
  }
  if (type == "TemplateProcessing") {
    const auto* single = o.if_contains("single");
    const auto* specials = o.if_contains("special_tokens");
    if (!single || !single->is_array())
      return InvalidArgument("tokenizer.json: TemplateProcessing without 'single'");
    bool seen_sequence = false;
    for (const auto& item : single->get_array()) {
      if (!item.is_object()) return InvalidArgument("tokenizer.json: bad TemplateProcessing item");
      const auto& io = item.get_object();
      if (io.contains("Sequence")) {
        seen_sequence = true;
        continue;
      }
      const auto* st = io.if_contains("SpecialToken");
      if (!st || !st->is_object() || !st->get_object().contains("id"))
        return InvalidArgument("tokenizer.json: bad TemplateProcessing item");
      const std::string name(st->get_object().at("id").get_string());
      const json::value* entry =
          specials && specials->is_object() ? specials->get_object().if_contains(name) : nullptr;
      if (!entry || !entry->is_object() || !entry->get_object().contains("ids"))
        return InvalidArgument("tokenizer.json: TemplateProcessing special token '" + name + "' has no ids");
      auto& dst = seen_sequence ? t.template_.after : t.template_.before;
      for (const auto& id : entry->get_object().at("ids").get_array()) dst.push_back(id.to_number<int64_t>());
    }
    return Status::Ok();
  }
  if (type == "ByteLevel") return Status::Ok();  // offsets only
  if (type == "Sequence") {
    if (const auto* list = o.if_contains("processors"); list && list->is_array())
      for (const auto& p : list->get_array()) RETURN_IF_ERROR(ReadPostProcessor(p, t));
    return Status::Ok();
  }
  return InvalidArgument("tokenizer.json: post_processor type '" + type + "' is not supported");
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(std::string_view json_text) {
  boost::system::error_code ec;
  json::value root = json::parse(json::string_view(json_text.data(), json_text.size()), ec);
  if (ec) return InvalidArgument("tokenizer.json: not valid JSON (" + ec.message() + ")");
  if (!root.is_object()) return InvalidArgument("tokenizer.json: must hold an object");
  const auto& o = root.get_object();
  auto t = std::make_unique<JsonTokenizer>();
  if (const auto* n = o.if_contains("normalizer"); n && !n->is_null()) {
    ASSIGN_OR_RETURN(t->normalizer_, MakeNormalizer(*n));
  }
  if (const auto* p = o.if_contains("pre_tokenizer"); p && !p->is_null()) {
    ASSIGN_OR_RETURN(t->pre_, MakePreTokenizer(*p));
  }
  const auto* model = o.if_contains("model");
  if (!model) return InvalidArgument("tokenizer.json: no model");
  ASSIGN_OR_RETURN(t->model_, MakeModel(*model));
  if (const auto* added = o.if_contains("added_tokens"); added && added->is_array()) {
    for (const auto& a : added->get_array()) {
      if (!a.is_object()) continue;
      const auto& ao = a.get_object();
      AddedToken tok;
      if (const auto* c = ao.if_contains("content"); c && c->is_string())
        tok.content = std::string(c->get_string());
      if (const auto* id = ao.if_contains("id"); id && (id->is_int64() || id->is_uint64()))
        tok.id = id->to_number<int64_t>();
      if (const auto* n = ao.if_contains("normalized"); n && n->is_bool()) tok.normalized = n->get_bool();
      if (const auto* s = ao.if_contains("special"); s && s->is_bool()) tok.special = s->get_bool();
      if (!tok.content.empty() && tok.id >= 0) {
        t->added_starts_[tok.normalized ? 1 : 0][static_cast<unsigned char>(tok.content[0])] = true;
        t->added_by_id_[tok.id] = t->added_.size();
        if (tok.special) t->special_contents_.insert(tok.content);
        t->added_.push_back(std::move(tok));
      }
    }
  }
  if (const auto* pp = o.if_contains("post_processor")) RETURN_IF_ERROR(ReadPostProcessor(*pp, *t));
  if (const auto* d = o.if_contains("decoder"); d && !d->is_null()) {
    ASSIGN_OR_RETURN(t->decoder_, MakeDecoder(*d));
  }
  // Pad id: the file's padding block, else the conventional pad tokens, else end-of-text.
  t->pad_id_ = -1;
  if (const auto* pad = o.if_contains("padding"); pad && pad->is_object())
    if (const auto* id = pad->get_object().if_contains("pad_id"); id && (id->is_int64() || id->is_uint64()))
      t->pad_id_ = id->to_number<int64_t>();
  for (const char* name : {"<pad>", "[PAD]", "<|endoftext|>"})
    if (t->pad_id_ < 0) t->pad_id_ = t->TokenId(name);
  if (t->pad_id_ < 0) t->pad_id_ = 0;
  return std::unique_ptr<Tokenizer>(std::move(t));
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return FailedPrecondition(file.string() + ": cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  auto t = FromJson(ss.str());
  if (!t.ok()) return FailedPrecondition(file.string() + ": " + t.status().message());
  return t;
}

Result<std::string> DecodeStream::Step(int64_t id) {
  ids_.push_back(id);
  std::string text = tokenizer_->Decode(ids_, skip_special_);
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  // Hold back while nothing new is decided or the tail is an incomplete character.
  if (text.size() <= prefix_.size() || text.ends_with(kReplacement)) return std::string();
  if (!text.starts_with(prefix_))
    return FailedPrecondition("decoding token " + std::to_string(id) + " rewrote text already streamed");
  std::string fresh = text.substr(prefix_.size());
  // Keep only the ids from the last cut on: the window stays a few tokens long.
  const size_t new_prefix_index = ids_.size() - prefix_index_;
  ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(prefix_index_));
  prefix_ = tokenizer_->Decode(ids_, skip_special_);
  prefix_index_ = new_prefix_index;
  return fresh;
}

}  // namespace sightline::text
