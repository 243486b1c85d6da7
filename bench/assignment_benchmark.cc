// Micro-benchmarks of ComputeAssignment (common/assignment) on a large cluster: 1,000 brokers and
// 200 or 2,000 agents (the second argument; every tenth of weight 200) in six racks, with the
// brokers of two more racks (the first argument: how many) left without agents, so that they are
// orphans served from the other racks. With 200 agents, 50 orphans get s = 4 agents each and 250
// get one each; with 2,000, 40 and 8.
//  - FromEmpty: a first run (no previous assignment);
//  - Unchanged: recomputing the assignment in force (the common case on every rebalance);
//  - AgentLeaves / AgentJoins: one agent less or more than the previous assignment knew;
//  - JoinOnTheWire: what the leader does for one join beyond computing (control::BuildAssignment,
//    then control::MakeDelta from the previous one), with the encoded sizes of the whole
//    assignment, of the delta every agent receives, and of the expanded form as counters.
// Results and the machine they ran on belong in docs/benchmarks.md.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "common/assignment/assignment.h"
#include "common/control/routing.h"

namespace kgw::assignment {
namespace {

constexpr int kBrokers = 1000;
constexpr int kAgentRacks = 6;

struct Cluster {
  std::vector<Broker> brokers;
  std::vector<Agent> agents;
};

Cluster LargeCluster(int orphans, int agents) {
  Cluster c;
  for (int b = 0; b < kBrokers; ++b) {
    // zone-6 and zone-7 have no agents.
    const std::string rack = absl::StrCat("zone-", b < orphans ? 6 + b % 2 : b % kAgentRacks);
    c.brokers.push_back({.id = 1000 + b, .rack = rack});
  }
  for (int a = 0; a < agents; ++a) {
    c.agents.push_back({.node_id = absl::StrCat("kgw-agent-", a),
                        .rack = absl::StrCat("zone-", a % kAgentRacks),
                        .weight = a % 10 == 0 ? 200u : 100u});
  }
  return c;
}

int Orphans(const benchmark::State& state) { return static_cast<int>(state.range(0)); }
int AgentCount(const benchmark::State& state) { return static_cast<int>(state.range(1)); }

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
  Run(state, LargeCluster(Orphans(state), AgentCount(state)), {});
}

void BM_AssignmentUnchanged(benchmark::State& state) {
  const Cluster cluster = LargeCluster(Orphans(state), AgentCount(state));
  Run(state, cluster, ComputeAssignment(cluster.brokers, cluster.agents, {}));
}

void BM_AssignmentAgentLeaves(benchmark::State& state) {
  const Cluster before = LargeCluster(Orphans(state), AgentCount(state));
  Cluster after = before;
  after.agents.erase(after.agents.begin() + 17);
  Run(state, after, ComputeAssignment(before.brokers, before.agents, {}));
}

void BM_AssignmentAgentJoins(benchmark::State& state) {
  const Cluster before = LargeCluster(Orphans(state), AgentCount(state));
  Cluster after = before;
  after.agents.push_back({.node_id = "kgw-agent-new", .rack = "zone-3"});
  Run(state, after, ComputeAssignment(before.brokers, before.agents, {}));
}

// The group view a leader would see for `cluster`'s agents.
membership::View ViewOf(const Cluster& cluster) {
  membership::View v;
  v.generation_id = 1;
  for (const Agent& a : cluster.agents) {
    v1::Member& m = v.members.emplace_back();
    m.set_member_id(a.node_id);
    v1::NodeDescriptor* d = m.mutable_node();
    d->set_node_id(a.node_id);
    d->set_role(v1::NodeDescriptor::ROLE_AGENT);
    d->set_rack(a.rack);
    d->set_weight(a.weight);
    d->set_advertised_host(absl::StrCat("10.", v.members.size() / 250, ".0.",
                                        v.members.size() % 250));
    d->set_port_start(9092);
    d->set_min_broker_id(1000);
  }
  return v;
}

void BM_JoinOnTheWire(benchmark::State& state) {
  const Cluster before = LargeCluster(Orphans(state), AgentCount(state));
  Cluster after = before;
  after.agents.push_back({.node_id = "kgw-agent-new", .rack = "zone-3"});
  std::vector<cluster::BrokerEndpoint> brokers;
  for (const Broker& b : before.brokers) brokers.push_back({b.id, "kafka", 9092, b.rack});
  const membership::View old_view = ViewOf(before);
  const membership::View new_view = ViewOf(after);
  const v1::Assignment previous =
      control::BuildAssignment({.view = &old_view, .brokers = brokers}, "coord", 1);
  size_t whole = 0;
  size_t delta = 0;
  for (auto _ : state) {
    v1::Assignment next = control::BuildAssignment(
        {.view = &new_view, .brokers = brokers, .previous = &previous}, "coord", 2);
    std::optional<v1::AssignmentDelta> d = control::MakeDelta(previous, next);
    whole = next.ByteSizeLong();
    delta = d ? d->ByteSizeLong() : 0;
    benchmark::DoNotOptimize(d);
  }
  state.counters["assignment_bytes"] = static_cast<double>(whole);
  state.counters["delta_bytes"] = static_cast<double>(delta);
  state.counters["expanded_bytes"] =
      static_cast<double>(control::Expanded(previous).ByteSizeLong());
}

void Sizes(benchmark::internal::Benchmark* b) {
  for (int agents : {200, 2000}) {
    for (int orphans : {50, 250}) b->Args({orphans, agents});
  }
  b->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_AssignmentFromEmpty)->Apply(Sizes);
BENCHMARK(BM_AssignmentUnchanged)->Apply(Sizes);
BENCHMARK(BM_AssignmentAgentLeaves)->Apply(Sizes);
BENCHMARK(BM_AssignmentAgentJoins)->Apply(Sizes);
BENCHMARK(BM_JoinOnTheWire)->Apply(Sizes);

}  // namespace
}  // namespace kgw::assignment

BENCHMARK_MAIN();
