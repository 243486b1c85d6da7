// Configuration of kgw-agent: the shared gateway-node settings plus the data
// plane's listeners and routing. `AgentSettingSpecs()` is the single table the
// agent parses, prints in --help and documents in docs/configuration.md.
#ifndef KGW_AGENT_AGENT_CONFIG_H_
#define KGW_AGENT_AGENT_CONFIG_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config/gateway_settings.h"
#include "common/config/grpc_tls.h"
#include "common/config/settings.h"

namespace kgw::agent {

enum class RoutingMechanism { kPort, kHost };
// GATEWAY_AGENT_ROLE: an agent of the shared fleet, or one beside a single
// application that serves it alone.
enum class AgentRole { kShared, kSidecar };
enum class SecurityProtocol { kPlaintext, kSsl, kSaslPlaintext, kSaslSsl };
enum class ClientAuth { kNone, kOptional, kRequire };

// The agent's TLS server side (GATEWAY_SECURITY_PROTOCOL SSL or SASL_SSL).
struct ServerTlsConfig {
  std::string cert_file;     // PEM chain, leaf first
  std::string key_file;      // PEM private key
  std::string key_password;  // empty: the key is not encrypted
  std::string ca_file;       // verifies client certificates; empty: none asked for
  ClientAuth client_auth = ClientAuth::kNone;
};

// Host (SNI) routing: broker b is advertised as `broker_host_pattern` with
// {{nodeId}} replaced by b, at GATEWAY_PORT_START.
struct SniConfig {
  std::string broker_host_pattern;
  std::string bootstrap_host;  // an SNI that means "any broker"
};

struct AuditConfig {
  std::vector<std::string> sinks;  // "stderr", "file", "kafka"; empty: off
  std::string file;
  int64_t queue_size = 0;
  absl::Duration retention;
};

struct AgentConfig {
  config::GatewayNodeConfig node;
  config::KafkaClientConfig kafka;
  std::string bind_host;
  int port_start = 0;
  std::optional<int> port_count;  // unset: derived from the brokers' ids
  int min_broker_id = 0;
  RoutingMechanism routing = RoutingMechanism::kPort;
  bool internal_load_balancing = true;
  bool haproxy_protocol = false;
  SecurityProtocol security_protocol = SecurityProtocol::kPlaintext;
  ServerTlsConfig tls;  // used with SSL and SASL_SSL
  SniConfig sni;        // used with RoutingMechanism::kHost
  AuditConfig audit;

  bool client_sasl() const {
    return security_protocol == SecurityProtocol::kSaslPlaintext ||
           security_protocol == SecurityProtocol::kSaslSsl;
  }
  bool client_tls() const {
    return security_protocol == SecurityProtocol::kSsl ||
           security_protocol == SecurityProtocol::kSaslSsl;
  }

  // Data path limits and timing.
  int64_t max_frame_size = 0;            // bytes, either direction
  int64_t buffer_high_water_mark = 0;    // bytes queued for one socket before reading pauses
  int max_inflight_requests = 0;         // per client connection
  bool zero_copy = true;                 // splice large responses (plaintext only)
  bool answer_api_versions = true;       // a first ApiVersions is answered without the broker
  int64_t max_buffered_request_bytes = 0;  // request buffers of all connections together
  int64_t sasl_max_receive_size = 0;     // frames before authentication on a SASL listener
  absl::Duration frame_timeout;          // for a started request frame to arrive whole
  absl::Duration first_request_timeout;  // for a connection's first request
  int64_t max_connections = 0;           // client connections at once
  int64_t max_connections_per_address = 0;  // 0: no limit
  int64_t max_connection_rate = 0;       // new connections per second; 0: no limit
  int worker_threads = 0;
  absl::Duration upstream_connect_timeout;
  absl::Duration idle_timeout;
  absl::Duration metadata_refresh_interval;
  absl::Duration shutdown_drain_timeout;
  absl::Duration shutdown_delay_between_brokers;

  // Control plane.
  std::vector<config::HostPort> coordinators;  // empty: found through the group
  // A sidecar joins no group, reads no topic and advertises every broker at
  // itself; it registers with the coordinators over its stream.
  AgentRole role = AgentRole::kShared;
  uint32_t node_weight = 100;
  absl::Duration load_report_interval;
  config::GrpcTlsConfig grpc_tls;  // how the agent dials coordinators
};

std::vector<config::SettingSpec> AgentSettingSpecs();

// Builds the typed configuration and checks rules that span settings.
// InvalidArgument with a one-line message when settings contradict each other.
absl::StatusOr<AgentConfig> LoadAgentConfig(config::Settings& settings);

}  // namespace kgw::agent

#endif  // KGW_AGENT_AGENT_CONFIG_H_
