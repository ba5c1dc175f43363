// A thread-safe least-recently-used cache bounded in bytes. Values are shared, immutable: a hit
// hands out a reference, never a copy, so a hit costs a hash lookup and a list splice. Used for task
// results and embeddings.
//
// The bound covers everything the cache holds, not only the values: the caller states what its
// value owns on the heap (an embedding's float buffer, a result's encoded bytes) and the cache adds
// its own per-entry cost (the key, stored once; the hash-map node; the recency-list node; the
// value's shared_ptr block; the bucket array), each as a real heap block (core/heap_bytes.h). A
// soak once showed caches of small entries holding twice what they reported (issue 11, report 12).
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/heap_bytes.h"

namespace sightline {

template <typename V>
class LruCache {
 public:
  explicit LruCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}

  std::shared_ptr<const V> Get(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second.position);
    return it->second.value;
  }

  // value_heap_bytes: what the value owns on the heap beyond sizeof(V) (0 for a plain struct).
  // Entries whose whole cost exceeds the capacity are not kept. Replaces an existing key.
  void Put(const std::string& key, std::shared_ptr<const V> value, size_t value_heap_bytes) {
    if (capacity_ == 0) return;
    std::lock_guard lock(mu_);
    if (auto it = index_.find(key); it != index_.end()) Erase(it);
    auto [it, inserted] = index_.try_emplace(key);
    it->second.value = std::move(value);
    it->second.bytes = value_heap_bytes + EntryOverhead(it->first);
    if (it->second.bytes > capacity_) {
      index_.erase(it);
      return;
    }
    order_.push_front(&it->first);
    it->second.position = order_.begin();
    entries_bytes_ += it->second.bytes;
    while (UsedLocked() > capacity_ && !order_.empty()) Erase(index_.find(*order_.back()));
  }

  // Everything the cache holds, bookkeeping included; never above capacity_bytes() after a Put.
  size_t used_bytes() const {
    std::lock_guard lock(mu_);
    return UsedLocked();
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return index_.size();
  }
  size_t capacity_bytes() const { return capacity_; }

  // The cache's own cost for one entry of this key, on top of the value's heap bytes.
  static size_t EntryOverhead(const std::string& key) {
    // libstdc++'s hash-map node: next pointer, the key-value pair, the cached hash.
    constexpr size_t kMapNode = sizeof(void*) + sizeof(std::pair<const std::string, Slot>) + sizeof(size_t);
    constexpr size_t kListNode = 2 * sizeof(void*) + sizeof(const std::string*);
    // std::make_shared's one block: two counts, the vtable pointer, the value.
    constexpr size_t kSharedBlock = 2 * sizeof(int) + sizeof(void*) + sizeof(V);
    return HeapBlockBytes(kMapNode) + HeapBlockBytes(kListNode) + HeapBlockBytes(kSharedBlock) +
           StringHeapBytes(key);
  }

 private:
  using Order = std::list<const std::string*>;  // the map's own keys, most recent first
  struct Slot {
    std::shared_ptr<const V> value;
    size_t bytes = 0;
    typename Order::iterator position;
  };
  using Index = std::unordered_map<std::string, Slot>;

  void Erase(typename Index::iterator it) {
    entries_bytes_ -= it->second.bytes;
    order_.erase(it->second.position);
    index_.erase(it);
  }
  // One bucket lives inside the map; more are one heap array, kept after entries leave.
  size_t UsedLocked() const {
    const size_t buckets = index_.bucket_count();
    return entries_bytes_ + (buckets > 1 ? HeapBlockBytes(buckets * sizeof(void*)) : 0);
  }

  const size_t capacity_;
  mutable std::mutex mu_;
  Order order_;
  Index index_;  // node-based: a key's address is stable until its entry is erased
  size_t entries_bytes_ = 0;
};

}  // namespace sightline
