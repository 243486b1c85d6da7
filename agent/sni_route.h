// Host routing (GATEWAY_ROUTING_MECHANISM=host): every broker is reached on
// one TLS port and told apart by the server name (SNI) the client sends.
// Broker b is advertised as the pattern with {{nodeId}} replaced by b, e.g.
// "broker{{nodeId}}.kafka.example.com" -> "broker3.kafka.example.com"; the
// bootstrap host name reaches any broker.
#ifndef KGW_AGENT_SNI_ROUTE_H_
#define KGW_AGENT_SNI_ROUTE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace kgw::agent {

class SniRoute {
 public:
  // `pattern` holds "{{nodeId}}" exactly once (checked by the configuration).
  SniRoute(std::string_view pattern, std::string_view bootstrap_host);

  // The host name clients are given for `broker`.
  std::string HostFor(int32_t broker) const;

  // The broker a client asks for with server name `sni`: its id, or nullopt
  // for the bootstrap host. Names compare case-insensitively, a trailing dot
  // ignored. InvalidArgument naming the name received and those expected when
  // it is neither (including an empty one: the client sent no SNI).
  absl::StatusOr<std::optional<int32_t>> BrokerFor(std::string_view sni) const;

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  std::string prefix_;  // lower case, before {{nodeId}}
  std::string suffix_;  // lower case, after it
  std::string bootstrap_host_;  // lower case
};

}  // namespace kgw::agent

#endif  // KGW_AGENT_SNI_ROUTE_H_
