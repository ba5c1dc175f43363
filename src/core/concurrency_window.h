// Admits at most `width` pieces of one request's work at a time; the rest wait in order. A
// request of 2048 texts or 1000 images thus never floods a model's queue (it cannot be refused
// as overload for the backlog it would create itself, and interactive requests interleave with
// it), and its decoded tensors never all sit in memory at once.
//
// `Acquire(start)` runs `start` at once when a slot is free, else when one is released, on the
// releasing thread: callers that must not run work there (a batcher thread) hop to a pool inside
// `start`. `Close()` drops whatever still waits (a refusal or a hang-up stops the submission at
// once); dropped starts are destroyed without running.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

namespace sightline {

class ConcurrencyWindow {
 public:
  explicit ConcurrencyWindow(size_t width) : width_(width < 1 ? 1 : width) {}

  void Acquire(std::function<void()> start) {
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      if (active_ >= width_) {
        waiting_.push_back(std::move(start));
        return;
      }
      ++active_;
    }
    start();
  }

  void Release() {
    std::function<void()> next;
    {
      std::lock_guard lock(mu_);
      if (closed_ || waiting_.empty()) {
        if (active_ > 0) --active_;
        return;
      }
      next = std::move(waiting_.front());
      waiting_.pop_front();
    }
    next();
  }

  // Drops every waiting start; later Acquire calls are ignored. Returns how many were dropped.
  size_t Close() {
    std::deque<std::function<void()>> dropped;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      dropped.swap(waiting_);
    }
    return dropped.size();
  }

  size_t active() const {
    std::lock_guard lock(mu_);
    return active_;
  }

 private:
  const size_t width_;
  mutable std::mutex mu_;
  size_t active_ = 0;
  bool closed_ = false;
  std::deque<std::function<void()>> waiting_;
};

}  // namespace sightline
