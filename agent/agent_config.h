// Configuration of kgw-agent: the shared gateway-node settings plus the data
// plane's listeners and routing. `AgentSettingSpecs()` is the single table the
// agent parses, prints in --help and documents in docs/configuration.md.
#ifndef KGW_AGENT_AGENT_CONFIG_H_
#define KGW_AGENT_AGENT_CONFIG_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config/gateway_settings.h"
#include "common/config/settings.h"

namespace kgw::agent {

enum class RoutingMechanism { kPort, kHost };
enum class SecurityProtocol { kPlaintext, kSsl, kSaslPlaintext, kSaslSsl };

struct AgentConfig {
  config::GatewayNodeConfig node;
  std::string bind_host;
  int port_start = 0;
  std::optional<int> port_count;  // unset: derived from the brokers' ids
  int min_broker_id = 0;
  RoutingMechanism routing = RoutingMechanism::kPort;
  bool internal_load_balancing = true;
  bool haproxy_protocol = false;
  SecurityProtocol security_protocol = SecurityProtocol::kPlaintext;
};

std::vector<config::SettingSpec> AgentSettingSpecs();

// Builds the typed configuration and checks rules that span settings.
// InvalidArgument with a one-line message when settings contradict each other.
absl::StatusOr<AgentConfig> LoadAgentConfig(config::Settings& settings);

}  // namespace kgw::agent

#endif  // KGW_AGENT_AGENT_CONFIG_H_
