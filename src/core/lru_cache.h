// A thread-safe least-recently-used cache bounded in bytes (the caller states each entry's
// cost). Values are shared, immutable: a hit hands out a reference, never a copy, so a hit costs
// a hash lookup and a list splice. Used for task results and embeddings.
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace sightline {

template <typename V>
class LruCache {
 public:
  explicit LruCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}

  std::shared_ptr<const V> Get(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->value;
  }

  // Entries larger than the whole capacity are not kept. Replaces an existing key.
  void Put(const std::string& key, std::shared_ptr<const V> value, size_t bytes) {
    if (capacity_ == 0 || bytes > capacity_) return;
    std::lock_guard lock(mu_);
    if (auto it = index_.find(key); it != index_.end()) {
      used_ -= it->second->bytes;
      order_.erase(it->second);
      index_.erase(it);
    }
    order_.push_front(Entry{key, std::move(value), bytes});
    index_[key] = order_.begin();
    used_ += bytes;
    while (used_ > capacity_) {
      auto& last = order_.back();
      used_ -= last.bytes;
      index_.erase(last.key);
      order_.pop_back();
    }
  }

  size_t used_bytes() const {
    std::lock_guard lock(mu_);
    return used_;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return index_.size();
  }
  size_t capacity_bytes() const { return capacity_; }

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const V> value;
    size_t bytes;
  };
  const size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> order_;  // most recent first
  std::unordered_map<std::string, typename std::list<Entry>::iterator> index_;
  size_t used_ = 0;
};

}  // namespace sightline
