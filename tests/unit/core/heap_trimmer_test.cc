#include "core/heap_trimmer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace sightline {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kGlibcMalloc = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kGlibcMalloc = false;
#else
constexpr bool kGlibcMalloc = true;
#endif
#else
constexpr bool kGlibcMalloc = true;
#endif

// The fragmentation the soak showed: many small blocks freed behind one still in use, so the
// arena's top cannot shrink and free() alone returns nothing.
TEST(HeapTrimmer, TrimReturnsFreePagesInsideAnArenaToTheOs) {
  if (!kGlibcMalloc) GTEST_SKIP() << "the sanitizer's allocator replaces glibc malloc";
  constexpr size_t kBlock = 4000, kBlocks = 20'000;  // ~80 MB, each far below the mmap threshold
  std::vector<char*> blocks;
  blocks.reserve(kBlocks);
  for (size_t i = 0; i < kBlocks; ++i) {
    blocks.push_back(static_cast<char*>(std::malloc(kBlock)));
    ASSERT_NE(blocks.back(), nullptr);
    std::memset(blocks.back(), static_cast<int>(i), kBlock);  // resident, not just reserved
  }
  char* keep = static_cast<char*>(std::malloc(kBlock));  // pins the top of the arena
  std::memset(keep, 1, kBlock);
  for (char* b : blocks) std::free(b);
  EXPECT_GE(HeapTrimmer::FreeBytesInArenas(), kBlock * kBlocks / 2);
  const size_t released = HeapTrimmer::TrimNow();
  std::free(keep);
  EXPECT_GE(released, size_t{48} << 20) << "resident bytes released by malloc_trim";
}

// Counts a trimmer's trims and lets a test wait for a number of them.
class TrimCounter {
 public:
  HeapTrimmer::OnTrim Callback() {
    return [this](size_t) {
      std::lock_guard lock(mu_);
      ++trims_;
      cv_.notify_all();
    };
  }
  bool WaitFor(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return trims_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int trims_ = 0;
};

TEST(HeapTrimmer, TheThreadTrimsOnItsInterval) {
  TrimCounter counter;
  HeapTrimmer trimmer({std::chrono::milliseconds(1), 0}, counter.Callback());
  EXPECT_TRUE(counter.WaitFor(3));
}

TEST(HeapTrimmer, NothingIsTrimmedWhileLessThanTheThresholdIsFree) {
  std::atomic<int> trims{0};
  TrimCounter clock_ticks;
  {
    // A threshold no heap reaches; a second trimmer on the same interval marks time, so the
    // first has had many chances to (wrongly) trim by the time the second has trimmed 5 times.
    HeapTrimmer never({std::chrono::milliseconds(1), SIZE_MAX}, [&](size_t) { ++trims; });
    HeapTrimmer clock({std::chrono::milliseconds(1), 0}, clock_ticks.Callback());
    ASSERT_TRUE(clock_ticks.WaitFor(5));
  }
  EXPECT_EQ(trims.load(), 0);
}

TEST(HeapTrimmer, StoppingDoesNotWaitForTheInterval) {
  const auto t0 = std::chrono::steady_clock::now();
  { HeapTrimmer trimmer({std::chrono::hours(1), 0}, nullptr); }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
}

TEST(HeapTrimmer, AZeroIntervalStartsNoThread) {
  std::atomic<int> trims{0};
  {
    HeapTrimmer trimmer({std::chrono::milliseconds(0), 0}, [&](size_t) { ++trims; });
  }
  EXPECT_EQ(trims.load(), 0);
}

}  // namespace
}  // namespace sightline
