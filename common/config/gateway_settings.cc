#include "common/config/gateway_settings.h"

#include <climits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace kgw::config {
namespace {

// The cluster id becomes part of Kafka topic and group names
// (_kgw_<cluster id>_assignments), so it must use Kafka's topic alphabet and
// leave room for the prefix and suffix within Kafka's 249-character limit.
std::optional<std::string> CheckClusterId(absl::string_view id) {
  if (id.size() > 200) return std::string("longer than 200 characters");
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return absl::StrCat("character '", std::string(1, c), "' is not allowed");
  }
  return std::nullopt;
}

std::optional<std::string> CheckNoWhitespace(absl::string_view v) {
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      return std::string("contains whitespace");
    }
  }
  return std::nullopt;
}

// Printable ASCII without whitespace, at most kMax characters: the bounds
// every member's descriptor is held to in the gateway group
// (membership::ValidateDescriptor).
template <size_t kMax>
std::optional<std::string> CheckDescriptorField(absl::string_view v) {
  if (v.size() > kMax) return absl::StrCat("longer than ", kMax, " characters");
  if (!IsVisibleAscii(v)) return std::string("contains whitespace, control or non-ASCII characters");
  return std::nullopt;
}

}  // namespace

std::vector<SettingSpec> GatewayNodeSettings() {
  return {
      {.name = kKafkaBootstrapServers,
       .type = SettingType::kHostPortList,
       .description = "Bootstrap servers of the backing Kafka cluster",
       .required = true},
      {.name = kKafkaSecurityProtocol,
       .type = SettingType::kEnum,
       .description = "Security protocol of this node's connections to the brokers",
       .default_value = "PLAINTEXT",
       .allowed = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}},
      {.name = kKafkaSaslMechanism,
       .type = SettingType::kEnum,
       .description = "SASL mechanism of this node's own connections to the brokers",
       .default_value = "PLAIN",
       .allowed = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}},
      {.name = kKafkaSaslUsername,
       .type = SettingType::kString,
       .description = "SASL user of this node's own connections to the brokers"},
      {.name = kKafkaSaslPassword,
       .type = SettingType::kString,
       .description = "SASL password of this node's own connections to the brokers"},
      {.name = kKafkaSslCaFile,
       .type = SettingType::kString,
       .description = "PEM file of the CA certificates that verify the brokers (SSL and "
                      "SASL_SSL)",
       .default_description = "the system's CA certificates",
       .validator = CheckReadableFile,
       .allowed_hint = "a readable PEM file"},
      {.name = kKafkaSslCertFile,
       .type = SettingType::kString,
       .description = "PEM client certificate this node presents to brokers that ask for one; "
                      "needs KAFKA_SSL_KEY_FILE",
       .validator = CheckReadableFile,
       .allowed_hint = "a readable PEM file"},
      {.name = kKafkaSslKeyFile,
       .type = SettingType::kString,
       .description = "PEM private key of KAFKA_SSL_CERT_FILE",
       .validator = CheckReadableFile,
       .allowed_hint = "a readable PEM file"},
      {.name = kKafkaSslKeyPassword,
       .type = SettingType::kString,
       .description = "Password of an encrypted KAFKA_SSL_KEY_FILE"},
      {.name = kKafkaSslEndpointIdentification,
       .type = SettingType::kEnum,
       .description = "https: a broker's certificate must name the host or address this node "
                      "connects to; none: any name is accepted (the chain is still verified)",
       .default_value = "https",
       .allowed = {"https", "none"}},
      {.name = kClusterId,
       .type = SettingType::kString,
       .description = "Gateway cluster this node belongs to; nodes with the same id form one "
                      "gateway cluster",
       .default_value = "gateway",
       .validator = CheckClusterId,
       .allowed_hint = "1-200 characters of [A-Za-z0-9._-]"},
      {.name = kGroupId,
       .type = SettingType::kString,
       .description = "Kafka group through which the gateway nodes find each other",
       .default_description = "kgw_<GATEWAY_CLUSTER_ID>",
       .validator = CheckNoWhitespace,
       .allowed_hint = "a Kafka group id without whitespace"},
      {.name = kRackId,
       .type = SettingType::kString,
       .description = "Rack (zone) of this node, matched against the brokers' broker.rack",
       .validator = CheckDescriptorField<64>,
       .allowed_hint = "a rack name of at most 64 printable ASCII characters"},
      {.name = kAdvertisedHost,
       .type = SettingType::kString,
       .description = "Host name or address clients use to reach this node",
       .default_description = "the host name",
       .validator = CheckDescriptorField<253>,
       .allowed_hint = "a host name or address (at most 253 characters)"},
      {.name = kNodeId,
       .type = SettingType::kString,
       .description = "Stable id of this node in the gateway cluster, unique within it",
       .default_description = "<GATEWAY_ADVERTISED_HOST>:<first port> (agents: the first "
                              "client port; coordinators: the gRPC port)",
       .validator = CheckDescriptorField<260>,
       .allowed_hint = "at most 260 printable ASCII characters"},
      {.name = kGroupSessionTimeout,
       .type = SettingType::kDuration,
       .description = "How long the gateway group waits for a silent node before it drops it "
                      "and reassigns its brokers; within the brokers' "
                      "group.min.session.timeout.ms and group.max.session.timeout.ms",
       .default_value = "10s",
       .min = 1000,
       .max = 30 * 60 * 1000},
      {.name = kGroupHeartbeatInterval,
       .type = SettingType::kDuration,
       .description = "How often a node heartbeats to the gateway group; also how soon it "
                      "notices a rebalance",
       .default_value = "1s",
       .min = 100,
       .max = 10 * 60 * 1000},
      {.name = kClusterKeyFile,
       .type = SettingType::kString,
       .description = "File with the gateway cluster's key (one or two keys, one per line, each "
                      "at least 32 characters; the first signs): only nodes that hold it count "
                      "as members, lead, stream or publish assignments",
       .default_description = "none: the control plane is not authenticated",
       .validator = CheckReadableFile,
       .allowed_hint = "a readable file"},
      {.name = kMetadataRefreshInterval,
       .type = SettingType::kDuration,
       .description = "How often the node reads the cluster's brokers and their racks (an agent "
                      "also reads them at once when a client's Metadata names a broker it does "
                      "not know, or a broker cannot be reached)",
       .default_value = "30s",
       .min = 100,
       .max = 24 * 3600 * 1000},
      {.name = kHttpPort,
       .type = SettingType::kInt,
       .description = "Port of the HTTP endpoint for health checks and metrics",
       .default_value = "8888",
       .min = 1,
       .max = 65535},
  };
}

absl::StatusOr<GatewayNodeConfig> ReadGatewayNodeConfig(Settings& settings) {
  GatewayNodeConfig c;
  c.bootstrap_servers = settings.GetList(kKafkaBootstrapServers);
  c.cluster_id = settings.GetString(kClusterId);
  if (!settings.Has(kGroupId)) settings.SetComputed(kGroupId, absl::StrCat("kgw_", c.cluster_id));
  c.group_id = settings.GetString(kGroupId);
  c.rack_id = settings.Has(kRackId) ? settings.GetString(kRackId) : "";
  if (!settings.Has(kAdvertisedHost)) settings.SetComputed(kAdvertisedHost, LocalHostName());
  c.advertised_host = settings.GetString(kAdvertisedHost);
  c.http_port = static_cast<int>(settings.GetInt(kHttpPort));
  if (settings.Has(kNodeId)) c.node_id = settings.GetString(kNodeId);
  if (settings.Has(kClusterKeyFile)) c.cluster_key_file = settings.GetString(kClusterKeyFile);
  c.group_session_timeout = absl::Milliseconds(settings.GetInt(kGroupSessionTimeout));
  c.group_heartbeat_interval = absl::Milliseconds(settings.GetInt(kGroupHeartbeatInterval));
  if (c.group_heartbeat_interval * 3 > c.group_session_timeout) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid GATEWAY_GROUP_HEARTBEAT_INTERVAL=",
        absl::FormatDuration(c.group_heartbeat_interval),
        ": it must be at most a third of GATEWAY_GROUP_SESSION_TIMEOUT (",
        absl::FormatDuration(c.group_session_timeout), ")"));
  }
  return c;
}

std::string InternalTopic(const GatewayNodeConfig& node, absl::string_view suffix) {
  return absl::StrCat("_kgw_", node.cluster_id, "_", suffix);
}

absl::StatusOr<KafkaClientConfig> ReadKafkaClientConfig(const Settings& settings) {
  KafkaClientConfig c;
  c.security_protocol = settings.GetString(kKafkaSecurityProtocol);
  c.sasl = absl::StartsWith(c.security_protocol, "SASL_");
  c.tls = absl::EndsWith(c.security_protocol, "SSL");
  c.sasl_mechanism = settings.GetString(kKafkaSaslMechanism);
  if (settings.Has(kKafkaSaslUsername)) c.sasl_username = settings.GetString(kKafkaSaslUsername);
  if (settings.Has(kKafkaSaslPassword)) c.sasl_password = settings.GetString(kKafkaSaslPassword);
  if (c.sasl && (c.sasl_username.empty() || c.sasl_password.empty())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "KAFKA_SECURITY_PROTOCOL=", c.security_protocol,
        " needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"));
  }
  // A TLS setting without TLS is a mistake worth stopping for: the operator
  // believes the connections are encrypted (or authenticated by certificate).
  for (absl::string_view name : {kKafkaSslCaFile, kKafkaSslCertFile, kKafkaSslKeyFile,
                                 kKafkaSslKeyPassword, kKafkaSslEndpointIdentification}) {
    if (!c.tls && settings.Has(name) && settings.GetSource(name) != Source::kDefault) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " is set but KAFKA_SECURITY_PROTOCOL is ", c.security_protocol));
    }
  }
  if (settings.Has(kKafkaSslCaFile)) c.ssl_ca_file = settings.GetString(kKafkaSslCaFile);
  if (settings.Has(kKafkaSslCertFile)) c.ssl_cert_file = settings.GetString(kKafkaSslCertFile);
  if (settings.Has(kKafkaSslKeyFile)) c.ssl_key_file = settings.GetString(kKafkaSslKeyFile);
  if (settings.Has(kKafkaSslKeyPassword)) {
    c.ssl_key_password = settings.GetString(kKafkaSslKeyPassword);
  }
  c.ssl_verify_hostname = settings.GetString(kKafkaSslEndpointIdentification) == "https";
  if (c.ssl_cert_file.empty() != c.ssl_key_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(c.ssl_cert_file.empty() ? kKafkaSslKeyFile : kKafkaSslCertFile, " is set but ",
                     c.ssl_cert_file.empty() ? kKafkaSslCertFile : kKafkaSslKeyFile,
                     " is not; a client certificate needs both"));
  }
  if (!c.ssl_key_password.empty() && c.ssl_key_file.empty()) {
    return absl::InvalidArgumentError(
        "KAFKA_SSL_KEY_PASSWORD is set but KAFKA_SSL_KEY_FILE is not");
  }
  return c;
}

std::string LocalHostName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace kgw::config
