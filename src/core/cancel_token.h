// Shared flag that a transport sets when the client goes away, with an optional callback so the
// layer holding the work (a batcher queue) can drop it promptly instead of at its turn.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>

namespace sightline {

class CancelToken {
 public:
  bool cancelled() const { return flag_.load(std::memory_order_relaxed); }

  // Runs `fn` on Cancel(), or at once if already cancelled. One callback; a later one replaces it.
  void OnCancel(std::function<void()> fn) {
    std::unique_lock lock(mu_);
    if (cancelled()) {
      lock.unlock();
      fn();
      return;
    }
    fn_ = std::move(fn);
  }

  void Cancel() {
    std::function<void()> fn;
    {
      std::lock_guard lock(mu_);
      if (flag_.exchange(true)) return;
      fn = std::move(fn_);
    }
    if (fn) fn();
  }

 private:
  std::atomic<bool> flag_{false};
  std::mutex mu_;
  std::function<void()> fn_;
};

}  // namespace sightline
