#include "coordinator/coordinator_config.h"

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
  specs.push_back({.name = kMaxAgentStreams,
                   .type = SettingType::kInt,
                   .description = "Agent streams this coordinator serves at once; more are "
                                  "refused and those agents stream from another coordinator",
                   .default_value = "10000",
                   .min = 1,
                   .max = 1000000});
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
  if (c.node.node_id.empty()) {
    c.node.node_id = absl::StrCat(c.node.advertised_host, ":", c.grpc_port);
    settings.SetComputed(config::kNodeId, c.node.node_id);
  }
  if (c.grpc_port == c.node.http_port) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid GATEWAY_GRPC_PORT=", c.grpc_port,
                     ": it is also GATEWAY_HTTP_PORT; the two servers need different ports"));
  }
  return c;
}

}  // namespace kgw::coordinator
