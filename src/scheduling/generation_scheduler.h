// Step-level ("continuous", Orca-style) batching for a generative decoder: sequences join and
// leave at every decode step instead of waiting for a whole batch to finish, within a KV-cache
// memory budget. One thread per model runs the decoder and nothing else but choosing each row's
// next id (which the next step needs); detokenizing and answering belong to whoever submitted.
//
// Sequences admitted at the same step boundary with prompts of the same length (and image states
// of the same shape) start as one group: one prefill run. After that, encoder-decoder exports
// (vit-gpt2 style, generation/encoder_decoder_stepper.h), which take no attention mask or position
// ids, keep each group apart — rows share a run only while at the same position, so groups
// admitted at different steps run one after another within each step. Vision-language models
// (vision_language_stepper.h) take a mask and position ids: after its first step a new group is
// folded into the running one (left-padded, masked), so every sequence, whatever its length,
// shares one decoder run per step. A beam-search request is its own group (its beams are its rows).
//
// Admission: a sequence reserves its worst-case KV cache (rows x (prompt + max_new_tokens) x bytes
// per position); it starts at the next step boundary where the reservation fits the budget and a
// row slot is free, else it waits in FIFO order. A sequence larger than the whole budget is
// refused at once (kInvalidArgument naming max_new_tokens); a full waiting line is kOverloaded
// with a Retry-After from the time the running sequences still need. Cancellation (client hang-up)
// and deadlines end a sequence at the next step boundary and free its cache there.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/request_context.h"
#include "core/status.h"
#include "core/tensor.h"
#include "generation/decoder_graphs.h"
#include "generation/generation_params.h"
#include "observability/server_metrics.h"
#include "runtime/backend.h"
#include "scheduling/scheduler.h"

namespace sightline::scheduling {

// kStop: the submitter asked (GenerationSequence::stop_watch: a stop string was found).
enum class FinishReason { kEos, kLength, kStop };

struct GenerationOutcome {
  std::vector<int64_t> ids;  // the new ids, EOS included when one ended the sequence
  FinishReason reason = FinishReason::kLength;
  size_t prompt_tokens = 0;
  double queue_seconds = 0;        // submission to the first decoder run
  double first_token_seconds = 0;  // submission to the first new id
  double total_seconds = 0;        // submission to the end
};

// What a sequence's stop-string watcher, on another thread, tells the scheduler: how many new ids
// it has looked at, and, once a stop string is complete, after how many new ids the answer ends.
// While `checked` is behind, the scheduler waits (at most 20 ms a step) before the next step, so a
// sequence ends on the step that completed its stop string however starved the watcher's thread
// is; its outcome (FinishReason::kStop) keeps `stop_at` ids. Wake the scheduler with
// NotifyCancelled() after each store.
struct StopWatch {
  std::atomic<size_t> checked{0};
  std::atomic<size_t> stop_at{0};  // 0: no stop string yet
};

struct GenerationSequence {
  Tensor image_states;                  // [1,S,D]: encoder states, or a VLM's image features
  std::vector<int64_t> prompt;          // the decoder's first ids (start token / templated prompt)
  generation::GenerationParams params;  // validated by the caller
  uint64_t seed = 0;                    // for sampling
  RequestContextPtr context;            // cancellation and deadline; null: none
  // Stop strings watched by the submitter on another thread (StopWatch); null: none. Not for beams.
  std::shared_ptr<StopWatch> stop_watch;
  // Each new id as it is chosen (not for beam search, whose ids are known only at the end). Runs
  // on the scheduler thread: must not block.
  std::function<void(int64_t)> on_token;
  // Exactly once: the outcome, or kCancelled / kDeadlineExceeded / kUnavailable (draining) /
  // the engine's error. Runs on the scheduler thread (or the submitter's, for refusals in Submit).
  std::function<void(Result<GenerationOutcome>)> done;
};

struct GenerationOptions {
  std::string model;  // for metrics and messages
  size_t kv_budget_bytes = size_t{512} << 20;
  size_t max_rows = 64;       // rows decoded at once, all groups together
  size_t max_waiting = 1024;  // sequences admitted but not started; beyond: kOverloaded
  // When idle, how long arrivals must pause before a group starts (at most twice this), so a
  // burst shares one group; 0: start at once.
  std::chrono::microseconds admission_window{2000};
};

class GenerationScheduler final : public Scheduler {
 public:
  // Errors: kFailedPrecondition when the graphs are not a decoder with a KV cache.
  static Result<std::unique_ptr<GenerationScheduler>> Create(GenerationOptions options,
                                                             generation::DecoderGraphs graphs,
                                                             observability::GenerationMetrics metrics);
  ~GenerationScheduler() override;

  // Admits every sequence or none (a request's images start together, so they share groups).
  // On refusal returns the Status and calls no `done`; otherwise each `done` runs once later.
  Status Submit(std::vector<GenerationSequence> sequences);

  // KV-cache bytes one row holds per position (all layers' keys and values).
  size_t kv_bytes_per_position() const { return kv_per_position_; }

  // Scheduler.
  Status CheckAdmission() const override;
  double EstimateRetryAfterSeconds(int attempt) const override;
  double EstimatedWaitSeconds() const override;
  size_t queued() const override;
  void NotifyCancelled() override;
  void BeginDrain() override;
  void Drain(Clock::time_point deadline) override;

 private:
  struct Sequence;
  struct Group;
  GenerationScheduler() = default;
  void Loop();
  // At each step boundary: end cancelled and expired sequences, start waiting ones that fit, then
  // one decoder run per group.
  void SweepEnded();
  void WaitForStopChecks();
  void AdmitWaiting();
  void RunGroup(Group& g);
  // After a step: groups whose decoder takes a mask fold into one (DecoderStepper::Absorb), so
  // sequences that started apart share every later run.
  void MergeGroups();
  void Finish(Sequence& s, Result<GenerationOutcome> r);
  size_t Reservation(const GenerationSequence& s) const;
  void PublishGauges();

  GenerationOptions options_;
  observability::GenerationMetrics metrics_;
  generation::DecoderGraphs graphs_;
  size_t kv_per_position_ = 0;

  mutable std::mutex mu_;
  std::condition_variable wake_;                   // the scheduler thread waits for work
  std::condition_variable changed_;                // Drain waits for the work to end
  std::deque<std::unique_ptr<Sequence>> waiting_;  // guarded by mu_
  size_t reserved_ = 0;                            // guarded by mu_: KV promised to waiting + active
  size_t active_rows_ = 0;                         // guarded by mu_
  bool draining_ = false, stopping_ = false;       // guarded by mu_
  bool cancel_pending_ = false;                    // guarded by mu_: a sweep is wanted
  double step_seconds_ = 0.01;                     // guarded by mu_: EWMA of one step, for estimates
  double remaining_steps_ = 0;                     // guarded by mu_: the longest active sequence's

  std::vector<std::unique_ptr<Group>> groups_;  // scheduler thread only
  std::thread thread_;
};

}  // namespace sightline::scheduling
