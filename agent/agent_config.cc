#include "agent/agent_config.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"

namespace kgw::agent {
namespace {

using config::SettingSpec;
using config::SettingType;

constexpr absl::string_view kBindHost = "GATEWAY_BIND_HOST";
constexpr absl::string_view kPortStart = "GATEWAY_PORT_START";
constexpr absl::string_view kPortCount = "GATEWAY_PORT_COUNT";
constexpr absl::string_view kMinBrokerId = "GATEWAY_MIN_BROKERID";
constexpr absl::string_view kRouting = "GATEWAY_ROUTING_MECHANISM";
constexpr absl::string_view kInternalLb = "GATEWAY_FEATURE_FLAGS_INTERNAL_LOAD_BALANCING";
constexpr absl::string_view kHaproxy = "GATEWAY_FEATURE_FLAGS_HAPROXY_PROTOCOL";
constexpr absl::string_view kSecurityProtocol = "GATEWAY_SECURITY_PROTOCOL";
constexpr absl::string_view kMaxFrameSize = "GATEWAY_MAX_FRAME_SIZE";
constexpr absl::string_view kHighWaterMark = "GATEWAY_BUFFER_HIGH_WATER_MARK";
constexpr absl::string_view kMaxInflight = "GATEWAY_MAX_INFLIGHT_REQUESTS";
constexpr absl::string_view kWorkerThreads = "GATEWAY_WORKER_THREADS";
constexpr absl::string_view kConnectTimeout = "GATEWAY_UPSTREAM_CONNECT_TIMEOUT";
constexpr absl::string_view kIdleTimeout = "GATEWAY_IDLE_TIMEOUT";
constexpr absl::string_view kMetadataRefresh = "GATEWAY_METADATA_REFRESH_INTERVAL";
constexpr absl::string_view kDrainTimeout = "GATEWAY_SHUTDOWN_DRAIN_TIMEOUT";
constexpr absl::string_view kDelayBetweenBrokers = "GATEWAY_SHUTDOWN_DELAY_BETWEEN_BROKERS_MS";
constexpr absl::string_view kCoordinators = "GATEWAY_COORDINATORS";
constexpr absl::string_view kNodeWeight = "GATEWAY_NODE_WEIGHT";
constexpr absl::string_view kLoadReportInterval = "GATEWAY_LOAD_REPORT_INTERVAL";

SecurityProtocol ToSecurityProtocol(absl::string_view v) {
  if (v == "SSL") return SecurityProtocol::kSsl;
  if (v == "SASL_PLAINTEXT") return SecurityProtocol::kSaslPlaintext;
  if (v == "SASL_SSL") return SecurityProtocol::kSaslSsl;
  return SecurityProtocol::kPlaintext;
}

}  // namespace

std::vector<SettingSpec> AgentSettingSpecs() {
  std::vector<SettingSpec> specs = config::GatewayNodeSettings();
  std::vector<SettingSpec> own = {
      {.name = kBindHost,
       .type = SettingType::kString,
       .description = "Address the client listeners bind to",
       .default_value = "0.0.0.0",
       .allowed_hint = "an IP address or host name"},
      {.name = kPortStart,
       .type = SettingType::kInt,
       .description = "First client port; port(b) = GATEWAY_PORT_START + (b - GATEWAY_MIN_BROKERID)",
       .default_value = "6969",
       .min = 1,
       .max = 65535},
      {.name = kPortCount,
       .type = SettingType::kInt,
       .description = "Number of client ports",
       .default_description = "(max broker id - min broker id) + 3, learned from the cluster",
       .min = 1,
       .max = 65535},
      {.name = kMinBrokerId,
       .type = SettingType::kInt,
       .description = "Broker id served by GATEWAY_PORT_START",
       .default_value = "0",
       .min = 0,
       .max = 2147483647},
      {.name = kRouting,
       .type = SettingType::kEnum,
       .description = "How a client connection picks its broker: by port, or by TLS SNI host name",
       .default_value = "port",
       .allowed = {"port", "host"}},
      {.name = kInternalLb,
       .type = SettingType::kBool,
       .description = "Advertise brokers at the agents chosen by the coordinators (true) or all "
                      "at GATEWAY_ADVERTISED_HOST, an external load balancer (false)",
       .default_value = "true"},
      {.name = kHaproxy,
       .type = SettingType::kBool,
       .description = "Require an HAProxy PROXY protocol header (v1 or v2) on every client "
                      "connection",
       .default_value = "false"},
      {.name = kSecurityProtocol,
       .type = SettingType::kEnum,
       .description = "Security protocol clients use to talk to the agent",
       .default_value = "PLAINTEXT",
       .allowed = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}},
      {.name = kMaxFrameSize,
       .type = SettingType::kByteSize,
       .description = "Largest request frame a client may send; a bigger one closes its connection "
                      "(responses are bounded by what clients ask for, e.g. fetch.max.bytes)",
       .default_value = "100MiB",
       .min = 1024,
       .max = int64_t{1} << 30},
      {.name = kHighWaterMark,
       .type = SettingType::kByteSize,
       .description = "Bytes waiting to be written to one socket before the agent stops reading "
                      "from the other side (reading resumes below half of it)",
       .default_value = "1MiB",
       .min = 4096,
       .max = int64_t{1} << 30},
      {.name = kMaxInflight,
       .type = SettingType::kInt,
       .description = "Requests one client connection may have awaiting responses; beyond it "
                      "the agent stops reading that client",
       .default_value = "1000",
       .min = 1,
       .max = 1000000},
      {.name = kWorkerThreads,
       .type = SettingType::kInt,
       .description = "Threads serving connections; each connection and its broker connection "
                      "stay on one",
       .default_description = "the number of CPU cores",
       .min = 1,
       .max = 1024},
      {.name = kConnectTimeout,
       .type = SettingType::kDuration,
       .description = "Time allowed for connecting to a broker for a client",
       .default_value = "10s",
       .min = 1,
       .max = 3600 * 1000},
      {.name = kIdleTimeout,
       .type = SettingType::kDuration,
       .description = "A client connection with no traffic either way for this long is closed",
       .default_value = "10m",
       .min = 1000,
       .max = int64_t{7} * 24 * 3600 * 1000},
      {.name = kMetadataRefresh,
       .type = SettingType::kDuration,
       .description = "How often the agent reads the cluster's broker list (also refreshed at "
                      "once when a client's Metadata names a broker it does not know)",
       .default_value = "30s",
       .min = 100,
       .max = 3600 * 1000},
      {.name = kDrainTimeout,
       .type = SettingType::kDuration,
       .description = "On SIGTERM, how long connections may take to finish their in-flight "
                      "requests before they are closed",
       .default_value = "10s",
       .min = 0,
       .max = 3600 * 1000},
      {.name = kDelayBetweenBrokers,
       .type = SettingType::kInt,
       .description = "On SIGTERM, milliseconds between closing the connections of one broker "
                      "and the next, so clients move over gradually",
       .default_value = "500",
       .min = 0,
       .max = 600000},
      {.name = kCoordinators,
       .type = SettingType::kHostPortList,
       .description = "gRPC endpoints of coordinators to take the assignment from",
       .default_description = "the coordinators found in the gateway group"},
      {.name = kNodeWeight,
       .type = SettingType::kInt,
       .description = "Relative share of brokers and clients this agent takes, against the "
                      "other agents' weights",
       .default_value = "100",
       .min = 1,
       .max = 10000},
      {.name = kLoadReportInterval,
       .type = SettingType::kDuration,
       .description = "How often the agent reports its connections and bytes per broker to "
                      "its coordinator",
       .default_value = "5s",
       .min = 100,
       .max = 3600 * 1000},
  };
  specs.insert(specs.end(), own.begin(), own.end());
  return specs;
}

absl::StatusOr<AgentConfig> LoadAgentConfig(config::Settings& settings) {
  AgentConfig c;
  absl::StatusOr<config::GatewayNodeConfig> node = config::ReadGatewayNodeConfig(settings);
  if (!node.ok()) return node.status();
  c.node = *std::move(node);
  absl::StatusOr<config::KafkaClientConfig> kafka = config::ReadKafkaClientConfig(settings);
  if (!kafka.ok()) return kafka.status();
  c.kafka = *std::move(kafka);
  c.bind_host = settings.GetString(kBindHost);
  c.port_start = static_cast<int>(settings.GetInt(kPortStart));
  if (settings.Has(kPortCount)) c.port_count = static_cast<int>(settings.GetInt(kPortCount));
  c.min_broker_id = static_cast<int>(settings.GetInt(kMinBrokerId));
  c.routing = settings.GetString(kRouting) == "host" ? RoutingMechanism::kHost
                                                     : RoutingMechanism::kPort;
  c.internal_load_balancing = settings.GetBool(kInternalLb);
  c.haproxy_protocol = settings.GetBool(kHaproxy);
  c.security_protocol = ToSecurityProtocol(settings.GetString(kSecurityProtocol));
  c.max_frame_size = settings.GetInt(kMaxFrameSize);
  c.buffer_high_water_mark = settings.GetInt(kHighWaterMark);
  c.max_inflight_requests = static_cast<int>(settings.GetInt(kMaxInflight));
  c.worker_threads = settings.Has(kWorkerThreads)
                         ? static_cast<int>(settings.GetInt(kWorkerThreads))
                         : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  c.upstream_connect_timeout = absl::Milliseconds(settings.GetInt(kConnectTimeout));
  c.idle_timeout = absl::Milliseconds(settings.GetInt(kIdleTimeout));
  c.metadata_refresh_interval = absl::Milliseconds(settings.GetInt(kMetadataRefresh));
  c.shutdown_drain_timeout = absl::Milliseconds(settings.GetInt(kDrainTimeout));
  c.shutdown_delay_between_brokers = absl::Milliseconds(settings.GetInt(kDelayBetweenBrokers));
  if (settings.Has(kCoordinators)) {
    for (const std::string& hp : settings.GetList(kCoordinators)) {
      c.coordinators.push_back(config::SplitHostPort(hp));
    }
  }
  c.node_weight = static_cast<uint32_t>(settings.GetInt(kNodeWeight));
  c.load_report_interval = absl::Milliseconds(settings.GetInt(kLoadReportInterval));
  if (c.node.node_id.empty()) {
    c.node.node_id = absl::StrCat(c.node.advertised_host, ":", c.port_start);
    settings.SetComputed(config::kNodeId, c.node.node_id);
  }

  if (c.port_count && c.port_start + *c.port_count - 1 > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid GATEWAY_PORT_COUNT=", *c.port_count, " with GATEWAY_PORT_START=", c.port_start,
        ": the last port would be ", c.port_start + *c.port_count - 1, ", above 65535"));
  }
  bool tls = c.security_protocol == SecurityProtocol::kSsl ||
             c.security_protocol == SecurityProtocol::kSaslSsl;
  if (c.routing == RoutingMechanism::kHost && !tls) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid GATEWAY_ROUTING_MECHANISM=host with GATEWAY_SECURITY_PROTOCOL=",
        settings.GetString(kSecurityProtocol),
        ": host routing reads the TLS SNI, so it needs SSL or SASL_SSL"));
  }
  // SASL passes through: a client authenticates with the broker itself, so
  // clients must speak SASL exactly when the brokers' listener expects it.
  const bool client_sasl = c.security_protocol == SecurityProtocol::kSaslPlaintext ||
                           c.security_protocol == SecurityProtocol::kSaslSsl;
  if (client_sasl != c.kafka.sasl) {
    return absl::InvalidArgumentError(absl::StrCat(
        "GATEWAY_SECURITY_PROTOCOL=", settings.GetString(kSecurityProtocol),
        " does not fit KAFKA_SECURITY_PROTOCOL=", c.kafka.security_protocol,
        ": SASL passes through the agent, so both must use SASL or neither"));
  }
  return c;
}

}  // namespace kgw::agent
