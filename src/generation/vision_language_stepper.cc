#include "generation/vision_language_stepper.h"

#include <algorithm>
#include <cstring>

#include "generation/tensor_rows.h"

namespace sightline::generation {
namespace {

// Shapes here are [N,T] of a running group: small and never negative.
Tensor Int64s(int64_t rows, int64_t cols, int64_t fill) {
  Tensor t;
  t.dtype = DataType::kInt64;
  t.shape = {rows, cols};
  t.data.resize(static_cast<size_t>(rows * cols) * sizeof(int64_t));
  auto* p = reinterpret_cast<int64_t*>(t.data.data());
  for (size_t i = 0; i < t.data.size() / sizeof(int64_t); ++i) p[i] = fill;
  return t;
}

// Rows of a [N,H,P,Dh] fp32 cache picked by `sources`, without their first `trim` positions.
Tensor GatherTrimmed(const runtime::TensorView& v, const std::vector<int>& sources, int64_t trim) {
  const size_t heads = static_cast<size_t>(v.shape[1]), p = static_cast<size_t>(v.shape[2]),
               hd = static_cast<size_t>(v.shape[3]), keep = p - static_cast<size_t>(trim);
  Tensor t;
  t.dtype = v.dtype;
  t.shape = {static_cast<int64_t>(sources.size()), v.shape[1], static_cast<int64_t>(keep), v.shape[3]};
  t.data.resize(sources.size() * heads * keep * hd * sizeof(float));
  auto* dst = reinterpret_cast<float*>(t.data.data());
  const auto* src = reinterpret_cast<const float*>(v.data);
  for (size_t i = 0; i < sources.size(); ++i)
    for (size_t h = 0; h < heads; ++h)
      std::memcpy(dst + (i * heads + h) * keep * hd,
                  src + ((static_cast<size_t>(sources[i]) * heads + h) * p + static_cast<size_t>(trim)) * hd,
                  keep * hd * sizeof(float));
  return t;
}

}  // namespace

Result<std::unique_ptr<VisionLanguageStepper>> VisionLanguageStepper::Open(runtime::Backend* embed_tokens,
                                                                           runtime::Backend* decoder,
                                                                           int64_t image_token_id) {
  if (!embed_tokens || !decoder)
    return FailedPrecondition("a vision-language model needs embed_tokens and a decoder");
  const auto& es = embed_tokens->signature();
  if (es.inputs.size() != 1 || !es.FindInput("input_ids") || !es.FindOutput("inputs_embeds"))
    return FailedPrecondition("embed_tokens must map input_ids to inputs_embeds");
  const auto& ds = decoder->signature();
  for (const char* name : {"inputs_embeds", "attention_mask", "position_ids"})
    if (!ds.FindInput(name))
      return FailedPrecondition(std::string("the decoder has no input '") + name + "'");
  if (!ds.FindOutput("logits")) return FailedPrecondition("the decoder has no output 'logits'");
  std::unique_ptr<VisionLanguageStepper> s(new VisionLanguageStepper());
  for (const auto& in : ds.inputs) {
    if (!in.name.starts_with("past_key_values.")) continue;
    if (!ds.FindOutput(PresentName(in.name)))
      return FailedPrecondition("the decoder has input '" + in.name + "' but no output '" +
                                PresentName(in.name) + "'");
    RETURN_IF_ERROR(CheckKvCacheInput(in));
    s->past_names_.push_back(in.name);
    s->heads_ = in.shape[1];
    s->head_dim_ = in.shape[3];
  }
  if (s->past_names_.empty()) return FailedPrecondition("the decoder has no past_key_values.* inputs");
  s->has_use_cache_ = ds.FindInput("use_cache_branch") != nullptr;
  s->embed_ = embed_tokens;
  s->image_token_ = image_token_id;
  ASSIGN_OR_RETURN(s->session_, decoder->OpenSession());
  s->use_cache_.dtype = DataType::kBool;
  s->use_cache_.shape = {1};
  s->use_cache_.data.assign(1, 0);
  return s;
}

Status VisionLanguageStepper::Embed(const Tensor& ids) {
  ASSIGN_OR_RETURN(auto out, embed_->Run({&ids}));
  if (out.empty() || out[0].dtype != DataType::kFp32 || out[0].shape.size() != 3 ||
      out[0].shape[0] != ids.shape[0] || out[0].shape[1] != ids.shape[1])
    return Internal("embed_tokens must give fp32 [N,T,D] for [N,T] ids, got " +
                    (out.empty() ? std::string("nothing") : ShapeToString(out[0].shape)));
  embeds_ = std::move(out[0]);
  return Status::Ok();
}

Status VisionLanguageStepper::Start(Tensor image_features, Tensor input_ids) {
  if (image_features.shape.size() != 3 || input_ids.shape.size() != 2 ||
      image_features.shape[0] != input_ids.shape[0] || input_ids.shape[1] < 1 ||
      image_features.dtype != DataType::kFp32)
    return InvalidArgument("decoder start: image features fp32 [N,F,D] and input ids [N,T] expected, got " +
                           ShapeToString(image_features.shape) + " and " + ShapeToString(input_ids.shape));
  rows_ = static_cast<size_t>(input_ids.shape[0]);
  RETURN_IF_ERROR(Embed(input_ids));
  const int64_t t = input_ids.shape[1], d = embeds_.shape[2], f = image_features.shape[1];
  if (image_features.shape[2] != d)
    return InvalidArgument("image features of width " + std::to_string(image_features.shape[2]) +
                           " for token embeddings of width " + std::to_string(d));
  // The image's features in place of the image tokens' embeddings, in order.
  const auto* ids = reinterpret_cast<const int64_t*>(input_ids.data.data());
  const auto* feats = reinterpret_cast<const float*>(image_features.data.data());
  auto* emb = reinterpret_cast<float*>(embeds_.data.data());
  for (size_t r = 0; r < rows_; ++r) {
    int64_t used = 0;
    for (int64_t i = 0; i < t; ++i) {
      if (ids[r * static_cast<size_t>(t) + static_cast<size_t>(i)] != image_token_) continue;
      if (used < f)
        std::memcpy(emb + (r * static_cast<size_t>(t) + static_cast<size_t>(i)) * static_cast<size_t>(d),
                    feats + (r * static_cast<size_t>(f) + static_cast<size_t>(used)) * static_cast<size_t>(d),
                    static_cast<size_t>(d) * sizeof(float));
      ++used;
    }
    if (used != f)
      return InvalidArgument("the prompt holds " + std::to_string(used) + " image tokens for the image's " +
                             std::to_string(f) + " features");
  }
  owned_pasts_.clear();
  owned_pasts_.reserve(past_names_.size());
  for (const auto& name : past_names_) {
    Tensor empty;
    empty.dtype = DataType::kFp32;
    empty.shape = {static_cast<int64_t>(rows_), heads_, 0, head_dim_};
    owned_pasts_.push_back(std::move(empty));
    RETURN_IF_ERROR(session_->BindInput(name, owned_pasts_.back()));
  }
  pad_.assign(rows_, 0);
  started_ = false;
  absorbed_ = false;
  return BindAndRun(0);
}

Status VisionLanguageStepper::Next(const std::vector<int64_t>& tokens, const std::vector<int>& sources) {
  if (!started_) return FailedPrecondition("decoder step before the first");
  ASSIGN_OR_RETURN(const StepRows step, CheckStepRows(tokens.size(), sources, rows_));
  const bool same_rows = step.same;
  const size_t next_rows = step.next;
  if (same_rows && !absorbed_) {
    for (const auto& name : past_names_) RETURN_IF_ERROR(session_->CarryOver(PresentName(name), name));
    owned_pasts_.clear();  // nothing of ours is bound any more
  } else if (!same_rows) {
    // From the last run's presents, or from what Absorb() built (bound as the pasts). Padding
    // every remaining row shares is cut: without it a group that never empties would pad to an
    // ever longer past.
    std::vector<int64_t> pad;
    for (int src : sources) pad.push_back(pad_[static_cast<size_t>(src)]);
    const int64_t trim = pad.empty() ? 0 : *std::min_element(pad.begin(), pad.end());
    std::vector<Tensor> gathered;
    gathered.reserve(past_names_.size());
    for (size_t i = 0; i < past_names_.size(); ++i) {
      runtime::TensorView v;
      if (absorbed_) {
        const Tensor& t = owned_pasts_[i];
        v = runtime::TensorView{t.dtype, t.shape, t.data.data(), t.data.size()};
      } else {
        ASSIGN_OR_RETURN(v, session_->Output(PresentName(past_names_[i])));
      }
      gathered.push_back(trim > 0 ? GatherTrimmed(v, sources, trim)
                                  : GatherRows(v.dtype, v.shape, v.data, v.bytes, sources));
    }
    owned_pasts_ = std::move(gathered);  // bound only once all are gathered (the views die here)
    RETURN_IF_ERROR(BindOwnedPasts());
    for (auto& p : pad) p -= trim;
    pad_ = std::move(pad);
    past_length_ -= trim;
  }  // else: Absorb() left the combined cache bound
  absorbed_ = false;
  rows_ = next_rows;
  RETURN_IF_ERROR(Embed(Ids(tokens, static_cast<int64_t>(rows_))));
  return BindAndRun(past_length_);
}

Status VisionLanguageStepper::BindAndRun(int64_t past) {
  const int64_t n = static_cast<int64_t>(rows_), t = embeds_.shape[1];
  attention_mask_ = Int64s(n, past + t, 1);
  position_ids_ = Int64s(n, t, 0);
  auto* mask = reinterpret_cast<int64_t*>(attention_mask_.data.data());
  auto* pos = reinterpret_cast<int64_t*>(position_ids_.data.data());
  for (int64_t r = 0; r < n; ++r) {
    const int64_t pad = pad_[static_cast<size_t>(r)];
    for (int64_t j = 0; j < pad; ++j) mask[r * (past + t) + j] = 0;
    for (int64_t i = 0; i < t; ++i) pos[r * t + i] = past - pad + i;
  }
  RETURN_IF_ERROR(session_->BindInput("inputs_embeds", embeds_));
  RETURN_IF_ERROR(session_->BindInput("attention_mask", attention_mask_));
  RETURN_IF_ERROR(session_->BindInput("position_ids", position_ids_));
  if (has_use_cache_) {
    use_cache_.data[0] = past > 0 ? 1 : 0;
    RETURN_IF_ERROR(session_->BindInput("use_cache_branch", use_cache_));
  }
  RETURN_IF_ERROR(session_->Run());
  started_ = true;
  ASSIGN_OR_RETURN(logits_, ReadStep(*session_, rows_, PresentName(past_names_[0]), past_length_));
  return Status::Ok();
}

Status VisionLanguageStepper::BindOwnedPasts() {
  for (size_t i = 0; i < past_names_.size(); ++i)
    RETURN_IF_ERROR(session_->BindInput(past_names_[i], owned_pasts_[i]));
  return Status::Ok();
}

Status VisionLanguageStepper::Absorb(DecoderStepper& other_base) {
  auto* other = dynamic_cast<VisionLanguageStepper*>(&other_base);
  if (!other || other == this || other->past_names_ != past_names_ || other->heads_ != heads_ ||
      other->head_dim_ != head_dim_)
    return FailedPrecondition("only a group of the same vision-language decoder can be absorbed");
  if (!started_ || !other->started_) return FailedPrecondition("both groups must have run a step");
  // Each side's current cache: its last run's presents, or what an earlier Absorb() built.
  auto current = [](VisionLanguageStepper& s, size_t i) -> Result<runtime::TensorView> {
    if (s.absorbed_) {
      const Tensor& t = s.owned_pasts_[i];
      return runtime::TensorView{t.dtype, t.shape, t.data.data(), t.data.size()};
    }
    return s.session_->Output(PresentName(s.past_names_[i]));
  };
  const int64_t pm = std::max(past_length_, other->past_length_);
  const size_t na = rows_, nb = other->rows_;
  const size_t hd = static_cast<size_t>(head_dim_), heads = static_cast<size_t>(heads_);
  std::vector<Tensor> combined;
  combined.reserve(past_names_.size());
  for (size_t i = 0; i < past_names_.size(); ++i) {
    ASSIGN_OR_RETURN(runtime::TensorView a, current(*this, i));
    ASSIGN_OR_RETURN(runtime::TensorView b, current(*other, i));
    if (a.dtype != DataType::kFp32 || b.dtype != DataType::kFp32 || a.shape.size() != 4 ||
        b.shape.size() != 4)
      return Internal("KV cache tensors must be fp32 [N,H,P,Dh]");
    Tensor t;
    t.dtype = DataType::kFp32;
    t.shape = {static_cast<int64_t>(na + nb), heads_, pm, head_dim_};
    t.data.assign((na + nb) * heads * static_cast<size_t>(pm) * hd * sizeof(float), 0);  // padding: zeros
    auto* dst = reinterpret_cast<float*>(t.data.data());
    // Row r, head h: its P positions, right-aligned in the Pm slots.
    auto copy = [&](const runtime::TensorView& v, size_t rows, size_t first_row) {
      const size_t p = static_cast<size_t>(v.shape[2]);
      const auto* src = reinterpret_cast<const float*>(v.data);
      for (size_t r = 0; r < rows; ++r)
        for (size_t h = 0; h < heads; ++h)
          std::memcpy(dst + (((first_row + r) * heads + h) * static_cast<size_t>(pm) +
                             (static_cast<size_t>(pm) - p)) *
                                hd,
                      src + ((r * heads + h) * p) * hd, p * hd * sizeof(float));
    };
    copy(a, na, 0);
    copy(b, nb, na);
    combined.push_back(std::move(t));
  }
  for (size_t r = 0; r < na; ++r) pad_[r] += pm - past_length_;
  for (size_t r = 0; r < nb; ++r) pad_.push_back(other->pad_[r] + pm - other->past_length_);
  owned_pasts_ = std::move(combined);
  RETURN_IF_ERROR(BindOwnedPasts());
  rows_ = na + nb;
  past_length_ = pm;
  absorbed_ = true;
  other->rows_ = 0;
  other->owned_pasts_.clear();
  return Status::Ok();
}

std::span<const float> VisionLanguageStepper::Logits(size_t row) const {
  return logits_.Row(row);
}

size_t VisionLanguageStepper::kv_bytes() const {
  return KvCacheBytes(past_names_.size(), rows_, heads_, head_dim_, past_length_);
}

}  // namespace sightline::generation
