// Settings shared by kgw-agent and kgw-coordinator: how to reach the backing
// Kafka cluster and which gateway cluster this node belongs to. Each
// executable concatenates these with its own table (see agent/agent_config.h).
#ifndef KGW_COMMON_CONFIG_GATEWAY_SETTINGS_H_
#define KGW_COMMON_CONFIG_GATEWAY_SETTINGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config/settings.h"

namespace kgw::config {

inline constexpr absl::string_view kKafkaBootstrapServers = "KAFKA_BOOTSTRAP_SERVERS";
inline constexpr absl::string_view kClusterId = "GATEWAY_CLUSTER_ID";
inline constexpr absl::string_view kGroupId = "GATEWAY_GROUP_ID";
inline constexpr absl::string_view kRackId = "GATEWAY_RACK_ID";
inline constexpr absl::string_view kAdvertisedHost = "GATEWAY_ADVERTISED_HOST";
inline constexpr absl::string_view kHttpPort = "GATEWAY_HTTP_PORT";

// KAFKA_BOOTSTRAP_SERVERS, GATEWAY_CLUSTER_ID, GATEWAY_GROUP_ID,
// GATEWAY_RACK_ID, GATEWAY_ADVERTISED_HOST, GATEWAY_HTTP_PORT.
std::vector<SettingSpec> GatewayNodeSettings();

// What every gateway node knows about itself once configuration is parsed.
struct GatewayNodeConfig {
  std::vector<std::string> bootstrap_servers;
  std::string cluster_id;
  std::string group_id;        // GATEWAY_GROUP_ID or "kgw_<cluster id>"
  std::string rack_id;         // empty: no rack
  std::string advertised_host; // GATEWAY_ADVERTISED_HOST or the host name
  int http_port = 0;
};

// Reads the shared settings from parsed `settings`, filling computed defaults
// (group id, advertised host) back into `settings` so --check-config shows them.
GatewayNodeConfig ReadGatewayNodeConfig(Settings& settings);

// The local host name, or "localhost" when it cannot be read.
std::string LocalHostName();

}  // namespace kgw::config

#endif  // KGW_COMMON_CONFIG_GATEWAY_SETTINGS_H_
