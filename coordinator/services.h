// The coordinator's gRPC services. Both read and wait on a ControlState they
// do not own.
//
// - kgw.v1.AgentService: an agent's stream, on gRPC's callback API so that an
//   agent costs a few kilobytes and no thread. The agent sends its descriptor,
//   then load reports (and its descriptor again when it changes, as when it
//   shuts down); the coordinator sends the assignment in force and every newer
//   one. One thread of the service pushes each new assignment to every open
//   stream; a stream that is still writing keeps only the newest. When the
//   coordinator finds the group rebalancing, every agent stream is told to
//   heartbeat now.
// - kgw.v1.Admin (synchronous API: few, short calls): reads answered by this
//   coordinator; drains and resumes applied by the leader (forwarded to it by
//   a follower, over a channel with `forward_credentials`: TLS with this
//   coordinator's own certificate when GATEWAY_GRPC_TLS is on). With an admin
//   token configured, mutations need "authorization: Bearer <token>".
#ifndef KGW_COORDINATOR_SERVICES_H_
#define KGW_COORDINATOR_SERVICES_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "common/control/cluster_key.h"
#include "coordinator/control_state.h"
#include "grpcpp/security/credentials.h"
#include "kgw/v1/admin.grpc.pb.h"
#include "kgw/v1/assignment.grpc.pb.h"

namespace kgw::coordinator {

class AgentServiceImpl final : public v1::AgentService::CallbackService {
 public:
  // At most `max_streams` agent streams are open at once; more are refused
  // with RESOURCE_EXHAUSTED (the agent tries another coordinator).
  // The first message of a stream must carry a proof of `key` (when it has
  // one); otherwise the stream ends with UNAUTHENTICATED.
  AgentServiceImpl(ControlState& state, int max_streams,
                   std::shared_ptr<const control::ClusterKey> key);
  ~AgentServiceImpl() override;  // Stop()

  // Starts and stops the thread that pushes new assignments to the streams.
  // Stop after the server has shut down.
  void Start();
  void Stop();

  grpc::ServerBidiReactor<v1::AgentMessage, v1::AgentDirective>* Connect(
      grpc::CallbackServerContext* context) override;

  // Streams open now.
  int streams() const;

  // Tells every agent streaming here that the group is rebalancing, so that
  // it heartbeats, and rejoins, at once (sidecars are not members and are
  // not told). Called from the coordinator's group member.
  void NudgeAgents();

 private:
  class Stream;
  // One published assignment as the streams send it: whole, and as a delta
  // from the one published just before (for agents that hold that one).
  struct Published {
    uint64_t seq = 0;  // 1, 2, ... in the order published
    v1::AgentDirective whole;
    std::optional<v1::AgentDirective> delta;  // from the assignment numbered seq - 1
  };
  // Adds a stream that sent a valid first message and hands it the
  // assignment in force; false when max_streams are open.
  bool Register(Stream* stream);
  void Unregister(Stream* stream);
  void Broadcast();

  ControlState& state_;
  const int max_streams_;
  const std::shared_ptr<const control::ClusterKey> key_;
  std::thread broadcaster_;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mu_;
  std::set<Stream*> streams_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const Published> latest_ ABSL_GUARDED_BY(mu_);
  int64_t refused_ ABSL_GUARDED_BY(mu_) = 0;
};

// Whether an HTTP or gRPC "authorization" value is "Bearer <token>",
// compared in constant time: how much of a guess matched must not show in the
// timing. False for an empty token.
bool BearerTokenMatches(absl::string_view authorization, absl::string_view token);

class AdminServiceImpl final : public v1::Admin::Service {
 public:
  AdminServiceImpl(ControlState& state, std::string admin_token,
                   std::shared_ptr<grpc::ChannelCredentials> forward_credentials)
      : state_(state),
        admin_token_(std::move(admin_token)),
        forward_credentials_(std::move(forward_credentials)) {}

  grpc::Status GetStatus(grpc::ServerContext*, const v1::GetStatusRequest*,
                         v1::ClusterStatus* response) override;
  // Answered by the leader when it can be reached (it has the load reports).
  grpc::Status ListNodes(grpc::ServerContext* context, const v1::ListNodesRequest* request,
                         v1::ListNodesResponse* response) override;
  grpc::Status ListBrokers(grpc::ServerContext*, const v1::ListBrokersRequest*,
                           v1::ListBrokersResponse* response) override;
  grpc::Status GetAssignment(grpc::ServerContext*, const v1::GetAssignmentRequest*,
                             v1::Assignment* response) override;
  grpc::Status WatchAssignment(grpc::ServerContext* context, const v1::GetAssignmentRequest*,
                               grpc::ServerWriter<v1::Assignment>* writer) override;
  grpc::Status ExplainRoute(grpc::ServerContext*, const v1::ExplainRouteRequest* request,
                            v1::ExplainRouteResponse* response) override;
  grpc::Status DrainAgent(grpc::ServerContext* context, const v1::DrainAgentRequest* request,
                          v1::DrainAgentResponse* response) override;
  grpc::Status ResumeAgent(grpc::ServerContext* context, const v1::DrainAgentRequest* request,
                           v1::DrainAgentResponse* response) override;

 private:
  grpc::Status SetDrained(grpc::ServerContext* context, const v1::DrainAgentRequest& request,
                          bool drained, v1::DrainAgentResponse* response);

  ControlState& state_;
  const std::string admin_token_;
  const std::shared_ptr<grpc::ChannelCredentials> forward_credentials_;
};

}  // namespace kgw::coordinator

#endif  // KGW_COORDINATOR_SERVICES_H_
