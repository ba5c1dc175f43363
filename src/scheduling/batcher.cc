#include "scheduling/batcher.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/thread_name.h"

namespace sightline::scheduling {
namespace {

// Same dtype and same dims after the batch dim, input by input: such requests can be stacked.
bool Compatible(const InferRequest& a, const InferRequest& b) {
  if (a.inputs.size() != b.inputs.size()) return false;
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    const auto& x = a.inputs[i];
    const auto& y = b.inputs[i];
    if (x.dtype != y.dtype || x.shape.size() != y.shape.size() || x.shape.empty()) return false;
    if (!std::equal(x.shape.begin() + 1, x.shape.end(), y.shape.begin() + 1)) return false;
  }
  return true;
}

// Stacks input `input` of every request into `t`, reusing t's buffer when it is big enough.
void ConcatenateInto(const std::vector<std::shared_ptr<InferRequest>>& reqs, size_t input, int64_t rows,
                     Tensor& t) {
  const Tensor& first = reqs.front()->inputs[input];
  t.name = first.name;
  t.dtype = first.dtype;
  t.shape = first.shape;
  t.shape[0] = rows;
  size_t total = 0;
  for (const auto& r : reqs) total += r->inputs[input].data.size();
  t.data.resize(total);
  size_t at = 0;
  for (const auto& r : reqs) {
    const auto& d = r->inputs[input].data;
    if (!d.empty()) std::memcpy(t.data.data() + at, d.data(), d.size());
    at += d.size();
  }
}

// Stacked inputs up to this size stay allocated between batches. A fresh multi-MB buffer is
// mmapped (main.cc sets the threshold at 1 MB), so the kernel faulted in and zeroed every page
// of every batch: ~1-2 ms per 4.8 MB batch of cnn224, time the instance sat idle. Larger ones
// (ISNet's 12 MB per image) are freed after the run, as before, to keep the footprint down.
constexpr size_t kKeptStackBytes = 16 << 20;

// Rows [begin, begin+count) of a batched output. BYTES outputs are walked element by element.
Tensor SliceRows(const Tensor& out, int64_t begin, int64_t count, int64_t total_rows) {
  Tensor t;
  t.name = out.name;
  t.dtype = out.dtype;
  t.shape = out.shape;
  t.shape[0] = count;
  if (out.dtype == DataType::kBytes) {
    auto elems = SplitBytesElements(out);
    if (!elems.ok() || total_rows == 0) return t;
    const size_t per_row = elems->size() / static_cast<size_t>(total_rows);
    for (size_t e = begin * per_row; e < (begin + count) * per_row; ++e) {
      const uint32_t len = static_cast<uint32_t>((*elems)[e].size());
      const size_t at = t.data.size();
      t.data.resize(at + 4 + len);
      std::memcpy(t.data.data() + at, &len, 4);
      std::memcpy(t.data.data() + at + 4, (*elems)[e].data(), len);
    }
    return t;
  }
  const size_t row_bytes = out.data.size() / static_cast<size_t>(total_rows);
  t.data.assign(out.data.begin() + begin * row_bytes, out.data.begin() + (begin + count) * row_bytes);
  return t;
}

}  // namespace

Result<std::unique_ptr<Batcher>> Batcher::Create(BatcherOptions options,
                                                 std::vector<std::unique_ptr<runtime::Backend>> instances,
                                                 observability::ModelMetrics metrics) {
  if (instances.empty())
    return FailedPrecondition("batcher for '" + options.model_name + "' has no instances");
  if (options.priority_levels < 1) options.priority_levels = 1;
  if (options.default_priority_level < 1 || options.default_priority_level > options.priority_levels)
    return FailedPrecondition("default priority level out of range");
  return std::unique_ptr<Batcher>(new Batcher(std::move(options), std::move(instances), metrics));
}

Batcher::Batcher(BatcherOptions options, std::vector<std::unique_ptr<runtime::Backend>> instances,
                 observability::ModelMetrics metrics)
    : options_(std::move(options)),
      instances_(std::move(instances)),
      metrics_(metrics),
      queues_(static_cast<size_t>(options_.priority_levels)),
      idle_instances_(static_cast<int>(instances_.size())),
      running_(instances_.size()),
      stacked_(instances_.size()) {
  per_row_seconds_.store(std::max(0.0, options_.initial_seconds_per_row), std::memory_order_relaxed);
  scheduler_ = std::thread([this] {
    NameThisThread("sl-sched");
    SchedulerLoop();
  });
  for (size_t i = 0; i < instances_.size(); ++i)
    workers_.emplace_back([this, i] {
      NameThisThread("sl-run-" + std::to_string(i));
      InstanceLoop(i);
    });
}

Batcher::~Batcher() {
  Drain(std::chrono::milliseconds(0));
}

Status Batcher::Enqueue(std::shared_ptr<InferRequest> req) {
  int level = req->priority() == 0 ? options_.default_priority_level : req->priority();
  if (level < 1 || level > options_.priority_levels)
    return InvalidArgument("parameter 'priority' must be between 1 and " +
                           std::to_string(options_.priority_levels) + " for model '" + options_.model_name +
                           "'");
  if (options_.max_batch_size > 0 && req->rows > options_.max_batch_size)
    return InvalidArgument("batch of " + std::to_string(req->rows) + " exceeds max_batch_size " +
                           std::to_string(options_.max_batch_size) + " of model '" + options_.model_name +
                           "'");
  req->level = level - 1;
  const auto now = Clock::now();
  req->enqueued = now;
  auto timeout = options_.default_timeout;
  if (req->timeout && options_.allow_timeout_override) timeout = *req->timeout;
  if (timeout.count() > 0) req->deadline = now + timeout;
  if (req->context && req->context->deadline < req->deadline) {
    if (req->context->deadline <= now)
      return Status(StatusCode::kDeadlineExceeded, "the request's deadline passed before it was queued");
    req->deadline = req->context->deadline;
  }

  std::unique_lock lock(mu_);
  if (Status s = AdmitLocked(req->continuation); !s.ok()) return s;
  queues_[req->level].push_back(req);
  ++queued_;
  queued_rows_ += req->rows;
  if (req->deadline != Clock::time_point::max()) deadlines_.push({req->deadline, req});
  metrics_.pending->Inc();
  // A batch that is due now is formed here and handed straight to an instance: the scheduler
  // thread is only woken for what needs a timer (a batching window, an earlier deadline).
  std::vector<Completion> done;
  const bool formed = TryFormLocked(now, done);
  const bool wake_scheduler = (!formed && idle_instances_ > static_cast<int>(ready_.size())) ||
                              req->deadline < scheduler_sleeps_until_;
  lock.unlock();
  if (formed) instance_cv_.notify_one();
  if (wake_scheduler) scheduler_cv_.notify_one();
  RunCompletions(done);
  return Status::Ok();
}

bool Batcher::TryFormLocked(Clock::time_point now, std::vector<Completion>& done,
                            Clock::time_point* wake_at) {
  Clock::time_point unused = Clock::time_point::max();
  if (!ShouldFormBatchLocked(now, wake_at ? wake_at : &unused)) return false;
  Batch b = FormBatchLocked(done);
  if (b.requests.empty()) return false;
  staged_rows_ += b.rows;
  ready_.push_back(std::move(b));
  return true;
}

Status Batcher::AdmitLocked(bool continuation) const {
  if (draining_ || stop_)
    return Status(StatusCode::kUnavailable, "model '" + options_.model_name + "' is shutting down")
        .WithKind(ErrorKind::kDraining);
  // With nothing waiting, a request is always admitted, whatever the running batch has left:
  // it keeps the instances busy under any budget. A staged batch counts as waiting (it has not
  // started), or a full pipeline would admit one request too many.
  const bool waiting = queued_ > 0 || staged_rows_ > 0;
  const bool wait_too_long =
      !continuation && options_.max_queue_wait.count() > 0 && waiting &&
      EstimateWaitSecondsLocked(Clock::now()) * 1e6 > static_cast<double>(options_.max_queue_wait.count());
  if (wait_too_long) {
    metrics_.rejected_wait_budget->Inc();
    return Status(StatusCode::kOverloaded, "model '" + options_.model_name +
                                               "' expected queue wait exceeds " +
                                               std::to_string(options_.max_queue_wait.count()) + " us")
        .WithKind(ErrorKind::kWaitBudget);
  }
  if (options_.max_queue_size > 0 && queued_ >= options_.max_queue_size) {
    metrics_.rejected_queue_full->Inc();
    // The caller adds the retry estimate (it knows the attempt number).
    return Status(StatusCode::kOverloaded, "model '" + options_.model_name + "' queue is full (" +
                                               std::to_string(options_.max_queue_size) + " requests)")
        .WithKind(ErrorKind::kQueueFull);
  }
  return Status::Ok();
}

Status Batcher::CheckAdmission() const {
  std::lock_guard lock(mu_);
  return AdmitLocked();
}

void Batcher::NotifyCancelled() {
  {
    std::lock_guard lock(mu_);
    sweep_requested_ = true;
  }
  scheduler_cv_.notify_one();
}

int64_t Batcher::RunningRowsLocked() const {
  int64_t rows = 0;
  for (const auto& r : running_) rows += r.rows;
  return rows;
}

double Batcher::EstimateWaitSecondsLocked(Clock::time_point now) const {
  double per_row = per_row_seconds_.load(std::memory_order_relaxed);
  if (per_row <= 0) per_row = 0.001;
  double ahead = static_cast<double>(queued_rows_ + staged_rows_) * per_row;
  // A running batch counts for what it has left, not its whole length: counting it whole made
  // the prediction swing by a full service time with the arrival's phase.
  for (const auto& r : running_) {
    if (r.rows == 0) continue;
    const double elapsed = std::chrono::duration<double>(now - r.started).count();
    ahead += std::max(0.0, static_cast<double>(r.rows) * per_row - elapsed);
  }
  return ahead / static_cast<double>(instances_.size());
}

double Batcher::EstimateRetryAfterSeconds(int attempt) const {
  double wait;
  {
    std::lock_guard lock(mu_);
    wait = EstimateWaitSecondsLocked(Clock::now());
  }
  if (wait <= 0) wait = std::max(0.001, per_row_seconds_.load(std::memory_order_relaxed));
  wait *= std::pow(2.0, std::clamp(attempt, 0, 8));
  return std::clamp(wait, 0.001, 300.0);
}

double Batcher::EstimatedWaitSeconds() const {
  std::lock_guard lock(mu_);
  return EstimateWaitSecondsLocked(Clock::now());
}

size_t Batcher::queued() const {
  std::lock_guard lock(mu_);
  return queued_;
}

void Batcher::Answer(InferRequest& r, Result<InferResult> result, observability::Counter* outcome) {
  if (!r.TryClaim()) return;  // the deadline timer, a cancel or the batch got there first
  if (outcome) outcome->Inc();
  metrics_.pending->Dec();
  r.Deliver(std::move(result));  // after the metrics: observers never see an answer before them
}

void Batcher::RunCompletions(std::vector<Completion>& done) {
  for (auto& [req, status] : done) Answer(*req, std::move(status), nullptr);
  done.clear();
}

void Batcher::RemoveFromQueueLocked(const InferRequest* r) {
  auto& q = queues_[r->level];
  auto it = std::find_if(q.begin(), q.end(), [r](const auto& p) { return p.get() == r; });
  if (it == q.end()) return;
  q.erase(it);
  --queued_;
  queued_rows_ -= r->rows;
}

void Batcher::ExpireDeadlinesLocked(Clock::time_point now, std::vector<Completion>& out) {
  while (!deadlines_.empty() && deadlines_.top().deadline <= now) {
    auto req = deadlines_.top().request;
    deadlines_.pop();
    if (req->completed()) continue;
    RemoveFromQueueLocked(req.get());  // no-op when it is already staged or running
    metrics_.rejected_deadline->Inc();
    out.emplace_back(std::move(req),
                     Status(StatusCode::kDeadlineExceeded,
                            "request timed out in model '" + options_.model_name + "' before a result"));
  }
  // Completed requests linger in the heap until their deadline; rebuild when they dominate.
  if (deadlines_.size() > 1024 &&
      deadlines_.size() > 4 * (queued_ + static_cast<size_t>(staged_rows_ + RunningRowsLocked()))) {
    std::vector<DeadlineEntry> keep;
    while (!deadlines_.empty()) {
      if (!deadlines_.top().request->completed()) keep.push_back(deadlines_.top());
      deadlines_.pop();
    }
    for (auto& e : keep) deadlines_.push(std::move(e));
  }
}

void Batcher::SweepLocked(std::vector<Completion>& out) {
  for (auto& batch : ready_)  // staged: answered now, skipped by Execute
    for (auto& r : batch.requests)
      if (r->IsCancelled() && !r->completed()) {
        metrics_.rejected_cancelled->Inc();
        out.emplace_back(r, Status(StatusCode::kCancelled, "client went away"));
      }
  for (auto& q : queues_) {
    for (auto it = q.begin(); it != q.end();) {
      if ((*it)->IsCancelled() || (*it)->completed()) {
        if (!(*it)->completed()) {
          metrics_.rejected_cancelled->Inc();
          out.emplace_back(*it, Status(StatusCode::kCancelled, "client went away"));
        }
        --queued_;
        queued_rows_ -= (*it)->rows;
        it = q.erase(it);
      } else {
        ++it;
      }
    }
  }
}

bool Batcher::ShouldFormBatchLocked(Clock::time_point now, Clock::time_point* wake_at) const {
  if (queued_ == 0) return false;
  const int free_slots = idle_instances_ - static_cast<int>(ready_.size());
  const int64_t full = std::max(1, options_.max_batch_size);
  if (free_slots <= 0) {
    // Every instance is busy: stage one full batch so the next run starts at once.
    return free_slots == 0 && ready_.empty() && options_.max_batch_size > 0 && queued_rows_ >= full;
  }
  if (options_.max_batch_size == 0 || !options_.dynamic_batching || draining_) return true;
  int64_t target = full;
  if (!options_.preferred_batch_sizes.empty())
    target = *std::max_element(options_.preferred_batch_sizes.begin(), options_.preferred_batch_sizes.end());
  if (queued_rows_ >= target) return true;
  Clock::time_point oldest = Clock::time_point::max();
  for (const auto& q : queues_)
    if (!q.empty()) oldest = std::min(oldest, q.front()->enqueued);
  const auto window_end = oldest + options_.max_queue_delay;
  if (window_end <= now) return true;
  *wake_at = std::min(*wake_at, window_end);
  return false;
}

Batcher::Batch Batcher::FormBatchLocked(std::vector<Completion>& out) {
  Batch batch;
  const int64_t cap = std::max(1, options_.max_batch_size);
  for (auto& q : queues_) {
    for (auto it = q.begin(); it != q.end() && batch.rows < cap;) {
      auto& r = *it;
      if (r->completed() || r->IsCancelled()) {
        if (!r->completed()) {
          metrics_.rejected_cancelled->Inc();
          out.emplace_back(r, Status(StatusCode::kCancelled, "client went away"));
        }
        --queued_;
        queued_rows_ -= r->rows;
        it = q.erase(it);
        continue;
      }
      if (!batch.requests.empty()) {
        if (options_.max_batch_size == 0) break;
        if (batch.rows + r->rows > cap) break;  // keep FIFO order: no overtaking by smaller ones
        if (!Compatible(*batch.requests.front(), *r)) {
          ++it;
          continue;
        }
      }
      batch.rows += r->rows;
      batch.requests.push_back(r);
      --queued_;
      queued_rows_ -= r->rows;
      it = q.erase(it);
      if (options_.max_batch_size == 0) break;
    }
    if (options_.max_batch_size == 0 && !batch.requests.empty()) break;
    if (batch.rows >= cap) break;
  }
  return batch;
}

void Batcher::SchedulerLoop() {
  std::vector<Completion> done;
  std::unique_lock lock(mu_);
  while (!stop_) {
    const auto now = Clock::now();
    ExpireDeadlinesLocked(now, done);
    if (sweep_requested_) {
      sweep_requested_ = false;
      SweepLocked(done);
    }
    Clock::time_point wake_at = deadlines_.empty() ? Clock::time_point::max() : deadlines_.top().deadline;
    const bool formed = TryFormLocked(now, done, &wake_at);
    if (formed) instance_cv_.notify_one();
    scheduler_sleeps_until_ = Clock::time_point::min();  // awake: Enqueue need not wake it
    if (!done.empty()) {
      lock.unlock();
      RunCompletions(done);
      lock.lock();
      continue;
    }
    if (formed) continue;
    if (draining_ && queued_ == 0 && ready_.empty() && idle_instances_ == static_cast<int>(instances_.size()))
      drained_cv_.notify_all();
    scheduler_sleeps_until_ = wake_at;
    if (wake_at == Clock::time_point::max())
      scheduler_cv_.wait(lock);
    else
      scheduler_cv_.wait_until(lock, wake_at);
  }
}

void Batcher::InstanceLoop(size_t index) {
  std::unique_lock lock(mu_);
  std::vector<Completion> done;
  while (true) {
    instance_cv_.wait(lock, [this] { return stop_ || !ready_.empty(); });
    if (ready_.empty()) break;  // stop_ and nothing left
    Batch batch = std::move(ready_.front());
    ready_.pop_front();
    --idle_instances_;
    staged_rows_ -= batch.rows;
    const auto now = Clock::now();
    running_[index] = {now, batch.rows};
    // The staging slot is free again: a full batch may wait there while this one runs.
    const bool staged = TryFormLocked(now, done);
    lock.unlock();
    if (staged) instance_cv_.notify_one();
    RunCompletions(done);
    Execute(index, batch);
    lock.lock();
    ++idle_instances_;
    running_[index].rows = 0;
    // Take the next due batch here rather than through the scheduler thread; wake the scheduler
    // only for what needs its timers (a batching window still open) or for a drain.
    const bool formed = ready_.empty() && TryFormLocked(Clock::now(), done);
    if (!done.empty()) {
      lock.unlock();
      RunCompletions(done);
      lock.lock();
    }
    if (draining_ || (!formed && queued_ > 0)) scheduler_cv_.notify_one();
  }
}

void Batcher::Execute(size_t index, Batch& batch) {
  // Requests answered while staged (deadline, cancel) are dropped before the run when possible.
  std::vector<std::shared_ptr<InferRequest>> live;
  for (auto& r : batch.requests)
    if (!r->completed()) live.push_back(r);
  if (live.empty()) return;
  RunAndAnswer(index, live, /*isolating=*/false);
}

namespace {

// Whether a failed batched run may be the fault of some of its requests, so re-running them in
// parts can save the others: not when the engine is unavailable or the work was called off.
bool MayIsolate(const Status& s) {
  switch (s.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kCancelled:
    case StatusCode::kDeadlineExceeded: return false;
    default: return true;
  }
}

}  // namespace

void Batcher::RunAndAnswer(size_t index, std::span<const std::shared_ptr<InferRequest>> requests,
                           bool isolating) {
  runtime::Backend& backend = *instances_[index];
  std::vector<std::shared_ptr<InferRequest>> live;
  for (const auto& r : requests)
    if (!r->completed()) live.push_back(r);  // a cancel may land between isolation runs
  if (live.empty()) return;
  int64_t rows = 0;
  for (auto& r : live) rows += r->rows;

  std::vector<Tensor>& stacked = stacked_[index];
  std::vector<const Tensor*> inputs;
  if (live.size() == 1) {
    for (const auto& t : live[0]->inputs) inputs.push_back(&t);
  } else {
    stacked.resize(live[0]->inputs.size());
    for (size_t i = 0; i < stacked.size(); ++i) ConcatenateInto(live, i, rows, stacked[i]);
    for (const auto& t : stacked) inputs.push_back(&t);
  }

  // The union of what the batch's requests asked for; one request wanting all means all.
  std::vector<int> wanted;
  bool all = false;
  for (const auto& r : live) {
    if (r->outputs.empty()) all = true;
    wanted.insert(wanted.end(), r->outputs.begin(), r->outputs.end());
  }
  if (all) wanted.clear();
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());

  const auto started = Clock::now();
  auto result = backend.Run(inputs, wanted);
  const auto finished = Clock::now();
  for (auto& t : stacked)
    if (t.data.capacity() > kKeptStackBytes) TensorBuffer().swap(t.data);
  const double secs = std::chrono::duration<double>(finished - started).count();
  metrics_.compute_seconds->Observe(secs);
  metrics_.batch_size->Observe(static_cast<double>(rows));
  metrics_.exec_count->Inc();
  metrics_.inference_count->Inc(static_cast<double>(rows));
  const double per_row = secs / static_cast<double>(std::max<int64_t>(rows, 1));
  const double prev = per_row_seconds_.load(std::memory_order_relaxed);
  per_row_seconds_.store(prev <= 0 ? per_row : 0.8 * prev + 0.2 * per_row, std::memory_order_relaxed);

  if (!result.ok()) {
    // A batch failure is never charged to requests that did not cause it (field report 3): the
    // batch is re-run in halves, recursively, so k bad requests among n cost about 2k log n runs
    // and only they get the error.
    if (live.size() > 1 && MayIsolate(result.status())) {
      if (!isolating && metrics_.isolations) metrics_.isolations->Inc();
      const size_t half = live.size() / 2;
      RunAndAnswer(index, std::span(live).first(half), true);
      RunAndAnswer(index, std::span(live).subspan(half), true);
      return;
    }
    for (auto& r : live) Answer(*r, result.status(), metrics_.failed);
    return;
  }
  auto& outputs = result.value();
  int64_t offset = 0;
  for (auto& r : live) {
    metrics_.queue_seconds->Observe(std::chrono::duration<double>(started - r->enqueued).count());
    InferResult res;
    res.timing = {r->enqueued, started, finished, static_cast<int>(rows)};
    for (size_t i = 0; i < outputs.size(); ++i) {
      const int index = wanted.empty() ? static_cast<int>(i) : wanted[i];
      if (!r->outputs.empty() && !std::binary_search(r->outputs.begin(), r->outputs.end(), index)) continue;
      const Tensor& out = outputs[i];
      if (live.size() == 1)
        res.outputs.push_back(std::move(outputs[i]));
      else if (!out.shape.empty() && out.shape[0] == rows)
        res.outputs.push_back(SliceRows(out, offset, r->rows, rows));
      else
        res.outputs.push_back(out);  // an output without a batch dim goes to everyone
    }
    offset += r->rows;
    Answer(*r, std::move(res), metrics_.success);
  }
}

void Batcher::BeginDrain() {
  std::lock_guard lock(mu_);
  draining_ = true;
  scheduler_cv_.notify_all();
}

void Batcher::Drain(std::chrono::milliseconds timeout) {
  Drain(Clock::now() + timeout);
}

void Batcher::Drain(Clock::time_point deadline) {
  std::vector<Completion> left;
  {
    std::unique_lock lock(mu_);
    if (stop_) return;
    draining_ = true;
    scheduler_cv_.notify_all();
    drained_cv_.wait_until(lock, deadline, [this] {
      return queued_ == 0 && ready_.empty() && idle_instances_ == static_cast<int>(instances_.size());
    });
    stop_ = true;
    for (auto& q : queues_) {
      for (auto& r : q)
        left.emplace_back(
            r, Status(StatusCode::kUnavailable, "server is shutting down").WithKind(ErrorKind::kDraining));
      q.clear();
    }
    queued_ = 0;
    queued_rows_ = 0;
  }
  scheduler_cv_.notify_all();
  instance_cv_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  for (auto& w : workers_)
    if (w.joinable()) w.join();
  RunCompletions(left);
}

}  // namespace sightline::scheduling
