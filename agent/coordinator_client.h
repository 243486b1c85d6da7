// The agent's stream to a coordinator (kgw.v1.AgentService/Connect): sends
// this agent's descriptor and then a load report every interval, receives
// assignments. When the stream breaks it moves on to the next coordinator,
// from GATEWAY_COORDINATORS or, when that is empty, from the coordinators the
// gateway group lists, the leading one first: the leader computes the
// assignments and collects every agent's load. An agent streaming from a
// follower moves to the leader when the group names a new one.
//
// With GATEWAY_GRPC_TLS the streams are TLS, verified against the CA file (or
// the system's roots) and presenting the agent's certificate when it has one.
// A coordinator is dialled at the host:port it advertises (or as configured),
// so its certificate must name that host (DNS or IP subject alternative
// name). A failed handshake is logged as such, with gRPC's reason, and the
// coordinator is retried like an unreachable one.
//
// Fail-static: losing every coordinator changes nothing by itself; the agent
// keeps routing with the assignment it has.
//
// Threading: a thread of its own reads the stream, another writes the
// reports; the callbacks run on them. Public methods are thread-safe.
#ifndef KGW_AGENT_COORDINATOR_CLIENT_H_
#define KGW_AGENT_COORDINATOR_CLIENT_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config/grpc_tls.h"
#include "common/sync/background_loop.h"
#include "grpcpp/grpcpp.h"
#include "kgw/v1/assignment.grpc.pb.h"

namespace kgw::agent {

class CoordinatorClient {
 public:
  using DeltaFn = std::function<absl::StatusOr<std::shared_ptr<const v1::Assignment>>(
      const std::shared_ptr<const v1::Assignment>& held, const v1::AssignmentDelta& delta)>;
  struct Options {
    std::vector<std::string> configured;  // host:port; empty: use SetDiscovered
    absl::Duration report_interval = absl::Seconds(5);
    config::GrpcTlsConfig tls;  // disabled: plaintext
    // Moves to the leader a follower names on the stream (leader_endpoint).
    // For sidecars, which do not read the group; at most once per
    // kLeaderHintPause, so coordinators that disagree cannot bounce it.
    bool follow_leader_hint = false;
    // Called with what a coordinator tells a sidecar (on the stream's thread).
    std::function<void(const v1::SidecarDirective&)> on_sidecar;
    // Called when the coordinator finds the gateway group rebalancing (on the
    // stream's thread): the agent heartbeats now, so it rejoins at once.
    std::function<void()> on_heartbeat_now;
    // A connection of its own to each coordinator, never one shared with
    // another client in the process (gRPC shares a connection between all
    // channels to the same address). For many simulated agents in one
    // process, so that each streams as a real agent does.
    bool own_connection = false;
    // Rebuilds the assignment a delta describes from the one held (default:
    // control::ApplyDelta). Many simulated agents in one process share the
    // work: they all hold the same assignments and receive the same deltas.
    DeltaFn apply_delta;
  };
  using DescriptorFn = std::function<v1::NodeDescriptor()>;
  using LoadFn = std::function<v1::LoadReport()>;
  using AssignmentFn = std::function<void(const v1::Assignment&)>;
  // Stamps the cluster key's proof into a stream's first message (its
  // descriptor and sent_at_ms are set).
  using SignFn = std::function<void(v1::AgentMessage&)>;

  CoordinatorClient(Options options, DescriptorFn descriptor, LoadFn load,
                    AssignmentFn on_assignment, SignFn sign_hello = nullptr);
  ~CoordinatorClient();  // Stop()

  void Start();
  void Stop();
  // The coordinators' gRPC endpoints the group lists now, and the leader's.
  void SetDiscovered(std::vector<std::string> endpoints, std::string leader);
  // Sends the descriptor again now (it changed).
  void DescriptorChanged();
  // Sends the descriptor again and waits up to `max_wait` until it has been
  // written to an open stream; false when there is none or time ran out.
  bool FlushDescriptor(absl::Duration max_wait);
  // Waits up to `max_wait` until a stream is open and `ready()` holds;
  // `ready` (may be null) is asked again after every directive the stream
  // delivers, without this client's lock. False when time ran out or the
  // client stopped.
  bool WaitStreaming(absl::Duration max_wait, const std::function<bool()>& ready);
  // The endpoint of the coordinator the stream is open to; empty when none.
  std::string connected_to() const;
  // Encoded bytes of every directive received so far, on every stream.
  int64_t received_bytes() const { return received_bytes_.load(); }

 private:
  void Run();
  // One stream's life; returns when it ends, true when it had delivered
  // assignments.
  bool Stream(const std::string& endpoint);
  absl::StatusOr<std::shared_ptr<const v1::Assignment>> Apply(
      const std::shared_ptr<const v1::Assignment>& held, const v1::AssignmentDelta& delta) const;
  std::vector<std::string> Endpoints() const;
  bool WaitStop(absl::Duration d);
  // As WaitStop, but also ends when the discovered endpoints change (a
  // first one arrived, or the group named others), so that a new
  // coordinator is dialled at once rather than after the wait.
  bool WaitForEndpoints(absl::Duration d);

  const Options options_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;  // the loop's; made on its first dial
  const DescriptorFn descriptor_;
  const LoadFn load_;
  const AssignmentFn on_assignment_;
  const SignFn sign_hello_;
  std::atomic<int64_t> received_bytes_{0};

  mutable std::mutex mu_;
  bool descriptor_changed_ ABSL_GUARDED_BY(mu_) = false;
  int64_t descriptors_sent_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> discovered_ ABSL_GUARDED_BY(mu_);  // the leader first
  bool endpoints_changed_ ABSL_GUARDED_BY(mu_) = false;  // since Run last read them
  int64_t directives_read_ ABSL_GUARDED_BY(mu_) = 0;  // on every stream, for WaitStreaming
  int streaming_waiters_ ABSL_GUARDED_BY(mu_) = 0;   // WaitStreaming calls under way
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;  // of the open stream
  std::string connected_to_ ABSL_GUARDED_BY(mu_);
  bool moving_to_leader_ ABSL_GUARDED_BY(mu_) = false;
  // The leader a follower named, to be tried next (follow_leader_hint).
  std::string leader_hint_ ABSL_GUARDED_BY(mu_);
  absl::Time last_hint_move_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // Failed attempts in a row per endpoint, for the log (Run's thread only).
  std::map<std::string, int> failures_;

  // Last, so that it stops before the state its thread uses goes.
  sync::BackgroundLoop loop_{mu_};
};

}  // namespace kgw::agent

#endif  // KGW_AGENT_COORDINATOR_CLIENT_H_
