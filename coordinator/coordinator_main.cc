// kgw-coordinator: the gateway's control plane. Watches the live agents and
// decides which agent serves which broker (see coordinator/coordinator.h).
#include <cstdlib>

#include "common/config/program.h"
#include "coordinator/coordinator.h"
#include "coordinator/coordinator_config.h"

int main(int argc, char** argv) {
  const kgw::config::ProgramInfo info{
      .name = "kgw-coordinator",
      .summary = "Kafka gateway coordinator: watches the live agents and decides which agent\n"
                 "serves which broker.",
      .specs = kgw::coordinator::CoordinatorSettingSpecs(),
      .env_prefixes = {"GATEWAY_"},
  };
  // Before gRPC reads its experiments, which it does once.
  if (auto experiments = kgw::coordinator::GrpcExperimentsForCoordinator(
          std::getenv("GRPC_EXPERIMENTS"))) {
    setenv("GRPC_EXPERIMENTS", experiments->c_str(), /*overwrite=*/1);
  }
  kgw::coordinator::Coordinator coordinator(kgw::config::LoadNodeConfigOrExit(
      info, argc, argv, &kgw::coordinator::LoadCoordinatorConfig));
  return coordinator.Run();
}
