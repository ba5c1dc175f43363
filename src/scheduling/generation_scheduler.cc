#include "scheduling/generation_scheduler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/thread_name.h"
#include "generation/beam_search.h"
#include "generation/tensor_rows.h"
#include "generation/token_picker.h"

namespace sightline::scheduling {

using Clock = std::chrono::steady_clock;

struct GenerationScheduler::Sequence {
  GenerationSequence in;
  size_t rows = 1;
  size_t reservation = 0;
  Clock::time_point submitted = Clock::now();
  Clock::time_point started, first_token;
  bool has_first = false, ended = false, active = false;
  std::vector<int64_t> ids;  // prompt, then the new ids (greedy / sampled)
  std::unique_ptr<generation::TokenPicker> picker;
  std::unique_ptr<generation::BeamSearch> beams;
  // Position in the group's last run, and the id it feeds to the next one (greedy / sampled).
  int src = 0;
  int64_t next = 0;
};

struct GenerationScheduler::Group {
  std::unique_ptr<generation::DecoderStepper> stepper;
  std::vector<std::unique_ptr<Sequence>> rows;  // one per row; a beam group holds one sequence
  bool beam = false, started = false;
  int steps = 0;
  std::vector<int64_t> beam_tokens;
  std::vector<int> beam_sources;
};

namespace {

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// "1.2 MiB": one decimal, so a request just over a small budget does not read "1 MiB over 1 MiB".
std::string MiB(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

}  // namespace

Result<std::unique_ptr<GenerationScheduler>> GenerationScheduler::Create(
    GenerationOptions options, generation::DecoderGraphs graphs, observability::GenerationMetrics metrics) {
  std::unique_ptr<GenerationScheduler> s(new GenerationScheduler());
  s->options_ = std::move(options);
  s->metrics_ = metrics;
  s->graphs_ = std::move(graphs);
  // Opening a stepper checks the graphs; the KV bytes per position come from the past inputs.
  ASSIGN_OR_RETURN(auto probe, s->graphs_.OpenStepper());
  (void)probe;
  const runtime::Backend* past = s->graphs_.past_graph();
  for (const auto& in : past->signature().inputs)
    if (in.name.starts_with("past_key_values.") && in.shape.size() == 4)
      s->kv_per_position_ += static_cast<size_t>(in.shape[1] * in.shape[3]) * DataTypeSize(in.dtype);
  if (s->kv_per_position_ == 0) return FailedPrecondition("the decoder declares no KV cache inputs");
  s->metrics_.kv_budget_bytes->Set(static_cast<double>(s->options_.kv_budget_bytes));
  s->thread_ = std::thread([p = s.get()] { p->Loop(); });
  return s;
}

GenerationScheduler::~GenerationScheduler() {
  if (thread_.joinable()) Drain(Clock::now());
}

size_t GenerationScheduler::Reservation(const GenerationSequence& s) const {
  return static_cast<size_t>(std::max(1, s.params.num_beams)) *
         (s.prompt.size() + static_cast<size_t>(std::max(0, s.params.max_new_tokens))) * kv_per_position_;
}

Status GenerationScheduler::Submit(std::vector<GenerationSequence> sequences) {
  std::vector<std::unique_ptr<Sequence>> admitted;
  for (auto& in : sequences) {
    if (in.prompt.empty() || in.image_states.shape.size() != 3 || in.image_states.shape[0] != 1)
      return InvalidArgument("a sequence needs a prompt and one row of image states [1,S,D]");
    auto s = std::make_unique<Sequence>();
    s->rows = static_cast<size_t>(std::max(1, in.params.num_beams));
    s->reservation = Reservation(in);
    if (s->reservation > options_.kv_budget_bytes)
      return InvalidArgument("max_new_tokens: " + std::to_string(in.params.max_new_tokens) + " tokens" +
                             (s->rows > 1 ? " x " + std::to_string(s->rows) + " beams" : std::string()) +
                             " (with the prompt) need " + MiB(s->reservation) + " of KV cache, over model '" +
                             options_.model + "''s budget of " + MiB(options_.kv_budget_bytes));
    if (s->rows > options_.max_rows)
      return InvalidArgument("num_beams: at most " + std::to_string(options_.max_rows) + " for model '" +
                             options_.model + "'");
    s->in = std::move(in);
    admitted.push_back(std::move(s));
  }
  {
    std::lock_guard lock(mu_);
    if (draining_ || stopping_)
      return Status(StatusCode::kUnavailable, "model '" + options_.model + "' is shutting down")
          .WithKind(ErrorKind::kDraining);
    if (waiting_.size() + admitted.size() > options_.max_waiting) {
      metrics_.rejected_queue_full->Inc();
      const double retry = std::clamp(step_seconds_ * std::max(1.0, remaining_steps_), 0.1, 60.0);
      return Status(StatusCode::kOverloaded, "model '" + options_.model + "' has " +
                                                 std::to_string(waiting_.size()) + " sequences waiting")
          .WithKind(ErrorKind::kQueueFull)
          .WithRetryAfter(retry);
    }
    for (auto& s : admitted) waiting_.push_back(std::move(s));
    metrics_.waiting->Set(static_cast<double>(waiting_.size()));
  }
  wake_.notify_all();
  return Status::Ok();
}

void GenerationScheduler::Loop() {
  NameThisThread("generate");
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] {
        if (stopping_ || !groups_.empty() || cancel_pending_) return true;
        if (waiting_.empty()) return false;
        const auto& head = *waiting_.front();
        return active_rows_ + head.rows <= options_.max_rows &&
               reserved_ + head.reservation <= options_.kv_budget_bytes;
      });
      cancel_pending_ = false;
      if (stopping_) break;
      // Idle, with arrivals: wait until they pause for the admission window (at most twice it),
      // so a burst — a request's images, whose encoder outputs come back together — starts as
      // one group. Rows of a maskless decoder share runs only if they start together; while
      // groups run, a step is the window.
      if (groups_.empty() && !waiting_.empty() && options_.admission_window.count() > 0) {
        const auto limit = Clock::now() + 2 * options_.admission_window;
        while (!stopping_ && Clock::now() < limit) {
          const auto quiet_at = waiting_.back()->submitted + options_.admission_window;
          if (Clock::now() >= quiet_at) break;
          wake_.wait_until(lock, std::min(quiet_at, limit));
        }
        if (stopping_) break;
      }
    }
    const auto t0 = Clock::now();
    WaitForStopChecks();
    SweepEnded();
    AdmitWaiting();
    size_t runs = 0;
    for (auto& g : groups_)
      if (!g->rows.empty()) {
        RunGroup(*g);
        ++runs;
      }
    MergeGroups();
    std::erase_if(groups_, [](const auto& g) { return g->rows.empty(); });
    double longest = 0;
    for (const auto& g : groups_)
      for (const auto& s : g->rows) {
        const double left = static_cast<double>(s->in.params.max_new_tokens) -
                            static_cast<double>(s->beams ? g->steps : s->ids.size() - s->in.prompt.size());
        longest = std::max(longest, left);
      }
    {
      std::lock_guard lock(mu_);
      if (runs > 0) step_seconds_ = 0.8 * step_seconds_ + 0.2 * Seconds(Clock::now() - t0);
      remaining_steps_ = longest;
    }
    PublishGauges();
    changed_.notify_all();
  }
  // Stopping: whatever is left is answered, not dropped.
  std::deque<std::unique_ptr<Sequence>> waiting;
  {
    std::lock_guard lock(mu_);
    waiting.swap(waiting_);
  }
  const Status gone = Status(StatusCode::kUnavailable, "model '" + options_.model + "' shut down")
                          .WithKind(ErrorKind::kDraining);
  for (auto& s : waiting) Finish(*s, gone);
  for (auto& g : groups_)
    for (auto& s : g->rows) Finish(*s, gone);
  groups_.clear();
  PublishGauges();
  changed_.notify_all();
}

// A stop string's watcher runs on the task pool; a starved pool must not let a fast decoder run
// tens of steps past the stop. Bounded, so a watcher that never catches up only costs this much.
constexpr auto kStopCheckWait = std::chrono::milliseconds(20);

void GenerationScheduler::WaitForStopChecks() {
  auto behind = [&] {
    for (const auto& g : groups_) {
      if (g->beam) continue;
      for (const auto& s : g->rows)
        if (s->in.stop_watch && !s->ended && s->in.stop_watch->stop_at.load() == 0 &&
            s->in.stop_watch->checked.load() < s->ids.size() - s->in.prompt.size())
          return true;
    }
    return false;
  };
  if (!behind()) return;
  const auto limit = Clock::now() + kStopCheckWait;
  std::unique_lock lock(mu_);
  while (!stopping_ && behind())
    if (wake_.wait_until(lock, limit) == std::cv_status::timeout) break;
}

void GenerationScheduler::SweepEnded() {
  const auto now = Clock::now();
  auto ended = [&](const Sequence& s) -> std::optional<Status> {
    if (!s.in.context) return std::nullopt;
    if (s.in.context->cancelled()) return Status(StatusCode::kCancelled, "client went away");
    if (s.in.context->expired(now))
      return Status(StatusCode::kDeadlineExceeded, "the request's deadline passed during generation");
    return std::nullopt;
  };
  std::vector<std::pair<std::unique_ptr<Sequence>, Status>> gone;
  {
    std::lock_guard lock(mu_);
    for (auto it = waiting_.begin(); it != waiting_.end();)
      if (auto st = ended(**it)) {
        gone.emplace_back(std::move(*it), *st);
        it = waiting_.erase(it);
      } else {
        ++it;
      }
  }
  for (auto& [s, st] : gone) Finish(*s, st);
  for (auto& g : groups_) {
    for (auto& s : g->rows) {
      if (auto st = ended(*s)) {
        Finish(*s, *st);
      } else if (const size_t at = !g->beam && s->in.stop_watch ? s->in.stop_watch->stop_at.load() : 0;
                 at > 0) {
        // The answer ends with the id that completed the stop string, not with the steps run
        // before the watcher said so.
        GenerationOutcome o;
        const auto first = s->ids.begin() + static_cast<std::ptrdiff_t>(s->in.prompt.size());
        o.ids.assign(first,
                     first + static_cast<std::ptrdiff_t>(std::min(at, s->ids.size() - s->in.prompt.size())));
        o.reason = FinishReason::kStop;
        Finish(*s, std::move(o));
      }
    }
    std::erase_if(g->rows, [](const auto& s) { return s->ended; });
  }
}

void GenerationScheduler::AdmitWaiting() {
  std::vector<std::unique_ptr<Sequence>> admitted;
  {
    std::lock_guard lock(mu_);
    while (!waiting_.empty()) {
      auto& head = *waiting_.front();
      if (active_rows_ + head.rows > options_.max_rows ||
          reserved_ + head.reservation > options_.kv_budget_bytes)
        break;  // FIFO: nobody overtakes the head
      active_rows_ += head.rows;
      reserved_ += head.reservation;
      head.active = true;
      admitted.push_back(std::move(waiting_.front()));
      waiting_.pop_front();
    }
  }
  // Same prompt length and encoder shape: one group (no mask: rows must share positions).
  for (auto& s : admitted) {
    s->started = Clock::now();
    if (s->in.params.num_beams > 1) {
      s->beams = std::make_unique<generation::BeamSearch>(s->in.params, s->in.prompt);
      auto g = std::make_unique<Group>();
      g->beam = true;
      g->rows.push_back(std::move(s));
      groups_.push_back(std::move(g));
      continue;
    }
    s->ids = s->in.prompt;
    s->picker = std::make_unique<generation::TokenPicker>(s->in.params, s->in.seed);
    Group* fit = nullptr;
    for (auto& g : groups_)
      if (!g->started && !g->beam && !g->rows.empty() &&
          g->rows[0]->in.prompt.size() == s->in.prompt.size() &&
          g->rows[0]->in.image_states.shape == s->in.image_states.shape)
        fit = g.get();
    if (!fit) {
      groups_.push_back(std::make_unique<Group>());
      fit = groups_.back().get();
    }
    fit->rows.push_back(std::move(s));
  }
}

void GenerationScheduler::RunGroup(Group& g) {
  Status st;
  if (!g.started) {
    auto stepper = graphs_.OpenStepper();
    if (!stepper.ok()) {
      st = stepper.status();
    } else {
      g.stepper = std::move(stepper).value();
      std::vector<const Tensor*> states;
      std::vector<const std::vector<int64_t>*> prompts;
      for (const auto& s : g.rows) {
        states.push_back(&s->in.image_states);
        prompts.push_back(&s->in.prompt);
      }
      const int repeat = g.beam ? g.rows[0]->in.params.num_beams : 1;
      st = g.stepper->Start(generation::StackRows(states, repeat), generation::PromptRows(prompts, repeat));
    }
    g.started = true;
    const auto now = Clock::now();
    for (auto& s : g.rows) s->started = now;
  } else if (g.beam) {
    st = g.stepper->Next(g.beam_tokens, g.beam_sources);
  } else {
    std::vector<int64_t> tokens;
    std::vector<int> sources;
    bool same = g.rows.size() == g.stepper->rows();
    for (size_t i = 0; i < g.rows.size(); ++i) {
      tokens.push_back(g.rows[i]->next);
      sources.push_back(g.rows[i]->src);
      same = same && g.rows[i]->src == static_cast<int>(i);
    }
    st = g.stepper->Next(tokens, same ? std::vector<int>{} : sources);
  }
  if (!st.ok()) {
    metrics_.finished_error->Inc(static_cast<double>(g.rows.size()));
    for (auto& s : g.rows) Finish(*s, st.Prefixed("decoder: "));
    g.rows.clear();
    return;
  }
  ++g.steps;
  metrics_.steps->Inc();
  metrics_.step_rows->Observe(static_cast<double>(g.stepper->rows()));
  const auto now = Clock::now();
  if (g.beam) {
    Sequence& s = *g.rows[0];
    std::vector<float> logits;
    logits.reserve(g.stepper->rows() * g.stepper->vocab());
    for (size_t r = 0; r < g.stepper->rows(); ++r) {
      auto row = g.stepper->Logits(r);
      logits.insert(logits.end(), row.begin(), row.end());
    }
    auto step = s.beams->Advance(logits, g.stepper->vocab());
    if (!s.has_first) {
      s.has_first = true;
      s.first_token = now;
      metrics_.time_to_first_token->Observe(Seconds(now - s.submitted));
    }
    if (step.done || g.steps >= s.in.params.max_new_tokens) {
      GenerationOutcome o;
      o.ids = s.beams->Finish();
      const auto& eos = s.in.params.eos_token_ids;
      o.reason = !o.ids.empty() && std::find(eos.begin(), eos.end(), o.ids.back()) != eos.end()
                     ? FinishReason::kEos
                     : FinishReason::kLength;
      metrics_.tokens->Inc(static_cast<double>(o.ids.size()));
      Finish(s, std::move(o));
      g.rows.clear();
      return;
    }
    g.beam_tokens = std::move(step.tokens);
    g.beam_sources = std::move(step.sources);
    return;
  }
  for (size_t i = 0; i < g.rows.size(); ++i) {
    Sequence& s = *g.rows[i];
    const int64_t id = s.picker->Next(g.stepper->Logits(i), s.ids, s.in.prompt.size());
    s.ids.push_back(id);
    metrics_.tokens->Inc();
    if (!s.has_first) {
      s.has_first = true;
      s.first_token = now;
      metrics_.time_to_first_token->Observe(Seconds(now - s.submitted));
    }
    if (s.in.on_token) s.in.on_token(id);
    const size_t generated = s.ids.size() - s.in.prompt.size();
    const bool eos = s.picker->IsEos(id);
    if (eos || generated >= static_cast<size_t>(s.in.params.max_new_tokens)) {
      GenerationOutcome o;
      o.ids.assign(s.ids.begin() + static_cast<std::ptrdiff_t>(s.in.prompt.size()), s.ids.end());
      o.reason = eos ? FinishReason::kEos : FinishReason::kLength;
      Finish(s, std::move(o));
      continue;
    }
    s.src = static_cast<int>(i);
    s.next = id;
  }
  std::erase_if(g.rows, [](const auto& s) { return s->ended; });
}

void GenerationScheduler::MergeGroups() {
  Group* host = nullptr;
  for (auto& g : groups_) {
    if (g->rows.empty() || g->beam || !g->started || !g->stepper || !g->stepper->can_absorb()) continue;
    if (!host) {
      host = g.get();
      continue;
    }
    const int offset = static_cast<int>(host->stepper->rows());
    if (!host->stepper->Absorb(*g->stepper).ok()) continue;  // it stays a group of its own
    metrics_.merges->Inc();
    for (auto& s : g->rows) {
      s->src += offset;
      host->rows.push_back(std::move(s));
    }
    g->rows.clear();
  }
}

void GenerationScheduler::Finish(Sequence& s, Result<GenerationOutcome> r) {
  if (s.ended) return;
  s.ended = true;
  const auto now = Clock::now();
  if (r.ok()) {
    auto& o = r.value();
    o.prompt_tokens = s.in.prompt.size();
    o.queue_seconds = Seconds(s.started - s.submitted);
    o.first_token_seconds = s.has_first ? Seconds(s.first_token - s.submitted) : 0;
    o.total_seconds = Seconds(now - s.submitted);
    (o.reason == FinishReason::kEos    ? metrics_.finished_eos
     : o.reason == FinishReason::kStop ? metrics_.finished_stop
                                       : metrics_.finished_length)
        ->Inc();
    if (o.ids.size() > 1)
      metrics_.time_per_output_token->Observe(Seconds(now - s.first_token) /
                                              static_cast<double>(o.ids.size() - 1));
  } else if (r.status().code() == StatusCode::kCancelled) {
    metrics_.finished_cancelled->Inc();
  } else if (r.status().code() == StatusCode::kDeadlineExceeded) {
    metrics_.finished_deadline->Inc();
  }
  {
    std::lock_guard lock(mu_);
    if (s.active) {
      active_rows_ -= s.rows;
      reserved_ -= s.reservation;
      s.active = false;
    }
  }
  if (s.in.done) s.in.done(std::move(r));
}

void GenerationScheduler::PublishGauges() {
  size_t kv = 0, active = 0;
  for (const auto& g : groups_)
    if (g->stepper && !g->rows.empty()) {
      kv += g->stepper->kv_bytes();
      active += g->rows.size();
    }
  metrics_.kv_bytes->Set(static_cast<double>(kv));
  metrics_.active->Set(static_cast<double>(active));
  std::lock_guard lock(mu_);
  metrics_.waiting->Set(static_cast<double>(waiting_.size()));
  metrics_.kv_reserved_bytes->Set(static_cast<double>(reserved_));
}

Status GenerationScheduler::CheckAdmission() const {
  std::lock_guard lock(mu_);
  if (draining_ || stopping_)
    return Status(StatusCode::kUnavailable, "model '" + options_.model + "' is shutting down")
        .WithKind(ErrorKind::kDraining);
  if (waiting_.size() >= options_.max_waiting)
    return Status(StatusCode::kOverloaded, "model '" + options_.model + "' has too many sequences waiting")
        .WithKind(ErrorKind::kQueueFull)
        .WithRetryAfter(std::clamp(step_seconds_ * std::max(1.0, remaining_steps_), 0.1, 60.0));
  return Status::Ok();
}

double GenerationScheduler::EstimateRetryAfterSeconds(int attempt) const {
  std::lock_guard lock(mu_);
  return std::clamp(step_seconds_ * std::max(1.0, remaining_steps_) * std::pow(2.0, std::max(0, attempt)),
                    0.1, 60.0);
}

double GenerationScheduler::EstimatedWaitSeconds() const {
  std::lock_guard lock(mu_);
  if (waiting_.empty() && active_rows_ < options_.max_rows) return 0;
  return step_seconds_ * remaining_steps_;
}

size_t GenerationScheduler::queued() const {
  std::lock_guard lock(mu_);
  return waiting_.size();
}

void GenerationScheduler::NotifyCancelled() {
  {
    std::lock_guard lock(mu_);
    cancel_pending_ = true;
  }
  wake_.notify_all();
}

void GenerationScheduler::BeginDrain() {
  {
    std::lock_guard lock(mu_);
    draining_ = true;
  }
  wake_.notify_all();
}

void GenerationScheduler::Drain(Clock::time_point deadline) {
  BeginDrain();
  {
    std::unique_lock lock(mu_);
    changed_.wait_until(lock, deadline, [&] { return waiting_.empty() && active_rows_ == 0; });
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace sightline::scheduling
