#include "common/sync/background_loop.h"

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>

#include "gtest/gtest.h"

namespace kgw::sync {
namespace {

TEST(BackgroundLoopTest, StopWakesALoopThatSleepsForAnHour) {
  std::mutex mu;
  BackgroundLoop loop(mu);
  std::atomic<int> rounds{0};
  std::promise<void> sleeping;
  loop.Start([&] {
    sleeping.set_value();
    while (!loop.Sleep(absl::Hours(1))) ++rounds;
  });
  sleeping.get_future().wait();
  loop.Stop();  // returns only once the thread has ended
  EXPECT_EQ(rounds.load(), 0);
  EXPECT_TRUE(loop.StopRequested());
}

TEST(BackgroundLoopTest, WakeMakesTheLoopLookAtItsConditionsAgain) {
  std::mutex mu;
  BackgroundLoop loop(mu);
  int requested = 0;  // under mu
  int served = 0;     // under mu
  std::condition_variable served_cv;
  loop.Start([&] {
    std::unique_lock<std::mutex> lock(mu);
    while (!loop.Wait(lock, absl::Hours(1), [&] { return requested > served; })) {
      ++served;
      served_cv.notify_all();
    }
  });
  for (int i = 1; i <= 3; ++i) {
    std::unique_lock<std::mutex> lock(mu);
    ++requested;
    loop.Wake();
    // An hour-long sleep that Wake did not end would fail the test by timeout.
    served_cv.wait(lock, [&] { return served == i; });
  }
  loop.Stop();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(served, 3);
}

TEST(BackgroundLoopTest, WaitTellsATimeoutFromAStop) {
  std::mutex mu;
  BackgroundLoop loop(mu);
  {
    std::unique_lock<std::mutex> lock(mu);
    EXPECT_FALSE(loop.Wait(lock, absl::Milliseconds(1)));
    EXPECT_FALSE(loop.stopping());
  }
  EXPECT_FALSE(loop.Sleep(absl::Milliseconds(1)));
  loop.Stop();  // never started: sets the flag only
  loop.Stop();  // and again
  std::unique_lock<std::mutex> lock(mu);
  EXPECT_TRUE(loop.Wait(lock, absl::Hours(1)));
  EXPECT_TRUE(loop.stopping());
}

TEST(BackgroundLoopTest, StopRunsItsCancelUnderTheMutexBeforeJoining) {
  // The loop is blocked in a call that does not watch the stop flag (as a
  // Kafka or gRPC call would be); only the cancel passed to Stop ends it.
  std::mutex mu;
  BackgroundLoop loop(mu);
  std::condition_variable call_cv;
  bool cancelled = false;  // under mu
  bool in_call = false;    // under mu
  loop.Start([&] {
    std::unique_lock<std::mutex> lock(mu);
    in_call = true;
    call_cv.notify_all();
    call_cv.wait(lock, [&] { return cancelled; });
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    call_cv.wait(lock, [&] { return in_call; });
  }
  bool stopping_seen = false;
  loop.Stop([&] {
    stopping_seen = loop.stopping();
    cancelled = true;
    call_cv.notify_all();
  });
  EXPECT_TRUE(stopping_seen);
  EXPECT_TRUE(cancelled);
}

TEST(BackgroundLoopTest, RequestStopReturnsBeforeTheLoopHasEnded) {
  // The owner may have other parts to stop between asking and waiting.
  std::mutex mu;
  BackgroundLoop loop(mu);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> ended{false};
  loop.Start([&] {
    while (!loop.Sleep(absl::Hours(1))) {
    }
    released.wait();
    ended = true;
  });
  loop.RequestStop();
  EXPECT_FALSE(ended.load());
  release.set_value();
  loop.Join();
  EXPECT_TRUE(ended.load());
}

}  // namespace
}  // namespace kgw::sync
