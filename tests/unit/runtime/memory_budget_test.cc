#include "runtime/memory_budget.h"

#include "core/process_memory.h"

#include <gtest/gtest.h>

namespace sightline::runtime {
namespace {

TEST(MemoryBudget, HalfTheAvailableMemoryOverThePerItemCostCappedAt256) {
  constexpr int64_t kMiB = 1 << 20;
  EXPECT_EQ(MemorySafeBatchLimit(100 * kMiB, 1000 * kMiB), 5);  // 500 MiB / 100 MiB
  EXPECT_EQ(MemorySafeBatchLimit(kMiB, 100'000 * kMiB), 256);   // capped
  EXPECT_EQ(MemorySafeBatchLimit(900 * kMiB, 1000 * kMiB), 1);  // never below one
  EXPECT_EQ(MemorySafeBatchLimit(0, 1000 * kMiB), 256);         // unknown cost: the cap
}

TEST(MemoryBudget, ReadsThisMachine) {
  EXPECT_GT(AvailableMemoryBytes(), 0);
  EXPECT_GT(ResidentBytes(), 0);
}

}  // namespace
}  // namespace sightline::runtime
