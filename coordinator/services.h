// The coordinator's gRPC services, on the synchronous gRPC API: one thread
// per call from gRPC's pool. Both read and wait on a ControlState they do not
// own.
//
// - kgw.v1.AgentService: an agent's stream. The agent sends its descriptor,
//   then load reports; the coordinator sends the assignment in force and
//   every newer one.
// - kgw.v1.Admin: reads answered by this coordinator; drains and resumes
//   applied by the leader (forwarded to it by a follower, over a channel with
//   `forward_credentials`: TLS with this coordinator's own certificate when
//   GATEWAY_GRPC_TLS is on). With an admin token configured, mutations need
//   "authorization: Bearer <token>".
#ifndef KGW_COORDINATOR_SERVICES_H_
#define KGW_COORDINATOR_SERVICES_H_

#include <memory>
#include <string>

#include "coordinator/control_state.h"
#include "grpcpp/security/credentials.h"
#include "kgw/v1/admin.grpc.pb.h"
#include "kgw/v1/assignment.grpc.pb.h"

namespace kgw::coordinator {

class AgentServiceImpl final : public v1::AgentService::Service {
 public:
  explicit AgentServiceImpl(ControlState& state) : state_(state) {}

  grpc::Status Connect(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::AgentDirective, v1::AgentMessage>* stream) override;

 private:
  ControlState& state_;
};

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
