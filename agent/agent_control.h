// The agent's part in the control plane:
//
// - membership of the gateway group as an agent (its descriptor: node id,
//   advertised host, first port, rack, weight);
// - the assignment, from the first of: the coordinators' stream; on a cold
//   start, the newest record of the assignments topic; failing both, a local
//   computation from the group's membership with the coordinators' own
//   function. The router keeps whichever is newest (generation, revision);
// - load reports (connections and bytes/s per broker) to the coordinator;
// - noticing that an operator drained or resumed this agent.
//
// A sidecar agent (GATEWAY_AGENT_ROLE=sidecar) has only the stream: it joins
// no group and reads no topic, registers its descriptor and load with the
// coordinators, and they tell it whether it is drained (SidecarDirective).
//
// Threading: the group member, the coordinator stream and the cold-start
// reader run on threads of their own; `on_drain` is called on one of them.
#ifndef KGW_AGENT_AGENT_CONTROL_H_
#define KGW_AGENT_AGENT_CONTROL_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "agent/agent_config.h"
#include "agent/agent_metrics.h"
#include "agent/coordinator_client.h"
#include "agent/router.h"
#include "common/cluster/broker_directory.h"
#include "common/control/cluster_key.h"
#include "common/membership/group_member.h"
#include "common/sync/background_loop.h"

namespace kgw::agent {

class AgentControl {
 public:
  // `on_drain(true)` when the assignment starts draining this agent,
  // `on_drain(false)` when it stops.
  // `key` proves this agent's descriptor and stream, and verifies the
  // assignments it installs and the other members it counts.
  // `kafka` is the agent's own connection to Kafka, made once by the agent;
  // the group member and the stored-assignment reader use it.
  AgentControl(const AgentConfig& config, Router& router, cluster::BrokerDirectory& directory,
               AgentMetrics& metrics, std::shared_ptr<const control::ClusterKey> key,
               cluster::OwnKafka kafka, std::function<void(bool)> on_drain);
  ~AgentControl();  // Stop()

  void Start();
  // Leaves the group and closes the coordinator stream.
  void Stop();

  // The agent is stopping: tells the coordinator it streams from, so its
  // brokers move to other agents at once, and waits up to `max_wait` for the
  // message to be sent. The agent keeps its place in the group (static
  // membership): back within the session timeout, it costs no rebalance.
  void Depart(absl::Duration max_wait);

  // Recomputes the local fallback when the brokers change (any thread).
  void OnBrokersChanged();

 private:
  bool sidecar() const { return config_.role == AgentRole::kSidecar; }
  v1::NodeDescriptor Descriptor() const;
  v1::LoadReport Load();
  void OnView(const std::optional<membership::View>& view);
  // Points the stream at the coordinators: the leader the group names first,
  // then those the last assignment named (the group names the leader alone).
  void UpdateDiscoveredLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes the coordinators an assignment names.
  void NoteCoordinators(const v1::Assignment& a);
  void OnInstalled(const v1::Assignment& a);
  // Calls on_drain when an operator's drain of this node starts or ends.
  void OnDrainState(bool draining);
  // True when `a` carries a valid proof of the cluster key; otherwise logs
  // and counts the refusal under `source`.
  bool Verified(const v1::Assignment& a, const std::string& source);
  // The cold start and the local fallback, on a thread of their own.
  void RunFallback();
  void ComputeLocallyIfAlone();

  const AgentConfig& config_;
  Router& router_;
  cluster::BrokerDirectory& directory_;
  AgentMetrics& metrics_;
  const std::shared_ptr<const control::ClusterKey> key_;
  const cluster::OwnKafka kafka_;
  const std::function<void(bool)> on_drain_;
  std::unique_ptr<membership::GroupMember> member_;
  std::unique_ptr<CoordinatorClient> coordinator_;

  std::mutex mu_;
  // Set once the cold-start read of the topic has finished, found or not.
  bool topic_read_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<membership::View> view_ ABSL_GUARDED_BY(mu_);
  // The coordinators the last assignment named, the leader's first
  // (Assignment.coordinator_endpoints, or its leader_endpoint alone).
  std::vector<std::string> assigned_coordinators_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> departing_{false};
  // A coordinator's assignment has named this agent (RunFallback's wait).
  std::atomic<bool> assigned_{false};

  // Load report state (the coordinator stream's writer thread).
  std::map<int32_t, double> last_bytes_;
  absl::Time last_report_ = absl::InfinitePast();

  // The fallback thread: reads the stored assignment, then computes one
  // while no coordinator is there. Last, so it stops before what it uses.
  sync::BackgroundLoop loop_{mu_};
};

}  // namespace kgw::agent

#endif  // KGW_AGENT_AGENT_CONTROL_H_
