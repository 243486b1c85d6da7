#include "agent/coordinator_client.h"

#include <algorithm>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/assignment/rendezvous.h"
#include "common/config/grpc_credentials.h"
#include "common/control/assignment_wire.h"
#include "glog/logging.h"

namespace kgw::agent {
namespace {

constexpr absl::Duration kFirstRetry = absl::Milliseconds(200);
constexpr absl::Duration kMaxRetry = absl::Seconds(5);
// Waiting for the group to name a coordinator.
constexpr absl::Duration kNoEndpointWait = absl::Milliseconds(500);
// A sidecar follows a follower's leader hint at most this often.
constexpr absl::Duration kLeaderHintPause = absl::Seconds(10);
// A coordinator whose host vanished (power lost, a partition) never closes the
// stream, and the kernel would retransmit the next load report for about a
// quarter of an hour before giving up: a sidecar, which no group tells of a new
// leader, would stay on the dead stream as long. gRPC gives a channel with
// keepalive TCP_USER_TIMEOUT = the keepalive timeout, so a report left
// unacknowledged this long ends the stream and the agent dials the next
// coordinator. Its pings are rare: gRPC servers take one every 5 minutes at
// most from a connection they send no data on, and answer more with GOAWAY.
constexpr absl::Duration kUnacknowledgedTimeout = absl::Seconds(20);
constexpr absl::Duration kPingInterval = absl::Minutes(10);

// What to change when a stream failed to open because of TLS, from gRPC's
// message; empty when TLS does not look like the cause.
std::string TlsHint(const std::string& message, const config::GrpcTlsConfig& tls) {
  const bool closed =
      absl::StrContains(message, "Socket closed") || absl::StrContains(message, "Connection reset");
  if (!tls.enabled) {
    return closed ? "; if the coordinator serves TLS, set GATEWAY_GRPC_TLS=true" : "";
  }
  if (absl::StrContains(message, "certificate verify failed")) {
    return tls.ca_file.empty()
               ? "; TLS: the system's roots do not verify the coordinator's certificate; set "
                 "GATEWAY_GRPC_TLS_CA_FILE to the CA that signed it"
               : "; TLS: the coordinator's certificate is not signed by a CA in "
                 "GATEWAY_GRPC_TLS_CA_FILE";
  }
  if (absl::StrContains(message, "not in peer certificate")) {
    return "; TLS: the coordinator's certificate does not name the host it is dialled at (its "
           "advertised host, or as in GATEWAY_COORDINATORS)";
  }
  if (absl::StrContains(message, "wrong version number")) {
    return "; TLS: the coordinator does not serve TLS on this port";
  }
  if (closed) {
    return tls.has_certificate()
               ? "; TLS: the coordinator closed the connection after the handshake: it does not "
                 "accept the certificate in GATEWAY_GRPC_TLS_CERT_FILE (signed by a CA it does "
                 "not trust, or not for client authentication)"
               : "; TLS: the coordinator closed the connection after the handshake, as it does "
                 "when it requires a client certificate: set GATEWAY_GRPC_TLS_CERT_FILE and "
                 "GATEWAY_GRPC_TLS_KEY_FILE";
  }
  return "";
}

}  // namespace

CoordinatorClient::CoordinatorClient(Options options, DescriptorFn descriptor, LoadFn load,
                                     AssignmentFn on_assignment, SignFn sign_hello)
    : options_(std::move(options)),
      descriptor_(std::move(descriptor)),
      load_(std::move(load)),
      on_assignment_(std::move(on_assignment)),
      sign_hello_(std::move(sign_hello)) {}

CoordinatorClient::~CoordinatorClient() { Stop(); }

void CoordinatorClient::Start() { loop_.Start([this] { Run(); }); }

void CoordinatorClient::Stop() {
  loop_.Stop([this] {
    if (context_ != nullptr) context_->TryCancel();
  });
}

void CoordinatorClient::SetDiscovered(std::vector<std::string> endpoints, std::string leader) {
  std::sort(endpoints.begin(), endpoints.end());
  endpoints.erase(std::remove(endpoints.begin(), endpoints.end(), ""), endpoints.end());
  auto it = std::find(endpoints.begin(), endpoints.end(), leader);
  if (it != endpoints.end()) std::rotate(endpoints.begin(), it, it + 1);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (endpoints != discovered_) endpoints_changed_ = true;
    discovered_ = std::move(endpoints);
    // Streaming from a follower while the group has a leader: move over.
    if (options_.configured.empty() && context_ != nullptr && !connected_to_.empty() &&
        !leader.empty() && connected_to_ != leader) {
      moving_to_leader_ = true;
      context_->TryCancel();
    }
  }
  loop_.Wake();
}

void CoordinatorClient::DescriptorChanged() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    descriptor_changed_ = true;
  }
  loop_.Wake();
}

bool CoordinatorClient::FlushDescriptor(absl::Duration max_wait) {
  std::unique_lock<std::mutex> lock(mu_);
  if (connected_to_.empty()) return false;
  const int64_t target = descriptors_sent_ + 1;
  descriptor_changed_ = true;
  loop_.Wake();
  loop_.Wait(lock, max_wait,
             [&] { return connected_to_.empty() || descriptors_sent_ >= target; });
  return descriptors_sent_ >= target;
}

bool CoordinatorClient::WaitStreaming(absl::Duration max_wait, const std::function<bool()>& ready) {
  const absl::Time deadline = absl::Now() + max_wait;
  std::unique_lock<std::mutex> lock(mu_);
  ++streaming_waiters_;  // so that each directive wakes this wait
  bool done = false;
  while (!done) {
    const int64_t seen = directives_read_;
    if (!connected_to_.empty()) {
      // Without the lock: `ready` may take its owner's, which may be held
      // around calls into this client.
      lock.unlock();
      done = !ready || ready();
      lock.lock();
      if (done) break;
    }
    if (loop_.Wait(lock, deadline - absl::Now(), [&] { return directives_read_ != seen; }) ||
        directives_read_ == seen) {
      break;  // stopped, or out of time
    }
  }
  --streaming_waiters_;
  return done;
}

std::string CoordinatorClient::connected_to() const {
  std::lock_guard<std::mutex> lock(mu_);
  return connected_to_;
}

std::vector<std::string> CoordinatorClient::Endpoints() const {
  if (!options_.configured.empty()) return options_.configured;
  std::lock_guard<std::mutex> lock(mu_);
  return discovered_;
}

bool CoordinatorClient::WaitStop(absl::Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  return loop_.Wait(lock, d);
}

bool CoordinatorClient::WaitForEndpoints(absl::Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  return loop_.Wait(lock, d, [this] { return endpoints_changed_; });
}

void CoordinatorClient::Run() {
  const std::string node_id = descriptor_().node_id();
  absl::Duration retry = kFirstRetry;
  size_t attempt = 0;
  while (true) {
    const std::vector<std::string> endpoints = Endpoints();
    {
      std::lock_guard<std::mutex> lock(mu_);
      endpoints_changed_ = false;
    }
    if (endpoints.empty()) {
      if (WaitForEndpoints(kNoEndpointWait)) return;
      continue;
    }
    // Discovered endpoints come leader first; a configured list is tried from
    // a different place by each agent, so their streams spread.
    const size_t first = options_.configured.empty()
                             ? 0
                             : assignment::StableHash64(node_id, "") % endpoints.size();
    std::string endpoint = endpoints[(first + attempt) % endpoints.size()];
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!leader_hint_.empty()) endpoint = std::exchange(leader_hint_, "");
    }
    if (Stream(endpoint)) {
      // It had worked: start over from the preferred coordinator at once.
      attempt = 0;
      retry = kFirstRetry;
      if (WaitStop(absl::ZeroDuration())) return;
      continue;
    }
    ++attempt;
    if (WaitForEndpoints(retry)) return;
    retry = std::min(retry * 2, kMaxRetry);
  }
}

bool CoordinatorClient::Stream(const std::string& endpoint) {
  grpc::ChannelArguments args;
  if (options_.own_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
              static_cast<int>(absl::ToInt64Milliseconds(kPingInterval)));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
              static_cast<int>(absl::ToInt64Milliseconds(kUnacknowledgedTimeout)));
  // Made on the first dial, not before: gRPC starts its threads and touches
  // megabytes of itself when first used, which an agent that never learns
  // of a coordinator (one without GATEWAY_COORDINATORS, whose group has no
  // leader to name one) need not pay.
  if (!credentials_) credentials_ = config::GrpcChannelCredentials(options_.tls);
  auto stub =
      v1::AgentService::NewStub(grpc::CreateCustomChannel(endpoint, credentials_, args));
  grpc::ClientContext context;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (loop_.stopping()) return false;
    context_ = &context;
  }
  std::unique_ptr<grpc::ClientReaderWriter<v1::AgentMessage, v1::AgentDirective>> stream =
      stub->Connect(&context);
  v1::AgentMessage hello;
  *hello.mutable_node() = descriptor_();
  *hello.mutable_load() = load_();
  hello.set_sent_at_ms(absl::ToUnixMillis(absl::Now()));
  if (sign_hello_) sign_hello_(hello);
  bool writing = stream->Write(hello);

  // The leader this stream's coordinator named and that is not followed yet,
  // and whether the writer must wake to time the move; both guarded by mu_,
  // which follow_hint_if_due needs held. A coordinator names the leader once
  // per stream, so a hint that comes within kLeaderHintPause of the last move
  // is followed when the pause ends instead of being lost.
  std::string hint;
  bool hint_deferred = false;
  auto follow_hint_if_due = [&] {
    if (hint.empty() || absl::Now() - last_hint_move_ < kLeaderHintPause) return;
    last_hint_move_ = absl::Now();
    leader_hint_ = std::exchange(hint, "");
    moving_to_leader_ = true;
    context.TryCancel();
  };

  // Load reports (and a changed descriptor) on a thread of their own.
  std::atomic<bool> done{false};
  std::thread writer([&] {
    while (writing) {
      bool changed = false;
      {
        std::unique_lock<std::mutex> lock(mu_);
        absl::Duration wait = options_.report_interval;
        if (!hint.empty()) {
          wait = std::min(wait, last_hint_move_ + kLeaderHintPause - absl::Now());
        }
        if (loop_.Wait(lock, std::max(wait, absl::ZeroDuration()),
                       [&] { return done || descriptor_changed_ || hint_deferred; }) ||
            done) {
          break;
        }
        hint_deferred = false;
        follow_hint_if_due();
        if (moving_to_leader_) break;
        changed = std::exchange(descriptor_changed_, false);
      }
      v1::AgentMessage m;
      if (changed) *m.mutable_node() = descriptor_();
      *m.mutable_load() = load_();
      writing = stream->Write(m);
      if (changed && writing) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          ++descriptors_sent_;
        }
        loop_.Wake();
      }
    }
  });

  v1::AgentDirective directive;
  // The assignment this stream sent last, which its deltas apply to.
  std::shared_ptr<const v1::Assignment> held;
  bool announced = false;
  while (stream->Read(&directive)) {
    if (!announced) {
      LOG(INFO) << "streaming assignments from coordinator " << endpoint;
      std::lock_guard<std::mutex> lock(mu_);
      connected_to_ = endpoint;
      announced = true;
    }
    received_bytes_ += static_cast<int64_t>(directive.ByteSizeLong());
    if (directive.has_assignment()) {
      held = std::make_shared<const v1::Assignment>(std::move(*directive.mutable_assignment()));
      on_assignment_(*held);
    } else if (directive.has_delta()) {
      absl::StatusOr<std::shared_ptr<const v1::Assignment>> next =
          held ? Apply(held, directive.delta())
               : absl::FailedPreconditionError("no assignment was received before it");
      if (!next.ok()) {
        // Never expected: a new stream starts with the whole assignment.
        LOG(WARNING) << "cannot apply the assignment delta from coordinator " << endpoint << ": "
                     << next.status().message() << "; reconnecting for the whole assignment";
        context.TryCancel();
        break;
      }
      held = *std::move(next);
      on_assignment_(*held);
    }
    if (directive.has_sidecar() && options_.on_sidecar) options_.on_sidecar(directive.sidecar());
    if (directive.heartbeat_now() && options_.on_heartbeat_now) options_.on_heartbeat_now();
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++directives_read_;
      // Only a WaitStreaming needs it; the writer need not wake for every
      // assignment.
      if (streaming_waiters_ > 0) loop_.Wake();
    }
    if (options_.follow_leader_hint && !directive.leader_endpoint().empty() &&
        directive.leader_endpoint() != endpoint) {
      std::lock_guard<std::mutex> lock(mu_);
      hint = directive.leader_endpoint();
      follow_hint_if_due();
      if (!hint.empty()) {
        hint_deferred = true;  // the writer follows it when the pause ends
        loop_.Wake();
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    done = true;
    connected_to_.clear();
  }
  loop_.Wake();
  writer.join();
  // Every way out of the loop above other than the stream's end cancels the
  // call itself; cancelling here would hide the status that says why it
  // ended (a connection that timed out, a coordinator that stopped).
  const grpc::Status status = stream->Finish();
  bool moving = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    context_ = nullptr;
    if (loop_.stopping()) return announced;
    moving = std::exchange(moving_to_leader_, false);
  }
  if (moving) {
    LOG(INFO) << "leaving coordinator " << endpoint << " for the new leading coordinator";
  } else if (announced) {
    LOG(WARNING) << "lost the stream from coordinator " << endpoint << ": "
                 << (status.ok() ? "closed" : status.error_message())
                 << "; keeping the current assignment and trying the next coordinator";
  } else if (int& failures = failures_[endpoint]; failures++ % 10 == 0) {
    // The first failure and every tenth in a row, per coordinator.
    LOG(WARNING) << "cannot stream from coordinator " << endpoint << ": " << status.error_message()
                 << TlsHint(status.error_message(), options_.tls)
                 << (failures > 1 ? absl::StrCat(" (", failures, " attempts in a row)") : "");
  }
  if (announced) failures_.erase(endpoint);
  return announced;
}

absl::StatusOr<std::shared_ptr<const v1::Assignment>> CoordinatorClient::Apply(
    const std::shared_ptr<const v1::Assignment>& held, const v1::AssignmentDelta& delta) const {
  if (options_.apply_delta) return options_.apply_delta(held, delta);
  absl::StatusOr<v1::Assignment> next = control::ApplyDelta(*held, delta);
  if (!next.ok()) return next.status();
  return std::make_shared<const v1::Assignment>(*std::move(next));
}

}  // namespace kgw::agent
