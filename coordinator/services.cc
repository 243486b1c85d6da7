#include "coordinator/services.h"

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "grpcpp/grpcpp.h"

namespace kgw::coordinator {
namespace {

// How often a stream re-checks whether its peer is gone while no new
// assignment arrives.
constexpr absl::Duration kStreamPoll = absl::Seconds(1);

grpc::Status ToGrpc(const absl::Status& s) {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  switch (s.code()) {
    case absl::StatusCode::kOk: return grpc::Status::OK;
    case absl::StatusCode::kNotFound: code = grpc::StatusCode::NOT_FOUND; break;
    case absl::StatusCode::kFailedPrecondition: code = grpc::StatusCode::FAILED_PRECONDITION; break;
    case absl::StatusCode::kUnavailable: code = grpc::StatusCode::UNAVAILABLE; break;
    case absl::StatusCode::kDeadlineExceeded: code = grpc::StatusCode::DEADLINE_EXCEEDED; break;
    case absl::StatusCode::kInvalidArgument: code = grpc::StatusCode::INVALID_ARGUMENT; break;
    default: break;
  }
  return grpc::Status(code, std::string(s.message()));
}

}  // namespace

grpc::Status AgentServiceImpl::Connect(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::AgentDirective, v1::AgentMessage>* stream) {
  v1::AgentMessage first;
  if (!stream->Read(&first)) return grpc::Status::OK;
  if (!first.has_node() || first.node().node_id().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first message of an agent stream must carry its node descriptor");
  }
  const std::string node_id = first.node().node_id();
  VLOG(1) << "agent " << node_id << " connected from " << context->peer();
  state_.OnAgentStream(node_id, true);
  if (first.has_load()) state_.OnLoad(node_id, first.load());

  // Reads load reports until the agent goes away, while this thread writes.
  std::atomic<bool> peer_done{false};
  std::thread reader([&] {
    v1::AgentMessage m;
    while (stream->Read(&m)) {
      if (m.has_load()) state_.OnLoad(node_id, m.load());
    }
    peer_done = true;
    state_.WakeWaiters();
  });
  std::optional<v1::Assignment> sent;
  while (!peer_done && !context->IsCancelled() && !state_.Stopping()) {
    std::optional<v1::Assignment> next = state_.WaitNewer(
        sent ? &*sent : nullptr, kStreamPoll, [&] { return peer_done.load(); });
    if (!next) continue;
    v1::AgentDirective directive;
    *directive.mutable_assignment() = *next;
    if (!stream->Write(directive)) break;
    sent = std::move(next);
  }
  context->TryCancel();
  reader.join();
  state_.OnAgentStream(node_id, false);
  VLOG(1) << "agent " << node_id << " disconnected";
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::GetStatus(grpc::ServerContext*, const v1::GetStatusRequest*,
                                         v1::ClusterStatus* response) {
  *response = state_.Status();
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::ListNodes(grpc::ServerContext* context,
                                         const v1::ListNodesRequest* request,
                                         v1::ListNodesResponse* response) {
  // Agents stream to the leader, so it has their load reports: ask it.
  if (std::optional<std::string> leader = state_.LeaderEndpoint();
      !state_.IsLeader() && leader && !leader->empty()) {
    auto stub = v1::Admin::NewStub(grpc::CreateChannel(*leader, forward_credentials_));
    grpc::ClientContext forward;
    forward.set_deadline(std::min(context->deadline(), std::chrono::system_clock::now() +
                                                           std::chrono::seconds(2)));
    if (stub->ListNodes(&forward, *request, response).ok()) return grpc::Status::OK;
  }
  *response = state_.Nodes();
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::ListBrokers(grpc::ServerContext*, const v1::ListBrokersRequest*,
                                           v1::ListBrokersResponse* response) {
  *response = state_.Brokers();
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::GetAssignment(grpc::ServerContext*, const v1::GetAssignmentRequest*,
                                             v1::Assignment* response) {
  std::optional<v1::Assignment> a = state_.Current();
  if (!a) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no assignment has been published yet");
  *response = *std::move(a);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::WatchAssignment(grpc::ServerContext* context,
                                               const v1::GetAssignmentRequest*,
                                               grpc::ServerWriter<v1::Assignment>* writer) {
  std::optional<v1::Assignment> sent;
  while (!context->IsCancelled() && !state_.Stopping()) {
    std::optional<v1::Assignment> next = state_.WaitNewer(
        sent ? &*sent : nullptr, kStreamPoll, [context] { return context->IsCancelled(); });
    if (!next) continue;
    if (!writer->Write(*next)) break;
    sent = std::move(next);
  }
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::ExplainRoute(grpc::ServerContext*,
                                            const v1::ExplainRouteRequest* request,
                                            v1::ExplainRouteResponse* response) {
  absl::StatusOr<v1::ExplainRouteResponse> r = state_.Explain(*request);
  if (!r.ok()) return ToGrpc(r.status());
  *response = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::DrainAgent(grpc::ServerContext* context,
                                          const v1::DrainAgentRequest* request,
                                          v1::DrainAgentResponse* response) {
  return SetDrained(context, *request, true, response);
}

grpc::Status AdminServiceImpl::ResumeAgent(grpc::ServerContext* context,
                                           const v1::DrainAgentRequest* request,
                                           v1::DrainAgentResponse* response) {
  return SetDrained(context, *request, false, response);
}

grpc::Status AdminServiceImpl::SetDrained(grpc::ServerContext* context,
                                          const v1::DrainAgentRequest& request, bool drained,
                                          v1::DrainAgentResponse* response) {
  std::string authorization;
  if (auto it = context->client_metadata().find("authorization");
      it != context->client_metadata().end()) {
    authorization.assign(it->second.data(), it->second.size());
  }
  if (!admin_token_.empty()) {
    if (authorization.empty()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "this coordinator requires an admin token for drain and resume");
    }
    if (authorization != absl::StrCat("Bearer ", admin_token_)) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "the admin token is not valid");
    }
  }
  if (request.node_id().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "node_id is required");
  }
  if (state_.IsLeader()) {
    absl::StatusOr<v1::Assignment> a = state_.SetDrained(request.node_id(), drained);
    if (!a.ok()) return ToGrpc(a.status());
    *response->mutable_assignment() = *std::move(a);
    return grpc::Status::OK;
  }
  // A follower hands the mutation to the leader, with the caller's token.
  std::optional<std::string> leader = state_.LeaderEndpoint();
  if (!leader || leader->empty()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "no leading coordinator is known; retry in a few seconds");
  }
  auto stub = v1::Admin::NewStub(grpc::CreateChannel(*leader, forward_credentials_));
  grpc::ClientContext forward;
  forward.set_deadline(context->deadline());
  if (!authorization.empty()) forward.AddMetadata("authorization", authorization);
  grpc::Status s = drained ? stub->DrainAgent(&forward, request, response)
                           : stub->ResumeAgent(&forward, request, response);
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        absl::StrCat("the leading coordinator at ", *leader,
                                     " cannot be reached: ", s.error_message()));
  }
  return s;
}

}  // namespace kgw::coordinator
