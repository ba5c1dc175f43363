#include "generation/encoder_decoder_stepper.h"

#include <numeric>

namespace sightline::generation {
namespace {

Status Check(const runtime::ModelSignature& sig, bool with_past, bool merged) {
  for (const char* name : {"input_ids", "encoder_hidden_states"})
    if (!sig.FindInput(name))
      return FailedPrecondition(std::string("the decoder has no input '") + name + "'");
  if (!sig.FindOutput("logits")) return FailedPrecondition("the decoder has no output 'logits'");
  if (merged && !sig.FindInput("use_cache_branch"))
    return FailedPrecondition("the merged decoder has no input 'use_cache_branch'");
  size_t pasts = 0;
  for (const auto& in : sig.inputs)
    if (in.name.starts_with("past_key_values.")) {
      ++pasts;
      if (!sig.FindOutput(PresentName(in.name)))
        return FailedPrecondition("the decoder has input '" + in.name + "' but no output '" +
                                  PresentName(in.name) + "'");
    }
  if (with_past && pasts == 0) return FailedPrecondition("the decoder has no past_key_values.* inputs");
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<EncoderDecoderStepper>> EncoderDecoderStepper::Open(runtime::Backend* merged,
                                                                           runtime::Backend* first,
                                                                           runtime::Backend* with_past) {
  std::unique_ptr<EncoderDecoderStepper> s(new EncoderDecoderStepper());
  const runtime::ModelSignature* past_sig = nullptr;
  if (merged) {
    RETURN_IF_ERROR(Check(merged->signature(), true, true));
    ASSIGN_OR_RETURN(s->merged_.session, merged->OpenSession());
    s->merged_.merged = true;
    past_sig = &merged->signature();
  } else {
    if (!first || !with_past)
      return FailedPrecondition("a decoder needs the merged graph or both split graphs");
    RETURN_IF_ERROR(Check(first->signature(), false, false));
    RETURN_IF_ERROR(Check(with_past->signature(), true, false));
    ASSIGN_OR_RETURN(s->first_.session, first->OpenSession());
    ASSIGN_OR_RETURN(s->with_past_.session, with_past->OpenSession());
    past_sig = &with_past->signature();
  }
  for (const auto& in : past_sig->inputs)
    if (in.name.starts_with("past_key_values.")) {
      s->past_names_.push_back(in.name);
      RETURN_IF_ERROR(CheckKvCacheInput(in));
      s->heads_ = in.shape[1];
      s->head_dim_ = in.shape[3];
    }
  s->use_cache_.dtype = DataType::kBool;
  s->use_cache_.shape = {1};
  s->use_cache_.data.assign(1, 0);
  return s;
}

Status EncoderDecoderStepper::Start(Tensor encoder_states, Tensor input_ids) {
  if (encoder_states.shape.size() != 3 || input_ids.shape.size() != 2 ||
      encoder_states.shape[0] != input_ids.shape[0] || input_ids.shape[1] < 1)
    return InvalidArgument("decoder start: encoder states [N,S,D] and input ids [N,T] expected, got " +
                           ShapeToString(encoder_states.shape) + " and " + ShapeToString(input_ids.shape));
  encoder_states_ = std::move(encoder_states);
  input_ids_ = std::move(input_ids);
  rows_ = static_cast<size_t>(input_ids_.shape[0]);
  owned_pasts_.clear();
  Session& s = merged_.session ? merged_ : first_;
  RETURN_IF_ERROR(s.session->BindInput("encoder_hidden_states", encoder_states_));
  RETURN_IF_ERROR(s.session->BindInput("input_ids", input_ids_));
  if (s.merged) {
    use_cache_.data[0] = 0;
    RETURN_IF_ERROR(s.session->BindInput("use_cache_branch", use_cache_));
    // Zero-length pasts: the cache branch ignores them, but every input must be bound.
    owned_pasts_.reserve(past_names_.size());
    for (const auto& name : past_names_) {
      Tensor empty;
      empty.dtype = DataType::kFp32;
      empty.shape = {static_cast<int64_t>(rows_), heads_, 0, head_dim_};
      owned_pasts_.push_back(std::move(empty));
      RETURN_IF_ERROR(s.session->BindInput(name, owned_pasts_.back()));
    }
  }
  past_length_ = 0;
  return RunAndReadLogits(s);
}

Status EncoderDecoderStepper::Next(const std::vector<int64_t>& tokens, const std::vector<int>& sources) {
  if (!last_) return FailedPrecondition("decoder step before the first");
  ASSIGN_OR_RETURN(const StepRows step, CheckStepRows(tokens.size(), sources, rows_));
  const bool same_rows = step.same;
  const size_t next_rows = step.next;
  Session& s = merged_.session ? merged_ : with_past_;
  const bool moving = &s != last_;  // split layout: the first session's presents go to the other
  if (!moving && same_rows) {
    for (const auto& name : past_names_) RETURN_IF_ERROR(s.session->CarryOver(PresentName(name), name));
    owned_pasts_.clear();  // nothing of ours is bound any more
  } else {
    std::vector<int> rows = sources;
    if (rows.empty()) {
      rows.resize(rows_);
      std::iota(rows.begin(), rows.end(), 0);
    }
    RETURN_IF_ERROR(BindGatheredPasts(s, rows));
    if (!same_rows)
      encoder_states_ = GatherRows(encoder_states_.dtype, encoder_states_.shape, encoder_states_.data.data(),
                                   encoder_states_.data.size(), rows);
    if (!same_rows || moving) RETURN_IF_ERROR(s.session->BindInput("encoder_hidden_states", encoder_states_));
  }
  rows_ = next_rows;
  input_ids_ = Ids(tokens, static_cast<int64_t>(rows_));
  RETURN_IF_ERROR(s.session->BindInput("input_ids", input_ids_));
  if (s.merged) {
    use_cache_.data[0] = 1;
    RETURN_IF_ERROR(s.session->BindInput("use_cache_branch", use_cache_));
  }
  return RunAndReadLogits(s);
}

Status EncoderDecoderStepper::BindGatheredPasts(Session& to, const std::vector<int>& sources) {
  std::vector<Tensor> gathered;
  gathered.reserve(past_names_.size());
  for (const auto& name : past_names_) {
    ASSIGN_OR_RETURN(runtime::TensorView v, last_->session->Output(PresentName(name)));
    gathered.push_back(GatherRows(v.dtype, v.shape, v.data, v.bytes, sources));
  }
  // Bind only once all are gathered: the views above died with nothing of theirs bound.
  owned_pasts_ = std::move(gathered);
  for (size_t i = 0; i < past_names_.size(); ++i)
    RETURN_IF_ERROR(to.session->BindInput(past_names_[i], owned_pasts_[i]));
  return Status::Ok();
}

Status EncoderDecoderStepper::RunAndReadLogits(Session& s) {
  RETURN_IF_ERROR(s.session->Run());
  last_ = &s;
  if (past_names_.empty()) return Internal("the decoder has no past_key_values.* inputs");
  ASSIGN_OR_RETURN(logits_, ReadStep(*s.session, rows_, PresentName(past_names_[0]), past_length_));
  return Status::Ok();
}

std::span<const float> EncoderDecoderStepper::Logits(size_t row) const {
  return logits_.Row(row);
}

size_t EncoderDecoderStepper::kv_bytes() const {
  return KvCacheBytes(past_names_.size(), rows_, heads_, head_dim_, past_length_);
}

}  // namespace sightline::generation
