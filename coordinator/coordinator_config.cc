#include "coordinator/coordinator_config.h"

#include "absl/strings/str_cat.h"

namespace kgw::coordinator {
namespace {

using config::SettingSpec;
using config::SettingType;

constexpr absl::string_view kGrpcBindHost = "GATEWAY_GRPC_BIND_HOST";
constexpr absl::string_view kGrpcPort = "GATEWAY_GRPC_PORT";

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
  return specs;
}

absl::StatusOr<CoordinatorConfig> LoadCoordinatorConfig(config::Settings& settings) {
  CoordinatorConfig c;
  c.node = config::ReadGatewayNodeConfig(settings);
  absl::StatusOr<config::KafkaClientConfig> kafka = config::ReadKafkaClientConfig(settings);
  if (!kafka.ok()) return kafka.status();
  c.kafka = *std::move(kafka);
  c.grpc_bind_host = settings.GetString(kGrpcBindHost);
  c.grpc_port = static_cast<int>(settings.GetInt(kGrpcPort));
  if (c.grpc_port == c.node.http_port) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid GATEWAY_GRPC_PORT=", c.grpc_port,
                     ": it is also GATEWAY_HTTP_PORT; the two servers need different ports"));
  }
  return c;
}

}  // namespace kgw::coordinator
