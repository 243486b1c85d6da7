#include "common/assignment/assignment.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/numeric/int128.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace kgw::assignment {
namespace {

uint32_t EffectiveWeight(uint32_t weight) { return weight == 0 ? kDefaultWeight : weight; }

// One entry per broker id, sorted by id.
std::vector<Broker> CanonicalBrokers(absl::Span<const Broker> brokers) {
  std::vector<Broker> out(brokers.begin(), brokers.end());
  std::sort(out.begin(), out.end(), [](const Broker& a, const Broker& b) {
    return std::tie(a.id, a.rack) < std::tie(b.id, b.rack);
  });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const Broker& a, const Broker& b) { return a.id == b.id; }),
            out.end());
  return out;
}

// One entry per node id, sorted by node id, weights resolved.
std::vector<Agent> CanonicalAgents(absl::Span<const Agent> agents) {
  std::vector<Agent> out(agents.begin(), agents.end());
  for (Agent& a : out) a.weight = EffectiveWeight(a.weight);
  std::sort(out.begin(), out.end(), [](const Agent& a, const Agent& b) {
    return std::tie(a.node_id, a.rack, a.weight, a.draining) <
           std::tie(b.node_id, b.rack, b.weight, b.draining);
  });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const Agent& a, const Agent& b) { return a.node_id == b.node_id; }),
            out.end());
  return out;
}

// floor and ceil of one agent's quota of orphan memberships.
struct QuotaBounds {
  int floor = 0;
  int ceil = 0;
};

// Rule 2's quotas, exactly: q_i = memberships * w_i / W, where agents whose quota would exceed
// `orphans` are capped at it and leave the rest to the others (water-filling). Capping only
// raises the others' quotas, so every agent capped in one round stays capped.
std::vector<QuotaBounds> OrphanQuotas(int orphans, int memberships,
                                      absl::Span<const uint32_t> weights) {
  const size_t n = weights.size();
  std::vector<bool> capped(n, false);
  absl::uint128 rest_memberships = static_cast<uint64_t>(memberships);
  absl::uint128 rest_weight = 0;
  for (uint32_t w : weights) rest_weight += w;
  const absl::uint128 cap = static_cast<uint64_t>(orphans);
  for (bool changed = true; changed && rest_weight > 0;) {
    changed = false;
    std::vector<size_t> over;
    for (size_t i = 0; i < n; ++i) {
      if (!capped[i] && rest_memberships * weights[i] > cap * rest_weight) over.push_back(i);
    }
    for (size_t i : over) {
      capped[i] = true;
      rest_memberships -= cap;
      rest_weight -= weights[i];
      changed = true;
    }
  }
  std::vector<QuotaBounds> bounds(n);
  for (size_t i = 0; i < n; ++i) {
    if (capped[i]) {
      bounds[i] = {.floor = orphans, .ceil = orphans};
      continue;
    }
    const absl::uint128 share = rest_memberships * weights[i];
    const int floor = static_cast<int>(absl::Uint128Low64(share / rest_weight));
    bounds[i] = {.floor = floor, .ceil = floor + (share % rest_weight != 0 ? 1 : 0)};
  }
  return bounds;
}

// The orphan sets as a minimum-cost flow. Source -> orphan broker: capacity s. Broker -> agent:
// capacity 1, cost 0 for a membership that was in `previous`, 1 for a new one. Agent -> sink: two
// parallel arcs, capacity floor_i at cost 0 and capacity ceil_i - floor_i at cost M + 1. Every
// solution carries M units, M - sum(floor) of them on extra arcs at least, so a cheapest one
// fills every floor (one extra unit more costs more than any number of new memberships saves) and
// then has the fewest new memberships, hence also the fewest dropped ones. A flow of value M with
// the floors filled exists: the ceils add up to at least M and none exceeds O (Gale-Ryser, rows
// of equal sums).
//
// Successive shortest paths. Costs are not negative, so the empty flow is optimal, and the cost
// of the cheapest augmenting path never decreases from one augmentation to the next. Hence, while
// the last cheapest path found cost `level`, any direct path (broker short of members -> agent
// not yet in its set -> sink) that costs `level` is also a cheapest one: such paths are taken
// greedily (the Gale-Ryser construction: brokers missing most first, agents with the most room
// first), and a queue-based Bellman-Ford search over the residual graph (which has no negative
// cycle) is run only when none is left. Where agents are otherwise equal, the less loaded one is
// taken, then the one with the smaller node id.
class OrphanFlow {
 public:
  // `bounds` and `load` are per agent, agents in node id order.
  OrphanFlow(int brokers, int set_size, absl::Span<const QuotaBounds> bounds,
             absl::Span<const double> load, std::vector<uint8_t> was_member)
      : brokers_(brokers),
        agents_(static_cast<int>(bounds.size())),
        set_size_(set_size),
        bounds_(bounds),
        load_(load),
        was_member_(std::move(was_member)),
        member_(was_member_.size(), 0),
        broker_count_(brokers, 0),
        agent_count_(agents_, 0),
        wanted_(static_cast<int64_t>(brokers) * set_size),
        extra_cost_(wanted_ + 1) {}

  // Returns member[b * agents + i] != 0 when agent i serves orphan broker b.
  std::vector<uint8_t> Solve() && {
    int64_t level = 0;
    while (flow_ < wanted_) {
      AddDirectPaths(level);
      if (flow_ == wanted_) break;
      const int64_t cost = AugmentAlongCheapestPath();
      if (cost < 0) break;  // Unreachable: a flow of value M exists.
      level = cost;
    }
    return std::move(member_);
  }

 private:
  static constexpr int64_t kNoPath = std::numeric_limits<int64_t>::max();

  size_t Cell(int b, int i) const { return static_cast<size_t>(b) * agents_ + i; }

  // Cost of the cheapest arc from agent i to the sink; kNoPath when it is full.
  int64_t SinkCost(int i) const {
    if (agent_count_[i] < bounds_[i].floor) return 0;
    if (agent_count_[i] < bounds_[i].ceil) return extra_cost_;
    return kNoPath;
  }

  int64_t ArcCost(size_t cell) const { return was_member_[cell] ? 0 : 1; }

  // Agent a is a better end of a path than agent b: less loaded, then smaller node id.
  bool PreferredEnd(int a, int b) const { return std::tie(load_[a], a) < std::tie(load_[b], b); }

  void AddDirectPaths(int64_t level) {
    std::vector<int> order(brokers_);
    for (int b = 0; b < brokers_; ++b) order[b] = b;
    std::stable_sort(order.begin(), order.end(),
                     [this](int a, int b) { return broker_count_[a] < broker_count_[b]; });
    auto room = [this](int i) {
      return agent_count_[i] < bounds_[i].floor ? bounds_[i].floor - agent_count_[i]
                                                : bounds_[i].ceil - agent_count_[i];
    };
    for (int b : order) {
      while (broker_count_[b] < set_size_) {
        int best = -1;
        for (int i = 0; i < agents_; ++i) {
          const size_t c = Cell(b, i);
          if (member_[c] || SinkCost(i) == kNoPath || SinkCost(i) + ArcCost(c) != level) continue;
          if (best < 0 || room(i) > room(best) ||
              (room(i) == room(best) && PreferredEnd(i, best))) {
            best = i;
          }
        }
        if (best < 0) break;
        member_[Cell(b, best)] = 1;
        ++broker_count_[b];
        ++agent_count_[best];
        ++flow_;
      }
    }
  }

  // Finds a cheapest path from a broker short of members to the sink in the residual graph
  // (broker -> agent adds a membership, agent -> broker drops one), applies it and returns its
  // cost; -1 when there is none. Nodes: brokers [0, B), agents [B, B + A).
  int64_t AugmentAlongCheapestPath() {
    const int nodes = brokers_ + agents_;
    std::vector<int64_t> dist(nodes, kNoPath);
    std::vector<int> parent(nodes, -1);
    std::vector<uint8_t> queued(nodes, 0);
    std::deque<int> queue;
    auto relax = [&](int from, int to, int64_t cost) {
      if (dist[from] + cost >= dist[to]) return;
      dist[to] = dist[from] + cost;
      parent[to] = from;
      if (!queued[to]) {
        queued[to] = 1;
        queue.push_back(to);
      }
    };
    for (int b = 0; b < brokers_; ++b) {
      if (broker_count_[b] < set_size_) {
        dist[b] = 0;
        queue.push_back(b);
        queued[b] = 1;
      }
    }
    while (!queue.empty()) {
      const int u = queue.front();
      queue.pop_front();
      queued[u] = 0;
      if (u < brokers_) {
        for (int i = 0; i < agents_; ++i) {
          const size_t c = Cell(u, i);
          if (!member_[c]) relax(u, brokers_ + i, ArcCost(c));
        }
      } else {
        const int i = u - brokers_;
        for (int b = 0; b < brokers_; ++b) {
          const size_t c = Cell(b, i);
          if (member_[c]) relax(u, b, -ArcCost(c));
        }
      }
    }
    int end = -1;
    int64_t best = kNoPath;
    for (int i = 0; i < agents_; ++i) {
      const int64_t sink = SinkCost(i);
      if (sink == kNoPath || dist[brokers_ + i] == kNoPath) continue;
      const int64_t cost = dist[brokers_ + i] + sink;
      if (end < 0 || cost < best || (cost == best && PreferredEnd(i, end))) {
        end = i;
        best = cost;
      }
    }
    if (end < 0) return -1;
    // Walk back: agent <- broker (add) <- agent (drop) <- broker (add) ... <- first broker.
    int agent = brokers_ + end;
    for (int steps = 0; steps <= nodes; ++steps) {
      const int b = parent[agent];
      member_[Cell(b, agent - brokers_)] = 1;
      const int previous_agent = parent[b];
      if (previous_agent < 0) {
        ++broker_count_[b];
        ++agent_count_[end];
        ++flow_;
        return best;
      }
      member_[Cell(b, previous_agent - brokers_)] = 0;
      agent = previous_agent;
    }
    return -1;  // Unreachable: parent pointers of a shortest-path tree have no cycle.
  }

  const int brokers_;
  const int agents_;
  const int set_size_;
  const absl::Span<const QuotaBounds> bounds_;
  const absl::Span<const double> load_;
  const std::vector<uint8_t> was_member_;
  std::vector<uint8_t> member_;
  std::vector<int> broker_count_;
  std::vector<int> agent_count_;
  const int64_t wanted_;
  const int64_t extra_cost_;
  int64_t flow_ = 0;
};

double LoadOf(const AgentLoad* load, const std::string& node_id) {
  if (load == nullptr) return 0;
  const auto it = load->find(node_id);
  if (it == load->end()) return 0;
  return std::isnan(it->second) ? std::numeric_limits<double>::infinity() : it->second;
}

}  // namespace

BrokerAgents ComputeAssignment(absl::Span<const Broker> brokers, absl::Span<const Agent> agents,
                               const BrokerAgents& previous, const AgentLoad* load) {
  const std::vector<Broker> all_brokers = CanonicalBrokers(brokers);
  const std::vector<Agent> all_agents = CanonicalAgents(agents);
  BrokerAgents result;
  for (const Broker& b : all_brokers) result[b.id];
  if (all_agents.empty()) return result;

  const bool all_draining =
      std::all_of(all_agents.begin(), all_agents.end(), [](const Agent& a) { return a.draining; });
  std::vector<const Agent*> active;  // Sorted by node id.
  absl::flat_hash_map<absl::string_view, std::vector<std::string>> rack_agents;
  for (const Agent& a : all_agents) {
    if (a.draining && !all_draining) continue;
    active.push_back(&a);
    rack_agents[a.rack].push_back(a.node_id);
  }

  std::vector<int32_t> orphans;  // Sorted by id.
  for (const Broker& b : all_brokers) {
    const auto it = rack_agents.find(b.rack);
    if (it != rack_agents.end()) {
      result[b.id] = it->second;
    } else {
      orphans.push_back(b.id);
    }
  }
  if (orphans.empty()) return result;

  const int num_orphans = static_cast<int>(orphans.size());
  const int num_agents = static_cast<int>(active.size());
  const int set_size = std::max(1, num_agents / num_orphans);
  const int memberships = num_orphans * set_size;

  absl::flat_hash_map<absl::string_view, int> agent_index;
  for (int i = 0; i < num_agents; ++i) agent_index[active[i]->node_id] = i;
  std::vector<uint8_t> was_member(static_cast<size_t>(num_orphans) * num_agents, 0);
  for (int b = 0; b < num_orphans; ++b) {
    const auto it = previous.find(orphans[b]);
    if (it == previous.end()) continue;
    for (const std::string& node_id : it->second) {
      const auto agent = agent_index.find(node_id);
      if (agent == agent_index.end()) continue;
      was_member[static_cast<size_t>(b) * num_agents + agent->second] = 1;
    }
  }

  std::vector<uint32_t> weights(num_agents);
  std::vector<double> agent_load(num_agents);
  for (int i = 0; i < num_agents; ++i) {
    weights[i] = active[i]->weight;
    agent_load[i] = LoadOf(load, active[i]->node_id);
  }
  const std::vector<QuotaBounds> quotas = OrphanQuotas(num_orphans, memberships, weights);
  const std::vector<uint8_t> member =
      OrphanFlow(num_orphans, set_size, quotas, agent_load, std::move(was_member)).Solve();
  for (int b = 0; b < num_orphans; ++b) {
    std::vector<std::string>& set = result[orphans[b]];
    for (int i = 0; i < num_agents; ++i) {
      if (member[static_cast<size_t>(b) * num_agents + i]) set.push_back(active[i]->node_id);
    }
  }
  return result;
}

}  // namespace kgw::assignment
