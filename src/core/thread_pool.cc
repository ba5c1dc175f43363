#include "core/thread_pool.h"

#include <algorithm>
#include <string>

#include "core/thread_name.h"

namespace sightline {

ThreadPool::ThreadPool(int threads, std::string_view name) {
  for (int i = 0; i < std::max(1, threads); ++i)
    threads_.emplace_back([this, n = std::string(name)] {
      NameThisThread(n);
      Work();
    });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::Submit(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void ThreadPool::WaitIdle() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] { return tasks_.empty() && active_ == 0; });
}

bool ThreadPool::WaitIdleUntil(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return idle_cv_.wait_until(lock, deadline, [this] { return tasks_.empty() && active_ == 0; });
}

void ThreadPool::Work() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping and drained
      task = std::move(tasks_.front());
      tasks_.pop_front();
      ++active_;
    }
    task();
    {
      std::lock_guard lock(mu_);
      --active_;
    }
    idle_cv_.notify_all();
  }
}

}  // namespace sightline
