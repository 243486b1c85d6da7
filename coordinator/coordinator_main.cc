// kgw-coordinator: the gateway's control plane. This build parses and
// validates its configuration; coordination arrives with the control plane.
#include <iostream>

#include "common/config/program.h"
#include "coordinator/coordinator_config.h"
#include "glog/logging.h"

int main(int argc, char** argv) {
  google::InitGoogleLogging(argv[0]);
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
  std::cerr << info.name << ": configuration is valid, but this build cannot coordinate "
            << "yet; use --check-config to validate a configuration" << std::endl;
  return kgw::config::kExitUnavailable;
}
