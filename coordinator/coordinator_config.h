// Configuration of kgw-coordinator: the shared gateway-node settings plus the
// gRPC endpoint agents and kgwctl connect to, and its TLS.
#ifndef KGW_COORDINATOR_COORDINATOR_CONFIG_H_
#define KGW_COORDINATOR_COORDINATOR_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config/gateway_settings.h"
#include "common/config/grpc_tls.h"
#include "common/config/settings.h"

namespace kgw::coordinator {

struct CoordinatorConfig {
  config::GatewayNodeConfig node;
  config::KafkaClientConfig kafka;
  std::string grpc_bind_host;
  int grpc_port = 0;
  // The gRPC server's TLS, also used to forward admin mutations to the leader.
  config::GrpcTlsConfig grpc_tls;
  // Required (as "authorization: Bearer <token>") for admin mutations; empty: none.
  std::string admin_token;
  // GATEWAY_ADMIN_ALLOW_UNAUTHENTICATED: start even when anyone beyond
  // loopback may call the admin API.
  bool admin_allow_unauthenticated = false;
  absl::Duration metadata_refresh_interval;
  // Agent streams served at once (GATEWAY_MAX_AGENT_STREAMS).
  int max_agent_streams = 10000;
  // GATEWAY_AGENT_KEEPALIVE_INTERVAL: each gRPC connection is pinged this
  // often and closed when a ping goes unanswered for as long again.
  absl::Duration agent_keepalive = absl::Seconds(20);
};

std::vector<config::SettingSpec> CoordinatorSettingSpecs();

// InvalidArgument with a one-line message when settings contradict each other.
absl::StatusOr<CoordinatorConfig> LoadCoordinatorConfig(config::Settings& settings);

}  // namespace kgw::coordinator

#endif  // KGW_COORDINATOR_COORDINATOR_CONFIG_H_
