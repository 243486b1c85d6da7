// What one coordinator knows and decides: the gateway group's membership, the
// brokers, the assignment in force, drains, and the agents' load reports.
//
// Every coordinator follows the group; the one LeaderCoordinator() names for
// the current generation computes assignments, writes them through the
// Publisher (the compacted assignments topic) and serves them. Followers take
// theirs from the topic (OnStoredAssignment) and serve those. Either way the
// gRPC services read from here and wait here for newer assignments.
//
// Thread-safe. Inputs arrive from the group member's thread, the metadata
// refresher, the topic tail and gRPC threads; Run() is the one thread that
// computes and publishes, so a slow topic write never holds the lock.
#ifndef KGW_COORDINATOR_CONTROL_STATE_H_
#define KGW_COORDINATOR_CONTROL_STATE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/cluster/broker_directory.h"
#include "common/membership/group_member.h"
#include "common/sync/background_loop.h"
#include "kgw/v1/admin.pb.h"
#include "kgw/v1/assignment.pb.h"

namespace kgw::coordinator {

class ControlState {
 public:
  struct Options {
    std::string node_id;
    std::string cluster_id;
    std::string group_id;
    std::string version;
    // How long a drain or resume waits for the leader's new assignment.
    absl::Duration mutation_timeout = absl::Seconds(10);
    // How long a new leader waits for its view of the group to reach the
    // generation of the stored assignment before it supersedes that (the
    // group session timeout).
    absl::Duration view_catch_up = absl::Seconds(10);
    // Stamps the cluster key's proof into each assignment this leader makes.
    std::function<void(v1::Assignment&)> sign;
    // This coordinator's gRPC endpoint, stamped into its assignments
    // (Assignment.leader_endpoint): a starting agent streams there before the
    // group names the coordinators.
    std::string grpc_endpoint;
    // An agent that streams a proven descriptor before the group lists it
    // is assigned for this long after its stream opened, so that a join
    // reaches the fleet without waiting for the group's rebalance; after
    // that only the group counts. Zero: only the group counts.
    absl::Duration admit_streaming_for = absl::ZeroDuration();
    // Whether stream descriptors are proven (the cluster key is set); none
    // is admitted otherwise. Unset: never.
    std::function<bool()> streams_proven;
  };
  // Stores an assignment durably before it is served (the assignments topic).
  using Publisher = std::function<absl::Status(const v1::Assignment&)>;

  ControlState(Options options, Publisher publisher);

  // Inputs.
  void OnView(const std::optional<membership::View>& view);
  void OnBrokers(std::vector<cluster::BrokerEndpoint> brokers);
  void OnStoredAssignment(const v1::Assignment& assignment);
  // The newest stored assignment has been read (or the topic is empty or
  // missing). Until then this coordinator does not compute, even as leader,
  // so it cannot publish over drains it has not seen yet.
  void OnStoredAssignmentLoaded();
  // A record of the topic was refused (no valid proof of the cluster key).
  void OnRefusedAssignment();
  void OnLoad(const std::string& node_id, const v1::LoadReport& load);
  void OnAgentStream(const std::string& node_id, bool connected);
  // A descriptor an agent sent on its stream. One that says `draining` is
  // an agent shutting down: it keeps its place in the group (a restart costs
  // no rebalance) but is given no brokers until it streams again without it.
  // A sidecar's registers it until its last stream closes.
  void OnAgentDescriptor(const v1::NodeDescriptor& node);

  // Starts the computing thread. Stop asks it to end and wakes every
  // waiter; Join (or the destructor) waits for it.
  void Start();
  void Stop();
  void Join();
  bool Stopping() const;

  // Drains or resumes an agent (leader only) and returns the assignment that
  // applies it. FailedPrecondition when this coordinator is not the leader
  // (see LeaderEndpoint), NotFound for a node id that is no agent.
  absl::StatusOr<v1::Assignment> SetDrained(const std::string& node_id, bool drained);

  // Reads.
  bool IsLeader() const;
  bool Ready() const;  // a group member that knows the brokers
  // gRPC endpoint of the leading coordinator; nullopt when none is known.
  std::optional<std::string> LeaderEndpoint() const;
  // The assignment in force; nullopt before the first.
  std::optional<v1::Assignment> Current() const;
  // Waits up to `max_wait` for an assignment newer than `after` (any, when
  // null) or for `give_up` to return true or Stop(); returns it or nullopt.
  std::optional<v1::Assignment> WaitNewer(const v1::Assignment* after, absl::Duration max_wait,
                                          const std::function<bool()>& give_up);
  // Wakes every WaitNewer so it re-checks its give_up condition.
  void WakeWaiters();

  v1::ClusterStatus Status() const;
  v1::ListNodesResponse Nodes() const;
  v1::ListBrokersResponse Brokers() const;
  absl::StatusOr<v1::ExplainRouteResponse> Explain(const v1::ExplainRouteRequest& request) const;

  struct Counters {
    int64_t published = 0;
    int64_t publish_failures = 0;
    int64_t agent_streams = 0;  // agents streaming now
    int64_t refused_assignments = 0;  // topic records without a valid proof
  };
  Counters counters() const;

 private:
  // The computing thread: publishes the leader's next assignment whenever
  // its inputs change.
  void Run();
  bool IsLeaderLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Computes the leader's next assignment; nullopt when nothing changed.
  std::optional<v1::Assignment> NextAssignmentLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void InstallLocked(const v1::Assignment& a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  const Publisher publisher_;

  mutable std::mutex mu_;
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<membership::View> view_ ABSL_GUARDED_BY(mu_);
  // The node ids of view_'s members.
  absl::flat_hash_set<std::string> member_ids_ ABSL_GUARDED_BY(mu_);
  bool IsMemberLocked(const std::string& node_id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return member_ids_.contains(node_id);
  }
  std::vector<cluster::BrokerEndpoint> brokers_ ABSL_GUARDED_BY(mu_);
  bool brokers_known_ ABSL_GUARDED_BY(mu_) = false;
  bool stored_loaded_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<v1::Assignment> current_ ABSL_GUARDED_BY(mu_);
  // The leader's drained agents; followers mirror the assignment's.
  std::set<std::string> drained_ ABSL_GUARDED_BY(mu_);
  bool was_leader_ ABSL_GUARDED_BY(mu_) = false;
  // The leader's epoch: above every assignment it had seen when it took over.
  int64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  // Since when the stored assignment's generation has been ahead of the view.
  absl::Time ahead_since_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::flat_hash_map<std::string, v1::LoadReport> loads_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> streams_ ABSL_GUARDED_BY(mu_);
  // Agents that said on their stream that they are shutting down.
  std::set<std::string> departing_ ABSL_GUARDED_BY(mu_);
  // Agents streaming here, with their descriptor and when their stream
  // opened: those the group does not list yet are assigned for
  // admit_streaming_for (AdmittedLocked).
  struct Streaming {
    v1::NodeDescriptor node;
    absl::Time since;
  };
  std::map<std::string, Streaming> streaming_ ABSL_GUARDED_BY(mu_);
  absl::Time admission_recheck_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  // The streaming agents assigned now although the group does not list
  // them, sorted by node id; and when the first of them stops being.
  std::vector<v1::Member> AdmittedLocked(absl::Time now, absl::Time* next_expiry) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sidecar agents streaming to this coordinator: not group members, never
  // assigned brokers; listed, and drained, by node id.
  std::map<std::string, v1::NodeDescriptor> sidecars_ ABSL_GUARDED_BY(mu_);
  Counters counters_ ABSL_GUARDED_BY(mu_);

  // Wakes the computing thread for its work and every waiter for a new
  // assignment. Last, so that it stops before the state its thread uses goes.
  sync::BackgroundLoop loop_{mu_};
};

}  // namespace kgw::coordinator

#endif  // KGW_COORDINATOR_CONTROL_STATE_H_
