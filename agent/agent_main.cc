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
  // Settings this build accepts but cannot honour yet: refusing is safer
  // than serving plaintext to clients that were promised TLS.
  if (config->security_protocol == kgw::agent::SecurityProtocol::kSsl ||
      config->security_protocol == kgw::agent::SecurityProtocol::kSaslSsl) {
    std::cerr << info.name << ": GATEWAY_SECURITY_PROTOCOL="
              << cmd.settings.GetString("GATEWAY_SECURITY_PROTOCOL")
              << " is not supported by this build; use PLAINTEXT or SASL_PLAINTEXT" << std::endl;
    return kgw::config::kExitUnavailable;
  }
  if (config->kafka.tls) {
    std::cerr << info.name << ": KAFKA_SECURITY_PROTOCOL=" << config->kafka.security_protocol
              << " is not supported by this build; use PLAINTEXT or SASL_PLAINTEXT" << std::endl;
    return kgw::config::kExitUnavailable;
  }
  if (config->haproxy_protocol) {
    std::cerr << info.name << ": GATEWAY_FEATURE_FLAGS_HAPROXY_PROTOCOL=true is not supported by "
              << "this build" << std::endl;
    return kgw::config::kExitUnavailable;
  }
  kgw::agent::Agent agent(*std::move(config));
  return agent.Run();
}
