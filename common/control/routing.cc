#include "common/control/routing.h"

#include <algorithm>
#include <map>
#include <memory>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/time/clock.h"
#include "common/assignment/rendezvous.h"
#include "common/control/broker_port.h"

namespace kgw::control {

std::optional<std::string> LeaderCoordinator(const membership::View& view) {
  std::optional<std::string> leader;
  for (const v1::Member& m : view.members) {
    if (m.node().role() != v1::NodeDescriptor::ROLE_COORDINATOR) continue;
    if (!leader || m.node().node_id() < *leader) leader = m.node().node_id();
  }
  return leader;
}

std::optional<std::string> LeaderEndpoint(const membership::View& view) {
  const std::optional<std::string> leader = LeaderCoordinator(view);
  if (!leader) return std::nullopt;
  for (const v1::Member& m : view.members) {
    if (m.node().node_id() == *leader) return m.node().grpc_endpoint();
  }
  return std::nullopt;
}

bool IsNewer(const v1::Assignment& a, const v1::Assignment& b) {
  return std::make_tuple(a.epoch(), a.generation_id(), a.revision()) >
         std::make_tuple(b.epoch(), b.generation_id(), b.revision());
}

bool Plausible(const v1::Assignment& a) {
  return a.epoch() >= 0 && a.epoch() <= kMaxPlausibleEpoch && a.revision() >= 0 &&
         a.revision() <= kMaxPlausibleEpoch;
}

std::vector<int32_t> NumberAgentSets(const std::vector<const std::vector<std::string>*>& sets,
                                     const v1::Assignment* previous) {
  const int n = static_cast<int>(sets.size());
  std::vector<int32_t> number(n, 0);
  const int old_count = previous != nullptr ? previous->agent_sets_size() : 0;
  std::vector<bool> taken(old_count + 1, false);
  // The same agents: the same number.
  std::map<std::vector<std::string>, int32_t> old_numbers;
  for (int i = old_count; i >= 1; --i) {
    const auto& ids = previous->agent_sets(i - 1).agent_node_ids();
    old_numbers[std::vector<std::string>(ids.begin(), ids.end())] = i;
  }
  for (int i = 0; i < n; ++i) {
    auto it = old_numbers.find(*sets[i]);
    if (it != old_numbers.end() && !taken[it->second]) {
      number[i] = it->second;
      taken[it->second] = true;
    }
  }
  // Else the unclaimed old set with the most agents in common, counted
  // through an index of which old sets hold each agent; bounded, so that a
  // pathological fleet of many overlapping sets costs no more than a
  // renumbering.
  absl::flat_hash_map<std::string, std::vector<int32_t>> holding;
  for (int i = 1; i <= old_count; ++i) {
    if (taken[i]) continue;
    for (const std::string& id : previous->agent_sets(i - 1).agent_node_ids()) {
      holding[id].push_back(i);
    }
  }
  int64_t budget = 4'000'000;
  for (int i = 0; i < n && !holding.empty() && budget > 0; ++i) {
    if (number[i] != 0) continue;
    absl::flat_hash_map<int32_t, int64_t> common;
    for (const std::string& id : *sets[i]) {
      auto it = holding.find(id);
      if (it == holding.end()) continue;
      budget -= static_cast<int64_t>(it->second.size());
      for (int32_t old : it->second) {
        if (!taken[old]) ++common[old];
      }
    }
    int32_t best = 0;
    for (const auto& [old, count] : common) {
      if (best == 0 || count > common[best] || (count == common[best] && old < best)) best = old;
    }
    if (best != 0) {
      number[i] = best;
      taken[best] = true;
    }
  }
  // New sets take the numbers of sets that are gone, then the next ones.
  int32_t next_free = 1;
  const auto free_number = [&] {
    while (next_free <= old_count && taken[next_free]) ++next_free;
    return next_free++;
  };
  for (int i = 0; i < n; ++i) {
    if (number[i] == 0) number[i] = free_number();
  }
  // Numbers past the count (old sets gone, none new in their place) move down
  // into the holes, the highest first, so that sets stay numbered 1..n.
  std::vector<bool> used(std::max(n, old_count) + 2, false);
  for (int32_t k : number) {
    if (k <= n) used[k] = true;
  }
  int32_t hole = 1;
  for (int i = 0; i < n; ++i) {
    if (number[i] <= n) continue;
    while (used[hole]) ++hole;
    number[i] = hole;
    used[hole] = true;
  }
  return number;
}

v1::Assignment BuildAssignment(const AssignmentInputs& inputs, const std::string& leader_node_id,
                               int64_t revision) {
  std::vector<assignment::Broker> brokers;
  for (const cluster::BrokerEndpoint& b : inputs.brokers) {
    brokers.push_back({.id = b.node_id, .rack = b.rack.value_or("")});
  }
  std::vector<assignment::Agent> agents;
  absl::flat_hash_map<std::string, const v1::NodeDescriptor*> descriptors;
  if (inputs.view != nullptr) {
    for (const v1::Member* m : inputs.view->WithRole(v1::NodeDescriptor::ROLE_AGENT)) {
      const v1::NodeDescriptor& d = m->node();
      if (!descriptors.emplace(d.node_id(), &d).second) continue;  // one entry per node id
      agents.push_back({.node_id = d.node_id(),
                        .rack = d.rack(),
                        .weight = d.weight(),
                        .draining = d.draining() || inputs.drained.contains(d.node_id())});
    }
  }
  std::sort(brokers.begin(), brokers.end(),
            [](const assignment::Broker& a, const assignment::Broker& b) { return a.id < b.id; });
  assignment::BrokerAgents previous;
  if (inputs.previous != nullptr) {
    for (const v1::BrokerAssignment& b : inputs.previous->brokers()) {
      const auto& ids = EligibleIds(*inputs.previous, b);
      previous[b.broker_id()].assign(ids.begin(), ids.end());
    }
  }
  const assignment::BrokerAgents computed =
      assignment::ComputeAssignment(brokers, agents, previous, inputs.load);

  v1::Assignment out;
  out.set_generation_id(inputs.view != nullptr ? inputs.view->generation_id : -1);
  out.set_leader_node_id(leader_node_id);
  out.set_revision(revision);
  out.set_computed_at_ms(absl::ToUnixMillis(absl::Now()));
  // Each distinct set once, numbered as NumberAgentSets says.
  std::vector<const std::vector<std::string>*> fresh;
  std::map<std::vector<std::string>, size_t> position;
  for (const assignment::Broker& b : brokers) {
    auto it = computed.find(b.id);
    if (it == computed.end() || it->second.empty()) continue;
    if (position.emplace(it->second, fresh.size()).second) fresh.push_back(&it->second);
  }
  const std::vector<int32_t> number = NumberAgentSets(fresh, inputs.previous);
  std::vector<const std::vector<std::string>*> by_number(fresh.size());
  for (size_t i = 0; i < fresh.size(); ++i) by_number[number[i] - 1] = fresh[i];
  std::set<std::string> named;
  for (const std::vector<std::string>* set : by_number) {
    v1::AgentSet* s = out.add_agent_sets();
    for (const std::string& id : *set) {
      s->add_agent_node_ids(id);
      named.insert(id);
    }
  }
  for (const assignment::Broker& b : brokers) {
    v1::BrokerAssignment* ba = out.add_brokers();
    ba->set_broker_id(b.id);
    ba->set_broker_rack(b.rack);
    auto it = computed.find(b.id);
    if (it == computed.end() || it->second.empty()) continue;
    ba->set_agent_set(number[position.at(it->second)]);
  }
  for (const std::string& id : named) {
    const v1::NodeDescriptor& d = *descriptors.at(id);
    v1::AgentEndpoint* e = out.add_agents();
    e->set_node_id(id);
    e->set_advertised_host(d.advertised_host());
    e->set_port_start(d.port_start());
    e->set_min_broker_id(d.min_broker_id());
    e->set_rack(d.rack());
    e->set_weight(d.weight());
  }
  for (const std::string& id : inputs.drained) out.add_draining_node_ids(id);
  return out;
}

bool Drains(const v1::Assignment& a, const std::string& node_id) {
  return std::find(a.draining_node_ids().begin(), a.draining_node_ids().end(), node_id) !=
         a.draining_node_ids().end();
}

bool SameRouting(const v1::Assignment& a, const v1::Assignment& b) {
  // Brokers by their agents, not by set numbers: those depend on the history.
  if (a.brokers_size() != b.brokers_size()) return false;
  for (int i = 0; i < a.brokers_size(); ++i) {
    const v1::BrokerAssignment& x = a.brokers(i);
    const v1::BrokerAssignment& y = b.brokers(i);
    const auto& xs = EligibleIds(a, x);
    const auto& ys = EligibleIds(b, y);
    if (x.broker_id() != y.broker_id() || x.broker_rack() != y.broker_rack() ||
        !std::equal(xs.begin(), xs.end(), ys.begin(), ys.end())) {
      return false;
    }
  }
  const auto key = [](const v1::Assignment& x) {
    v1::Assignment k;
    *k.mutable_agents() = x.agents();
    *k.mutable_draining_node_ids() = x.draining_node_ids();
    return k.SerializeAsString();
  };
  return key(a) == key(b);
}

int32_t PortFor(const v1::AgentEndpoint& agent, int32_t broker_id) {
  return static_cast<int32_t>(BrokerPort(agent.port_start(), agent.min_broker_id(), broker_id));
}

RouteIndex::RouteIndex(v1::Assignment assignment, const absl::flat_hash_set<std::string>* live)
    : assignment_(std::move(assignment)) {
  absl::flat_hash_map<std::string, const v1::AgentEndpoint*> agents;
  for (const v1::AgentEndpoint& e : assignment_.agents()) agents.emplace(e.node_id(), &e);
  // Brokers that share a set share its list of candidates.
  absl::flat_hash_map<const void*, std::shared_ptr<const Candidates>> lists;
  for (const v1::BrokerAssignment& b : assignment_.brokers()) {
    Broker& broker = brokers_[b.broker_id()];
    broker.rack = b.broker_rack();
    const auto& ids = EligibleIds(assignment_, b);
    std::shared_ptr<const Candidates>& list = lists[&ids];
    if (list == nullptr) {
      auto eligible = std::make_shared<Candidates>();
      for (const std::string& id : ids) {
        if (auto it = agents.find(id); it != agents.end()) eligible->push_back(it->second);
      }
      if (live != nullptr) {
        Candidates alive;
        for (const v1::AgentEndpoint* e : *eligible) {
          if (live->contains(e->node_id())) alive.push_back(e);
        }
        if (!alive.empty()) *eligible = std::move(alive);
      }
      list = std::move(eligible);
    }
    broker.eligible = list;
  }
}

const v1::AgentEndpoint* RouteIndex::Pick(int32_t broker_id,
                                          std::string_view client_key) const {
  auto it = brokers_.find(broker_id);
  if (it == brokers_.end()) return nullptr;
  const v1::AgentEndpoint* best = nullptr;
  double best_score = 0;
  for (const v1::AgentEndpoint* e : *it->second.eligible) {
    const double score = assignment::RendezvousScore(client_key, e->node_id(), e->weight());
    if (best == nullptr || score > best_score ||
        (score == best_score && e->node_id() < best->node_id())) {
      best = e;
      best_score = score;
    }
  }
  return best;
}

RouteDecision RouteIndex::Route(int32_t broker_id, std::string_view client_id,
                                std::string_view client_host) const {
  RouteDecision d;
  d.broker_id = broker_id;
  auto it = brokers_.find(broker_id);
  if (it == brokers_.end()) return d;
  d.broker_rack = it->second.rack;
  const std::string key = assignment::ClientKey(client_id, client_host);
  for (const v1::AgentEndpoint* e : *it->second.eligible) {
    d.candidates.push_back({*e, assignment::RendezvousScore(key, e->node_id(), e->weight())});
  }
  std::sort(d.candidates.begin(), d.candidates.end(),
            [](const ScoredAgent& a, const ScoredAgent& b) {
              return a.score != b.score ? a.score > b.score
                                        : a.agent.node_id() < b.agent.node_id();
            });
  // Sorted by Pick's rule (highest score, then smallest node id).
  if (d.candidates.empty()) return d;
  d.chosen = d.candidates.front().agent;
  d.host = d.chosen->advertised_host();
  d.port = PortFor(*d.chosen, broker_id);
  return d;
}

RouteDecision Route(const v1::Assignment& assignment, int32_t broker_id,
                    std::string_view client_id, std::string_view client_host,
                    const absl::flat_hash_set<std::string>* live) {
  return RouteIndex(assignment, live).Route(broker_id, client_id, client_host);
}

}  // namespace kgw::control
