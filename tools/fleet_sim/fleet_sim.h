// Many simulated agents in one process, to measure the control plane at
// fleet scale: how fast assignments converge, what a join or a leave costs,
// how many rebalances a rolling restart causes, against real coordinators
// and the real Kafka group.
//
// A simulated agent is exactly an agent's control-plane code without a data
// path (agent/agent_control.cc wires the same two objects the same way):
//
// - a membership::GroupMember: static membership (its node id as group
//   instance id), keeps its place when it stops (leave_on_stop = false),
//   coordinators-only views, complete views only while the group has no
//   coordinator;
// - an agent::CoordinatorClient fed by those views (the coordinators' gRPC
//   endpoints, the leader's first), streaming the agent's descriptor and an
//   empty load report and receiving assignments;
// - with a cluster key, the same proofs: descriptors and each stream's first
//   message signed, other members and assignments verified.
//
// Agent i has node id "<prefix><i>", advertised host 127.0.1.<1 + i % 250>
// (never bound: nothing connects to it), port_start 20000 + 10 * (i / 250),
// the rack racks[i % racks.size()] and weight 100.
//
// Stopping an agent as a crash stops both objects without a word to anyone:
// the group drops it after the session timeout. A clean shutdown first does
// what AgentControl::Depart does: streams the descriptor with `draining` set
// and waits up to 1 s for it to be written.
//
// One shortcut: agents that hold the same assignment and receive the same
// delta share one rebuild of it (Fleet::ApplyShared), where each real agent
// rebuilds it on its own machine; so the times measure the control plane
// rather than thousands of copies of that work competing for the same cores.
//
// What each agent received is recorded: the last assignment (interned: the
// agents that hold the same assignment share one HeldAssignment), when it
// arrived, how many assignments and bytes the stream brought, and every
// group generation its views named.
//
// Threading: each running agent has the threads of its two objects (three
// while it streams). Fleet's methods are thread-safe; Start, Stop and their
// variants block until the agent's threads have started or been joined.
#ifndef KGW_TOOLS_FLEET_SIM_FLEET_SIM_H_
#define KGW_TOOLS_FLEET_SIM_FLEET_SIM_H_

#include <cstdint>
#include <functional>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config/settings.h"
#include "common/control/cluster_key.h"
#include "kgw/v1/assignment.pb.h"
#include "kgw/v1/node.pb.h"

namespace kgw::fleet_sim {

struct FleetOptions {
  std::vector<config::HostPort> bootstrap;  // the Kafka cluster
  std::string group_id;                     // the gateway group, kgw_<cluster id>
  std::string node_id_prefix = "sim-";
  std::vector<std::string> racks = {"a", "b", "c"};  // agent i is in racks[i % size]
  std::string version;                               // empty: kgw's own
  absl::Duration session_timeout = absl::Seconds(10);
  absl::Duration heartbeat_interval = absl::Seconds(1);
  absl::Duration report_interval = absl::Seconds(5);
  // Connect and request deadline of the group member's Kafka requests (an agent uses
  // GATEWAY_UPSTREAM_CONNECT_TIMEOUT, 10 s by default).
  absl::Duration request_timeout = absl::Seconds(10);
  // GATEWAY_CLUSTER_KEY_FILE's key; null: none (nothing signed or verified).
  std::shared_ptr<const control::ClusterKey> key;
  // Each agent streams on an HTTP/2 connection of its own, as real agents
  // do; false: all agents share one connection per coordinator (gRPC's
  // default within a process), which costs the coordinators less than a
  // real fleet does.
  bool own_connections = true;
  // The coordinators' gRPC endpoints (GATEWAY_COORDINATORS), which sidecars
  // stream to; agents find the coordinators in the group.
  std::vector<std::string> coordinators;
  // The assignments topic (_kgw_<cluster id>_assignments). Each agent reads
  // its newest record when it starts, as an agent does on a cold start, and
  // streams from the coordinator that stored it until the group names the
  // coordinators. Empty: agents wait for the group.
  std::string assignments_topic;
  // Agents heartbeat when a coordinator tells them the group is rebalancing
  // (AgentDirective.heartbeat_now), as real agents do; false: they wait for
  // their next heartbeat, as agents before it did (for comparisons).
  bool heartbeat_now = true;
};

// What a simulated agent received from a coordinator, reduced to what the
// measurements need. Immutable; shared by every agent that holds it.
struct HeldAssignment {
  int64_t epoch = 0;
  int32_t generation_id = 0;
  int64_t revision = 0;
  std::string leader_node_id;
  std::vector<std::string> agents;  // node ids of its `agents`, sorted
  uint64_t fingerprint = 0;         // of `agents`, whatever their order (AgentsFingerprint)
  int64_t bytes = 0;                // its encoded size
  bool plausible = false;           // control::Plausible
  // Its proof, and whether the cluster key verifies it (true without a
  // key). Checked once per distinct assignment, not once per agent: see
  // Fleet::Intern.
  std::string proof;
  bool verified = true;

  bool Names(const std::string& node_id) const;
};

struct AgentReport {
  int index = 0;
  std::string node_id;
  bool sidecar = false;  // a sidecar: no group, never assigned; streams its descriptor only
  bool running = false;
  // The last assignment received since the agent last started; null before.
  std::shared_ptr<const HeldAssignment> assignment;
  absl::Time received_at = absl::InfinitePast();
  // On the stream, since the fleet was made (restarts included); bytes are
  // the encoded size of what the streams carried (whole assignments and
  // deltas).
  int64_t assignments = 0;
  int64_t bytes = 0;
  int64_t last_bytes = 0;  // of the last assignment received, whole
  int64_t refused = 0;     // assignments without a valid proof of the cluster key
  std::string streaming_from;  // the coordinator's endpoint; empty when none
  int32_t generation_id = -1;  // of the agent's current view; -1 when none
  std::set<int32_t> generations;  // every generation its views named
  int64_t fenced = 0;             // times another node took its group place
  // Exchanged with the brokers by its group member, since the fleet was made:
  // heartbeats, and everything else (joining, syncing, finding the group).
  int64_t kafka_heartbeat_bytes = 0;
  int64_t kafka_membership_bytes = 0;
  // Times a coordinator told it the group is rebalancing (heartbeat_now),
  // since the fleet was made.
  int64_t heartbeat_nows = 0;
};

enum class StopMode {
  kCrash,     // no LeaveGroup, no word on the stream
  kShutdown,  // the descriptor with `draining` first, as on SIGTERM
};

class Fleet {
 public:
  // `size` agents, none started.
  Fleet(FleetOptions options, int size);
  ~Fleet();  // StopAll(kCrash)
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Adds one agent (not started) and returns its index.
  int Add();
  // Adds one sidecar (not started) and returns its index. A sidecar is what
  // AgentControl runs for GATEWAY_ROLE=sidecar: no group member, a stream to
  // the coordinators in `FleetOptions::coordinators` that follows the
  // leader a follower names. Sidecar i is "<prefix>sidecar-<i>", advertising
  // localhost, in racks[i % size].
  int AddSidecar();
  int size() const;
  std::string NodeId(int index) const;
  // The descriptor agent `index` joins with and streams (draining unset).
  v1::NodeDescriptor Descriptor(int index) const;

  // Starts every agent that is not running, in index order.
  void StartAll();
  // Stops every running agent, a few at a time.
  void StopAll(StopMode mode);

  // Starts agent `index` as a new process would: no assignment held, its
  // group place taken back when the group still has it. No-op when running.
  void Start(int index);
  // Stops agent `index`; for kShutdown, returns whether the draining
  // descriptor was written to a coordinator stream within 1 s (always true
  // for kCrash). No-op (true) when not running.
  bool Stop(int index, StopMode mode);
  // Stop, then Start.
  bool Restart(int index, StopMode mode);

  AgentReport Report(int index) const;
  std::vector<AgentReport> Reports() const;

 private:
  class Agent;
  // The shared copy of an assignment with this content (the same stamps,
  // agents and proof), its proof checked once: thousands of agents on the
  // simulator's cores would otherwise each hash the whole assignment, which
  // a real agent does once on its own machine.
  std::shared_ptr<const HeldAssignment> Intern(const v1::Assignment& a);
  std::shared_ptr<const HeldAssignment> InternCopy(const v1::Assignment& a);
  // control::ApplyDelta, done once for all the agents that hold the same
  // assignment and receive the same delta (CoordinatorClient's apply_delta).
  absl::StatusOr<std::shared_ptr<const v1::Assignment>> ApplyShared(
      const std::shared_ptr<const v1::Assignment>& held, const v1::AssignmentDelta& delta);

  const FleetOptions options_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Agent>> agents_ ABSL_GUARDED_BY(mu_);
  int sidecars_ ABSL_GUARDED_BY(mu_) = 0;

  // Limits the stored-assignment reads under way at once: each opens a
  // Kafka client of its own, and a cold start of thousands of agents in one
  // process would open thousands at once on the same cores.
  std::mutex reads_mu_;
  std::condition_variable reads_cv_;
  int reads_ ABSL_GUARDED_BY(reads_mu_) = 0;

  std::mutex intern_mu_;
  // (epoch, generation, revision, leader) of recent assignments.
  using InternKey = std::tuple<int64_t, int32_t, int64_t, std::string>;
  std::map<InternKey, std::weak_ptr<const HeldAssignment>> interned_ ABSL_GUARDED_BY(intern_mu_);

  // Assignments rebuilt from deltas, newest last, each with its interned
  // copy (made on first use); held here, so an address names one while it is
  // in the list.
  struct Rebuilt {
    InternKey base;
    std::string digest;  // the delta's, of the rebuilt assignment
    std::shared_ptr<const v1::Assignment> assignment;
    std::shared_ptr<const HeldAssignment> held;
  };
  std::mutex rebuilt_mu_;  // held while rebuilding: the agents that want the same one wait
  std::vector<Rebuilt> rebuilt_ ABSL_GUARDED_BY(rebuilt_mu_);
};

// True when every running agent (sidecars aside) in `reports` holds an
// assignment for which `pred` holds (false when none runs).
bool EveryRunningAgentHolds(const std::vector<AgentReport>& reports,
                            const std::function<bool(const HeldAssignment&)>& pred);

// Node ids of the running agents (sidecars aside) in `reports`, sorted.
std::vector<std::string> RunningNodeIds(const std::vector<AgentReport>& reports);

// Sum of `bytes` over every agent in `reports`.
int64_t TotalBytes(const std::vector<AgentReport>& reports);
// Sums of `kafka_membership_bytes` and of `kafka_heartbeat_bytes`.
int64_t TotalKafkaMembershipBytes(const std::vector<AgentReport>& reports);
int64_t TotalKafkaHeartbeatBytes(const std::vector<AgentReport>& reports);

}  // namespace kgw::fleet_sim

#endif  // KGW_TOOLS_FLEET_SIM_FLEET_SIM_H_
