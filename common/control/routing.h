// The control plane's shared vocabulary, used by coordinators and agents
// alike so both derive the same answers from the same inputs:
//
// - which coordinator leads a generation (LeaderCoordinator);
// - the assignment of a generation, computed from the group's membership and
//   the brokers (BuildAssignment, on common/assignment), as the kgw.v1
//   Assignment that is published, streamed and stored;
// - which agent one client is sent to for one broker (Route), by weighted
//   rendezvous hashing over the broker's eligible agents.
//
// Pure functions; any thread.
#ifndef KGW_COMMON_CONTROL_ROUTING_H_
#define KGW_COMMON_CONTROL_ROUTING_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include <string_view>
#include "common/assignment/assignment.h"
#include "common/control/assignment_wire.h"
#include "common/cluster/broker_directory.h"
#include "common/membership/group_member.h"
#include "kgw/v1/assignment.pb.h"

namespace kgw::control {

// The node id of the coordinator that leads `view`'s generation: the
// coordinator member with the smallest node id. nullopt without coordinators.
std::optional<std::string> LeaderCoordinator(const membership::View& view);

// The gRPC endpoint of that coordinator; nullopt without coordinators.
std::optional<std::string> LeaderEndpoint(const membership::View& view);

// True when `a` supersedes `b`: a later epoch, or the same epoch and a later
// generation, or both the same and a later revision. An older assignment was
// computed by a leader that has since been replaced and must be ignored.
bool IsNewer(const v1::Assignment& a, const v1::Assignment& b);

// Epochs count leaders; one above this was not reached by counting.
inline constexpr int64_t kMaxPlausibleEpoch = int64_t{1} << 62;

// False for an assignment no coordinator can have computed (an epoch or a
// revision past kMaxPlausibleEpoch, a negative one): a forged record that
// could never be superseded. Such assignments are refused.
bool Plausible(const v1::Assignment& a);

struct AssignmentInputs {
  const membership::View* view = nullptr;     // the agents are its ROLE_AGENT members
  std::vector<cluster::BrokerEndpoint> brokers;
  std::set<std::string> drained;              // node ids an operator drained
  const v1::Assignment* previous = nullptr;   // may be null
  const assignment::AgentLoad* load = nullptr;  // may be null
};

// The numbers (1-based, a permutation of 1..sets.size()) under which an
// assignment lists the distinct agent sets `sets`. A set keeps the number it
// had in `previous` (may be null): that of the same agents, else that of the
// old set it has the most agents in common with, unless another set claimed
// it. New sets take the numbers of sets that are gone, then the next ones. So
// a change renumbers nothing, and a delta edits only the sets that changed.
std::vector<int32_t> NumberAgentSets(const std::vector<const std::vector<std::string>*>& sets,
                                     const v1::Assignment* previous);

// The assignment for `inputs`, stamped with the view's generation, the given
// leader and revision, and the current time. Carries the endpoints of every
// agent it names and the drained node ids.
v1::Assignment BuildAssignment(const AssignmentInputs& inputs, const std::string& leader_node_id,
                               int64_t revision);

// True when `a` drains the agent `node_id`.
bool Drains(const v1::Assignment& a, const std::string& node_id);

// True when the two assign the same agents (with the same endpoints) to the
// same brokers and drain the same agents, however their sets are numbered;
// stamps are not compared.
bool SameRouting(const v1::Assignment& a, const v1::Assignment& b);

// One agent's score for a client, as ExplainRoute shows it.
struct ScoredAgent {
  v1::AgentEndpoint agent;
  double score = 0;
};

struct RouteDecision {
  int32_t broker_id = 0;
  std::string broker_rack;
  std::optional<v1::AgentEndpoint> chosen;  // unset when the broker has no eligible agent
  std::string host;
  int32_t port = 0;
  std::vector<ScoredAgent> candidates;  // highest score first
};

// An assignment indexed for routing many clients. `live`, when given, limits
// each broker's candidates to those node ids (the agents the group has now),
// unless none of them is live; so a dead agent stops being advertised as soon
// as the group drops it, even before a new assignment arrives. Keeps a copy
// of the assignment; immutable after construction.
class RouteIndex {
 public:
  RouteIndex(v1::Assignment assignment, const absl::flat_hash_set<std::string>* live);
  RouteIndex(const RouteIndex&) = delete;
  RouteIndex& operator=(const RouteIndex&) = delete;

  // The agent `client_id` at `client_host` (an IP, without port) is sent to
  // for `broker_id`, with every candidate's score.
  RouteDecision Route(int32_t broker_id, std::string_view client_id,
                      std::string_view client_host) const;
  // Just the chosen agent (null when the broker has none); `client_key` is
  // assignment::ClientKey(client id, client host). For the data path.
  const v1::AgentEndpoint* Pick(int32_t broker_id, std::string_view client_key) const;
  const v1::Assignment& assignment() const { return assignment_; }

 private:
  using Candidates = std::vector<const v1::AgentEndpoint*>;
  struct Broker {
    std::string rack;
    std::shared_ptr<const Candidates> eligible;  // never null
  };
  const v1::Assignment assignment_;
  absl::flat_hash_map<int32_t, Broker> brokers_;
};

// RouteIndex(assignment, live).Route(...), for a single question.
RouteDecision Route(const v1::Assignment& assignment, int32_t broker_id,
                    std::string_view client_id, std::string_view client_host,
                    const absl::flat_hash_set<std::string>* live = nullptr);

// The client port an agent serves `broker_id` on.
int32_t PortFor(const v1::AgentEndpoint& agent, int32_t broker_id);

}  // namespace kgw::control

#endif  // KGW_COMMON_CONTROL_ROUTING_H_
