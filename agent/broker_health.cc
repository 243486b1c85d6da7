#include "agent/broker_health.h"

#include <algorithm>

namespace kgw::agent {

void BrokerHealth::Failed(int32_t broker, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  Mark& m = down_[broker];
  // Failures of connects started before the mark was set count once.
  if (m.failures > 0 && now < m.until) return;
  Clock::duration backoff = kFirstBackoff;
  for (int i = 0; i < m.failures && backoff < kMaxBackoff; ++i) backoff *= 2;
  m.failures++;
  m.until = now + std::min(backoff, kMaxBackoff);
}

void BrokerHealth::Reached(int32_t broker) {
  std::lock_guard<std::mutex> lock(mu_);
  down_.erase(broker);
}

bool BrokerHealth::IsDown(int32_t broker, Clock::time_point now) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = down_.find(broker);
  return it != down_.end() && now < it->second.until;
}

}  // namespace kgw::agent
