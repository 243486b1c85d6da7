#include "coordinator/services.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/control/routing.h"
#include "common/membership/member_state.h"
#include "glog/logging.h"
#include "grpcpp/grpcpp.h"
#include "openssl/crypto.h"

namespace kgw::coordinator {
namespace {

// How often a waiting stream or the broadcaster re-checks whether it should
// stop while no new assignment arrives.
constexpr absl::Duration kStreamPoll = absl::Seconds(1);

// What tells an agent to heartbeat now; shared by every stream, never freed.
const std::shared_ptr<const v1::AgentDirective>& HeartbeatNowDirective() {
  static const auto* const directive = new std::shared_ptr<const v1::AgentDirective>([] {
    auto d = std::make_shared<v1::AgentDirective>();
    d->set_heartbeat_now(true);
    return d;
  }());
  return *directive;
}

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

// One agent's stream. gRPC owns it and calls it on its own threads; it
// deletes itself in OnDone. Reads are one at a time; writes are one at a time
// too, and an assignment offered while one is being written waits, replacing
// any older one that waited. An agent that holds the assignment published
// just before the one to write gets the delta; any other gets it whole (the
// first write of a stream, or after a skipped one).
class AgentServiceImpl::Stream final
    : public grpc::ServerBidiReactor<v1::AgentMessage, v1::AgentDirective> {
 public:
  Stream(AgentServiceImpl& service, grpc::CallbackServerContext* context)
      : service_(service), peer_(context->peer()) {
    StartRead(&in_);
  }

  bool sidecar() const { return sidecar_; }

  // A new assignment for this agent (the broadcaster's thread, or Register).
  void Offer(std::shared_ptr<const Published> published) {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    if (sidecar_) {
      // What of it concerns a sidecar, and only when that changed.
      auto small = std::make_shared<Published>();
      small->whole.set_leader_endpoint(published->whole.leader_endpoint());
      small->whole.mutable_sidecar()->set_drained(
          control::Drains(published->whole.assignment(), node_id_));
      std::string said = small->whole.SerializeAsString();
      if (said == sidecar_said_) return;
      sidecar_said_ = std::move(said);
      published = std::move(small);
    }
    if (writing_) {
      pending_ = std::move(published);
      return;
    }
    WriteLocked(std::move(published));
  }

  // The group is rebalancing: the agent should heartbeat now. Written before
  // any assignment that waits (it is small and what it saves is time); a
  // second one while the first waits is the same one.
  void Nudge() {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_ || sidecar_) return;
    if (writing_) {
      nudge_pending_ = true;
      return;
    }
    WriteNudgeLocked();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return End(grpc::Status::OK);  // the agent closed or went away
    if (node_id_.empty()) {
      if (!in_.has_node() || in_.node().node_id().empty()) {
        return End(grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            "the first message of an agent stream must carry its node descriptor"));
      }
      if (absl::Status valid = membership::ValidateDescriptor(in_.node()); !valid.ok()) {
        return End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                absl::StrCat("invalid node descriptor: ", valid.message())));
      }
      absl::Status proven = service_.key_->VerifyStreamHello(in_, absl::Now());
      if (proven.ok()) proven = service_.key_->VerifyDescriptor(in_.node());
      if (!proven.ok()) {
        LOG_EVERY_N(WARNING, 100) << "refusing an agent stream from " << peer_ << " claiming node "
                                  << "id \"" << absl::CEscape(in_.node().node_id())
                                  << "\": " << proven.message();
        return End(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                absl::StrCat("not a node of this gateway cluster: ",
                                             proven.message())));
      }
      node_id_ = in_.node().node_id();
      sidecar_ = in_.node().role() == v1::NodeDescriptor::ROLE_SIDECAR;
      if (!service_.Register(this)) {
        node_id_.clear();
        return End(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                "this coordinator serves as many agent streams as "
                                "GATEWAY_MAX_AGENT_STREAMS allows; try another"));
      }
      VLOG(1) << "agent " << node_id_ << " connected from " << peer_;
      service_.state_.OnAgentStream(node_id_, true);
      service_.state_.OnAgentDescriptor(in_.node());
    } else if (in_.has_node() && in_.node().node_id() == node_id_ &&
               membership::ValidateDescriptor(in_.node()).ok() &&
               service_.key_->VerifyDescriptor(in_.node()).ok()) {
      service_.state_.OnAgentDescriptor(in_.node());
    }
    if (in_.has_load()) service_.state_.OnLoad(node_id_, in_.load());
    in_.Clear();
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    in_flight_.reset();
    if (!ok) {
      FinishLocked(grpc::Status::OK);
      return;
    }
    if (finish_pending_) {
      FinishLocked(*finish_pending_);
    } else if (std::exchange(nudge_pending_, false)) {
      WriteNudgeLocked();
    } else if (pending_) {
      WriteLocked(std::exchange(pending_, nullptr));
    }
  }

  void OnCancel() override { End(grpc::Status::CANCELLED); }

  void OnDone() override {
    service_.Unregister(this);
    if (!node_id_.empty()) {
      service_.state_.OnAgentStream(node_id_, false);
      VLOG(1) << "agent " << node_id_ << " disconnected";
    }
    delete this;
  }

 private:
  // Finishes the stream once, after a write in flight has completed.
  void End(grpc::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (writing_) {
      if (!finish_pending_) finish_pending_ = std::move(status);
      return;
    }
    FinishLocked(std::move(status));
  }

  void WriteLocked(std::shared_ptr<const Published> published)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const bool delta = published->delta && held_ != 0 && held_ + 1 == published->seq;
    const v1::AgentDirective* directive = delta ? &*published->delta : &published->whole;
    held_ = published->seq;
    writing_ = true;
    // Shares ownership of `published`, so the directive outlives the write.
    in_flight_ = std::shared_ptr<const v1::AgentDirective>(std::move(published), directive);
    StartWrite(in_flight_.get());
  }

  void WriteNudgeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    in_flight_ = HeartbeatNowDirective();
    StartWrite(in_flight_.get());
  }

  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    pending_.reset();
    Finish(std::move(status));
  }

  AgentServiceImpl& service_;
  const std::string peer_;
  v1::AgentMessage in_;  // the read in progress (one at a time)
  std::string node_id_;  // set by the first message
  bool sidecar_ = false;  // set by the first message

  std::mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_pending_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const v1::AgentDirective> in_flight_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const Published> pending_ ABSL_GUARDED_BY(mu_);
  bool nudge_pending_ ABSL_GUARDED_BY(mu_) = false;
  // The seq of the assignment the agent holds once the write in flight is
  // done; 0 before the first.
  uint64_t held_ ABSL_GUARDED_BY(mu_) = 0;
  std::string sidecar_said_ ABSL_GUARDED_BY(mu_);  // the last directive to a sidecar
};

AgentServiceImpl::AgentServiceImpl(ControlState& state, int max_streams,
                                   std::shared_ptr<const control::ClusterKey> key)
    : state_(state), max_streams_(max_streams), key_(std::move(key)) {}

AgentServiceImpl::~AgentServiceImpl() { Stop(); }

void AgentServiceImpl::Start() { broadcaster_ = std::thread([this] { Broadcast(); }); }

void AgentServiceImpl::Stop() {
  stopping_ = true;
  state_.WakeWaiters();
  if (broadcaster_.joinable()) broadcaster_.join();
}

grpc::ServerBidiReactor<v1::AgentMessage, v1::AgentDirective>* AgentServiceImpl::Connect(
    grpc::CallbackServerContext* context) {
  return new Stream(*this, context);
}

int AgentServiceImpl::streams() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(streams_.size());
}

bool AgentServiceImpl::Register(Stream* stream) {
  std::lock_guard<std::mutex> lock(mu_);
  if (static_cast<int>(streams_.size()) >= max_streams_) {
    LOG_EVERY_N(WARNING, 100) << "refusing an agent stream: " << streams_.size()
                              << " are open, as many as GATEWAY_MAX_AGENT_STREAMS allows ("
                              << ++refused_ << " refused so far)";
    return false;
  }
  streams_.insert(stream);
  if (latest_) {
    stream->Offer(latest_);
  } else if (stream->sidecar()) {
    // Nothing is published yet (no shared agent, or a coordinator that has
    // only just started): a sidecar is greeted all the same, so that it
    // knows its stream is established and reports losing it as such.
    stream->Offer(std::make_shared<Published>());
  }
  return true;
}

void AgentServiceImpl::NudgeAgents() {
  std::lock_guard<std::mutex> lock(mu_);
  for (Stream* s : streams_) s->Nudge();
}

void AgentServiceImpl::Unregister(Stream* stream) {
  std::lock_guard<std::mutex> lock(mu_);
  streams_.erase(stream);
}

void AgentServiceImpl::Broadcast() {
  std::optional<v1::Assignment> sent;
  uint64_t seq = 0;
  while (!stopping_) {
    std::optional<v1::Assignment> next = state_.WaitNewer(
        sent ? &*sent : nullptr, kStreamPoll, [this] { return stopping_.load(); });
    if (!next) continue;
    auto published = std::make_shared<Published>();
    published->seq = ++seq;
    // Sidecars do not read the group: a follower tells them where the leader is.
    const std::string leader =
        state_.IsLeader() ? std::string() : state_.LeaderEndpoint().value_or("");
    published->whole.set_leader_endpoint(leader);
    if (sent) {
      if (std::optional<v1::AssignmentDelta> d = control::MakeDelta(*sent, *next)) {
        published->delta.emplace();
        published->delta->set_leader_endpoint(leader);
        *published->delta->mutable_delta() = *std::move(d);
      }
    }
    *published->whole.mutable_assignment() = *next;
    std::lock_guard<std::mutex> lock(mu_);
    latest_ = published;
    for (Stream* s : streams_) s->Offer(published);
    sent = std::move(next);
  }
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

bool BearerTokenMatches(absl::string_view authorization, absl::string_view token) {
  if (token.empty()) return false;
  const std::string expected = absl::StrCat("Bearer ", token);
  return authorization.size() == expected.size() &&
         CRYPTO_memcmp(authorization.data(), expected.data(), expected.size()) == 0;
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
    if (!BearerTokenMatches(authorization, admin_token_)) {
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
