#include "core/request_context.h"

#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "core/concurrency_window.h"

namespace sightline {
namespace {

TEST(TraceContext, ParsesAndWritesTraceparent) {
  const std::string tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  auto t = TraceContext::Parse(tp);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->ToTraceparent(), tp);
  EXPECT_EQ(t->TraceIdHex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(t->flags, 1);
}

TEST(TraceContext, RefusesWhatTheSpecSaysToIgnore) {
  for (const char* bad : {"", "00-zz-bad", "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                          "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                          "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"})
    EXPECT_FALSE(TraceContext::Parse(bad).has_value()) << bad;
  // A later version may carry more fields after the flags.
  EXPECT_TRUE(
      TraceContext::Parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra").has_value());
}

TEST(TraceContext, GeneratedIdsAreValidAndDistinct) {
  auto a = TraceContext::Generate(), b = TraceContext::Generate();
  EXPECT_NE(a.TraceIdHex(), b.TraceIdHex());
  EXPECT_TRUE(TraceContext::Parse(a.ToTraceparent()).has_value());
}

TEST(RequestContext, CancellationAndDeadline) {
  auto c = std::make_shared<RequestContext>();
  c->cancel = std::make_shared<CancelToken>();
  EXPECT_FALSE(c->cancelled());
  c->cancel->Cancel();
  EXPECT_TRUE(c->cancelled());
  EXPECT_FALSE(c->expired());
  c->deadline = RequestContext::Clock::now();
  EXPECT_TRUE(c->expired());
  EXPECT_FALSE(BackgroundContext()->cancelled());
}

TEST(ConcurrencyWindow, AdmitsAtMostItsWidthInOrder) {
  ConcurrencyWindow w(2);
  std::vector<int> started;
  for (int i = 0; i < 5; ++i) w.Acquire([&, i] { started.push_back(i); });
  EXPECT_EQ(started, (std::vector<int>{0, 1}));
  EXPECT_EQ(w.active(), 2u);
  w.Release();
  EXPECT_EQ(started, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(w.Close(), 2u);  // 3 and 4 never start
  w.Release();
  w.Acquire([&] { started.push_back(9); });
  EXPECT_EQ(started, (std::vector<int>{0, 1, 2}));
}

}  // namespace
}  // namespace sightline
