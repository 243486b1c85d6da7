// Membership of a gateway node in the gateway's Kafka group.
//
// Agents and coordinators of one gateway cluster join the Kafka group
// GATEWAY_GROUP_ID with a group protocol of their own (protocol type "kgw"),
// the way Kafka Connect uses groups: each member's metadata is its
// NodeDescriptor. What Kafka stores per member stays bounded whatever the
// size of the fleet (member_state.h): the member Kafka elects as group leader
// gives every member the same small assignment, the coordinators and the
// number of members. Members that need everyone (coordinators, and an agent
// while the group has no coordinator) read the whole membership with
// DescribeGroups and publish it only once a heartbeat of the same generation
// has confirmed it. The generation id is a fencing token everybody agrees on.
//
// With a group instance id (static membership, KIP-345; kgw uses the node
// id) a node that restarts within the session timeout takes its place back
// without a rebalance, and a second node claiming the same id fences the
// first, which says so and steps back.
//
// librdkafka's consumer cannot carry such metadata, so this client speaks the
// group protocol itself with the project's codec over blocking connections:
// FindCoordinator, JoinGroup (with the MEMBER_ID_REQUIRED round), SyncGroup,
// Heartbeat, DescribeGroups and LeaveGroup, with the errors of a rebalance, a
// moved or dying group coordinator and an expired session handled by
// rejoining.
//
// Threading: one thread of its own runs the protocol; the listener is called
// on it. Start/Stop/SetDescriptor/SetFullView/view are safe from any thread.
#ifndef KGW_COMMON_MEMBERSHIP_GROUP_MEMBER_H_
#define KGW_COMMON_MEMBERSHIP_GROUP_MEMBER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/cluster/broker_directory.h"
#include "common/config/settings.h"
#include "common/kafka/blocking_client.h"
#include "common/kafka/sasl.h"
#include "common/sync/background_loop.h"
#include "kgw/v1/node.pb.h"

namespace kgw::membership {

inline constexpr char kProtocolType[] = "kgw";
inline constexpr char kProtocolName[] = "v1";

// A member left out of the views, and why.
struct RefusedMember {
  std::string member_id;
  std::string client_host;  // as Kafka saw it; empty when unknown
  std::string node_id;      // the node id it claims; empty when it has no valid descriptor
  std::string reason;
};

// One generation's membership as this member learned it.
struct View {
  int32_t generation_id = -1;
  std::string member_id;         // this member's Kafka member id
  std::string leader_member_id;  // the member Kafka chose as group leader
  // Sorted by node id. Every member when `complete`; otherwise only the
  // coordinators the assignment named (node id, role, gRPC endpoint).
  std::vector<v1::Member> members;
  bool complete = false;
  int32_t member_count = 0;  // members of the generation, agents included
  // Complete views only: members of the generation that do not count.
  std::vector<RefusedMember> refused;

  // Members with the given role, in node id order.
  std::vector<const v1::Member*> WithRole(v1::NodeDescriptor::Role role) const;
};

class GroupMember {
 public:
  struct Options {
    cluster::OwnKafka kafka;  // bootstrap, SASL and TLS
    std::string group_id;
    absl::Duration session_timeout = absl::Seconds(10);
    // How long the group waits for members to rejoin in a rebalance.
    absl::Duration rebalance_timeout = absl::Seconds(10);
    absl::Duration heartbeat_interval = absl::Seconds(1);
    // Connect and request deadline of everything but JoinGroup.
    absl::Duration request_timeout = absl::Seconds(10);
    std::string client_id = "kgw";
    std::string software_version;
    // Static membership when set (kgw uses the node id).
    std::string group_instance_id;
    // Stop() leaves the group, so the others rebalance at once. A static
    // member that keeps its place instead costs no rebalance when it comes
    // back within the session timeout (agents: a rolling restart).
    bool leave_on_stop = true;
    // Publish complete views (DescribeGroups) rather than the coordinators
    // alone; see also SetFullView.
    bool full_view = false;
    // How often a complete view is read again within one generation: a static
    // member that rejoined with a new descriptor causes no rebalance.
    absl::Duration view_refresh_interval = absl::Seconds(30);
    // Admits another member's descriptor (the cluster key's proof); a member
    // refused is left out of every view and of the coordinators named in the
    // assignments, and logged. Unset: every valid descriptor counts.
    std::function<absl::Status(const v1::NodeDescriptor&)> verify;
    // Called on the member's thread when a heartbeat finds the group
    // rebalancing, before this member rejoins. A coordinator tells its agents
    // (HeartbeatNow), so that they rejoin at once instead of at their next
    // heartbeat and the rebalance ends sooner.
    std::function<void()> on_rebalance;
  };

  // Called on the member's thread with each generation's membership, and
  // with nullopt when this member has lost its membership (no successful
  // heartbeat for a session timeout) and is trying to rejoin.
  using Listener = std::function<void(const std::optional<View>&)>;

  GroupMember(Options options, v1::NodeDescriptor self, Listener listener);
  ~GroupMember();  // Stop()

  void Start();
  // Leaves the group (LeaveGroup, so the others rebalance at once rather
  // than after a session timeout) and joins the thread.
  void Stop();

  // Replaces this member's descriptor and rejoins so the others see it (at
  // once for a dynamic member; for a static one, when members with a
  // complete view next read it).
  void SetDescriptor(v1::NodeDescriptor self);

  // Switches complete views on or off (an agent wants them only while the
  // group has no coordinator). Turning them on reads the membership at once.
  void SetFullView(bool full);
  // Reads the complete membership again now (full views only).
  void RefreshView();
  // Heartbeats now rather than at the next interval, so that a rebalance
  // another node noticed is joined at once. At most one such early heartbeat
  // per kMinNudgeGap: whoever asks, the brokers see at most a few more.
  void HeartbeatNow();
  static constexpr absl::Duration kMinNudgeGap = absl::Milliseconds(100);

  // Times another node with this node's group instance id fenced this one.
  int64_t fenced_count() const;
  // Members this one left out of its views so far: descriptors out of bounds
  // or without a valid proof, instance ids that are not the node id.
  int64_t refused_count() const;
  // Bytes this member exchanged with the brokers so far (requests and
  // responses, frame sizes included): heartbeats apart from the rest
  // (finding the coordinator, joining, syncing, describing, leaving).
  int64_t heartbeat_bytes() const { return heartbeat_bytes_.load(); }
  int64_t membership_bytes() const { return membership_bytes_.load(); }

  // The last membership this member received; nullopt before the first
  // and while it is not a member.
  std::optional<View> view() const;

 private:
  // What to do after a failed step.
  enum class Next { kRejoin, kResetMember, kRediscover };

  void Run();
  // One pass: make sure there is a coordinator connection, join, sync, then
  // heartbeat until something calls for a rejoin.
  void JoinAndHeartbeat();
  absl::Status ConnectToCoordinator();
  absl::StatusOr<kafka::BlockingConnection> ConnectAny(const std::vector<config::HostPort>& to);
  absl::Status PrepareConnection(kafka::BlockingConnection& connection);
  // Handles a group error code from any of the group APIs.
  Next OnGroupError(int16_t error_code, const char* api);
  void SetConnection(std::optional<kafka::BlockingConnection> connection);
  void Publish(std::optional<View> view);
  // Every member of a generation: those that count and those refused.
  struct Everyone {
    std::vector<v1::Member> members;
    std::vector<RefusedMember> refused;
  };
  // Equal for equal memberships.
  static std::string FingerprintOf(const std::vector<v1::Member>& members,
                                   const std::vector<RefusedMember>& refused);
  // Reads every member with DescribeGroups; Unavailable while the group is
  // not stable.
  absl::StatusOr<Everyone> DescribeMembers(kafka::BlockingConnection& c);
  // The group instance id as the requests carry it.
  std::optional<std::string> InstanceId() const;
  // The member as a view holds it, when its metadata is a valid descriptor
  // that `verify` admits and its instance id (if any) is its node id. A
  // refusal is counted, logged once and added to `refused` when set.
  std::optional<v1::Member> Admit(const std::string& member_id,
                                  const std::optional<std::string>& instance_id,
                                  const std::vector<uint8_t>& metadata, const std::string& host,
                                  std::vector<RefusedMember>* refused = nullptr);
  // Leaves all but the first member of each node id out of `everyone`,
  // refusing the others.
  void ForgetDuplicates(Everyone& everyone);
  // Members refused so far (a forged or misconfigured node, or a duplicate).
  std::atomic<int64_t> refused_{0};
  std::atomic<int64_t> heartbeat_bytes_{0};
  std::atomic<int64_t> membership_bytes_{0};
  // Refused members already logged (the member thread's).
  absl::flat_hash_set<std::string> reported_;
  // Sleeps up to `d` or until stopped/asked to rejoin (or, with
  // `or_heartbeat_now`, to heartbeat now); true when stopping.
  bool Wait(absl::Duration d, bool or_heartbeat_now = false);
  void LeaveGroup();

  const Options options_;
  const Listener listener_;

  mutable std::mutex mu_;
  bool rejoin_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool full_view_ ABSL_GUARDED_BY(mu_) = false;
  bool refresh_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool heartbeat_now_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_nudge_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t fenced_ ABSL_GUARDED_BY(mu_) = 0;
  v1::NodeDescriptor self_ ABSL_GUARDED_BY(mu_);
  std::optional<View> view_ ABSL_GUARDED_BY(mu_);
  // Owned by the member's thread; guarded so Stop can interrupt a call.
  std::optional<kafka::BlockingConnection> connection_ ABSL_GUARDED_BY(mu_);

  // The member thread's own state.
  std::string member_id_;
  int32_t generation_id_ = -1;
  absl::Time last_heartbeat_ok_ = absl::InfinitePast();
  absl::Duration backoff_ = absl::ZeroDuration();

  // Last, so that it stops before the state its thread uses goes.
  sync::BackgroundLoop loop_{mu_};
};

}  // namespace kgw::membership

#endif  // KGW_COMMON_MEMBERSHIP_GROUP_MEMBER_H_
