// Fixed-size pool of worker threads for CPU work that must not run on I/O threads (image
// decoding and preprocessing). Owned by the server object; tasks are plain closures.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

namespace sightline {

class ThreadPool {
 public:
  // `name` names its threads (see core/thread_name.h).
  explicit ThreadPool(int threads, std::string_view name = "sl-pool");
  ~ThreadPool();  // finishes queued tasks, then joins
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Submit(std::function<void()> task);
  // Blocks until every queued task has run (new ones may still be submitted meanwhile).
  void WaitIdle();
  // The same, giving up at `deadline`; returns whether the pool went idle.
  bool WaitIdleUntil(std::chrono::steady_clock::time_point deadline);

 private:
  void Work();
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  int active_ = 0;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace sightline
