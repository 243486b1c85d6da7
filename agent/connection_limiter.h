// Bounds the client connections one agent holds, as a broker's
// max.connections, max.connections.per.ip and max.connection.creation.rate
// do: in total, per client address (the PROXY header's original source when
// there is one), and how many new ones are accepted per second.
//
// A connection takes a Ticket when it is accepted (the total and the rate)
// and adds its address once that is known; the ticket gives both back when
// it is destroyed. Thread-safe: the listeners take tickets on the main
// thread, sessions on their workers.
#ifndef KGW_AGENT_CONNECTION_LIMITER_H_
#define KGW_AGENT_CONNECTION_LIMITER_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace kgw::agent {

class ConnectionLimiter {
 public:
  struct Limits {
    int64_t max_connections = 0;          // 0: no limit
    int64_t max_per_address = 0;          // 0: no limit
    double max_new_per_second = 0;        // 0: no limit; bursts of up to one second's worth
  };
  enum class Refusal { kMaxConnections, kPerAddress, kRate };

  // Held by one connection; gives its place back when destroyed.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept { *this = std::move(other); }
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket() { Release(); }
    // Counts the connection against `address`; false (and nothing counted)
    // when the address already holds its maximum.
    bool AddAddress(const std::string& address);
    // Whether AddAddress counts anything: only with a per-address limit, so
    // a connection need not write its address out otherwise.
    bool counts_addresses() const {
      return limiter_ != nullptr && limiter_->limits_.max_per_address > 0;
    }
    void Release();
    explicit operator bool() const { return limiter_ != nullptr; }

   private:
    friend class ConnectionLimiter;
    explicit Ticket(ConnectionLimiter* limiter) : limiter_(limiter) {}
    ConnectionLimiter* limiter_ = nullptr;
    std::optional<std::string> address_;
  };

  explicit ConnectionLimiter(Limits limits) : limits_(limits) {}
  ConnectionLimiter(const ConnectionLimiter&) = delete;
  ConnectionLimiter& operator=(const ConnectionLimiter&) = delete;

  // A connection was accepted at `now`: a ticket, or why it is refused.
  struct Admission {
    Ticket ticket;
    std::optional<Refusal> refused;
  };
  Admission Accept(absl::Time now);

  int64_t open() const;
  static const char* Name(Refusal r);

 private:
  bool AddAddress(const std::string& address);
  void Release(const std::optional<std::string>& address);

  const Limits limits_;
  mutable std::mutex mu_;
  int64_t open_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int64_t> per_address_ ABSL_GUARDED_BY(mu_);
  double tokens_ ABSL_GUARDED_BY(mu_) = -1;  // -1: not yet filled
  absl::Time refilled_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kgw::agent

#endif  // KGW_AGENT_CONNECTION_LIMITER_H_
