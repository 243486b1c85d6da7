#include "agent/broker_health.h"

#include "gtest/gtest.h"

namespace kgw::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const BrokerHealth::Clock::time_point kStart{seconds(1000)};

TEST(BrokerHealthTest, AFailedBrokerIsDownForABackoffThatDoubles) {
  BrokerHealth health;
  EXPECT_FALSE(health.IsDown(1, kStart));
  health.Failed(1, kStart);
  EXPECT_TRUE(health.IsDown(1, kStart + milliseconds(999)));
  EXPECT_FALSE(health.IsDown(1, kStart + seconds(1)));  // time to try again
  EXPECT_FALSE(health.IsDown(2, kStart));               // other brokers are untouched
  health.Failed(1, kStart + seconds(1));
  EXPECT_TRUE(health.IsDown(1, kStart + milliseconds(2999)));
  EXPECT_FALSE(health.IsDown(1, kStart + seconds(3)));
}

TEST(BrokerHealthTest, FailuresWhileDownCountOnceAndTheBackoffIsCapped) {
  BrokerHealth health;
  health.Failed(1, kStart);
  for (int i = 0; i < 100; ++i) health.Failed(1, kStart + milliseconds(10 * i));
  EXPECT_FALSE(health.IsDown(1, kStart + seconds(1)));  // still the first backoff
  BrokerHealth::Clock::time_point t = kStart + seconds(1);
  for (int i = 0; i < 20; ++i) {
    health.Failed(1, t);
    t += seconds(60);  // each later failure once the mark has expired
  }
  health.Failed(1, t);
  EXPECT_TRUE(health.IsDown(1, t + seconds(29)));
  EXPECT_FALSE(health.IsDown(1, t + seconds(30)));
}

TEST(BrokerHealthTest, ReachingTheBrokerClearsTheMark) {
  BrokerHealth health;
  health.Failed(1, kStart);
  health.Failed(1, kStart + seconds(2));
  health.Reached(1);
  EXPECT_FALSE(health.IsDown(1, kStart + seconds(2)));
  health.Failed(1, kStart + seconds(3));  // counts from the first backoff again
  EXPECT_FALSE(health.IsDown(1, kStart + seconds(4)));
}

}  // namespace
}  // namespace kgw::agent
