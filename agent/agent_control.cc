#include "agent/agent_control.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/cluster/internal_topics.h"
#include "common/control/routing.h"
#include "common/version/version.h"
#include "glog/logging.h"

namespace kgw::agent {
namespace {

constexpr char kLocalPrefix[] = "local:";
constexpr absl::Duration kTopicReadTimeout = absl::Seconds(10);
// How long a starting agent waits for its first stream before it joins the
// group.
constexpr absl::Duration kStreamFirstWait = absl::Milliseconds(300);

}  // namespace

AgentControl::AgentControl(const AgentConfig& config, Router& router,
                           cluster::BrokerDirectory& directory, AgentMetrics& metrics,
                           std::shared_ptr<const control::ClusterKey> key,
                           cluster::OwnKafka kafka,
                           std::function<void(bool)> on_drain)
    : config_(config),
      router_(router),
      directory_(directory),
      metrics_(metrics),
      key_(std::move(key)),
      kafka_(std::move(kafka)),
      on_drain_(std::move(on_drain)) {}

AgentControl::~AgentControl() { Stop(); }

v1::NodeDescriptor AgentControl::Descriptor() const {
  v1::NodeDescriptor d;
  d.set_node_id(config_.node.node_id);
  d.set_role(sidecar() ? v1::NodeDescriptor::ROLE_SIDECAR : v1::NodeDescriptor::ROLE_AGENT);
  d.set_advertised_host(config_.node.advertised_host);
  d.set_port_start(config_.port_start);
  d.set_min_broker_id(config_.min_broker_id);
  d.set_rack(config_.node.rack_id);
  d.set_version(kgw::kVersion);
  d.set_weight(config_.node_weight);
  d.set_draining(departing_);
  key_->SignDescriptor(d);
  return d;
}

v1::LoadReport AgentControl::Load() {
  const absl::Time now = absl::Now();
  const double seconds = absl::ToDoubleSeconds(now - last_report_);
  v1::LoadReport report;
  report.set_reported_at_ms(absl::ToUnixMillis(now));
  double total_rate = 0;
  int64_t total_connections = 0;
  for (const auto& [broker, totals] : metrics_.Totals()) {
    v1::BrokerLoad* b = report.add_brokers();
    b->set_broker_id(broker);
    b->set_connections(totals.connections);
    double& last = last_bytes_[broker];
    const double rate =
        last_report_ == absl::InfinitePast() || seconds <= 0 ? 0 : (totals.bytes - last) / seconds;
    last = totals.bytes;
    b->set_bytes_per_second(rate);
    total_rate += rate;
    total_connections += totals.connections;
  }
  report.set_bytes_per_second(total_rate);
  report.set_connections(total_connections);
  last_report_ = now;
  return report;
}

void AgentControl::Start() {
  router_.OnInstall([this](const v1::Assignment& a) { OnInstalled(a); });
  std::vector<std::string> configured;
  for (const config::HostPort& hp : config_.coordinators) {
    configured.push_back(absl::StrCat(hp.host, ":", hp.port));
  }
  coordinator_ = std::make_unique<CoordinatorClient>(
      CoordinatorClient::Options{.configured = std::move(configured),
                                 .report_interval = config_.load_report_interval,
                                 .tls = config_.grpc_tls,
                                 // A sidecar learns the leader from its stream alone.
                                 .follow_leader_hint = sidecar(),
                                 .on_sidecar =
                                     [this](const v1::SidecarDirective& d) {
                                       OnDrainState(d.drained());
                                     },
                                 // Set before the stream starts, never after.
                                 .on_heartbeat_now =
                                     [this] {
                                       if (member_) member_->HeartbeatNow();
                                     }},
      [this] { return Descriptor(); }, [this] { return Load(); },
      [this](const v1::Assignment& a) {
        bool from_leader = false;
        {
          std::lock_guard<std::mutex> lock(mu_);
          from_leader = view_ && control::LeaderCoordinator(*view_) == a.leader_node_id();
        }
        if (!Verified(a, "coordinator")) return;
        NoteCoordinators(a);
        if (!assigned_) {
          for (const v1::AgentEndpoint& e : a.agents()) {
            if (e.node_id() == config_.node.node_id) assigned_ = true;
          }
        }
        router_.Install(a, "coordinator", from_leader);
      },
      [this](v1::AgentMessage& hello) { key_->SignStreamHello(hello); });
  // A sidecar is assigned nothing: no group, no stored assignment, no
  // fallback. Its stream tells it whether it is drained.
  if (sidecar()) {
    coordinator_->Start();
    return;
  }

  member_ = std::make_unique<membership::GroupMember>(
      membership::GroupMember::Options{
          .kafka = kafka_,
          .group_id = config_.node.group_id,
          .session_timeout = config_.node.group_session_timeout,
          .rebalance_timeout = config_.node.group_session_timeout,
          .heartbeat_interval = config_.node.group_heartbeat_interval,
          .request_timeout = config_.upstream_connect_timeout,
          .client_id = "kgw-agent",
          .software_version = kgw::kVersion,
          // Static membership: a restart within the session timeout costs no
          // rebalance. A stopping agent tells its coordinator instead
          // (Depart), which moves its brokers at once.
          .group_instance_id = config_.node.node_id,
          .leave_on_stop = false,
          // The coordinators alone: the fleet comes from their stream.
          .full_view = false,
          .verify = [this](const v1::NodeDescriptor& d) { return key_->VerifyDescriptor(d); }},
      Descriptor(), [this](const std::optional<membership::View>& view) { OnView(view); });
  // Both exist before either runs: each one's callbacks reach the other.
  // With the cluster key, the member starts once the stored assignment has
  // been read (RunFallback); without it, at once: the leader assigns an
  // unproven agent only once the group lists it, so waiting would only
  // delay that.
  coordinator_->Start();
  if (!key_->enabled()) member_->Start();
  loop_.Start([this] { RunFallback(); });
}

void AgentControl::Stop() {
  loop_.RequestStop();
  if (member_) member_->Stop();
  if (coordinator_) coordinator_->Stop();
  loop_.Join();
}

void AgentControl::Depart(absl::Duration max_wait) {
  // A sidecar has no brokers to move: closing its stream is enough.
  if (sidecar()) return;
  departing_ = true;
  if (coordinator_ && !coordinator_->FlushDescriptor(max_wait)) {
    LOG(INFO) << "could not tell a coordinator that this agent is stopping; the group drops it "
              << "after " << config_.node.group_session_timeout;
  }
}

void AgentControl::OnBrokersChanged() { loop_.Wake(); }

void AgentControl::OnView(const std::optional<membership::View>& view) {
  if (view) {
    absl::flat_hash_set<std::string> live;
    bool coordinators = false;
    for (const v1::Member& m : view->members) {
      if (m.node().role() == v1::NodeDescriptor::ROLE_AGENT) live.insert(m.node().node_id());
      coordinators |= m.node().role() == v1::NodeDescriptor::ROLE_COORDINATOR;
    }
    // Only a complete view tells which agents are live; otherwise the
    // coordinators' assignments, which leave out the agents the group
    // dropped, are trusted as they are.
    router_.SetLive(view->complete ? std::make_optional(std::move(live)) : std::nullopt);
    // With no coordinator to stream from, the agent needs the whole
    // membership: to narrow a stale assignment, or to compute one itself.
    member_->SetFullView(!coordinators);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    view_ = view;
    UpdateDiscoveredLocked();
  }
  loop_.Wake();
}

void AgentControl::NoteCoordinators(const v1::Assignment& a) {
  std::vector<std::string> named(a.coordinator_endpoints().begin(),
                                 a.coordinator_endpoints().end());
  if (named.empty() && !a.leader_endpoint().empty()) named.push_back(a.leader_endpoint());
  if (named.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (named == assigned_coordinators_) return;
  assigned_coordinators_ = std::move(named);
  UpdateDiscoveredLocked();
}

void AgentControl::UpdateDiscoveredLocked() {
  // The leader the group names comes first; without a view, the one the
  // last assignment names. The group's word on who leads wins.
  std::vector<std::string> endpoints;
  std::string leader;
  if (view_) {
    for (const v1::Member* m : view_->WithRole(v1::NodeDescriptor::ROLE_COORDINATOR)) {
      endpoints.push_back(m->node().grpc_endpoint());
    }
    leader = control::LeaderEndpoint(*view_).value_or("");
    // A view without coordinators: computing locally (RunFallback), or the
    // stream goes to whoever the last assignment named.
  }
  if (leader.empty() && !assigned_coordinators_.empty()) leader = assigned_coordinators_[0];
  for (const std::string& e : assigned_coordinators_) {
    if (std::find(endpoints.begin(), endpoints.end(), e) == endpoints.end()) {
      endpoints.push_back(e);
    }
  }
  coordinator_->SetDiscovered(std::move(endpoints), std::move(leader));
}

void AgentControl::OnInstalled(const v1::Assignment& a) {
  OnDrainState(control::Drains(a, config_.node.node_id));
}

void AgentControl::OnDrainState(bool draining) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (draining == draining_) return;
    draining_ = draining;
  }
  if (sidecar()) {
    LOG(INFO) << (draining ? "an operator drained this sidecar: closing its connections gracefully"
                           : "an operator resumed this sidecar");
  } else {
    LOG(INFO) << (draining ? "an operator drained this agent: its brokers moved to other agents"
                           : "an operator resumed this agent");
  }
  on_drain_(draining);
}

bool AgentControl::Verified(const v1::Assignment& a, const std::string& source) {
  absl::Status s = key_->VerifyAssignment(a);
  if (s.ok()) return true;
  metrics_.AssignmentsRefused(absl::StartsWith(source, "topic") ? "topic" : "coordinator")
      .Increment();
  LOG_EVERY_N(ERROR, 10) << "refusing an assignment from " << source << " (epoch " << a.epoch()
                         << ", by \"" << a.leader_node_id() << "\"): " << s.message();
  return false;
}

void AgentControl::RunFallback() {
  // Cold start: the newest assignment the leader stored, unless the
  // coordinators answer first.
  const cluster::KafkaConnection kafka = cluster::TopicConnection(kafka_, "kgw-agent");
  const std::string topic = config::InternalTopic(config_.node, "assignments");
  const std::string source = absl::StrCat("topic ", topic);
  // The newest record that holds up; each one refused on the way is logged
  // and counted.
  bool stream_first = false;
  absl::StatusOr<std::optional<std::string>> stored = cluster::ReadLatest(
      kafka, topic, kTopicReadTimeout, [&](std::string_view value) {
        v1::Assignment a;
        return a.ParseFromArray(value.data(), static_cast<int>(value.size())) &&
               Verified(a, source);
      });
  if (!stored.ok()) {
    LOG(WARNING) << "cannot read the stored assignment from " << topic << ": "
                 << stored.status().message();
  } else if (stored->has_value()) {
    // Parsed and verified by the predicate above.
    v1::Assignment a;
    a.ParseFromString(**stored);
    router_.Install(a, source);
    // Until the group names the leader (after its rebalance), stream from
    // the one that stored it: with the cluster key, a leader assigns a
    // proven agent as soon as it streams, so a join need not wait for the
    // group.
    NoteCoordinators(a);
    stream_first = !a.leader_endpoint().empty();
  }
  // With the cluster key, join the group only now, and once that stream has
  // brought an assignment naming this agent (at most kStreamFirstWait): a
  // new member makes every member rejoin, which keeps the brokers and the
  // coordinators busy for a while; the leader should have assigned this
  // agent before that starts. Had Kafka not answered the read, the join
  // would not have got further meanwhile. Stop ends the wait: it stops the
  // client first.
  if (key_->enabled() && stream_first) {
    coordinator_->WaitStreaming(kStreamFirstWait, [this] { return assigned_.load(); });
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (key_->enabled() && !loop_.stopping()) member_->Start();
  topic_read_ = true;
  while (!loop_.stopping()) {
    lock.unlock();
    ComputeLocallyIfAlone();
    lock.lock();
    loop_.Wait(lock, absl::Seconds(1));
  }
}

void AgentControl::ComputeLocallyIfAlone() {
  std::optional<membership::View> view;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!topic_read_ || !view_ || !view_->complete) return;
    view = view_;
  }
  // Only with no coordinator to ask: not streaming, none in the group.
  if (!coordinator_->connected_to().empty() ||
      !view->WithRole(v1::NodeDescriptor::ROLE_COORDINATOR).empty()) {
    return;
  }
  const std::optional<v1::Assignment> current = router_.Current();
  if (current && (!absl::StartsWith(current->leader_node_id(), kLocalPrefix) ||
                  current->generation_id() >= view->generation_id)) {
    return;  // fail-static: keep what a coordinator decided
  }
  std::shared_ptr<const cluster::ClusterSnapshot> brokers = directory_.Get();
  if (brokers->brokers.empty()) return;
  control::AssignmentInputs inputs{.view = &*view,
                                   .brokers = brokers->brokers,
                                   .previous = current ? &*current : nullptr};
  // Revision 0: any coordinator's assignment of the same generation wins.
  const v1::Assignment local = control::BuildAssignment(
      inputs, absl::StrCat(kLocalPrefix, config_.node.node_id), /*revision=*/0);
  router_.Install(local, "a local computation (no coordinator is running)");
}

}  // namespace kgw::agent
