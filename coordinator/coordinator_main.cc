// kgw-coordinator: the gateway's control plane. Reads its configuration and
// runs a coordinator (coordinator/coordinator.h).
#include <signal.h>

#include <cstdlib>

#include "common/cluster/broker_directory.h"
#include "common/config/program.h"
#include "coordinator/coordinator.h"
#include "coordinator/coordinator_config.h"
#include "glog/logging.h"

int main(int argc, char** argv) {
  google::InitGoogleLogging(argv[0]);
  // gRPC resolves names with getaddrinfo, like the rest of the process
  // (/etc/hosts, nsswitch), not with c-ares; an explicit value still wins.
  setenv("GRPC_DNS_RESOLVER", "native", /*overwrite=*/0);
  FLAGS_logtostderr = true;
  kgw::config::ProgramInfo info{
      .name = "kgw-coordinator",
      .summary = "Kafka gateway coordinator: watches the live agents and decides which agent\n"
                 "serves which broker.",
      .specs = kgw::coordinator::CoordinatorSettingSpecs(),
      .env_prefixes = {"GATEWAY_"},
  };
  kgw::config::CommandLine cmd = kgw::config::ParseCommandLineOrExit(info, argc, argv);
  absl::StatusOr<kgw::coordinator::CoordinatorConfig> config =
      kgw::coordinator::LoadCoordinatorConfig(cmd.settings);
  if (!config.ok()) kgw::config::ExitWithConfigError(info.name, config.status().message());
  for (const std::string& name : cmd.unknown_variables) {
    LOG(WARNING) << "ignoring unknown environment variable " << name;
  }
  if (cmd.check_config) {
    kgw::config::PrintEffectiveConfig(cmd.settings);
    return kgw::config::kExitOk;
  }
  // The KAFKA_SSL_* files are loaded now, so that a missing or broken one
  // stops start-up with one line like any other bad setting.
  if (absl::Status tls = kgw::cluster::OwnTls(config->kafka).status(); !tls.ok()) {
    kgw::config::ExitWithConfigError(info.name, tls.message());
  }
  // Every thread inherits the blocked signals; RunCoordinator waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return kgw::coordinator::RunCoordinator(*config);
}
