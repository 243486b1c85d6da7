// The client handshake: what a client connection goes through before its
// first request can be forwarded. In order, each step only where the agent is
// configured for it:
//
//  1. The PROXY protocol header (GATEWAY_FEATURE_FLAGS_HAPROXY_PROTOCOL),
//     taken by peeking so that exactly its bytes leave the socket: what
//     follows (a TLS ClientHello, a request) stays for the next reader.
//  2. The client's place under GATEWAY_MAX_CONNECTIONS_PER_ADDRESS, now that
//     its address (the PROXY header's source, if any) is known.
//  3. The TLS handshake with the client (GATEWAY_SECURITY_PROTOCOL SSL or
//     SASL_SSL).
//  4. The choice of broker: the one the listening port names (PortMap) or,
//     with host routing, the one the TLS server name names (SniRoute). A
//     bootstrap port or name takes any broker, round robin over those
//     BrokerHealth does not mark down, and another one when a connect fails.
//     A port whose own broker is marked down refuses at once.
//  5. With a `first_request` callback, a pause: the session reads the
//     client's first request and calls ConnectNow once it is whole, so that a
//     connection that never sends one (a port scan, a load balancer's health
//     check, a silent or slow attacker) never costs a broker connection.
//  6. The broker connection: TCP connect (to the broker's IP address at once;
//     a host name is looked up, and its addresses reused by the worker's next
//     connections for 10 s) and, when KAFKA_SECURITY_PROTOCOL asks for it,
//     TLS.
//
// The session owns both Transports and the connection's ticket; the handshake
// works on them. It keeps what it learns (the client's addresses, the PROXY
// header, the TLS facts, the broker) for the session's whole life: the
// session's log lines, routing and audit events read it here.
//
// The handshake has no clock of its own: the session's timer, armed with
// GATEWAY_UPSTREAM_CONNECT_TIMEOUT, bounds the steps before the pause together
// and, afresh, those after it, and calls TimedOut when it fires first. The
// pause is the session's to time.
//
// Errors: the handshake logs what it has to say (bounded by the agent's
// LogLimiter) and reports a Failure; bad input from the client is left to the
// session, which logs and counts it like all other bad input.
//
// Not thread-safe: a handshake lives on its session's worker thread.
#ifndef KGW_AGENT_CLIENT_HANDSHAKE_H_
#define KGW_AGENT_CLIENT_HANDSHAKE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "agent/agent_metrics.h"
#include "agent/connection_limiter.h"
#include "agent/session_env.h"
#include "agent/transport.h"
#include "asio.hpp"
#include "common/audit/audit_event.h"
#include "common/net/proxy_protocol.h"

namespace kgw::agent {

class ClientHandshake {
 public:
  using Clock = std::chrono::steady_clock;

  // The step under way; kDone once the broker connection is up.
  enum class Phase { kProxyHeader, kTlsHandshake, kAwaitingRequest, kConnecting, kDone };

  // Why the handshake gave up.
  struct Failure {
    // Set when the client sent something other than what the port expects:
    // the kind of bad input ("proxy", "tls" or "sni", as
    // AgentMetrics::ClosedForBadInput counts them), what was bad ("PROXY
    // header") and why. Nothing about it has been logged or counted yet.
    std::string bad_input;
    std::string what;
    absl::Status status;
    // Otherwise, why the connection closes (the audit log's close reason);
    // whatever was worth logging has been logged.
    std::string reason;
  };

  // What the handshake tells its session. Each may be called before Start
  // returns; after `connected` or `failed`, nothing more is.
  struct Callbacks {
    // A broker was chosen (broker() and series() are set), before it is
    // connected to: the audit log's connection opens here.
    std::function<void()> broker_chosen;
    // Optional. When set, the handshake pauses once the broker is chosen and
    // calls it: the client may be read now, and ConnectNow goes on.
    std::function<void()> first_request;
    // The broker connection is up, TCP_NODELAY set on both sockets:
    // forwarding may start.
    std::function<void()> connected;
    std::function<void(const Failure&)> failed;
  };

  // `client` is the accepted connection from `peer` (as accept reported it),
  // on listening port `local_port`; `upstream` an unopened socket on the
  // same executor. They, `ticket` and `env` must outlive the handshake.
  ClientHandshake(Transport& client, const asio::ip::tcp::endpoint& peer, Transport& upstream,
                  ConnectionLimiter::Ticket& ticket, int local_port, const SessionEnv& env);
  ClientHandshake(const ClientHandshake&) = delete;
  ClientHandshake& operator=(const ClientHandshake&) = delete;

  // Starts the first step. `owner` holds the transports and the ticket (the
  // session): every operation under way keeps it alive.
  void Start(std::weak_ptr<void> owner, Callbacks callbacks);
  // Goes on from the pause: connects to the broker chosen. Only in
  // Phase::kAwaitingRequest.
  void ConnectNow();
  // The deadline passed first, at `now`: logs and counts the timeout as the
  // step it stopped in (a broker being connected to is marked down), then
  // fails.
  void TimedOut(Clock::time_point now);
  // The session closes (and closes the sockets): what is under way stops and
  // nothing more is reported.
  void Stop();

  Phase phase() const { return phase_; }
  // "client A:P on port N", plus the PROXY header's addresses once there is
  // one: the start of every log line about the connection.
  std::string Who() const;
  // Sets what the handshake knows in an audit event: the listener port, the
  // broker, the client's addresses, the PROXY header and the TLS facts.
  void Describe(audit::AuditEvent& e) const;
  // The client's IP alone, for routing: the PROXY header's source, if any.
  const std::string& client_host() const;
  const std::optional<net::ProxyHeader>& proxy() const { return proxy_; }
  // Facts of the client's TLS connection; empty without TLS.
  const std::string& tls_version() const { return tls_version_; }
  const std::string& sni() const { return sni_; }
  const std::string& peer_subject() const { return peer_subject_; }
  // The broker chosen (or named by a server name, though not in the
  // cluster), -1 until then; and its metrics, null until one is chosen.
  int32_t broker() const { return broker_; }
  const AgentMetrics::BrokerSeries* series() const { return series_; }

 private:
  // Calls `next` once the client's socket is readable; `awaited` ("a PROXY
  // header") names what it waits for in the close reason when the wait fails.
  void WhenReadable(const char* awaited, void (ClientHandshake::*next)());
  void WaitForProxyHeader();
  void ReadProxyHeader();
  void AfterProxyHeader();
  void StartTlsHandshake();
  void OnTlsHandshake(const asio::error_code& ec);
  void PickBroker();
  // The next broker for a bootstrap connection: round robin over those not
  // marked down and not tried yet (any untried one when all are down).
  const BrokerEndpoint* NextBootstrapBroker(const ClusterSnapshot& cluster) const;
  void Connect(const BrokerEndpoint& target);
  // Connecting to `target` failed: a bootstrap connection tries another
  // broker, any other fails.
  void OnConnectFailed(const BrokerEndpoint& target, const asio::error_code& ec);
  void OnTcpConnected(const BrokerEndpoint& target);
  void Finish();
  void Fail(Failure failure);
  void FailForBadInput(absl::string_view kind, std::string what, absl::Status status);
  void LogLimited(absl::string_view kind, const std::string& line) const;
  // What each operation under way holds: the owner, alive.
  std::shared_ptr<void> Hold() const { return owner_.lock(); }

  Transport& client_;
  Transport& upstream_;
  ConnectionLimiter::Ticket& ticket_;
  const int local_port_;
  const SessionEnv& env_;
  asio::ip::tcp::resolver resolver_;
  std::weak_ptr<void> owner_;
  Callbacks callbacks_;
  bool stopped_ = false;  // failed, or the session closed
  Phase phase_ = Phase::kProxyHeader;

  const asio::ip::tcp::endpoint peer_;  // the socket's peer, as accept reported it
  // The client's IP as text: the PROXY header's source, or else the peer's
  // address, written out when first asked for (most connections never are).
  mutable std::string client_host_;
  std::vector<uint8_t> proxy_bytes_;  // the PROXY header read so far
  std::optional<net::ProxyHeader> proxy_;
  std::string tls_version_;
  std::string sni_;
  std::string peer_subject_;

  int32_t broker_ = -1;
  const AgentMetrics::BrokerSeries* series_ = nullptr;
  std::optional<BrokerEndpoint> target_;  // the broker chosen, while paused
  // A bootstrap connection (its port or name names no broker): any broker
  // will do, so a broker that cannot be reached is replaced by another.
  bool bootstrap_ = false;
  std::vector<int32_t> tried_;  // brokers a bootstrap connection could not reach
};

}  // namespace kgw::agent

#endif  // KGW_AGENT_CLIENT_HANDSHAKE_H_
