// kgw-coordinator: the gateway's control plane. Reads its configuration and
// runs a coordinator (coordinator/coordinator.h).
#include <signal.h>

#include <cstdlib>
#include <iostream>

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
  if (config->kafka.tls) {
    std::cerr << info.name << ": KAFKA_SECURITY_PROTOCOL=" << config->kafka.security_protocol
              << " is not supported by this build; use PLAINTEXT or SASL_PLAINTEXT" << std::endl;
    return kgw::config::kExitUnavailable;
  }
  // Every thread inherits the blocked signals; RunCoordinator waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return kgw::coordinator::RunCoordinator(*config);
}
