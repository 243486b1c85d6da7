// kgw-agent: the gateway's data plane. Clients set bootstrap.servers to this
// agent and reach every broker through it (see agent/agent.h).
#include <cstdlib>
#include <iostream>

#include "agent/agent.h"
#include "agent/agent_config.h"
#include "common/config/program.h"
#include "glog/logging.h"

int main(int argc, char** argv) {
  google::InitGoogleLogging(argv[0]);
  // gRPC resolves names with getaddrinfo, like the rest of the process
  // (/etc/hosts, nsswitch), not with c-ares; an explicit value still wins.
  setenv("GRPC_DNS_RESOLVER", "native", /*overwrite=*/0);
  FLAGS_logtostderr = true;
  kgw::config::ProgramInfo info{
      .name = "kgw-agent",
      .summary = "Kafka gateway agent: clients set bootstrap.servers to this agent and reach\n"
                 "every broker through it.",
      .specs = kgw::agent::AgentSettingSpecs(),
      .env_prefixes = {"GATEWAY_"},
  };
  kgw::config::CommandLine cmd = kgw::config::ParseCommandLineOrExit(info, argc, argv);
  absl::StatusOr<kgw::agent::AgentConfig> config = kgw::agent::LoadAgentConfig(cmd.settings);
  if (!config.ok()) kgw::config::ExitWithConfigError(info.name, config.status().message());
  for (const std::string& name : cmd.unknown_variables) {
    LOG(WARNING) << "ignoring unknown environment variable " << name;
  }
  if (cmd.check_config) {
    kgw::config::PrintEffectiveConfig(cmd.settings);
    return kgw::config::kExitOk;
  }
  kgw::agent::Agent agent(*std::move(config));
  return agent.Run();
}
