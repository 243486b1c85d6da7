#include "agent/agent_config.h"

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
  };
  specs.insert(specs.end(), own.begin(), own.end());
  return specs;
}

absl::StatusOr<AgentConfig> LoadAgentConfig(config::Settings& settings) {
  AgentConfig c;
  c.node = config::ReadGatewayNodeConfig(settings);
  c.bind_host = settings.GetString(kBindHost);
  c.port_start = static_cast<int>(settings.GetInt(kPortStart));
  if (settings.Has(kPortCount)) c.port_count = static_cast<int>(settings.GetInt(kPortCount));
  c.min_broker_id = static_cast<int>(settings.GetInt(kMinBrokerId));
  c.routing = settings.GetString(kRouting) == "host" ? RoutingMechanism::kHost
                                                     : RoutingMechanism::kPort;
  c.internal_load_balancing = settings.GetBool(kInternalLb);
  c.haproxy_protocol = settings.GetBool(kHaproxy);
  c.security_protocol = ToSecurityProtocol(settings.GetString(kSecurityProtocol));

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
  return c;
}

}  // namespace kgw::agent
