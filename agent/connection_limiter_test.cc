#include "agent/connection_limiter.h"

#include <vector>

#include "gtest/gtest.h"

namespace kgw::agent {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

TEST(ConnectionLimiterTest, TotalIsBoundedAndPlacesComeBack) {
  ConnectionLimiter limiter({.max_connections = 2});
  auto a = limiter.Accept(kNow);
  auto b = limiter.Accept(kNow);
  ASSERT_FALSE(a.refused);
  ASSERT_FALSE(b.refused);
  auto c = limiter.Accept(kNow);
  ASSERT_TRUE(c.refused);
  EXPECT_EQ(*c.refused, ConnectionLimiter::Refusal::kMaxConnections);
  EXPECT_FALSE(c.ticket);
  a.ticket.Release();
  EXPECT_EQ(limiter.open(), 1);
  EXPECT_FALSE(limiter.Accept(kNow).refused);  // its ticket is dropped at once
  EXPECT_EQ(limiter.open(), 1);
}

TEST(ConnectionLimiterTest, EachAddressIsBoundedOnItsOwn) {
  ConnectionLimiter limiter({.max_per_address = 2});
  std::vector<ConnectionLimiter::Ticket> held;
  for (int i = 0; i < 2; ++i) {
    auto a = limiter.Accept(kNow);
    ASSERT_TRUE(a.ticket.AddAddress("10.0.0.1"));
    held.push_back(std::move(a.ticket));
  }
  auto third = limiter.Accept(kNow);
  EXPECT_FALSE(third.ticket.AddAddress("10.0.0.1"));
  EXPECT_TRUE(limiter.Accept(kNow).ticket.AddAddress("10.0.0.2"));
  held.pop_back();  // one of 10.0.0.1's connections ends
  EXPECT_TRUE(third.ticket.AddAddress("10.0.0.1"));
  EXPECT_EQ(limiter.open(), 2);
}

TEST(ConnectionLimiterTest, AcceptRateAllowsOneSecondsBurst) {
  ConnectionLimiter limiter({.max_new_per_second = 10});
  int accepted = 0;
  for (int i = 0; i < 50; ++i) accepted += !limiter.Accept(kNow).refused;
  EXPECT_EQ(accepted, 10);
  auto refused = limiter.Accept(kNow);
  ASSERT_TRUE(refused.refused);
  EXPECT_EQ(*refused.refused, ConnectionLimiter::Refusal::kRate);
  // Half a second later, five more.
  accepted = 0;
  for (int i = 0; i < 50; ++i) accepted += !limiter.Accept(kNow + absl::Milliseconds(500)).refused;
  EXPECT_EQ(accepted, 5);
}

TEST(ConnectionLimiterTest, NoLimitsRefuseNothing) {
  ConnectionLimiter limiter({});
  std::vector<ConnectionLimiter::Ticket> held;
  for (int i = 0; i < 1000; ++i) {
    auto a = limiter.Accept(kNow);
    ASSERT_FALSE(a.refused);
    ASSERT_TRUE(a.ticket.AddAddress("10.0.0.1"));
    held.push_back(std::move(a.ticket));
  }
  EXPECT_EQ(limiter.open(), 1000);
  held.clear();
  EXPECT_EQ(limiter.open(), 0);
}

}  // namespace
}  // namespace kgw::agent
