#include "common/membership/group_member.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/kafka/errors.h"
#include "common/kafka/messages/describe_groups.h"
#include "common/kafka/messages/find_coordinator.h"
#include "common/kafka/messages/heartbeat.h"
#include "common/kafka/messages/join_group.h"
#include "common/kafka/messages/leave_group.h"
#include "common/kafka/messages/sync_group.h"
#include "common/membership/member_state.h"
#include "glog/logging.h"

namespace kgw::membership {
namespace {

// Kafka error codes the group protocol answers with.
constexpr int16_t kUnknownServerError = -1;
constexpr int16_t kCoordinatorLoadInProgress = 14;
constexpr int16_t kCoordinatorNotAvailable = 15;
constexpr int16_t kNotCoordinator = 16;
constexpr int16_t kIllegalGeneration = 22;
constexpr int16_t kInconsistentGroupProtocol = 23;
constexpr int16_t kUnknownMemberId = 25;
constexpr int16_t kInvalidSessionTimeout = 26;
constexpr int16_t kRebalanceInProgress = 27;
constexpr int16_t kGroupAuthorizationFailed = 30;
constexpr int16_t kMemberIdRequired = 79;
constexpr int16_t kGroupMaxSizeReached = 81;
constexpr int16_t kFencedInstanceId = 82;

constexpr absl::Duration kFirstBackoff = absl::Milliseconds(100);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);
// After an error that a retry will not fix soon (authorization, a group of
// another protocol type), retry slowly.
constexpr absl::Duration kSlowRetry = absl::Seconds(5);
// After another node took this node's place: long enough for an operator to
// read both sides' logs before this one takes it back.
constexpr absl::Duration kFencedRetry = absl::Seconds(30);
// Refused members remembered so that each is logged once.
constexpr size_t kMaxReported = 1000;

std::vector<uint8_t> Bytes(const google::protobuf::MessageLite& m) {
  std::string s = m.SerializeAsString();
  return std::vector<uint8_t>(s.begin(), s.end());
}

int Millis(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

}  // namespace

std::vector<const v1::Member*> View::WithRole(v1::NodeDescriptor::Role role) const {
  std::vector<const v1::Member*> out;
  for (const v1::Member& m : members) {
    if (m.node().role() == role) out.push_back(&m);
  }
  return out;
}

GroupMember::GroupMember(Options options, v1::NodeDescriptor self, Listener listener)
    : options_(std::move(options)),
      listener_(std::move(listener)),
      full_view_(options_.full_view),
      self_(std::move(self)) {}

GroupMember::~GroupMember() { Stop(); }

void GroupMember::Start() { loop_.Start([this] { Run(); }); }

void GroupMember::Stop() {
  loop_.Stop([this] {
    // A JoinGroup may be waiting for a whole rebalance; cut it short.
    if (connection_) connection_->Interrupt();
  });
}

void GroupMember::SetDescriptor(v1::NodeDescriptor self) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    self_ = std::move(self);
    rejoin_requested_ = true;
  }
  loop_.Wake();
}

void GroupMember::SetFullView(bool full) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (full_view_ == full) return;
    full_view_ = full;
    refresh_requested_ = full;
  }
  loop_.Wake();
}

void GroupMember::RefreshView() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    refresh_requested_ = true;
  }
  loop_.Wake();
}

void GroupMember::HeartbeatNow() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const absl::Time now = absl::Now();
    if (now - last_nudge_ < kMinNudgeGap) return;
    last_nudge_ = now;
    heartbeat_now_ = true;
  }
  loop_.Wake();
}

int64_t GroupMember::fenced_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fenced_;
}

int64_t GroupMember::refused_count() const { return refused_.load(); }

std::string GroupMember::FingerprintOf(const std::vector<v1::Member>& members,
                                       const std::vector<RefusedMember>& refused) {
  std::string out;
  for (const v1::Member& m : members) out += m.SerializeAsString();
  for (const RefusedMember& r : refused) {
    absl::StrAppend(&out, "|", r.member_id, "/", r.client_host, "/", r.node_id, "/", r.reason);
  }
  return out;
}

std::optional<v1::Member> GroupMember::Admit(const std::string& member_id,
                                             const std::optional<std::string>& instance_id,
                                             const std::vector<uint8_t>& metadata,
                                             const std::string& host,
                                             std::vector<RefusedMember>* refused) {
  absl::StatusOr<v1::NodeDescriptor> node = ParseDescriptor(metadata);
  absl::Status admitted = node.status();
  if (admitted.ok() && instance_id && *instance_id != node->node_id()) {
    // Kafka keeps instance ids unique; a node id that differs from its
    // instance id could pose as another node.
    admitted = absl::InvalidArgumentError(absl::StrCat(
        "its group instance id \"", absl::CEscape(*instance_id), "\" is not its node id"));
  }
  if (admitted.ok() && options_.verify) admitted = options_.verify(*node);
  if (!admitted.ok()) {
    ++refused_;
    if (refused != nullptr) {
      refused->push_back({.member_id = member_id,
                          .client_host = host,
                          .node_id = node.ok() ? node->node_id() : std::string(),
                          .reason = std::string(admitted.message())});
    }
    // Once per refused member (it is refused again at every read of the
    // membership), within a bounded memory of those already reported.
    if (reported_.size() >= kMaxReported) reported_.clear();
    const std::string claimed =
        node.ok() ? absl::StrCat(" claiming node id \"", absl::CEscape(node->node_id()), "\"")
                  : std::string();
    if (!reported_.insert(absl::StrCat(member_id, "/", host, "/", claimed)).second) {
      return std::nullopt;
    }
    LOG(WARNING) << "group " << options_.group_id << ": member " << member_id << claimed
                 << (host.empty() ? "" : absl::StrCat(" (", host, ")"))
                 << " does not count: " << admitted.message() << " (" << refused_.load()
                 << " refused so far)";
    return std::nullopt;
  }
  v1::Member member;
  member.set_member_id(member_id);
  *member.mutable_node() = *std::move(node);
  return member;
}

std::optional<std::string> GroupMember::InstanceId() const {
  if (options_.group_instance_id.empty()) return std::nullopt;
  return options_.group_instance_id;
}

std::optional<View> GroupMember::view() const {
  std::lock_guard<std::mutex> lock(mu_);
  return view_;
}

bool GroupMember::Wait(absl::Duration d, bool or_heartbeat_now) {
  std::unique_lock<std::mutex> lock(mu_);
  return loop_.Wait(lock, d, [this, or_heartbeat_now] {
    return rejoin_requested_ || refresh_requested_ || (or_heartbeat_now && heartbeat_now_);
  });
}

void GroupMember::SetConnection(std::optional<kafka::BlockingConnection> connection) {
  std::lock_guard<std::mutex> lock(mu_);
  connection_.reset();
  if (connection) connection_.emplace(*std::move(connection));
}

void GroupMember::Publish(std::optional<View> view) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    view_ = view;
  }
  listener_(view);
}

void GroupMember::Run() {
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (loop_.stopping()) break;
    }
    JoinAndHeartbeat();
  }
  LeaveGroup();
  SetConnection(std::nullopt);
}

absl::Status GroupMember::PrepareConnection(kafka::BlockingConnection& connection) {
  KGW_RETURN_IF_ERROR(connection.FetchApiVersions(options_.software_version));
  if (options_.kafka.sasl) KGW_RETURN_IF_ERROR(connection.Authenticate(*options_.kafka.sasl));
  return absl::OkStatus();
}

absl::StatusOr<kafka::BlockingConnection> GroupMember::ConnectAny(
    const std::vector<config::HostPort>& to) {
  std::string errors;
  for (const config::HostPort& a : to) {
    absl::StatusOr<kafka::BlockingConnection> c = kafka::BlockingConnection::Connect(
        a.host, a.port, options_.request_timeout, options_.client_id, options_.kafka.tls);
    if (c.ok()) {
      c->set_byte_counter([this](int16_t api_key, size_t bytes) {
        (api_key == kafka::HeartbeatRequest::kApiKey ? heartbeat_bytes_ : membership_bytes_) +=
            static_cast<int64_t>(bytes);
      });
    }
    absl::Status status = c.status();
    if (status.ok()) status = PrepareConnection(*c);
    if (status.ok()) return c;
    absl::StrAppend(&errors, errors.empty() ? "" : "; ", status.message());
  }
  return absl::UnavailableError(errors);
}

absl::Status GroupMember::ConnectToCoordinator() {
  KGW_ASSIGN_OR_RETURN(kafka::BlockingConnection any, ConnectAny(options_.kafka.bootstrap));
  KGW_ASSIGN_OR_RETURN(int16_t version, any.PickVersion<kafka::FindCoordinatorRequest>(1));
  kafka::FindCoordinatorRequest request;
  request.key_type = 0;  // a group
  if (version >= 4) {
    request.coordinator_keys = {options_.group_id};
  } else {
    request.key = options_.group_id;
  }
  kafka::FindCoordinatorResponse response;
  KGW_RETURN_IF_ERROR(any.Call(request, version, &response));
  int16_t error = response.error_code;
  config::HostPort coordinator{response.host, response.port};
  if (version >= 4) {
    if (response.coordinators.empty()) {
      return absl::UnavailableError(absl::StrCat(any.peer(), " named no group coordinator"));
    }
    error = response.coordinators[0].error_code;
    coordinator = {response.coordinators[0].host, response.coordinators[0].port};
  }
  if (error != 0) {
    return absl::UnavailableError(absl::StrCat("no coordinator for group ", options_.group_id,
                                               " yet: ", kafka::DescribeError(error)));
  }
  KGW_ASSIGN_OR_RETURN(kafka::BlockingConnection c, ConnectAny({coordinator}));
  VLOG(1) << "group " << options_.group_id << " coordinator is " << c.peer();
  SetConnection(std::move(c));
  return absl::OkStatus();
}

GroupMember::Next GroupMember::OnGroupError(int16_t error_code, const char* api) {
  switch (error_code) {
    case kRebalanceInProgress:
    case kIllegalGeneration:
      return Next::kRejoin;
    case kUnknownMemberId:
      return Next::kResetMember;
    case kNotCoordinator:
    case kCoordinatorNotAvailable:
      LOG_EVERY_N(INFO, 20) << api << " in group " << options_.group_id << ": "
                            << kafka::DescribeError(error_code)
                            << "; finding the group coordinator again";
      return Next::kRediscover;
    case kCoordinatorLoadInProgress:
      backoff_ = std::max(backoff_, kFirstBackoff);
      return Next::kRejoin;
    case kInconsistentGroupProtocol:
      LOG(ERROR) << "group " << options_.group_id << " is in use by clients that are not kgw "
                 << "(" << api << ": INCONSISTENT_GROUP_PROTOCOL); set GATEWAY_GROUP_ID to a "
                 << "group of its own";
      backoff_ = kSlowRetry;
      return Next::kRejoin;
    case kGroupAuthorizationFailed:
      LOG(ERROR) << "not authorized to join group " << options_.group_id
                 << " (GROUP_AUTHORIZATION_FAILED); grant the gateway's principal READ on it";
      backoff_ = kSlowRetry;
      return Next::kRejoin;
    case kFencedInstanceId: {
      LOG(ERROR) << "another gateway node joined group " << options_.group_id
                 << " with this node's id \"" << options_.group_instance_id << "\" (" << api
                 << ": FENCED_INSTANCE_ID) and took its place; node ids must be unique in a "
                 << "gateway cluster: give each node its own GATEWAY_NODE_ID. Rejoining in "
                 << kFencedRetry;
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++fenced_;
      }
      if (generation_id_ >= 0) {
        generation_id_ = -1;
        Publish(std::nullopt);
      }
      backoff_ = kFencedRetry;
      return Next::kResetMember;
    }
    case kGroupMaxSizeReached:
      LOG(ERROR) << "group " << options_.group_id << " is full (" << api
                 << ": GROUP_MAX_SIZE_REACHED): raise the brokers' group.max.size above the "
                 << "number of gateway nodes, or split the nodes into gateway clusters";
      backoff_ = kSlowRetry;
      return Next::kRejoin;
    case kUnknownServerError:
      if (std::string_view(api) == "SyncGroup") {
        LOG_EVERY_N(ERROR, 10)
            << "SyncGroup in group " << options_.group_id << " failed: UNKNOWN_SERVER_ERROR. "
            << "The group coordinator could not store the group's state; if its log says so "
            << "while \"storing group assignment\", the state is larger than the offsets topic "
            << "accepts (its max.message.bytes, 1 MB by default). kgw stores about 400 bytes "
            << "per member with the cluster key, so some 2,500 nodes fit: raise "
            << "max.message.bytes of __consumer_offsets, or split the nodes into gateway "
            << "clusters (older kgw versions store more per member)";
        backoff_ = std::clamp(backoff_ * 2, kFirstBackoff, kMaxBackoff);
        return Next::kRejoin;
      }
      [[fallthrough]];
    default:
      LOG_EVERY_N(WARNING, 10) << api << " in group " << options_.group_id << " failed: "
                               << kafka::DescribeError(error_code);
      backoff_ = std::clamp(backoff_ * 2, kFirstBackoff, kMaxBackoff);
      return Next::kRejoin;
    case kInvalidSessionTimeout:
      LOG(ERROR) << "the brokers refuse session timeout "
                 << Millis(options_.session_timeout)
                 << " ms (INVALID_SESSION_TIMEOUT): it must lie within their "
                 << "group.min.session.timeout.ms and group.max.session.timeout.ms";
      backoff_ = kSlowRetry;
      return Next::kRejoin;
  }
}

void GroupMember::JoinAndHeartbeat() {
  if (backoff_ > absl::ZeroDuration() && Wait(backoff_)) return;
  const auto session_lost = [&] {
    if (generation_id_ >= 0 && absl::Now() - last_heartbeat_ok_ > options_.session_timeout) {
      LOG(WARNING) << "lost membership of group " << options_.group_id << " (no heartbeat for "
                   << options_.session_timeout << "); rejoining";
      generation_id_ = -1;
      Publish(std::nullopt);
    }
  };
  const auto fail = [&](const absl::Status& status, const char* what) {
    LOG_EVERY_N(WARNING, 10) << what << " for group " << options_.group_id << ": "
                             << status.message();
    SetConnection(std::nullopt);
    backoff_ = std::clamp(backoff_ * 2, kFirstBackoff, kMaxBackoff);
    session_lost();
  };
  const auto handle = [&](Next next) {
    if (next == Next::kResetMember) {
      member_id_.clear();
      generation_id_ = -1;
    } else if (next == Next::kRediscover) {
      SetConnection(std::nullopt);
      backoff_ = std::max(backoff_, kFirstBackoff);
    }
  };

  kafka::BlockingConnection* c = nullptr;
  v1::NodeDescriptor self;
  {
    std::lock_guard<std::mutex> lock(mu_);
    rejoin_requested_ = false;
    self = self_;
    if (connection_) c = &*connection_;
  }
  if (c == nullptr) {
    if (absl::Status s = ConnectToCoordinator(); !s.ok()) return fail(s, "cannot reach the coordinator");
    std::lock_guard<std::mutex> lock(mu_);
    c = &*connection_;
  }

  // JoinGroup: v4 and later answer a new dynamic member with MEMBER_ID_REQUIRED;
  // v5 and later take a group instance id (static membership).
  absl::StatusOr<int16_t> join_version = c->PickVersion<kafka::JoinGroupRequest>(4);
  if (!join_version.ok()) return fail(join_version.status(), "cannot join");
  std::optional<std::string> instance_id = InstanceId();
  if (instance_id && *join_version < 5) {
    LOG_FIRST_N(WARNING, 1) << "the brokers do not support static group membership (JoinGroup "
                            << "v5); joining group " << options_.group_id << " as a dynamic "
                            << "member, so every restart costs a rebalance";
    instance_id.reset();
  }
  kafka::JoinGroupRequest join;
  join.group_id = options_.group_id;
  join.session_timeout_ms = Millis(options_.session_timeout);
  join.rebalance_timeout_ms = Millis(options_.rebalance_timeout);
  join.member_id = member_id_;
  join.group_instance_id = instance_id;
  join.protocol_type = kProtocolType;
  join.protocols.push_back({.name = kProtocolName, .metadata = Bytes(self)});
  kafka::JoinGroupResponse joined;
  c->set_timeout(options_.rebalance_timeout + options_.request_timeout);
  absl::Status status = c->Call(join, *join_version, &joined);
  c->set_timeout(options_.request_timeout);
  if (!status.ok()) return fail(status, "JoinGroup failed");
  if (joined.error_code == kMemberIdRequired) {
    member_id_ = joined.member_id;
    backoff_ = absl::ZeroDuration();
    return;
  }
  if (joined.error_code != 0) return handle(OnGroupError(joined.error_code, "JoinGroup"));
  member_id_ = joined.member_id;
  generation_id_ = joined.generation_id;

  // SyncGroup: the leader hands every member the same small assignment. A
  // static leader that rejoined without a rebalance is told to skip it: the
  // assignments of the generation stand.
  kafka::SyncGroupRequest sync;
  sync.group_id = options_.group_id;
  sync.generation_id = generation_id_;
  sync.member_id = member_id_;
  sync.group_instance_id = instance_id;
  sync.protocol_type = kProtocolType;
  sync.protocol_name = kProtocolName;
  std::optional<Everyone> everyone;  // known to the leader
  if (joined.leader == member_id_ && !joined.skip_assignment) {
    Everyone all;
    for (const auto& m : joined.members) {
      std::optional<v1::Member> member =
          Admit(m.member_id, m.group_instance_id, m.metadata, "", &all.refused);
      if (member) all.members.push_back(*std::move(member));
    }
    SortMembers(all.members);
    ForgetDuplicates(all);
    const std::vector<uint8_t> bytes =
        Bytes(MemberAssignment(generation_id_, all.members));
    for (const auto& m : joined.members) sync.assignments.push_back({m.member_id, bytes});
    everyone = std::move(all);
  }
  absl::StatusOr<int16_t> sync_version = c->PickVersion<kafka::SyncGroupRequest>();
  if (!sync_version.ok()) return fail(sync_version.status(), "cannot sync");
  kafka::SyncGroupResponse synced;
  status = c->Call(sync, *sync_version, &synced);
  if (!status.ok()) return fail(status, "SyncGroup failed");
  if (synced.error_code != 0) return handle(OnGroupError(synced.error_code, "SyncGroup"));
  v1::Membership membership;
  if (!membership.ParseFromArray(synced.assignment.data(),
                                 static_cast<int>(synced.assignment.size()))) {
    LOG(WARNING) << "group " << options_.group_id << ": the leader's assignment is not a "
                 << "membership list; rejoining";
    backoff_ = kFirstBackoff;
    return;
  }
  bool full = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    full = full_view_;
  }
  View view;
  view.generation_id = generation_id_;
  view.member_id = member_id_;
  view.leader_member_id = joined.leader;
  if (everyone && full) {
    // The group leader knows everyone already; another member (or this one,
    // when it does not want them) learns the coordinators only.
    view.members = std::move(everyone->members);
    view.refused = std::move(everyone->refused);
    view.complete = true;
  } else {
    // An older leader's assignment lists everyone or every coordinator;
    // today's the leading coordinator alone.
    // The group leader may be anyone: only members whose descriptors hold
    // up count, so a forged leader cannot name a coordinator of its own.
    for (const v1::Member& m : membership.members()) {
      const std::string bytes = m.node().SerializeAsString();
      std::optional<v1::Member> admitted =
          Admit(m.member_id(), std::nullopt, std::vector<uint8_t>(bytes.begin(), bytes.end()),
                "named by the group leader");
      if (admitted) view.members.push_back(*std::move(admitted));
    }
    view.complete = !membership.coordinators_only();
  }
  view.member_count = membership.coordinators_only()
                          ? membership.member_count()
                          : static_cast<int32_t>(view.members.size());
  LOG(INFO) << "group " << options_.group_id << " generation " << generation_id_ << ": "
            << view.member_count << " members";
  last_heartbeat_ok_ = absl::Now();
  backoff_ = absl::ZeroDuration();
  bool have_complete = view.complete;
  // A member that wants complete views never gets the coordinators alone: it
  // would take them for the whole membership.
  if (!full || have_complete) Publish(view);
  std::string published_members;
  if (have_complete) {
    published_members = FingerprintOf(view.members, view.refused);
  }

  // Heartbeats until a rebalance, a stop or a request to rejoin. A lost
  // connection is not a lost membership: find the coordinator again and go
  // on heartbeating while the session lasts. Where a complete view is wanted,
  // the membership is read (DescribeGroups) and published once the heartbeat
  // that follows confirms the generation: a described group that was stable,
  // followed by a successful heartbeat of generation G, was generation G.
  absl::StatusOr<int16_t> heartbeat_version = c->PickVersion<kafka::HeartbeatRequest>();
  if (!heartbeat_version.ok()) return fail(heartbeat_version.status(), "cannot heartbeat");
  absl::Time next_refresh = absl::Now() + options_.view_refresh_interval;
  bool first = true;
  while (true) {
    if (!first && Wait(options_.heartbeat_interval, /*or_heartbeat_now=*/true)) return;
    first = false;
    bool refresh = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      heartbeat_now_ = false;
      if (loop_.stopping() || rejoin_requested_) return;
      full = full_view_;
      refresh = std::exchange(refresh_requested_, false);
      c = connection_ ? &*connection_ : nullptr;
    }
    if (c == nullptr) {
      if (absl::Status s = ConnectToCoordinator(); !s.ok()) {
        LOG_EVERY_N(WARNING, 10) << "cannot reach the coordinator of group " << options_.group_id
                                 << ": " << s.message();
        session_lost();
        if (generation_id_ < 0) return;
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      c = &*connection_;
    }
    std::optional<Everyone> described;
    if (full && (!have_complete || refresh || absl::Now() >= next_refresh)) {
      absl::StatusOr<Everyone> members = DescribeMembers(*c);
      if (members.ok()) {
        described = *std::move(members);
        next_refresh = absl::Now() + options_.view_refresh_interval;
      } else {
        LOG_EVERY_N(WARNING, 20) << "cannot read the members of group " << options_.group_id
                                 << " yet: " << members.status().message();
      }
    }
    kafka::HeartbeatRequest heartbeat;
    heartbeat.group_id = options_.group_id;
    heartbeat.generation_id = generation_id_;
    heartbeat.member_id = member_id_;
    heartbeat.group_instance_id = instance_id;
    kafka::HeartbeatResponse beat;
    status = c->Call(heartbeat, *heartbeat_version, &beat);
    if (!status.ok()) {
      LOG(INFO) << "heartbeat to the coordinator of group " << options_.group_id
                << " failed: " << status.message();
      SetConnection(std::nullopt);
      session_lost();
      if (generation_id_ < 0) return;
      continue;
    }
    if (beat.error_code == 0) {
      last_heartbeat_ok_ = absl::Now();
      if (described) {
        std::string serialized = FingerprintOf(described->members, described->refused);
        if (!have_complete || serialized != published_members) {
          view.member_count = static_cast<int32_t>(described->members.size());
          view.members = std::move(described->members);
          view.refused = std::move(described->refused);
          view.complete = true;
          have_complete = true;
          published_members = std::move(serialized);
          Publish(view);
        }
      }
      continue;
    }
    if (beat.error_code == kRebalanceInProgress && options_.on_rebalance) options_.on_rebalance();
    const Next next = OnGroupError(beat.error_code, "Heartbeat");
    if (next == Next::kRediscover) {
      SetConnection(std::nullopt);
      continue;
    }
    return handle(next);
  }
}

absl::StatusOr<GroupMember::Everyone> GroupMember::DescribeMembers(
    kafka::BlockingConnection& c) {
  KGW_ASSIGN_OR_RETURN(int16_t version, c.PickVersion<kafka::DescribeGroupsRequest>());
  kafka::DescribeGroupsRequest request;
  request.groups = {options_.group_id};
  kafka::DescribeGroupsResponse response;
  KGW_RETURN_IF_ERROR(c.Call(request, version, &response));
  if (response.groups.size() != 1) {
    return absl::UnavailableError(absl::StrCat("DescribeGroups answered ", response.groups.size(),
                                               " groups for one"));
  }
  const auto& group = response.groups[0];
  if (group.error_code == kGroupAuthorizationFailed) {
    return absl::PermissionDeniedError(
        absl::StrCat("DescribeGroups: GROUP_AUTHORIZATION_FAILED; grant the gateway's principal "
                     "DESCRIBE on group ", options_.group_id));
  }
  if (group.error_code != 0) {
    return absl::UnavailableError(
        absl::StrCat("DescribeGroups: ", kafka::DescribeError(group.error_code)));
  }
  if (group.group_state != "Stable") {
    return absl::UnavailableError(absl::StrCat("the group is ", group.group_state));
  }
  if (group.protocol_type != kProtocolType) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the group has protocol type \"", group.protocol_type, "\", not \"", kProtocolType, "\""));
  }
  Everyone all;
  all.members.reserve(group.members.size());
  for (const auto& m : group.members) {
    std::optional<v1::Member> member =
        Admit(m.member_id, m.group_instance_id, m.member_metadata, m.client_host, &all.refused);
    if (member) all.members.push_back(*std::move(member));
  }
  SortMembers(all.members);
  ForgetDuplicates(all);
  return all;
}

void GroupMember::ForgetDuplicates(Everyone& everyone) {
  for (const v1::Member& m : DropDuplicateNodeIds(everyone.members)) {
    ++refused_;
    everyone.refused.push_back(
        {.member_id = m.member_id(),
         .node_id = m.node().node_id(),
         .reason = "another member has this node id"});
    if (reported_.size() >= kMaxReported) reported_.clear();
    if (!reported_.insert(absl::StrCat(m.member_id(), "/duplicate")).second) continue;
    LOG(WARNING) << "group " << options_.group_id << ": member " << m.member_id()
                 << " claims node id \"" << m.node().node_id()
                 << "\", which another member has; it does not count (" << refused_.load()
                 << " refused so far)";
  }
}

void GroupMember::LeaveGroup() {
  if (member_id_.empty()) return;
  if (!options_.leave_on_stop) {
    LOG(INFO) << "keeping this node's place in group " << options_.group_id << " for "
              << options_.session_timeout << ": back by then, it rejoins without a rebalance";
    return;
  }
  kafka::BlockingConnection* c = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    connection_.reset();  // it may have been interrupted by Stop
  }
  if (absl::Status s = ConnectToCoordinator(); !s.ok()) {
    LOG(WARNING) << "cannot leave group " << options_.group_id
                 << " cleanly; the others notice after the session timeout: " << s.message();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    c = &*connection_;
  }
  absl::StatusOr<int16_t> version = c->PickVersion<kafka::LeaveGroupRequest>();
  if (!version.ok()) return;
  kafka::LeaveGroupRequest leave;
  leave.group_id = options_.group_id;
  if (*version >= 3) {
    leave.members.push_back({.member_id = member_id_,
                             .group_instance_id = InstanceId(),
                             .reason = "kgw node shutting down"});
  } else {
    leave.member_id = member_id_;
  }
  kafka::LeaveGroupResponse left;
  if (absl::Status s = c->Call(leave, *version, &left); !s.ok() || left.error_code != 0) {
    LOG(WARNING) << "LeaveGroup for group " << options_.group_id << " failed: "
                 << (s.ok() ? kafka::DescribeError(left.error_code) : std::string(s.message()));
    return;
  }
  LOG(INFO) << "left group " << options_.group_id;
  member_id_.clear();
}

}  // namespace kgw::membership
