#include "core/lru_cache.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <string>
#include <vector>

namespace sightline {
namespace {

// Allocator statistics mean nothing under a sanitizer's allocator.
#if defined(__SANITIZE_ADDRESS__)
#define SIGHTLINE_REAL_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIGHTLINE_REAL_MALLOC 0
#endif
#endif
#ifndef SIGHTLINE_REAL_MALLOC
#define SIGHTLINE_REAL_MALLOC 1
#endif

using Embedding = std::vector<float>;

size_t Cost(const std::string& key, size_t value_heap_bytes) {
  return value_heap_bytes + LruCache<std::string>::EntryOverhead(key);
}

TEST(LruCache, EvictsLeastRecentlyUsedToStayWithinBytes) {
  // Room for two entries and the bucket array, not three.
  const size_t capacity = 2 * Cost("a", 40) + 256;
  LruCache<std::string> c(capacity);
  c.Put("a", std::make_shared<std::string>("A"), 40);
  c.Put("b", std::make_shared<std::string>("B"), 40);
  ASSERT_NE(c.Get("a"), nullptr);  // a is now more recent than b
  c.Put("c", std::make_shared<std::string>("C"), 40);
  EXPECT_EQ(c.Get("b"), nullptr);
  EXPECT_EQ(*c.Get("a"), "A");
  EXPECT_EQ(*c.Get("c"), "C");
  EXPECT_EQ(c.size(), 2u);
  EXPECT_GE(c.used_bytes(), 2 * Cost("a", 40));
  EXPECT_LE(c.used_bytes(), capacity);
}

TEST(LruCache, ReplacingAKeyUpdatesItsCost) {
  LruCache<int> c(4096);
  c.Put("k", std::make_shared<int>(1), 60);
  const size_t first = c.used_bytes();
  c.Put("k", std::make_shared<int>(2), 30);
  EXPECT_EQ(*c.Get("k"), 2);
  EXPECT_EQ(first - c.used_bytes(), 30u);
  EXPECT_EQ(c.size(), 1u);
}

TEST(LruCache, TheKeyAndTheBookkeepingCountAgainstTheCapacity) {
  const std::string long_key(200, 'k');  // beyond the short-string buffer: its own heap block
  EXPECT_GT(LruCache<int>::EntryOverhead(long_key), LruCache<int>::EntryOverhead("k") + 200);
  // The value alone fits; with the cache's own cost it does not.
  const size_t capacity = 1000;
  LruCache<int> c(capacity);
  c.Put(long_key, std::make_shared<int>(1), capacity - 100);
  EXPECT_EQ(c.Get(long_key), nullptr);
  EXPECT_EQ(c.size(), 0u);
}

TEST(LruCache, OversizedEntriesAndZeroCapacityKeepNothing) {
  LruCache<int> c(10);
  c.Put("big", std::make_shared<int>(1), 0);  // the bookkeeping alone is over 10 bytes
  EXPECT_EQ(c.Get("big"), nullptr);
  LruCache<int> off(0);
  off.Put("k", std::make_shared<int>(1), 1);
  EXPECT_EQ(off.Get("k"), nullptr);
}

#if SIGHTLINE_REAL_MALLOC
size_t HeapInUse() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// What an embedding cache is filled with: keys of both sizes (short ones inside the string, long
// ones like CLIP's token-id keys on the heap) and small float vectors.
void PutEmbeddings(LruCache<Embedding>& c, int from, int count) {
  for (int i = from; i < from + count; ++i) {
    std::string key = "clip|" + std::to_string(i);
    if (i % 2) key += std::string(96, 'x');
    auto e = std::make_shared<const Embedding>(static_cast<size_t>(64 + i % 3 * 64), 1.0f);
    c.Put(key, e, HeapBlockBytes(e->capacity() * sizeof(float)));
  }
}

TEST(LruCache, TheReportedSizeIsWhatTheHeapHolds) {
  const size_t before = HeapInUse();
  auto c = std::make_unique<LruCache<Embedding>>(64u << 20);
  PutEmbeddings(*c, 0, 30000);
  ASSERT_EQ(c->size(), 30000u);  // nothing evicted: this is all of it
  const double held = static_cast<double>(HeapInUse() - before);
  EXPECT_NEAR(static_cast<double>(c->used_bytes()) / held, 1.0, 0.05)
      << "reported " << c->used_bytes() << " bytes, the heap grew " << held;
}

TEST(LruCache, OnceFullTheHeapStopsGrowing) {
  const size_t capacity = 8u << 20;
  LruCache<Embedding> c(capacity);
  PutEmbeddings(c, 0, 40000);  // well past full
  const size_t full = HeapInUse();
  EXPECT_LE(c.used_bytes(), capacity);
  PutEmbeddings(c, 40000, 200000);  // five more cache-fulls of fresh keys
  const double grew = static_cast<double>(HeapInUse()) - static_cast<double>(full);
  EXPECT_LT(grew, 0.02 * capacity) << "the heap grew " << grew << " bytes after the cache was full";
  EXPECT_LE(c.used_bytes(), capacity);
}
#endif

}  // namespace
}  // namespace sightline
