#include "agent/connection_limiter.h"

#include <algorithm>
#include <utility>

namespace kgw::agent {

ConnectionLimiter::Ticket& ConnectionLimiter::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    Release();
    limiter_ = std::exchange(other.limiter_, nullptr);
    address_ = std::exchange(other.address_, std::nullopt);
  }
  return *this;
}

bool ConnectionLimiter::Ticket::AddAddress(const std::string& address) {
  if (!counts_addresses() || address_) return true;
  if (!limiter_->AddAddress(address)) return false;
  address_ = address;
  return true;
}

void ConnectionLimiter::Ticket::Release() {
  if (limiter_ == nullptr) return;
  std::exchange(limiter_, nullptr)->Release(address_);
  address_.reset();
}

ConnectionLimiter::Admission ConnectionLimiter::Accept(absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  Admission a;
  if (limits_.max_new_per_second > 0) {
    // A token bucket holding at most one second's worth.
    const double burst = std::max(1.0, limits_.max_new_per_second);
    if (tokens_ < 0) {
      tokens_ = burst;
    } else {
      tokens_ = std::min(burst, tokens_ + absl::ToDoubleSeconds(now - refilled_) *
                                              limits_.max_new_per_second);
    }
    refilled_ = now;
    if (tokens_ < 1) {
      a.refused = Refusal::kRate;
      return a;
    }
  }
  if (limits_.max_connections > 0 && open_ >= limits_.max_connections) {
    a.refused = Refusal::kMaxConnections;
    return a;
  }
  if (limits_.max_new_per_second > 0) tokens_ -= 1;
  ++open_;
  a.ticket = Ticket(this);
  return a;
}

bool ConnectionLimiter::AddAddress(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t& n = per_address_[address];
  if (limits_.max_per_address > 0 && n >= limits_.max_per_address) {
    if (n == 0) per_address_.erase(address);
    return false;
  }
  ++n;
  return true;
}

void ConnectionLimiter::Release(const std::optional<std::string>& address) {
  std::lock_guard<std::mutex> lock(mu_);
  --open_;
  if (!address) return;
  auto it = per_address_.find(*address);
  if (it != per_address_.end() && --it->second <= 0) per_address_.erase(it);
}

int64_t ConnectionLimiter::open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

const char* ConnectionLimiter::Name(Refusal r) {
  switch (r) {
    case Refusal::kMaxConnections:
      return "max_connections";
    case Refusal::kPerAddress:
      return "per_address";
    case Refusal::kRate:
      return "rate";
  }
  return "unknown";
}

}  // namespace kgw::agent
