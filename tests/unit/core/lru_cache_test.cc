#include "core/lru_cache.h"

#include <gtest/gtest.h>

namespace sightline {
namespace {

TEST(LruCache, EvictsLeastRecentlyUsedToStayWithinBytes) {
  LruCache<std::string> c(100);
  c.Put("a", std::make_shared<std::string>("A"), 40);
  c.Put("b", std::make_shared<std::string>("B"), 40);
  ASSERT_NE(c.Get("a"), nullptr);  // a is now more recent than b
  c.Put("c", std::make_shared<std::string>("C"), 40);
  EXPECT_EQ(c.Get("b"), nullptr);
  EXPECT_EQ(*c.Get("a"), "A");
  EXPECT_EQ(*c.Get("c"), "C");
  EXPECT_EQ(c.used_bytes(), 80u);
}

TEST(LruCache, ReplacingAKeyUpdatesItsCost) {
  LruCache<int> c(100);
  c.Put("k", std::make_shared<int>(1), 60);
  c.Put("k", std::make_shared<int>(2), 30);
  EXPECT_EQ(*c.Get("k"), 2);
  EXPECT_EQ(c.used_bytes(), 30u);
  EXPECT_EQ(c.size(), 1u);
}

TEST(LruCache, OversizedEntriesAndZeroCapacityKeepNothing) {
  LruCache<int> c(10);
  c.Put("big", std::make_shared<int>(1), 11);
  EXPECT_EQ(c.Get("big"), nullptr);
  LruCache<int> off(0);
  off.Put("k", std::make_shared<int>(1), 1);
  EXPECT_EQ(off.Get("k"), nullptr);
}

}  // namespace
}  // namespace sightline
