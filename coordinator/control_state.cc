#include "coordinator/control_state.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/control/routing.h"
#include "glog/logging.h"

namespace kgw::coordinator {
namespace {

// How often the computing thread looks again without being asked: retries
// an assignment that could not be written to the topic.
constexpr absl::Duration kRecheck = absl::Seconds(5);

}  // namespace

ControlState::ControlState(Options options, Publisher publisher)
    : options_(std::move(options)), publisher_(std::move(publisher)) {}

void ControlState::OnView(const std::optional<membership::View>& view) {
  // Only the whole membership can be assigned from; the group member is
  // asked for nothing less (full views), so anything else is a mistake.
  if (view && !view->complete) {
    LOG(DFATAL) << "the coordinator got a view of coordinators only";
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    view_ = view;
    dirty_ = true;
    member_ids_.clear();
    if (view_) {
      for (const v1::Member& m : view_->members) member_ids_.insert(m.node().node_id());
      // Forget what agents that are no longer members said; an agent that
      // comes back says it again.
      for (auto it = departing_.begin(); it != departing_.end();) {
        it = IsMemberLocked(*it) ? std::next(it) : departing_.erase(it);
      }
      for (auto it = loads_.begin(); it != loads_.end();) {
        auto here = it++;
        if (!IsMemberLocked(here->first) && !streams_.contains(here->first)) loads_.erase(here);
      }
    }
  }
  loop_.Wake();
}

void ControlState::OnBrokers(std::vector<cluster::BrokerEndpoint> brokers) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    brokers_ = std::move(brokers);
    brokers_known_ = true;
    dirty_ = true;
  }
  loop_.Wake();
}

void ControlState::OnStoredAssignment(const v1::Assignment& assignment) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!control::Plausible(assignment)) {
      LOG_EVERY_N(ERROR, 10) << "ignoring an assignment no coordinator can have computed (epoch "
                             << assignment.epoch() << ", revision " << assignment.revision()
                             << ", leader \"" << assignment.leader_node_id()
                             << "\"): who else writes to the assignments topic?";
      return;
    }
    if (current_ && !control::IsNewer(assignment, *current_)) return;
    InstallLocked(assignment);
    if (!IsLeaderLocked()) {
      drained_ = {assignment.draining_node_ids().begin(), assignment.draining_node_ids().end()};
      return;
    }
    if (was_leader_ && (assignment.epoch() != epoch_ ||
                        assignment.leader_node_id() != options_.node_id)) {
      // Someone else published over this leader's assignments: a coordinator
      // whose view is behind, or a writer that is not a coordinator. Take
      // an epoch above it and publish again.
      LOG(WARNING) << "\"" << assignment.leader_node_id() << "\" published assignment epoch "
                   << assignment.epoch() << " generation " << assignment.generation_id()
                   << " while this coordinator leads; superseding it with epoch "
                   << assignment.epoch() + 1;
      epoch_ = assignment.epoch() + 1;
      dirty_ = true;
    }
  }
  loop_.Wake();
}

void ControlState::OnRefusedAssignment() {
  std::lock_guard<std::mutex> lock(mu_);
  ++counters_.refused_assignments;
}

void ControlState::OnStoredAssignmentLoaded() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stored_loaded_ = true;
    dirty_ = true;
  }
  loop_.Wake();
}

void ControlState::OnLoad(const std::string& node_id, const v1::LoadReport& load) {
  std::lock_guard<std::mutex> lock(mu_);
  loads_[node_id] = load;
}

void ControlState::OnAgentStream(const std::string& node_id, bool connected) {
  std::lock_guard<std::mutex> lock(mu_);
  int& n = streams_[node_id];
  n += connected ? 1 : -1;
  if (n > 0) return;
  streams_.erase(node_id);
  // What a stream said about a node that is not a member is forgotten with it.
  const bool member = IsMemberLocked(node_id);
  if (!member) {
    loads_.erase(node_id);
    departing_.erase(node_id);
  }
  sidecars_.erase(node_id);
  if (streaming_.erase(node_id) > 0 && !member) {
    dirty_ = true;  // it may have been assigned by its stream alone
    loop_.Wake();
  }
}

void ControlState::OnAgentDescriptor(const v1::NodeDescriptor& node) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (node.role() == v1::NodeDescriptor::ROLE_SIDECAR) {
      // Only while it streams: OnAgentStream has counted the stream already.
      if (streams_.contains(node.node_id())) sidecars_[node.node_id()] = node;
      return;
    }
    if (streams_.contains(node.node_id())) {
      auto [it, added] = streaming_.try_emplace(node.node_id(), Streaming{node, absl::Now()});
      if (!added) it->second.node = node;
      if (!IsMemberLocked(node.node_id()) && options_.admit_streaming_for > absl::ZeroDuration()) {
        dirty_ = true;
      }
    }
    const bool was = departing_.contains(node.node_id());
    if (node.draining() == was) {
      if (dirty_) loop_.Wake();
      return;
    }
    if (node.draining()) {
      departing_.insert(node.node_id());
      LOG(INFO) << "agent " << node.node_id() << " is shutting down: moving its brokers";
    } else {
      departing_.erase(node.node_id());
      LOG(INFO) << "agent " << node.node_id() << " is back";
    }
    dirty_ = true;
  }
  loop_.Wake();
}

void ControlState::InstallLocked(const v1::Assignment& a) {
  current_ = a;
  loop_.Wake();
}

std::vector<v1::Member> ControlState::AdmittedLocked(absl::Time now,
                                                     absl::Time* next_expiry) const {
  std::vector<v1::Member> admitted;
  if (options_.admit_streaming_for <= absl::ZeroDuration() || !options_.streams_proven ||
      !options_.streams_proven() || !view_) {
    return admitted;
  }
  for (const auto& [id, s] : streaming_) {
    const absl::Time until = s.since + options_.admit_streaming_for;
    if (IsMemberLocked(id) || s.node.role() != v1::NodeDescriptor::ROLE_AGENT ||
        s.node.draining() || until <= now) {
      continue;
    }
    *next_expiry = std::min(*next_expiry, until);
    v1::Member& m = admitted.emplace_back();
    m.set_member_id(absl::StrCat("stream:", id));
    *m.mutable_node() = s.node;
  }
  return admitted;  // in node id order, as the map is
}

bool ControlState::IsLeaderLocked() const {
  return view_ && control::LeaderCoordinator(*view_) == options_.node_id;
}

std::optional<v1::Assignment> ControlState::NextAssignmentLocked() {
  admission_recheck_ = absl::InfiniteFuture();
  if (!view_ || !brokers_known_ || !stored_loaded_ || !IsLeaderLocked()) {
    if (was_leader_) LOG(INFO) << "no longer the leading coordinator";
    was_leader_ = false;
    return std::nullopt;
  }
  if (!was_leader_) {
    if (current_ && current_->generation_id() > view_->generation_id) {
      // Usually this view is behind and the group will say so within a
      // session timeout. If it does not, the group was deleted and created
      // again (its generations start over) or the record was forged: the
      // epoch orders assignments across both, so take over anyway.
      const absl::Time now = absl::Now();
      if (ahead_since_ == absl::InfinitePast()) ahead_since_ = now;
      if (now - ahead_since_ < options_.view_catch_up) return std::nullopt;
      LOG(WARNING) << "the stored assignment (epoch " << current_->epoch() << ", generation "
                   << current_->generation_id() << ", by \"" << current_->leader_node_id()
                   << "\") is ahead of the gateway group's generation " << view_->generation_id
                   << " since " << now - ahead_since_ << ": the group was deleted and created "
                   << "again, or the record was not written by a coordinator; superseding it";
    }
    ahead_since_ = absl::InfinitePast();
    was_leader_ = true;
    // Above every assignment seen, whatever generations the group has now,
    // and not below the clock (milliseconds): a genuine but old record
    // replayed into the topic must not make this leader reuse an epoch that
    // a later leader already had.
    epoch_ = std::max((current_ ? current_->epoch() : 0) + 1, absl::ToUnixMillis(absl::Now()));
    // Drains live in the assignment, so they survive a change of leader.
    if (current_) drained_ = {current_->draining_node_ids().begin(),
                              current_->draining_node_ids().end()};
    LOG(INFO) << "leading coordinator of generation " << view_->generation_id << " (epoch "
              << epoch_ << ")";
  }
  assignment::AgentLoad load;
  for (const auto& [id, report] : loads_) load[id] = report.bytes_per_second();
  // Agents shutting down are assigned like drained ones, without being
  // stored as an operator's drain.
  const membership::View* view = &*view_;
  std::optional<membership::View> adjusted;
  // Agents whose proven stream came before the group's rebalance: a join
  // then waits for the agent's stream, not for every member to rejoin.
  absl::Time next_expiry = absl::InfiniteFuture();
  std::vector<v1::Member> admitted = AdmittedLocked(absl::Now(), &next_expiry);
  admission_recheck_ = next_expiry;  // cleared above when not leading
  if (!departing_.empty() || !admitted.empty()) {
    adjusted = *view_;
    for (v1::Member& m : adjusted->members) {
      if (departing_.contains(m.node().node_id())) m.mutable_node()->set_draining(true);
    }
    if (!admitted.empty()) {
      for (v1::Member& m : admitted) adjusted->members.push_back(std::move(m));
      std::sort(adjusted->members.begin(), adjusted->members.end(),
                [](const v1::Member& a, const v1::Member& b) {
                  return a.node().node_id() < b.node().node_id();
                });
      adjusted->member_count = static_cast<int32_t>(adjusted->members.size());
    }
    view = &*adjusted;
  }
  control::AssignmentInputs inputs{.view = view,
                                   .brokers = brokers_,
                                   .drained = drained_,
                                   .previous = current_ ? &*current_ : nullptr,
                                   .load = &load};
  const bool ours = current_ && current_->epoch() == epoch_ &&
                    current_->leader_node_id() == options_.node_id;
  const bool same_generation = ours && current_->generation_id() == view_->generation_id;
  v1::Assignment next = control::BuildAssignment(inputs, options_.node_id,
                                                 same_generation ? current_->revision() + 1 : 1);
  next.set_epoch(epoch_);
  next.set_leader_endpoint(options_.grpc_endpoint);
  next.add_coordinator_endpoints(options_.grpc_endpoint);
  for (const v1::Member* m : view_->WithRole(v1::NodeDescriptor::ROLE_COORDINATOR)) {
    if (m->node().node_id() != options_.node_id && !m->node().grpc_endpoint().empty()) {
      next.add_coordinator_endpoints(m->node().grpc_endpoint());
    }
  }
  if (same_generation && control::SameRouting(*current_, next)) return std::nullopt;
  if (options_.sign) options_.sign(next);
  return next;
}

void ControlState::Start() { loop_.Start([this] { Run(); }); }

void ControlState::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  bool unpersisted = false;
  for (;;) {
    absl::Duration recheck = kRecheck;
    if (ahead_since_ != absl::InfinitePast()) {
      // Waiting for the view to catch up: look again when the wait is over.
      recheck = std::clamp(ahead_since_ + options_.view_catch_up - absl::Now(),
                           absl::Milliseconds(10), kRecheck);
    }
    if (admission_recheck_ != absl::InfiniteFuture()) {
      // An agent assigned for its stream alone stops being so then.
      recheck = std::clamp(admission_recheck_ - absl::Now(), absl::Milliseconds(10), recheck);
    }
    if (loop_.Wait(lock, recheck, [this] { return dirty_; })) break;
    dirty_ = false;
    std::optional<v1::Assignment> next = NextAssignmentLocked();
    if (!next && unpersisted && IsLeaderLocked() && current_) next = current_;
    if (!next) continue;
    lock.unlock();
    const absl::Status written = publisher_(*next);
    lock.lock();
    if (written.ok()) {
      ++counters_.published;
      unpersisted = false;
    } else {
      // Agents need the assignment more than the topic does: serve it, and
      // keep trying to store it.
      ++counters_.publish_failures;
      unpersisted = true;
      LOG(WARNING) << "cannot store assignment generation " << next->generation_id()
                   << " revision " << next->revision() << "; serving it anyway and retrying: "
                   << written.message();
    }
    if (IsLeaderLocked() && view_->generation_id == next->generation_id() &&
        (!current_ || !control::IsNewer(*current_, *next))) {
      if (!current_ || control::IsNewer(*next, *current_)) {
        LOG(INFO) << "assignment epoch " << next->epoch() << " generation "
                  << next->generation_id() << " revision " << next->revision() << ": "
                  << next->brokers_size() << " brokers, "
                  << next->agents_size() << " agents";
      }
      InstallLocked(*next);
    }
  }
}

void ControlState::Stop() { loop_.RequestStop(); }

void ControlState::Join() { loop_.Join(); }

bool ControlState::Stopping() const { return loop_.StopRequested(); }

void ControlState::WakeWaiters() { loop_.Wake(); }

absl::StatusOr<v1::Assignment> ControlState::SetDrained(const std::string& node_id, bool drained) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!IsLeaderLocked()) {
    return absl::FailedPreconditionError("this coordinator is not the leader");
  }
  if (!was_leader_) {
    return absl::UnavailableError(
        "the leading coordinator is still taking over (reading the stored assignment, or "
        "waiting for the gateway group to reach its generation); retry in a few seconds");
  }
  bool known = drained_.contains(node_id) || sidecars_.contains(node_id);
  for (const v1::Member* m : view_->WithRole(v1::NodeDescriptor::ROLE_AGENT)) {
    known |= m->node().node_id() == node_id;
  }
  if (!known) {
    return absl::NotFoundError(absl::StrCat("no agent with node id \"", node_id,
                                            "\" in generation ", view_->generation_id));
  }
  if (drained) {
    drained_.insert(node_id);
  } else {
    drained_.erase(node_id);
  }
  LOG(INFO) << (drained ? "draining" : "resuming") << " agent " << node_id;
  dirty_ = true;
  loop_.Wake();
  const auto applied = [&] {
    return current_ && control::Drains(*current_, node_id) == drained &&
           current_->generation_id() == view_->generation_id;
  };
  if (loop_.Wait(lock, options_.mutation_timeout, applied) || !applied()) {
    return absl::DeadlineExceededError("the new assignment was not published in time");
  }
  return *current_;
}

bool ControlState::IsLeader() const {
  std::lock_guard<std::mutex> lock(mu_);
  return IsLeaderLocked();
}

bool ControlState::Ready() const {
  std::lock_guard<std::mutex> lock(mu_);
  return view_.has_value() && brokers_known_;
}

std::optional<std::string> ControlState::LeaderEndpoint() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!view_) return std::nullopt;
  return control::LeaderEndpoint(*view_);
}

std::optional<v1::Assignment> ControlState::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

std::optional<v1::Assignment> ControlState::WaitNewer(const v1::Assignment* after,
                                                      absl::Duration max_wait,
                                                      const std::function<bool()>& give_up) {
  std::unique_lock<std::mutex> lock(mu_);
  const auto newer = [&] {
    return current_ && (after == nullptr || control::IsNewer(*current_, *after));
  };
  if (loop_.Wait(lock, max_wait, [&] { return give_up() || newer(); }) || !newer()) {
    return std::nullopt;
  }
  return current_;
}

v1::ClusterStatus ControlState::Status() const {
  std::lock_guard<std::mutex> lock(mu_);
  v1::ClusterStatus s;
  s.set_cluster_id(options_.cluster_id);
  s.set_group_id(options_.group_id);
  s.set_answered_by(options_.node_id);
  s.set_version(options_.version);
  s.set_brokers(static_cast<int32_t>(brokers_.size()));
  if (view_) {
    s.set_generation_id(view_->generation_id);
    s.set_leader_node_id(control::LeaderCoordinator(*view_).value_or(""));
    for (const v1::Member* m : view_->WithRole(v1::NodeDescriptor::ROLE_COORDINATOR)) {
      *s.add_coordinators() = m->node();
    }
    s.set_agents(static_cast<int32_t>(view_->WithRole(v1::NodeDescriptor::ROLE_AGENT).size()));
    s.set_refused_members(static_cast<int32_t>(view_->refused.size()));
  }
  s.set_sidecars(static_cast<int32_t>(sidecars_.size()));
  if (current_) {
    s.set_assignment_generation_id(current_->generation_id());
    s.set_assignment_revision(current_->revision());
    s.set_assignment_epoch(current_->epoch());
  }
  return s;
}

v1::ListNodesResponse ControlState::Nodes() const {
  std::lock_guard<std::mutex> lock(mu_);
  v1::ListNodesResponse out;
  if (!view_) return out;
  out.set_generation_id(view_->generation_id);
  const absl::flat_hash_map<std::string, std::vector<int32_t>> brokers_of =
      current_ ? control::BrokersByAgent(*current_)
               : absl::flat_hash_map<std::string, std::vector<int32_t>>();
  for (const v1::Member& m : view_->members) {
    v1::NodeStatus* n = out.add_nodes();
    const std::string& id = m.node().node_id();
    *n->mutable_node() = m.node();
    n->set_member_id(m.member_id());
    const bool draining =
        m.node().draining() || drained_.contains(id) || departing_.contains(id);
    n->set_health(draining ? v1::NodeStatus::HEALTH_DRAINING : v1::NodeStatus::HEALTH_LIVE);
    if (auto it = loads_.find(id); it != loads_.end()) *n->mutable_load() = it->second;
    n->set_connected(streams_.contains(id));
    if (auto it = brokers_of.find(id); it != brokers_of.end()) {
      n->mutable_broker_ids()->Add(it->second.begin(), it->second.end());
    }
  }
  for (const auto& [id, node] : sidecars_) {
    v1::NodeStatus* n = out.add_nodes();
    *n->mutable_node() = node;
    n->set_health(drained_.contains(id) ? v1::NodeStatus::HEALTH_DRAINING
                                        : v1::NodeStatus::HEALTH_LIVE);
    if (auto it = loads_.find(id); it != loads_.end()) *n->mutable_load() = it->second;
    n->set_connected(true);
  }
  for (const membership::RefusedMember& r : view_->refused) {
    v1::NodeStatus* n = out.add_nodes();
    n->mutable_node()->set_node_id(r.node_id);
    n->mutable_node()->set_advertised_host(r.client_host);
    n->set_member_id(r.member_id);
    n->set_health(v1::NodeStatus::HEALTH_REFUSED);
    n->set_refusal(r.reason);
  }
  return out;
}

v1::ListBrokersResponse ControlState::Brokers() const {
  std::lock_guard<std::mutex> lock(mu_);
  v1::ListBrokersResponse out;
  for (const cluster::BrokerEndpoint& b : brokers_) {
    v1::BrokerStatus* s = out.add_brokers();
    s->set_broker_id(b.node_id);
    s->set_host(b.host);
    s->set_port(b.port);
    s->set_rack(b.rack.value_or(""));
    if (!current_) continue;
    for (const v1::BrokerAssignment& a : current_->brokers()) {
      if (a.broker_id() == b.node_id) {
        *s->mutable_agent_node_ids() = control::EligibleIds(*current_, a);
      }
    }
  }
  return out;
}

absl::StatusOr<v1::ExplainRouteResponse> ControlState::Explain(
    const v1::ExplainRouteRequest& request) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!current_) return absl::UnavailableError("no assignment has been published yet");
  absl::flat_hash_set<std::string> live;
  if (view_) {
    for (const v1::Member* m : view_->WithRole(v1::NodeDescriptor::ROLE_AGENT)) {
      live.insert(m->node().node_id());
    }
  }
  const control::RouteDecision d = control::Route(*current_, request.broker_id(),
                                                  request.client_id(), request.client_host(), &live);
  if (!d.chosen) {
    return absl::NotFoundError(
        absl::StrCat("broker ", request.broker_id(), " has no agent in the assignment"));
  }
  v1::ExplainRouteResponse out;
  out.set_broker_id(d.broker_id);
  out.set_broker_rack(d.broker_rack);
  out.set_node_id(d.chosen->node_id());
  out.set_host(d.host);
  out.set_port(d.port);
  for (const control::ScoredAgent& c : d.candidates) {
    v1::RouteCandidate* rc = out.add_candidates();
    rc->set_node_id(c.agent.node_id());
    rc->set_rack(c.agent.rack());
    rc->set_weight(c.agent.weight());
    rc->set_score(c.score);
  }
  if (d.chosen->rack() == d.broker_rack) {
    out.set_reason(absl::StrCat("same rack as the broker (\"", d.broker_rack, "\"); ",
                                d.candidates.size(),
                                " eligible agents, the client's rendezvous hash picks one"));
  } else {
    out.set_reason(absl::StrCat("no live agent in the broker's rack (\"", d.broker_rack,
                                "\"); the broker is spread over agents of other racks"));
  }
  return out;
}

ControlState::Counters ControlState::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  Counters c = counters_;
  c.agent_streams = static_cast<int64_t>(streams_.size());
  return c;
}

}  // namespace kgw::coordinator
