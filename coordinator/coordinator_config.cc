#include "coordinator/coordinator_config.h"

#include <arpa/inet.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace kgw::coordinator {
namespace {

using config::SettingSpec;
using config::SettingType;

constexpr absl::string_view kGrpcBindHost = "GATEWAY_GRPC_BIND_HOST";
constexpr absl::string_view kGrpcPort = "GATEWAY_GRPC_PORT";
constexpr absl::string_view kAdminToken = "GATEWAY_ADMIN_TOKEN";
constexpr absl::string_view kMaxAgentStreams = "GATEWAY_MAX_AGENT_STREAMS";
constexpr absl::string_view kAllowUnauthenticated = "GATEWAY_ADMIN_ALLOW_UNAUTHENTICATED";
constexpr absl::string_view kAgentKeepalive = "GATEWAY_AGENT_KEEPALIVE_INTERVAL";

// True for a bind address only this host can reach.
bool IsLoopback(const std::string& host) {
  if (absl::AsciiStrToLower(host) == "localhost") return true;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;  // a name: assume others can reach it
}

// Whoever reaches the gRPC port may drain agents unless a token or a client
// certificate is needed; beyond loopback that takes an explicit choice.
absl::Status CheckAdminIsProtected(const CoordinatorConfig& c) {
  const bool certificates =
      c.grpc_tls.enabled && c.grpc_tls.client_auth == config::GrpcClientAuth::kRequire;
  if (!c.admin_token.empty() || certificates || IsLoopback(c.grpc_bind_host) ||
      c.admin_allow_unauthenticated) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "refusing to serve the admin API on ", c.grpc_bind_host, ":", c.grpc_port,
      " without authentication: anyone who reaches it could drain agents. Set "
      "GATEWAY_ADMIN_TOKEN, or require client certificates (GATEWAY_GRPC_TLS=true with "
      "GATEWAY_GRPC_TLS_CLIENT_AUTH=REQUIRE), or bind GATEWAY_GRPC_BIND_HOST to a loopback "
      "address; ", kAllowUnauthenticated, "=true accepts the risk"));
}

}  // namespace

std::vector<SettingSpec> CoordinatorSettingSpecs() {
  std::vector<SettingSpec> specs = config::GatewayNodeSettings();
  specs.push_back({.name = kGrpcBindHost,
                   .type = SettingType::kString,
                   .description = "Address the gRPC server (agent stream, admin API) binds to",
                   .default_value = "0.0.0.0",
                   .allowed_hint = "an IP address or host name"});
  specs.push_back({.name = kGrpcPort,
                   .type = SettingType::kInt,
                   .description = "Port of the gRPC server (agent stream, admin API)",
                   .default_value = "6900",
                   .min = 1,
                   .max = 65535});
  specs.push_back({.name = kAdminToken,
                   .type = SettingType::kString,
                   .description = "Token that admin mutations (drain, resume) must carry as "
                                  "\"authorization: Bearer <token>\"; empty allows them to anyone "
                                  "who reaches the gRPC port",
                   .validator = config::CheckBearerToken,
                   .allowed_hint = "visible ASCII without spaces, as kgwctl can send it"});
  specs.push_back({.name = kAllowUnauthenticated,
                   .type = SettingType::kBool,
                   .description = "Start even though the gRPC port listens beyond loopback with "
                                  "neither GATEWAY_ADMIN_TOKEN nor required client certificates, "
                                  "so that anyone who reaches it can drain agents",
                   .default_value = "false"});
  specs.push_back({.name = kMaxAgentStreams,
                   .type = SettingType::kInt,
                   .description = "Agent streams this coordinator serves at once; more are "
                                  "refused and those agents stream from another coordinator",
                   .default_value = "10000",
                   .min = 1,
                   .max = 1000000});
  specs.push_back({.name = kAgentKeepalive,
                   .type = SettingType::kDuration,
                   .description = "How often the coordinator pings each gRPC connection (agents' "
                                  "streams, admin clients); one that has not answered within as "
                                  "long again is closed, so an agent whose host vanished without "
                                  "closing its connection is dropped",
                   .default_value = "20s",
                   .min = 1000,
                   .max = 3600 * 1000});
  std::vector<SettingSpec> tls = config::GrpcTlsSettingSpecs();
  specs.insert(specs.end(), tls.begin(), tls.end());
  return specs;
}

absl::StatusOr<CoordinatorConfig> LoadCoordinatorConfig(config::Settings& settings) {
  CoordinatorConfig c;
  absl::StatusOr<config::GatewayNodeConfig> node = config::ReadGatewayNodeConfig(settings);
  if (!node.ok()) return node.status();
  c.node = *std::move(node);
  absl::StatusOr<config::KafkaClientConfig> kafka = config::ReadKafkaClientConfig(settings);
  if (!kafka.ok()) return kafka.status();
  c.kafka = *std::move(kafka);
  c.grpc_bind_host = settings.GetString(kGrpcBindHost);
  c.grpc_port = static_cast<int>(settings.GetInt(kGrpcPort));
  KGW_ASSIGN_OR_RETURN(c.grpc_tls, config::ReadGrpcTlsConfig(settings));
  KGW_RETURN_IF_ERROR(config::RequireGrpcServerCertificate(c.grpc_tls));
  if (settings.Has(kAdminToken)) c.admin_token = settings.GetString(kAdminToken);
  c.metadata_refresh_interval =
      absl::Milliseconds(settings.GetInt(config::kMetadataRefreshInterval));
  c.max_agent_streams = static_cast<int>(settings.GetInt(kMaxAgentStreams));
  c.admin_allow_unauthenticated = settings.GetBool(kAllowUnauthenticated);
  c.agent_keepalive = absl::Milliseconds(settings.GetInt(kAgentKeepalive));
  if (c.node.node_id.empty()) {
    c.node.node_id = absl::StrCat(c.node.advertised_host, ":", c.grpc_port);
    settings.SetComputed(config::kNodeId, c.node.node_id);
  }
  if (c.grpc_port == c.node.http_port) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid GATEWAY_GRPC_PORT=", c.grpc_port,
                     ": it is also GATEWAY_HTTP_PORT; the two servers need different ports"));
  }
  KGW_RETURN_IF_ERROR(CheckAdminIsProtected(c));
  return c;
}

}  // namespace kgw::coordinator
