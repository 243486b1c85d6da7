// WaitFor: the tests' way to wait for a condition, with a deadline instead of
// a fixed sleep; RunUntil the same while running an Asio io_context.
// Header-only; any test may include it.
#ifndef KGW_COMMON_TESTING_WAIT_FOR_H_
#define KGW_COMMON_TESTING_WAIT_FOR_H_

#include <chrono>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kgw::testing {

// Polls `pred` every `poll` until it holds or `timeout` has passed; returns
// its last answer (checked once more at the deadline).
template <typename Pred>
bool WaitFor(Pred pred, absl::Duration timeout, absl::Duration poll = absl::Milliseconds(50)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (pred()) return true;
    absl::SleepFor(poll);
  }
  return pred();
}

template <typename Pred, typename Rep, typename Period>
bool WaitFor(Pred pred, std::chrono::duration<Rep, Period> timeout) {
  return WaitFor(pred, absl::FromChrono(timeout));
}

// Runs `io` (an Asio io_context, on this thread) in slices of 10 ms until
// `done` holds or `timeout` has passed; returns whether it held.
template <typename IoContext, typename Pred>
bool RunUntil(IoContext& io, Pred done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    io.restart();
    io.run_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace kgw::testing

#endif  // KGW_COMMON_TESTING_WAIT_FOR_H_
