#include "agent/agent_config.h"

#include <algorithm>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

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
constexpr absl::string_view kZeroCopy = "GATEWAY_ZERO_COPY";
constexpr absl::string_view kAnswerApiVersions = "GATEWAY_ANSWER_API_VERSIONS";
constexpr absl::string_view kMaxInflight = "GATEWAY_MAX_INFLIGHT_REQUESTS";
constexpr absl::string_view kWorkerThreads = "GATEWAY_WORKER_THREADS";
constexpr absl::string_view kMaxBuffered = "GATEWAY_MAX_BUFFERED_REQUEST_BYTES";
constexpr absl::string_view kSaslMaxReceive = "GATEWAY_SASL_MAX_RECEIVE_SIZE";
constexpr absl::string_view kFrameTimeout = "GATEWAY_FRAME_TIMEOUT";
constexpr absl::string_view kFirstRequestTimeout = "GATEWAY_FIRST_REQUEST_TIMEOUT";
constexpr absl::string_view kMaxConnections = "GATEWAY_MAX_CONNECTIONS";
constexpr absl::string_view kMaxPerAddress = "GATEWAY_MAX_CONNECTIONS_PER_ADDRESS";
constexpr absl::string_view kMaxConnectionRate = "GATEWAY_MAX_CONNECTION_RATE";
constexpr absl::string_view kConnectTimeout = "GATEWAY_UPSTREAM_CONNECT_TIMEOUT";
constexpr absl::string_view kIdleTimeout = "GATEWAY_IDLE_TIMEOUT";
constexpr absl::string_view kDrainTimeout = "GATEWAY_SHUTDOWN_DRAIN_TIMEOUT";
constexpr absl::string_view kDelayBetweenBrokers = "GATEWAY_SHUTDOWN_DELAY_BETWEEN_BROKERS_MS";
constexpr absl::string_view kCoordinators = "GATEWAY_COORDINATORS";
constexpr absl::string_view kAgentRole = "GATEWAY_AGENT_ROLE";
constexpr absl::string_view kNodeWeight = "GATEWAY_NODE_WEIGHT";
constexpr absl::string_view kLoadReportInterval = "GATEWAY_LOAD_REPORT_INTERVAL";
constexpr absl::string_view kSslCertFile = "GATEWAY_SSL_CERT_FILE";
constexpr absl::string_view kSslKeyFile = "GATEWAY_SSL_KEY_FILE";
constexpr absl::string_view kSslKeyPassword = "GATEWAY_SSL_KEY_PASSWORD";
constexpr absl::string_view kSslCaFile = "GATEWAY_SSL_CA_FILE";
constexpr absl::string_view kSslClientAuth = "GATEWAY_SSL_CLIENT_AUTH";
constexpr absl::string_view kSniPattern = "GATEWAY_SNI_BROKER_HOST_PATTERN";
constexpr absl::string_view kSniBootstrap = "GATEWAY_SNI_BOOTSTRAP_HOST";
constexpr absl::string_view kAuditSinks = "GATEWAY_AUDIT_LOG_SINKS";
constexpr absl::string_view kAuditFile = "GATEWAY_AUDIT_LOG_FILE";
constexpr absl::string_view kAuditQueue = "GATEWAY_AUDIT_LOG_QUEUE_SIZE";
constexpr absl::string_view kAuditRetention = "GATEWAY_AUDIT_LOG_RETENTION";
constexpr absl::string_view kNodeIdPlaceholder = "{{nodeId}}";

std::optional<std::string> CheckSniPattern(absl::string_view pattern) {
  const size_t at = pattern.find(kNodeIdPlaceholder);
  if (at == absl::string_view::npos) return "the pattern has no {{nodeId}}";
  if (pattern.find(kNodeIdPlaceholder, at + 1) != absl::string_view::npos) {
    return "the pattern has {{nodeId}} more than once";
  }
  if (absl::StrContains(pattern, ":") || absl::StrContains(pattern, "/")) {
    return "a host name pattern holds no port or path";
  }
  return std::nullopt;
}

std::optional<std::string> CheckAuditSinks(absl::string_view value) {
  for (absl::string_view sink : absl::StrSplit(value, ',')) {
    sink = absl::StripAsciiWhitespace(sink);
    if (sink != "stderr" && sink != "file" && sink != "kafka") {
      return absl::StrCat("unknown sink \"", sink, "\"");
    }
  }
  return std::nullopt;
}

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
      {.name = kAgentRole,
       .type = SettingType::kEnum,
       .description = "shared: an agent of the fleet, assigned brokers by the coordinators; "
                      "sidecar: beside one application, serving it alone (advertises every "
                      "broker at itself, joins no Kafka group, registers with "
                      "GATEWAY_COORDINATORS over its stream)",
       .default_value = "shared",
       .allowed = {"shared", "sidecar"}},
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
      {.name = kZeroCopy,
       .type = SettingType::kBool,
       .description = "Pass the bytes of large frames the agent does not look at (the "
                      "records of Produce requests and Fetch answers) from one socket to the "
                      "other through a kernel pipe (splice), without copying them through the "
                      "agent; plaintext connections only",
       .default_value = "true"},
      {.name = kAnswerApiVersions,
       .type = SettingType::kBool,
       .description = "Answer a connection's first ApiVersions request from the answer its "
                      "broker last gave (for at most 30 s), and connect to the broker only for "
                      "the next request, replaying the ApiVersions request to it first",
       .default_value = "true"},
      {.name = kMaxInflight,
       .type = SettingType::kInt,
       .description = "Requests one client connection may have awaiting responses; beyond it "
                      "the agent stops reading that client",
       .default_value = "1000",
       .min = 1,
       .max = 1000000},
      {.name = kMaxBuffered,
       .type = SettingType::kByteSize,
       .description = "Bytes all client connections together may hold in request buffers; when "
                      "they are spent the agent stops reading clients until some are forwarded "
                      "(like a broker's queued.max.request.bytes)",
       .default_value = "256MiB",
       .min = int64_t{1} << 20,
       .max = int64_t{1} << 40},
      {.name = kSaslMaxReceive,
       .type = SettingType::kByteSize,
       .description = "With GATEWAY_SECURITY_PROTOCOL SASL_PLAINTEXT or SASL_SSL, the largest "
                      "frame a client may send before it has authenticated (like a broker's "
                      "sasl.server.max.receive.size)",
       .default_value = "512KiB",
       .min = 1024,
       .max = int64_t{1} << 30},
      {.name = kFrameTimeout,
       .type = SettingType::kDuration,
       .description = "A request frame the client has started must arrive whole within this "
                      "time, not counting time the agent itself held off reading; a slower one "
                      "closes the connection",
       .default_value = "30s",
       .min = 100,
       .max = 3600 * 1000},
      {.name = kFirstRequestTimeout,
       .type = SettingType::kDuration,
       .description = "A client connection that has sent no whole request this long after its "
                      "PROXY header, TLS handshake and broker choice is closed; the broker is "
                      "connected to only for a whole first request",
       .default_value = "10s",
       .min = 100,
       .max = 3600 * 1000},
      {.name = kMaxConnections,
       .type = SettingType::kInt,
       .description = "Client connections the agent holds at once; more are closed as they are "
                      "accepted (like a broker's max.connections)",
       .default_value = "50000",
       .min = 1,
       .max = 10000000},
      {.name = kMaxPerAddress,
       .type = SettingType::kInt,
       .description = "Client connections from one address (the PROXY header's original source "
                      "when there is one); 0 for no limit (like a broker's "
                      "max.connections.per.ip)",
       .default_value = "0",
       .min = 0,
       .max = 10000000},
      {.name = kMaxConnectionRate,
       .type = SettingType::kInt,
       .description = "New client connections accepted per second, in bursts of up to one "
                      "second's worth; more are closed at once; 0 for no limit (like a broker's "
                      "max.connection.creation.rate)",
       .default_value = "0",
       .min = 0,
       .max = 10000000},
      {.name = kWorkerThreads,
       .type = SettingType::kInt,
       .description = "Threads serving connections; each connection and its broker connection "
                      "stay on one",
       .default_description = "the number of CPU cores",
       .min = 1,
       .max = 1024},
      {.name = kConnectTimeout,
       .type = SettingType::kDuration,
       .description = "Time allowed for a client connection's PROXY header, TLS handshake "
                      "and broker choice, and again for connecting to the broker for it",
       .default_value = "10s",
       .min = 1,
       .max = 3600 * 1000},
      {.name = kIdleTimeout,
       .type = SettingType::kDuration,
       .description = "A client connection with no traffic either way for this long is closed",
       .default_value = "10m",
       .min = 1000,
       .max = int64_t{7} * 24 * 3600 * 1000},
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
      {.name = kSslCertFile,
       .type = SettingType::kString,
       .description = "PEM certificate chain (leaf first) the agent presents to clients; "
                      "reloaded when the file changes",
       .default_description = "required with SSL and SASL_SSL",
       .validator = config::CheckReadableFile,
       .allowed_hint = "a readable PEM file"},
      {.name = kSslKeyFile,
       .type = SettingType::kString,
       .description = "PEM private key of GATEWAY_SSL_CERT_FILE; reloaded when the file changes",
       .default_description = "required with SSL and SASL_SSL",
       .validator = config::CheckReadableFile,
       .allowed_hint = "a readable PEM file"},
      {.name = kSslKeyPassword,
       .type = SettingType::kString,
       .description = "Password of an encrypted GATEWAY_SSL_KEY_FILE"},
      {.name = kSslCaFile,
       .type = SettingType::kString,
       .description = "PEM CA certificates that verify client certificates (mTLS)",
       .default_description = "unset: no client certificate is asked for",
       .validator = config::CheckReadableFile,
       .allowed_hint = "a readable PEM file"},
      {.name = kSslClientAuth,
       .type = SettingType::kEnum,
       .description = "Client certificates: not asked for (NONE), verified when sent (OPTIONAL), "
                      "or required (REQUIRE)",
       .default_value = "NONE",
       .allowed = {"NONE", "OPTIONAL", "REQUIRE"}},
      {.name = kSniPattern,
       .type = SettingType::kString,
       .description = "With GATEWAY_ROUTING_MECHANISM=host: the host name broker b is "
                      "advertised as, {{nodeId}} standing for b",
       .default_description = "broker{{nodeId}}.<GATEWAY_ADVERTISED_HOST>",
       .validator = CheckSniPattern,
       .allowed_hint = "a host name containing {{nodeId}} once"},
      {.name = kSniBootstrap,
       .type = SettingType::kString,
       .description = "With GATEWAY_ROUTING_MECHANISM=host: the host name (SNI) that reaches "
                      "any broker, for bootstrap.servers",
       .default_description = "GATEWAY_ADVERTISED_HOST"},
      {.name = kAuditSinks,
       .type = SettingType::kString,
       .description = "Where audit events go: a comma-separated list of stderr, file, kafka",
       .default_description = "unset: no audit log",
       .validator = CheckAuditSinks,
       .allowed_hint = "a comma-separated list of stderr, file, kafka"},
      {.name = kAuditFile,
       .type = SettingType::kString,
       .description = "File the file sink appends to (reopened on SIGHUP, for log rotation)",
       .default_description = "required with the file sink"},
      {.name = kAuditQueue,
       .type = SettingType::kInt,
       .description = "Audit events held in memory while sinks catch up; beyond it new events "
                      "are dropped and counted",
       .default_value = "10000",
       .min = 1,
       .max = 10000000},
      {.name = kAuditRetention,
       .type = SettingType::kDuration,
       .description = "retention.ms of the audit topic _kgw_<cluster id>_auditlogs when the "
                      "agent creates it",
       .default_value = "168h",
       .min = 60 * 1000,
       .max = int64_t{3650} * 24 * 3600 * 1000},
  };
  specs.insert(specs.end(), own.begin(), own.end());
  std::vector<SettingSpec> grpc_tls = config::GrpcTlsSettingSpecs();
  specs.insert(specs.end(), grpc_tls.begin(), grpc_tls.end());
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
  absl::StatusOr<config::GrpcTlsConfig> grpc_tls = config::ReadGrpcTlsConfig(settings);
  if (!grpc_tls.ok()) return grpc_tls.status();
  c.grpc_tls = *std::move(grpc_tls);
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
  c.zero_copy = settings.GetBool(kZeroCopy);
  c.answer_api_versions = settings.GetBool(kAnswerApiVersions);
  c.max_inflight_requests = static_cast<int>(settings.GetInt(kMaxInflight));
  c.max_buffered_request_bytes = settings.GetInt(kMaxBuffered);
  c.sasl_max_receive_size = settings.GetInt(kSaslMaxReceive);
  c.frame_timeout = absl::Milliseconds(settings.GetInt(kFrameTimeout));
  c.first_request_timeout = absl::Milliseconds(settings.GetInt(kFirstRequestTimeout));
  c.max_connections = settings.GetInt(kMaxConnections);
  c.max_connections_per_address = settings.GetInt(kMaxPerAddress);
  c.max_connection_rate = settings.GetInt(kMaxConnectionRate);
  c.worker_threads = settings.Has(kWorkerThreads)
                         ? static_cast<int>(settings.GetInt(kWorkerThreads))
                         : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  c.upstream_connect_timeout = absl::Milliseconds(settings.GetInt(kConnectTimeout));
  c.idle_timeout = absl::Milliseconds(settings.GetInt(kIdleTimeout));
  c.metadata_refresh_interval =
      absl::Milliseconds(settings.GetInt(config::kMetadataRefreshInterval));
  c.shutdown_drain_timeout = absl::Milliseconds(settings.GetInt(kDrainTimeout));
  c.shutdown_delay_between_brokers = absl::Milliseconds(settings.GetInt(kDelayBetweenBrokers));
  if (settings.Has(kCoordinators)) {
    for (const std::string& hp : settings.GetList(kCoordinators)) {
      c.coordinators.push_back(config::SplitHostPort(hp));
    }
  }
  c.role = settings.GetString(kAgentRole) == "sidecar" ? AgentRole::kSidecar : AgentRole::kShared;
  if (c.role == AgentRole::kSidecar) {
    if (c.coordinators.empty()) {
      return absl::InvalidArgumentError(
          "GATEWAY_AGENT_ROLE=sidecar needs GATEWAY_COORDINATORS: a sidecar joins no Kafka group, "
          "so that is where it finds the coordinators");
    }
    if (settings.GetSource(kInternalLb) != config::Source::kDefault &&
        c.internal_load_balancing) {
      return absl::InvalidArgumentError(
          "invalid GATEWAY_FEATURE_FLAGS_INTERNAL_LOAD_BALANCING=true with "
          "GATEWAY_AGENT_ROLE=sidecar: a sidecar serves every broker itself");
    }
    c.internal_load_balancing = false;
    settings.SetComputed(kInternalLb, "false");
    // Its application reaches it on localhost; its node id still names the host.
    if (settings.GetSource(config::kAdvertisedHost) == config::Source::kDefault) {
      if (c.node.node_id.empty()) {
        c.node.node_id = absl::StrCat(c.node.advertised_host, ":", c.port_start);
        settings.SetComputed(config::kNodeId, c.node.node_id);
      }
      c.node.advertised_host = "localhost";
      settings.SetComputed(config::kAdvertisedHost, "localhost");
    }
  }
  c.node_weight = static_cast<uint32_t>(settings.GetInt(kNodeWeight));
  c.load_report_interval = absl::Milliseconds(settings.GetInt(kLoadReportInterval));
  if (c.node.node_id.empty()) {
    c.node.node_id = absl::StrCat(c.node.advertised_host, ":", c.port_start);
    settings.SetComputed(config::kNodeId, c.node.node_id);
  }

  if (c.max_buffered_request_bytes < c.max_frame_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        kMaxBuffered, " (", c.max_buffered_request_bytes, " bytes) is below ", kMaxFrameSize,
        " (", c.max_frame_size, " bytes): a request of the largest allowed size could never be "
        "buffered; raise the first or lower the second"));
  }

  const std::string client_auth = settings.GetString(kSslClientAuth);
  c.tls.client_auth = client_auth == "REQUIRE"    ? ClientAuth::kRequire
                      : client_auth == "OPTIONAL" ? ClientAuth::kOptional
                                                  : ClientAuth::kNone;
  if (settings.Has(kSslCertFile)) c.tls.cert_file = settings.GetString(kSslCertFile);
  if (settings.Has(kSslKeyFile)) c.tls.key_file = settings.GetString(kSslKeyFile);
  if (settings.Has(kSslKeyPassword)) c.tls.key_password = settings.GetString(kSslKeyPassword);
  if (settings.Has(kSslCaFile)) c.tls.ca_file = settings.GetString(kSslCaFile);
  if (settings.Has(kSniPattern)) {
    c.sni.broker_host_pattern = settings.GetString(kSniPattern);
  } else {
    c.sni.broker_host_pattern = absl::StrCat("broker", kNodeIdPlaceholder, ".",
                                             c.node.advertised_host);
    settings.SetComputed(kSniPattern, c.sni.broker_host_pattern);
  }
  c.sni.bootstrap_host = settings.Has(kSniBootstrap) ? settings.GetString(kSniBootstrap)
                                                     : c.node.advertised_host;
  if (settings.Has(kAuditSinks)) {
    for (absl::string_view sink : absl::StrSplit(settings.GetString(kAuditSinks), ',')) {
      sink = absl::StripAsciiWhitespace(sink);
      if (std::find(c.audit.sinks.begin(), c.audit.sinks.end(), sink) == c.audit.sinks.end()) {
        c.audit.sinks.emplace_back(sink);
      }
    }
  }
  if (settings.Has(kAuditFile)) c.audit.file = settings.GetString(kAuditFile);
  c.audit.queue_size = settings.GetInt(kAuditQueue);
  c.audit.retention = absl::Milliseconds(settings.GetInt(kAuditRetention));

  if (c.port_count && c.port_start + *c.port_count - 1 > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid GATEWAY_PORT_COUNT=", *c.port_count, " with GATEWAY_PORT_START=", c.port_start,
        ": the last port would be ", c.port_start + *c.port_count - 1, ", above 65535"));
  }
  const bool tls = c.client_tls();
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
  if (tls && (c.tls.cert_file.empty() || c.tls.key_file.empty())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "GATEWAY_SECURITY_PROTOCOL=", settings.GetString(kSecurityProtocol),
        " needs GATEWAY_SSL_CERT_FILE and GATEWAY_SSL_KEY_FILE"));
  }
  if (!tls) {
    for (absl::string_view name : {kSslCertFile, kSslKeyFile, kSslKeyPassword, kSslCaFile}) {
      if (settings.Has(name)) {
        return absl::InvalidArgumentError(absl::StrCat(
            name, " is set but GATEWAY_SECURITY_PROTOCOL=", settings.GetString(kSecurityProtocol),
            " has no TLS; use SSL or SASL_SSL"));
      }
    }
  }
  if (c.tls.client_auth != ClientAuth::kNone && c.tls.ca_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "GATEWAY_SSL_CLIENT_AUTH=", client_auth,
        " needs GATEWAY_SSL_CA_FILE, the CA that verifies client certificates"));
  }
  if (c.tls.client_auth == ClientAuth::kNone && !c.tls.ca_file.empty()) {
    return absl::InvalidArgumentError(
        "GATEWAY_SSL_CA_FILE is set but GATEWAY_SSL_CLIENT_AUTH=NONE asks no client for a "
        "certificate; set it to OPTIONAL or REQUIRE");
  }
  const bool file_sink =
      std::find(c.audit.sinks.begin(), c.audit.sinks.end(), "file") != c.audit.sinks.end();
  if (file_sink && c.audit.file.empty()) {
    return absl::InvalidArgumentError(
        "GATEWAY_AUDIT_LOG_SINKS has file but GATEWAY_AUDIT_LOG_FILE is not set");
  }
  if (!file_sink && !c.audit.file.empty()) {
    return absl::InvalidArgumentError(
        "GATEWAY_AUDIT_LOG_FILE is set but GATEWAY_AUDIT_LOG_SINKS has no file sink");
  }
  return c;
}

}  // namespace kgw::agent
