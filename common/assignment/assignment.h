// Rack-aware assignment of Kafka brokers to gateway agents.
//
// The coordinator leader decides, for every broker of the cluster, which agents may serve it
// (the broker's *eligible agents*); each client is then sent to one agent of that set by
// weighted rendezvous hashing (rendezvous.h). ComputeAssignment is a pure function: no I/O, no
// clock, no randomness, and no dependence on the order of its inputs or on hash-map iteration
// order. Every coordinator, and an agent that computes a fallback on its own, therefore derives
// the same assignment from the same inputs. It keeps no state and may be called from any thread.
//
// The rules, in the order they are applied:
//
// 1. Rack locality. An agent is *active* when it is not draining. A broker whose rack has at
//    least one active agent is served by exactly the active agents of its rack. Racks are
//    compared as strings, and the empty rack (a broker or agent that reports none) is a rack of
//    its own: rack-less brokers are served by all active rack-less agents, never by an agent with
//    a rack while an active rack-less agent exists.
//
// 2. Orphan brokers. A broker whose rack has no active agent is an *orphan* and is served by
//    agents of other racks. With A active agents and O orphans, every orphan gets
//        s = max(1, floor(A / O))
//    distinct agents, M = O * s memberships in all. Agent i's quota of them is proportional to
//    its weight w_i: q_i = M * w_i / W, W the sum of the weights. An agent can be in an orphan set
//    only once, so a quota above O is capped at O and the excess is shared among the other agents
//    in proportion to their weights, repeatedly, until no quota exceeds O. Every agent is then in
//    floor(q_i) or ceil(q_i) orphan sets (computed exactly, in integers). With equal weights that
//    means no agent is in more than one orphan set more than any other. Which agents get their
//    ceil rather than their floor follows from rule 3; where that leaves a choice, the less
//    loaded agents according to `load` get the extra memberships, then those with the smaller
//    node ids. Load only breaks these ties: it never moves a count outside
//    [floor(q_i), ceil(q_i)] and never costs a move.
//
// 3. Few moves. Orphan sets are built from `previous`: memberships of active agents are kept as
//    far as set sizes and rule 2 allow, and the rest is filled in. Among all assignments that
//    follow rules 1 and 2, the result differs from `previous` in the fewest orphan memberships
//    (the orphan sets are a minimum-cost flow in which kept memberships cost nothing), so an
//    agent joining, leaving or draining moves only what the new quotas require. Recomputing
//    with `previous` set to the result gives the result again. Rack-local sets follow from
//    rule 1 alone.
//
// 4. Drains. A draining agent is eligible for no broker, unless every agent is draining: then
//    drain flags are ignored, so that no broker is left without an agent. While `agents` is
//    non-empty no broker's set is empty; with no agents at all, every broker maps to an empty
//    set.
//
// 5. Order. Each set is sorted by node id.
//
// Inputs are taken as they are: broker ids and agent node ids are meant to be unique, and should
// one repeat, the entry that sorts first (by rack, then weight, then drain flag) is used, so that
// the result still does not depend on input order. Weight 0 means 100. Entries of `previous` for
// brokers or agents that are gone, and repeated node ids within one entry, are ignored. An agent
// missing from `load` carries 0 bytes/s; a NaN load counts as the highest.
#ifndef KGW_COMMON_ASSIGNMENT_ASSIGNMENT_H_
#define KGW_COMMON_ASSIGNMENT_ASSIGNMENT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"

namespace kgw::assignment {

// A Kafka broker as the cluster's metadata describes it.
struct Broker {
  int32_t id = 0;
  // broker.rack; empty when the broker has none.
  std::string rack;
};

// A live gateway agent, as a member of the gateway group describes itself.
struct Agent {
  std::string node_id;
  // Rack (zone) of the agent; empty when unknown.
  std::string rack;
  // Relative capacity. 0 means kDefaultWeight.
  uint32_t weight = 100;
  // Drained by an operator: keeps its connections but is given no brokers.
  bool draining = false;
};

inline constexpr uint32_t kDefaultWeight = 100;

// Broker id -> eligible agents' node ids, in the order of rule 5.
using BrokerAgents = std::map<int32_t, std::vector<std::string>>;

// Bytes/s an agent currently carries, by node id.
using AgentLoad = absl::flat_hash_map<std::string, double>;

// Computes the eligible agents of every broker in `brokers` by the rules above. `previous` is the
// assignment currently in force (empty on a first run); `load` may be null.
BrokerAgents ComputeAssignment(absl::Span<const Broker> brokers, absl::Span<const Agent> agents,
                               const BrokerAgents& previous, const AgentLoad* load = nullptr);

}  // namespace kgw::assignment

#endif  // KGW_COMMON_ASSIGNMENT_ASSIGNMENT_H_
