// Membership of a gateway node in the gateway's Kafka group.
//
// Agents and coordinators of one gateway cluster join the Kafka group
// GATEWAY_GROUP_ID with a group protocol of their own (protocol type "kgw"),
// the way Kafka Connect uses groups: each member's metadata is its
// NodeDescriptor, and the member Kafka elects as group leader answers
// SyncGroup with the whole membership (kgw.v1.Membership) for every member.
// So every member sees the same membership for each generation, and the
// generation id is a fencing token everybody agrees on.
//
// librdkafka's consumer cannot carry such metadata, so this client speaks the
// group protocol itself with the project's codec over blocking connections:
// FindCoordinator, JoinGroup (with the MEMBER_ID_REQUIRED round), SyncGroup,
// Heartbeat and LeaveGroup, with the errors of a rebalance, a moved or dying
// group coordinator and an expired session handled by rejoining.
//
// Threading: one thread of its own runs the protocol; the listener is called
// on it. Start/Stop/SetDescriptor/view are safe from any thread.
#ifndef KGW_COMMON_MEMBERSHIP_GROUP_MEMBER_H_
#define KGW_COMMON_MEMBERSHIP_GROUP_MEMBER_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/config/settings.h"
#include "common/kafka/blocking_client.h"
#include "common/kafka/sasl.h"
#include "kgw/v1/node.pb.h"

namespace kgw::membership {

inline constexpr char kProtocolType[] = "kgw";
inline constexpr char kProtocolName[] = "v1";

// One generation's membership as this member learned it.
struct View {
  int32_t generation_id = -1;
  std::string member_id;         // this member's Kafka member id
  std::string leader_member_id;  // the member Kafka chose as group leader
  std::vector<v1::Member> members;  // sorted by node id

  // Members with the given role, in node id order.
  std::vector<const v1::Member*> WithRole(v1::NodeDescriptor::Role role) const;
};

class GroupMember {
 public:
  struct Options {
    std::vector<config::HostPort> bootstrap;  // KAFKA_BOOTSTRAP_SERVERS
    std::optional<kafka::SaslCredentials> sasl;
    std::optional<kafka::ConnectionTls> tls;  // set: every connection over TLS
    std::string group_id;
    absl::Duration session_timeout = absl::Seconds(10);
    // How long the group waits for members to rejoin in a rebalance.
    absl::Duration rebalance_timeout = absl::Seconds(10);
    absl::Duration heartbeat_interval = absl::Seconds(1);
    // Connect and request deadline of everything but JoinGroup.
    absl::Duration request_timeout = absl::Seconds(10);
    std::string client_id = "kgw";
    std::string software_version;
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

  // Replaces this member's descriptor and rejoins so the others see it.
  void SetDescriptor(v1::NodeDescriptor self);

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
  // Sleeps up to `d` or until stopped/asked to rejoin; true when stopping.
  bool Wait(absl::Duration d);
  void LeaveGroup();

  const Options options_;
  const Listener listener_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool rejoin_requested_ ABSL_GUARDED_BY(mu_) = false;
  v1::NodeDescriptor self_ ABSL_GUARDED_BY(mu_);
  std::optional<View> view_ ABSL_GUARDED_BY(mu_);
  // Owned by the member's thread; guarded so Stop can interrupt a call.
  std::optional<kafka::BlockingConnection> connection_ ABSL_GUARDED_BY(mu_);

  // The member thread's own state.
  std::string member_id_;
  int32_t generation_id_ = -1;
  absl::Time last_heartbeat_ok_ = absl::InfinitePast();
  absl::Duration backoff_ = absl::ZeroDuration();
};

}  // namespace kgw::membership

#endif  // KGW_COMMON_MEMBERSHIP_GROUP_MEMBER_H_
