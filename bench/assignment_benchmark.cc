// Micro-benchmarks of ComputeAssignment (common/assignment) on a large cluster: 1,000 brokers and
// 200 agents (every tenth of weight 200) in six racks, with the brokers of two more racks (the
// argument: how many) left without agents, so that they are orphans served from the other racks.
// 50 orphans get s = 4 agents each, 250 get one each.
//  - FromEmpty: a first run (no previous assignment);
//  - Unchanged: recomputing the assignment in force (the common case on every rebalance);
//  - AgentLeaves / AgentJoins: one agent less or more than the previous assignment knew.
// Results and the machine they ran on belong in docs/benchmarks.md.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "common/assignment/assignment.h"

namespace kgw::assignment {
namespace {

constexpr int kBrokers = 1000;
constexpr int kAgents = 200;
constexpr int kAgentRacks = 6;

struct Cluster {
  std::vector<Broker> brokers;
  std::vector<Agent> agents;
};

Cluster LargeCluster(int orphans) {
  Cluster c;
  for (int b = 0; b < kBrokers; ++b) {
    // zone-6 and zone-7 have no agents.
    const std::string rack = absl::StrCat("zone-", b < orphans ? 6 + b % 2 : b % kAgentRacks);
    c.brokers.push_back({.id = 1000 + b, .rack = rack});
  }
  for (int a = 0; a < kAgents; ++a) {
    c.agents.push_back({.node_id = absl::StrCat("kgw-agent-", a),
                        .rack = absl::StrCat("zone-", a % kAgentRacks),
                        .weight = a % 10 == 0 ? 200u : 100u});
  }
  return c;
}

int64_t CountMemberships(const BrokerAgents& assignment) {
  int64_t n = 0;
  for (const auto& [id, agents] : assignment) n += agents.size();
  return n;
}

void Run(benchmark::State& state, const Cluster& cluster, const BrokerAgents& previous) {
  int64_t memberships = 0;
  for (auto _ : state) {
    BrokerAgents result = ComputeAssignment(cluster.brokers, cluster.agents, previous);
    memberships = CountMemberships(result);
    benchmark::DoNotOptimize(result);
  }
  state.counters["memberships"] = static_cast<double>(memberships);
}

void BM_AssignmentFromEmpty(benchmark::State& state) {
  Run(state, LargeCluster(static_cast<int>(state.range(0))), {});
}

void BM_AssignmentUnchanged(benchmark::State& state) {
  const Cluster cluster = LargeCluster(static_cast<int>(state.range(0)));
  Run(state, cluster, ComputeAssignment(cluster.brokers, cluster.agents, {}));
}

void BM_AssignmentAgentLeaves(benchmark::State& state) {
  const Cluster before = LargeCluster(static_cast<int>(state.range(0)));
  Cluster after = before;
  after.agents.erase(after.agents.begin() + 17);
  Run(state, after, ComputeAssignment(before.brokers, before.agents, {}));
}

void BM_AssignmentAgentJoins(benchmark::State& state) {
  const Cluster before = LargeCluster(static_cast<int>(state.range(0)));
  Cluster after = before;
  after.agents.push_back({.node_id = "kgw-agent-new", .rack = "zone-3"});
  Run(state, after, ComputeAssignment(before.brokers, before.agents, {}));
}

BENCHMARK(BM_AssignmentFromEmpty)->Arg(50)->Arg(250)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AssignmentUnchanged)->Arg(50)->Arg(250)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AssignmentAgentLeaves)->Arg(50)->Arg(250)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AssignmentAgentJoins)->Arg(50)->Arg(250)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kgw::assignment

BENCHMARK_MAIN();
