#include "tools/fleet_sim/fleet_sim.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <optional>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/coordinator_client.h"
#include "common/cluster/internal_topics.h"
#include "common/control/assignment_wire.h"
#include "common/control/routing.h"
#include "common/membership/group_member.h"
#include "common/version/version.h"
#include "glog/logging.h"

namespace kgw::fleet_sim {
namespace {

// AgentControl::Depart's wait, as an agent's SIGTERM handler uses it.
constexpr absl::Duration kDepartWait = absl::Seconds(1);
constexpr int kStopThreads = 8;
constexpr uint32_t kWeight = 100;
constexpr size_t kMaxInterned = 64;
constexpr int kMaxConcurrentReads = 128;
// AgentControl's kTopicReadTimeout and kStreamFirstWait.
constexpr absl::Duration kStoredReadTimeout = absl::Seconds(10);
constexpr absl::Duration kStreamFirstWait = absl::Milliseconds(300);

// The same for the same set of node ids in any order; lets every agent that
// received an assignment find the shared copy without sorting its own.
uint64_t AgentsFingerprint(const v1::Assignment& a) {
  uint64_t sum = static_cast<uint64_t>(a.agents_size());
  for (const v1::AgentEndpoint& e : a.agents()) {
    sum += std::hash<std::string_view>{}(e.node_id()) * 0x9E3779B97F4A7C15ULL;
  }
  return sum;
}

}  // namespace

bool HeldAssignment::Names(const std::string& node_id) const {
  return std::binary_search(agents.begin(), agents.end(), node_id);
}

// One simulated agent. Start and Stop are serialised by lifecycle_mu_; the
// callbacks run on the member's and the client's threads and take mu_ only
// briefly; Report takes mu_ alone, so it never waits for a Stop.
class Fleet::Agent {
 public:
  Agent(Fleet& fleet, int index, v1::NodeDescriptor descriptor)
      : fleet_(fleet),
        index_(index),
        descriptor_(std::move(descriptor)),
        sidecar_(descriptor_.role() == v1::NodeDescriptor::ROLE_SIDECAR) {}
  ~Agent() { Stop(StopMode::kCrash); }

  const v1::NodeDescriptor& descriptor() const { return descriptor_; }

  void Start() {
    std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (running_) return;
    }
    departing_ = false;
    stopping_ = false;
    const FleetOptions& o = fleet_.options_;
    agent::CoordinatorClient::Options client_options{
        .report_interval = o.report_interval,
        .on_heartbeat_now =
            [this] {
              ++heartbeat_nows_;
              if (!fleet_.options_.heartbeat_now) return;
              std::shared_ptr<membership::GroupMember> member;
              {
                std::lock_guard<std::mutex> lock(mu_);
                member = member_;
              }
              if (member) member->HeartbeatNow();
            },
        .own_connection = o.own_connections,
        .apply_delta = [this](const std::shared_ptr<const v1::Assignment>& held,
                              const v1::AssignmentDelta& delta) {
          return fleet_.ApplyShared(held, delta);
        }};
    if (sidecar_) {
      client_options.configured = o.coordinators;
      client_options.follow_leader_hint = true;
    }
    auto client = std::make_shared<agent::CoordinatorClient>(
        std::move(client_options), [this] { return Descriptor(); }, [] { return Load(); },
        [this](const v1::Assignment& a) { OnAssignment(a); },
        [key = o.key](v1::AgentMessage& hello) {
          if (key) key->SignStreamHello(hello);
        });
    // A sidecar has no group member: its stream is all it has.
    std::shared_ptr<membership::GroupMember> member;
    if (!sidecar_) member = MakeMember();
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_ = true;
      held_.reset();  // a new process holds nothing yet
      received_at_ = absl::InfinitePast();
      leader_.reset();
      generation_id_ = -1;
      client_ = client;
      wire_seen_ = 0;
      member_ = member;
    }
    client->Start();
    if (member && o.key && !o.assignments_topic.empty()) {
      // As AgentControl: with a key, the member joins once the stored
      // assignment has been read and the stream it names has assigned this
      // agent (at most kStreamFirstWait).
      reader_ = std::thread([this, client, member] {
        if (ReadStored(client)) {
          client->WaitStreaming(kStreamFirstWait, [&] { return NamedBySelf(); });
        }
        std::lock_guard<std::mutex> lock(mu_);
        if (!stopping_) member->Start();
      });
    } else if (member) {
      // Without one, at once, while the stored assignment is read.
      if (!o.assignments_topic.empty()) {
        reader_ = std::thread([this, client] { ReadStored(client); });
      }
      member->Start();
    }
  }

  bool Stop(StopMode mode) {
    std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
    std::shared_ptr<membership::GroupMember> member;
    std::shared_ptr<agent::CoordinatorClient> client;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!running_) return true;
      member = member_;
      client = client_;
    }
    {
      // No member starts after this (see Start's reader).
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    bool flushed = true;
    // A sidecar has no brokers to move: closing its stream is its shutdown.
    if (mode == StopMode::kShutdown && !sidecar_) {
      departing_ = true;
      flushed = client->FlushDescriptor(kDepartWait);
    }
    // As AgentControl::Stop: the member first, so no view reaches a stopped client.
    if (member) member->Stop();
    client->Stop();  // ends the reader's wait for the stream
    if (reader_.joinable()) reader_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_ = false;
      if (member) {
        fenced_total_ += member->fenced_count();
        heartbeat_bytes_total_ += member->heartbeat_bytes();
        membership_bytes_total_ += member->membership_bytes();
      }
      member_.reset();
      client_.reset();
    }
    return flushed;
  }

  AgentReport Report() const {
    AgentReport r;
    std::shared_ptr<agent::CoordinatorClient> client;
    std::shared_ptr<membership::GroupMember> member;
    {
      std::lock_guard<std::mutex> lock(mu_);
      r.index = index_;
      r.node_id = descriptor_.node_id();
      r.sidecar = sidecar_;
      r.running = running_;
      r.assignment = held_;
      r.received_at = received_at_;
      r.assignments = assignments_;
      r.bytes = bytes_;
      r.last_bytes = last_bytes_;
      r.refused = refused_;
      r.generation_id = generation_id_;
      r.generations = generations_;
      r.fenced = fenced_total_;
      r.kafka_heartbeat_bytes = heartbeat_bytes_total_;
      r.kafka_membership_bytes = membership_bytes_total_;
      r.heartbeat_nows = heartbeat_nows_.load();
      client = client_;
      member = member_;
    }
    if (client) r.streaming_from = client->connected_to();
    if (member) {
      r.fenced += member->fenced_count();
      r.kafka_heartbeat_bytes += member->heartbeat_bytes();
      r.kafka_membership_bytes += member->membership_bytes();
    }
    return r;
  }

 private:
  // The agent's group member, as AgentControl makes it.
  std::shared_ptr<membership::GroupMember> MakeMember() {
    const FleetOptions& o = fleet_.options_;
    membership::GroupMember::Options member_options{
        .kafka = {.bootstrap = o.bootstrap},
        .group_id = o.group_id,
        .session_timeout = o.session_timeout,
        .rebalance_timeout = o.session_timeout,
        .heartbeat_interval = o.heartbeat_interval,
        .request_timeout = o.request_timeout,
        .client_id = "kgw-agent",
        .software_version = descriptor_.version(),
        .group_instance_id = descriptor_.node_id(),
        .leave_on_stop = false,
        .full_view = false};
    if (o.key) {
      member_options.verify = [key = o.key](const v1::NodeDescriptor& d) {
        return key->VerifyDescriptor(d);
      };
    }
    return std::make_shared<membership::GroupMember>(
        std::move(member_options), Descriptor(),
        [this](const std::optional<membership::View>& view) { OnView(view); });
  }

  v1::NodeDescriptor Descriptor() const {
    v1::NodeDescriptor d = descriptor_;
    d.set_draining(departing_);
    if (fleet_.options_.key) fleet_.options_.key->SignDescriptor(d);
    return d;
  }

  // No data path: no connections, no bytes.
  static v1::LoadReport Load() {
    v1::LoadReport report;
    report.set_reported_at_ms(absl::ToUnixMillis(absl::Now()));
    return report;
  }

  // AgentControl::OnView without the router: coordinators from the view,
  // the leader's first; complete views only while there is no coordinator.
  void OnView(const std::optional<membership::View>& view) {
    std::shared_ptr<membership::GroupMember> member;
    std::shared_ptr<agent::CoordinatorClient> client;
    {
      std::lock_guard<std::mutex> lock(mu_);
      member = member_;
      client = client_;
      generation_id_ = view ? view->generation_id : -1;
      if (view) generations_.insert(view->generation_id);
      leader_ = view ? control::LeaderCoordinator(*view) : std::nullopt;
    }
    if (!view || !member || !client) return;
    std::vector<std::string> coordinators;
    for (const v1::Member& m : view->members) {
      if (m.node().role() == v1::NodeDescriptor::ROLE_COORDINATOR) {
        coordinators.push_back(m.node().grpc_endpoint());
      }
    }
    member->SetFullView(coordinators.empty());
    client->SetDiscovered(std::move(coordinators), control::LeaderEndpoint(*view).value_or(""));
  }

  // Whether the assignment it holds names it.
  bool NamedBySelf() const {
    std::lock_guard<std::mutex> lock(mu_);
    return held_ && held_->Names(descriptor_.node_id());
  }

  // AgentControl::RunFallback's cold start, reduced to what a join needs:
  // the newest stored assignment names the coordinator that stored it, and
  // the agent streams from it until the group names the coordinators. (A
  // real agent also routes with that assignment meanwhile; the measurements
  // count only what the streams bring.) Returns whether the agent now
  // streams from the coordinator it names.
  bool ReadStored(const std::shared_ptr<agent::CoordinatorClient>& client) {
    const FleetOptions& o = fleet_.options_;
    {
      std::unique_lock<std::mutex> lock(fleet_.reads_mu_);
      fleet_.reads_cv_.wait(lock, [&] { return fleet_.reads_ < kMaxConcurrentReads; });
      ++fleet_.reads_;
    }
    cluster::OwnKafka own{.bootstrap = o.bootstrap};
    for (const config::HostPort& hp : o.bootstrap) {
      own.bootstrap_servers.push_back(absl::StrCat(hp.host, ":", hp.port));
    }
    const cluster::KafkaConnection kafka = cluster::TopicConnection(own, "kgw-agent");
    absl::StatusOr<std::optional<std::string>> stored = cluster::ReadLatest(
        kafka, o.assignments_topic, kStoredReadTimeout, [&](std::string_view value) {
          v1::Assignment a;
          return a.ParseFromArray(value.data(), static_cast<int>(value.size())) &&
                 (!o.key || o.key->VerifyAssignment(a).ok());
        });
    {
      std::lock_guard<std::mutex> lock(fleet_.reads_mu_);
      --fleet_.reads_;
    }
    fleet_.reads_cv_.notify_one();
    if (!stored.ok()) {
      LOG_EVERY_N(WARNING, 100) << "cannot read the stored assignment from "
                                << o.assignments_topic << ": " << stored.status().message();
      return false;
    }
    if (!stored->has_value()) return false;
    v1::Assignment a;
    a.ParseFromString(**stored);
    std::lock_guard<std::mutex> lock(mu_);
    if (generation_id_ >= 0 || a.leader_endpoint().empty()) return false;
    client->SetDiscovered({a.leader_endpoint()}, a.leader_endpoint());
    return true;
  }

  // Counts what the stream brought and keeps what AgentControl and
  // agent::Router::Install would: with a valid proof (when there is a key),
  // the newest, or the group's leader's over another node's.
  void OnAssignment(const v1::Assignment& a) {
    std::shared_ptr<const HeldAssignment> held = fleet_.Intern(a);
    const bool verified = held->verified;
    const int64_t size = held->bytes;
    bool install = verified && held->plausible;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++assignments_;
      // What the stream carried for it: the whole assignment or a delta.
      const int64_t wire = client_ ? client_->received_bytes() : wire_seen_;
      bytes_ += wire - wire_seen_;
      wire_seen_ = wire;
      last_bytes_ = size;
      if (!verified) ++refused_;
      if (install && held_ && !IsNewer(a, *held_)) {
        install = leader_ && *leader_ == a.leader_node_id() &&
                  a.leader_node_id() != held_->leader_node_id;
      }
    }
    if (!install) return;
    const absl::Time now = absl::Now();
    std::lock_guard<std::mutex> lock(mu_);
    held_ = std::move(held);
    received_at_ = now;
  }

  static bool IsNewer(const v1::Assignment& a, const HeldAssignment& b) {
    return std::make_tuple(a.epoch(), a.generation_id(), a.revision()) >
           std::make_tuple(b.epoch, b.generation_id, b.revision);
  }

  Fleet& fleet_;
  const int index_;
  const v1::NodeDescriptor descriptor_;
  const bool sidecar_;
  std::atomic<bool> departing_{false};
  std::atomic<int64_t> heartbeat_nows_{0};
  std::thread reader_;  // ReadStored's, while it runs (lifecycle_mu_)
  std::atomic<bool> stopping_{false};  // set under mu_ by Stop
  std::mutex lifecycle_mu_;

  mutable std::mutex mu_;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<membership::GroupMember> member_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<agent::CoordinatorClient> client_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const HeldAssignment> held_ ABSL_GUARDED_BY(mu_);
  absl::Time received_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t assignments_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t wire_seen_ ABSL_GUARDED_BY(mu_) = 0;  // client_->received_bytes() counted
  int64_t refused_ ABSL_GUARDED_BY(mu_) = 0;
  int32_t generation_id_ ABSL_GUARDED_BY(mu_) = -1;
  std::set<int32_t> generations_ ABSL_GUARDED_BY(mu_);
  std::optional<std::string> leader_ ABSL_GUARDED_BY(mu_);
  int64_t fenced_total_ ABSL_GUARDED_BY(mu_) = 0;
  // Of the members of earlier runs (a running member's own are added on top).
  int64_t heartbeat_bytes_total_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t membership_bytes_total_ ABSL_GUARDED_BY(mu_) = 0;
};

Fleet::Fleet(FleetOptions options, int size) : options_(std::move(options)) {
  CHECK(!options_.racks.empty()) << "a fleet needs at least one rack";
  for (int i = 0; i < size; ++i) Add();
}

Fleet::~Fleet() { StopAll(StopMode::kCrash); }

int Fleet::Add() {
  std::lock_guard<std::mutex> lock(mu_);
  const int i = static_cast<int>(agents_.size());
  v1::NodeDescriptor d;
  d.set_node_id(absl::StrCat(options_.node_id_prefix, i));
  d.set_role(v1::NodeDescriptor::ROLE_AGENT);
  d.set_advertised_host(absl::StrCat("127.0.1.", 1 + i % 250));
  d.set_port_start(20000 + 10 * (i / 250));
  d.set_rack(options_.racks[i % options_.racks.size()]);
  d.set_version(options_.version.empty() ? std::string(kgw::kVersion) : options_.version);
  d.set_weight(kWeight);
  agents_.push_back(std::make_unique<Agent>(*this, i, std::move(d)));
  return i;
}

int Fleet::AddSidecar() {
  std::lock_guard<std::mutex> lock(mu_);
  const int i = static_cast<int>(agents_.size());
  const int s = sidecars_++;
  v1::NodeDescriptor d;
  d.set_node_id(absl::StrCat(options_.node_id_prefix, "sidecar-", s));
  d.set_role(v1::NodeDescriptor::ROLE_SIDECAR);
  d.set_advertised_host("localhost");
  d.set_port_start(6969);
  d.set_rack(options_.racks[s % options_.racks.size()]);
  d.set_version(options_.version.empty() ? std::string(kgw::kVersion) : options_.version);
  d.set_weight(kWeight);
  agents_.push_back(std::make_unique<Agent>(*this, i, std::move(d)));
  return i;
}

int Fleet::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(agents_.size());
}

std::string Fleet::NodeId(int index) const { return Descriptor(index).node_id(); }

v1::NodeDescriptor Fleet::Descriptor(int index) const {
  std::lock_guard<std::mutex> lock(mu_);
  return agents_.at(index)->descriptor();
}

void Fleet::StartAll() {
  for (int i = 0, n = size(); i < n; ++i) Start(i);
}

void Fleet::StopAll(StopMode mode) {
  const int n = size();
  std::atomic<int> next{0};
  std::vector<std::thread> stoppers;
  for (int t = 0; t < std::min(kStopThreads, n); ++t) {
    stoppers.emplace_back([&] {
      for (int i = next++; i < n; i = next++) Stop(i, mode);
    });
  }
  for (std::thread& t : stoppers) t.join();
}

void Fleet::Start(int index) {
  Agent* agent;
  {
    std::lock_guard<std::mutex> lock(mu_);
    agent = agents_.at(index).get();  // agents are never removed
  }
  agent->Start();
}

bool Fleet::Stop(int index, StopMode mode) {
  Agent* agent;
  {
    std::lock_guard<std::mutex> lock(mu_);
    agent = agents_.at(index).get();
  }
  return agent->Stop(mode);
}

bool Fleet::Restart(int index, StopMode mode) {
  const bool flushed = Stop(index, mode);
  Start(index);
  return flushed;
}

AgentReport Fleet::Report(int index) const {
  const Agent* agent;
  {
    std::lock_guard<std::mutex> lock(mu_);
    agent = agents_.at(index).get();
  }
  return agent->Report();
}

std::vector<AgentReport> Fleet::Reports() const {
  std::vector<const Agent*> agents;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& a : agents_) agents.push_back(a.get());
  }
  std::vector<AgentReport> reports;
  reports.reserve(agents.size());
  for (const Agent* a : agents) reports.push_back(a->Report());
  return reports;
}

absl::StatusOr<std::shared_ptr<const v1::Assignment>> Fleet::ApplyShared(
    const std::shared_ptr<const v1::Assignment>& held, const v1::AssignmentDelta& delta) {
  InternKey base{held->epoch(), held->generation_id(), held->revision(), held->leader_node_id()};
  std::lock_guard<std::mutex> lock(rebuilt_mu_);
  for (const Rebuilt& r : rebuilt_) {
    if (r.base == base && r.digest == delta.digest()) return r.assignment;
  }
  absl::StatusOr<v1::Assignment> next = control::ApplyDelta(*held, delta);
  if (!next.ok()) return next.status();
  if (rebuilt_.size() >= kMaxInterned) rebuilt_.erase(rebuilt_.begin());
  rebuilt_.push_back({.base = std::move(base),
                      .digest = delta.digest(),
                      .assignment = std::make_shared<const v1::Assignment>(*std::move(next))});
  return rebuilt_.back().assignment;
}

std::shared_ptr<const HeldAssignment> Fleet::Intern(const v1::Assignment& a) {
  // Rebuilt from a delta: shared by address.
  {
    std::lock_guard<std::mutex> lock(rebuilt_mu_);
    for (Rebuilt& r : rebuilt_) {
      if (r.assignment.get() != &a) continue;
      if (!r.held) r.held = InternCopy(a);
      return r.held;
    }
  }
  return InternCopy(a);
}

std::shared_ptr<const HeldAssignment> Fleet::InternCopy(const v1::Assignment& a) {
  InternKey key{a.epoch(), a.generation_id(), a.revision(), a.leader_node_id()};
  const uint64_t fingerprint = AgentsFingerprint(a);
  {
    std::lock_guard<std::mutex> lock(intern_mu_);
    if (auto it = interned_.find(key); it != interned_.end()) {
      if (std::shared_ptr<const HeldAssignment> same = it->second.lock();
          same && same->fingerprint == fingerprint && same->proof == a.proof() &&
          same->agents.size() == static_cast<size_t>(a.agents_size())) {
        return same;
      }
    }
  }
  auto held = std::make_shared<HeldAssignment>();
  held->epoch = a.epoch();
  held->generation_id = a.generation_id();
  held->revision = a.revision();
  held->leader_node_id = a.leader_node_id();
  held->fingerprint = fingerprint;
  held->bytes = static_cast<int64_t>(a.ByteSizeLong());
  held->plausible = control::Plausible(a);
  held->proof = a.proof();
  held->verified = !options_.key || options_.key->VerifyAssignment(a).ok();
  held->agents.reserve(a.agents_size());
  for (const v1::AgentEndpoint& e : a.agents()) held->agents.push_back(e.node_id());
  std::sort(held->agents.begin(), held->agents.end());

  std::lock_guard<std::mutex> lock(intern_mu_);
  if (auto it = interned_.find(key); it != interned_.end()) {
    if (std::shared_ptr<const HeldAssignment> same = it->second.lock();
        same && same->agents == held->agents && same->proof == held->proof) {
      return same;
    }
  }
  if (interned_.size() >= kMaxInterned) {
    for (auto it = interned_.begin(); it != interned_.end();) {
      it = it->second.expired() ? interned_.erase(it) : std::next(it);
    }
    // Still full: every entry is held; drop the oldest key (smallest epoch).
    if (interned_.size() >= kMaxInterned) interned_.erase(interned_.begin());
  }
  interned_[key] = held;
  return held;
}

bool EveryRunningAgentHolds(const std::vector<AgentReport>& reports,
                            const std::function<bool(const HeldAssignment&)>& pred) {
  bool any = false;
  const HeldAssignment* last_true = nullptr;  // interned: agents share assignments
  for (const AgentReport& r : reports) {
    if (!r.running || r.sidecar) continue;
    any = true;
    if (!r.assignment) return false;
    if (r.assignment.get() == last_true) continue;
    if (!pred(*r.assignment)) return false;
    last_true = r.assignment.get();
  }
  return any;
}

std::vector<std::string> RunningNodeIds(const std::vector<AgentReport>& reports) {
  std::vector<std::string> ids;
  for (const AgentReport& r : reports) {
    if (r.running && !r.sidecar) ids.push_back(r.node_id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

int64_t TotalBytes(const std::vector<AgentReport>& reports) {
  int64_t total = 0;
  for (const AgentReport& r : reports) total += r.bytes;
  return total;
}

int64_t TotalKafkaMembershipBytes(const std::vector<AgentReport>& reports) {
  int64_t total = 0;
  for (const AgentReport& r : reports) total += r.kafka_membership_bytes;
  return total;
}

int64_t TotalKafkaHeartbeatBytes(const std::vector<AgentReport>& reports) {
  int64_t total = 0;
  for (const AgentReport& r : reports) total += r.kafka_heartbeat_bytes;
  return total;
}

}  // namespace kgw::fleet_sim
