// Settings shared by kgw-agent and kgw-coordinator: how to reach the backing
// Kafka cluster and which gateway cluster this node belongs to. Each
// executable concatenates these with its own table (see agent/agent_config.h).
#ifndef KGW_COMMON_CONFIG_GATEWAY_SETTINGS_H_
#define KGW_COMMON_CONFIG_GATEWAY_SETTINGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config/settings.h"

namespace kgw::config {

inline constexpr absl::string_view kKafkaBootstrapServers = "KAFKA_BOOTSTRAP_SERVERS";
inline constexpr absl::string_view kClusterId = "GATEWAY_CLUSTER_ID";
inline constexpr absl::string_view kGroupId = "GATEWAY_GROUP_ID";
inline constexpr absl::string_view kRackId = "GATEWAY_RACK_ID";
inline constexpr absl::string_view kAdvertisedHost = "GATEWAY_ADVERTISED_HOST";
inline constexpr absl::string_view kHttpPort = "GATEWAY_HTTP_PORT";
inline constexpr absl::string_view kNodeId = "GATEWAY_NODE_ID";
inline constexpr absl::string_view kGroupSessionTimeout = "GATEWAY_GROUP_SESSION_TIMEOUT";
inline constexpr absl::string_view kGroupHeartbeatInterval = "GATEWAY_GROUP_HEARTBEAT_INTERVAL";
inline constexpr absl::string_view kClusterKeyFile = "GATEWAY_CLUSTER_KEY_FILE";
inline constexpr absl::string_view kMetadataRefreshInterval = "GATEWAY_METADATA_REFRESH_INTERVAL";
inline constexpr absl::string_view kKafkaSecurityProtocol = "KAFKA_SECURITY_PROTOCOL";
inline constexpr absl::string_view kKafkaSaslMechanism = "KAFKA_SASL_MECHANISM";
inline constexpr absl::string_view kKafkaSaslUsername = "KAFKA_SASL_USERNAME";
inline constexpr absl::string_view kKafkaSaslPassword = "KAFKA_SASL_PASSWORD";
inline constexpr absl::string_view kKafkaSslCaFile = "KAFKA_SSL_CA_FILE";
inline constexpr absl::string_view kKafkaSslCertFile = "KAFKA_SSL_CERT_FILE";
inline constexpr absl::string_view kKafkaSslKeyFile = "KAFKA_SSL_KEY_FILE";
inline constexpr absl::string_view kKafkaSslKeyPassword = "KAFKA_SSL_KEY_PASSWORD";
inline constexpr absl::string_view kKafkaSslEndpointIdentification =
    "KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM";

// KAFKA_BOOTSTRAP_SERVERS, KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*,
// GATEWAY_CLUSTER_ID, GATEWAY_GROUP_ID, GATEWAY_RACK_ID,
// GATEWAY_ADVERTISED_HOST, GATEWAY_HTTP_PORT, GATEWAY_NODE_ID,
// GATEWAY_GROUP_SESSION_TIMEOUT, GATEWAY_GROUP_HEARTBEAT_INTERVAL.
std::vector<SettingSpec> GatewayNodeSettings();

// What every gateway node knows about itself once configuration is parsed.
struct GatewayNodeConfig {
  std::vector<std::string> bootstrap_servers;
  std::string cluster_id;
  std::string group_id;         // GATEWAY_GROUP_ID or "kgw_<cluster id>"
  std::string rack_id;          // empty: no rack
  std::string advertised_host;  // GATEWAY_ADVERTISED_HOST or the host name
  int http_port = 0;
  // GATEWAY_NODE_ID; empty: the executable derives one from its address.
  std::string node_id;
  absl::Duration group_session_timeout;
  absl::Duration group_heartbeat_interval;
  // GATEWAY_CLUSTER_KEY_FILE; empty: the control plane is not authenticated.
  std::string cluster_key_file;
};

// How this node's own connections reach the brokers.
struct KafkaClientConfig {
  std::string security_protocol;  // PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
  bool sasl = false;              // SASL_PLAINTEXT or SASL_SSL
  bool tls = false;               // SSL or SASL_SSL
  std::string sasl_mechanism;     // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
  std::string sasl_username;
  std::string sasl_password;
  // With `tls` only. PEM files; an empty CA file means the system's roots,
  // no certificate and key means none is presented.
  std::string ssl_ca_file;
  std::string ssl_cert_file;
  std::string ssl_key_file;
  std::string ssl_key_password;  // of an encrypted ssl_key_file
  // KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM=https: the broker's
  // certificate must name the host or address connected to.
  bool ssl_verify_hostname = true;
};

// InvalidArgument (one line) when SASL is asked for without credentials,
// when a KAFKA_SSL_* setting is given with a protocol without TLS, or when
// only one of KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE is given (or the key
// password without the key).
absl::StatusOr<KafkaClientConfig> ReadKafkaClientConfig(const Settings& settings);

// Reads the shared settings from parsed `settings`, filling computed defaults
// (group id, advertised host) back into `settings` so --check-config shows them.
// InvalidArgument when the heartbeat interval is not below a third of the
// session timeout.
absl::StatusOr<GatewayNodeConfig> ReadGatewayNodeConfig(Settings& settings);

// The name of an internal topic: _kgw_<cluster id>_<suffix>.
std::string InternalTopic(const GatewayNodeConfig& node, absl::string_view suffix);

// The local host name, or "localhost" when it cannot be read.
std::string LocalHostName();

}  // namespace kgw::config

#endif  // KGW_COMMON_CONFIG_GATEWAY_SETTINGS_H_
