// A thread that runs one loop until it is told to stop.
//
// Several parts of kgw keep a loop on a thread of their own (refreshing
// metadata, heartbeating a group, streaming to a coordinator, writing the
// audit log, computing assignments). Each needs the same few things: start
// the thread, sleep between rounds, be woken early when there is work, and on
// stop wake every sleeper and join. BackgroundLoop is that skeleton, once.
//
// The stop flag is kept under the owner's mutex, the one that guards the
// owner's own state. A wait can then watch the owner's conditions and the
// stop flag together, with no wake-up lost between the two:
//
//   std::unique_lock<std::mutex> lock(mu_);
//   if (loop_.Wait(lock, interval, [&] { return refresh_requested_; })) return;
//
// Anything that changes what a wait watches does so under the mutex and then
// calls Wake().
#ifndef KGW_COMMON_SYNC_BACKGROUND_LOOP_H_
#define KGW_COMMON_SYNC_BACKGROUND_LOOP_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/time/time.h"

namespace kgw::sync {

class BackgroundLoop {
 public:
  // `mu` guards the owner's state and, from now on, the stop flag; it must
  // outlive the loop.
  explicit BackgroundLoop(std::mutex& mu) : mu_(mu) {}
  BackgroundLoop(const BackgroundLoop&) = delete;
  BackgroundLoop& operator=(const BackgroundLoop&) = delete;
  // Stops and joins the thread, if there is one.
  ~BackgroundLoop() { Stop(); }

  // Runs `body` on a new thread. `body` returns when stopping() turns true
  // (or earlier, if it has nothing more to do). Called once.
  void Start(std::function<void()> body);

  // Sets the stop flag, runs `also` under the mutex while it is held for that
  // (to cancel a blocking call the loop may be in) and wakes every wait.
  // Returns at once. Not to be called with the mutex held.
  void RequestStop(const std::function<void()>& also = nullptr);
  // Waits for the thread to end (after RequestStop). Not to be called from
  // the loop's own thread.
  void Join();
  // RequestStop, then Join. Later calls, and calls before Start, do no harm.
  void Stop(const std::function<void()>& also = nullptr) {
    RequestStop(also);
    Join();
  }

  // Whether Stop was called. The mutex must be held.
  bool stopping() const { return stop_; }
  // The same, taking the mutex.
  bool StopRequested() const;

  // Wakes every Wait, so that each looks at its conditions again.
  void Wake() { wake_.notify_all(); }

  // With `lock` holding the mutex: waits until the loop is stopped, `ready()`
  // holds or `timeout` passes. Returns stopping(). Usable from any thread.
  // An infinite `timeout` waits for the other two alone.
  template <typename Ready>
  bool Wait(std::unique_lock<std::mutex>& lock, absl::Duration timeout, Ready ready) {
    const auto woken = [&] { return stop_ || ready(); };
    if (timeout == absl::InfiniteDuration()) {
      // wait_for would overflow the clock with the longest duration.
      wake_.wait(lock, woken);
    } else {
      wake_.wait_for(lock, absl::ToChronoMilliseconds(timeout), woken);
    }
    return stop_;
  }
  bool Wait(std::unique_lock<std::mutex>& lock, absl::Duration timeout) {
    return Wait(lock, timeout, [] { return false; });
  }
  // Takes the mutex and sleeps until stopped or `timeout` passes; returns
  // whether the loop is stopping.
  bool Sleep(absl::Duration timeout);

 private:
  std::mutex& mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // under mu_
  std::thread thread_;
};

}  // namespace kgw::sync

#endif  // KGW_COMMON_SYNC_BACKGROUND_LOOP_H_
