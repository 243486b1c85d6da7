// kgw-agent: the gateway's data plane. Clients set bootstrap.servers to this
// agent and reach every broker through it (see agent/agent.h).
#include "agent/agent.h"
#include "agent/agent_config.h"
#include "common/config/program.h"

int main(int argc, char** argv) {
  const kgw::config::ProgramInfo info{
      .name = "kgw-agent",
      .summary = "Kafka gateway agent: clients set bootstrap.servers to this agent and reach\n"
                 "every broker through it.",
      .specs = kgw::agent::AgentSettingSpecs(),
      .env_prefixes = {"GATEWAY_"},
  };
  kgw::agent::Agent agent(
      kgw::config::LoadNodeConfigOrExit(info, argc, argv, &kgw::agent::LoadAgentConfig));
  return agent.Run();
}
