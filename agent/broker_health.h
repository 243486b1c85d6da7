// What the agent has learned of each broker from its own connects: a
// broker whose connect failed is down for a while (1 s, doubling with each
// further failure up to 30 s), so bootstrap connections go to the others and
// a port whose own broker is down refuses at once instead of trying again
// for every client. A successful connect clears the mark; once the time is
// up, the next connection tries the broker again.
//
// The metadata refresher still decides which brokers exist; this only says
// which of them the agent could not reach lately. Thread-safe: sessions on
// every worker share one.
#ifndef KGW_AGENT_BROKER_HEALTH_H_
#define KGW_AGENT_BROKER_HEALTH_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>

#include "absl/base/thread_annotations.h"

namespace kgw::agent {

class BrokerHealth {
 public:
  using Clock = std::chrono::steady_clock;

  static constexpr Clock::duration kFirstBackoff = std::chrono::seconds(1);
  static constexpr Clock::duration kMaxBackoff = std::chrono::seconds(30);

  // A connect to `broker` failed at `now`.
  void Failed(int32_t broker, Clock::time_point now);
  // A connect to `broker` succeeded.
  void Reached(int32_t broker);
  // Whether `broker` is marked down at `now`.
  bool IsDown(int32_t broker, Clock::time_point now) const;

 private:
  struct Mark {
    int failures = 0;
    Clock::time_point until;
  };

  mutable std::mutex mu_;
  std::map<int32_t, Mark> down_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kgw::agent

#endif  // KGW_AGENT_BROKER_HEALTH_H_
