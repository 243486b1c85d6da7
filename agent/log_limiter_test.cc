#include "agent/log_limiter.h"

#include "gtest/gtest.h"

namespace kgw::agent {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

TEST(LogLimiterTest, LogsTheFirstOnesThenCountsTheRest) {
  LogLimiter limiter(/*burst=*/3, absl::Minutes(1));
  for (int i = 0; i < 3; ++i) {
    LogLimiter::Verdict v = limiter.Admit("frame", kStart + absl::Seconds(i));
    EXPECT_TRUE(v.log);
    EXPECT_EQ(v.held_back, 0u);
  }
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(limiter.Admit("frame", kStart + absl::Seconds(10)).log);
  }
  // Another kind has its own allowance.
  EXPECT_TRUE(limiter.Admit("tls", kStart + absl::Seconds(10)).log);
  // The next window: logged again, with the count of what was held back.
  LogLimiter::Verdict next = limiter.Admit("frame", kStart + absl::Seconds(61));
  EXPECT_TRUE(next.log);
  EXPECT_EQ(next.held_back, 1000u);
  EXPECT_EQ(limiter.Admit("frame", kStart + absl::Seconds(62)).held_back, 0u);
}

TEST(LogLimiterTest, EndedWindowsAreSummedUpOnceWithoutAnotherEvent) {
  LogLimiter limiter(/*burst=*/1, absl::Minutes(1));
  limiter.Admit("slow", kStart);
  limiter.Admit("slow", kStart + absl::Seconds(1));
  limiter.Admit("slow", kStart + absl::Seconds(2));
  limiter.Admit("proxy", kStart + absl::Seconds(30));
  EXPECT_TRUE(limiter.TakeEnded(kStart + absl::Seconds(59)).empty());  // not over yet
  auto ended = limiter.TakeEnded(kStart + absl::Seconds(60));
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].first, "slow");
  EXPECT_EQ(ended[0].second, 2u);
  EXPECT_TRUE(limiter.TakeEnded(kStart + absl::Seconds(61)).empty());  // reported once
  // "proxy" held nothing back: its window ends without a summary.
  EXPECT_TRUE(limiter.TakeEnded(kStart + absl::Seconds(120)).empty());
  // And the kind starts afresh.
  EXPECT_TRUE(limiter.Admit("slow", kStart + absl::Seconds(121)).log);
}

}  // namespace
}  // namespace kgw::agent
