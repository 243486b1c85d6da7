// ControlState without Kafka: group views, brokers and stored assignments are
// fed in by hand, and the publisher is a function that records (or refuses)
// what the leader would write to the assignments topic.
#include "coordinator/control_state.h"

#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/control/assignment_wire.h"
#include "common/control/routing.h"
#include "gtest/gtest.h"

namespace kgw::coordinator {
namespace {

constexpr auto kAgent = v1::NodeDescriptor::ROLE_AGENT;
constexpr auto kCoordinator = v1::NodeDescriptor::ROLE_COORDINATOR;

v1::Member Node(const std::string& id, v1::NodeDescriptor::Role role, const std::string& rack) {
  v1::Member m;
  m.set_member_id(absl::StrCat("member-", id));
  m.mutable_node()->set_node_id(id);
  m.mutable_node()->set_role(role);
  m.mutable_node()->set_rack(rack);
  m.mutable_node()->set_advertised_host(id + ".example");
  m.mutable_node()->set_grpc_endpoint(id + ":6900");
  return m;
}

membership::View View(int32_t generation, std::vector<v1::Member> members) {
  membership::View v;
  v.generation_id = generation;
  v.members = std::move(members);
  v.complete = true;
  v.member_count = static_cast<int32_t>(v.members.size());
  return v;
}

std::vector<cluster::BrokerEndpoint> Brokers() {
  return {{1, "k1", 9092, "a"}, {2, "k2", 9092, "b"}};
}

// Records what the leader publishes; can be told to fail.
class Topic {
 public:
  absl::Status Write(const v1::Assignment& a) {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_) return absl::UnavailableError("no broker answered");
    written_.push_back(a);
    return absl::OkStatus();
  }
  void set_fail(bool fail) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_ = fail;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return written_.size();
  }

 private:
  std::mutex mu_;
  bool fail_ = false;
  std::vector<v1::Assignment> written_;
};

class ControlStateTest : public ::testing::Test {
 protected:
  // `admit_for` and `proven`: ControlState's admit_streaming_for and
  // streams_proven.
  void Start(const std::string& node_id, absl::Duration admit_for = absl::ZeroDuration(),
             bool proven = false) {
    state_ = std::make_unique<ControlState>(
        ControlState::Options{.node_id = node_id,
                              .cluster_id = "test",
                              .group_id = "kgw_test",
                              .version = "0",
                              .mutation_timeout = absl::Seconds(5),
                              .view_catch_up = absl::Milliseconds(500),
                              .grpc_endpoint = node_id + ":6900",
                              .admit_streaming_for = admit_for,
                              .streams_proven = [proven] { return proven; }},
        [this](const v1::Assignment& a) { return topic_.Write(a); });
    state_->Start();
  }
  void TearDown() override {
    if (state_) state_->Stop();
  }
  // The next assignment newer than `after` (any when null), within 5 s.
  std::optional<v1::Assignment> Next(const v1::Assignment* after = nullptr) {
    return state_->WaitNewer(after, absl::Seconds(5), [] { return false; });
  }

  Topic topic_;
  std::unique_ptr<ControlState> state_;
};

TEST_F(ControlStateTest, LeaderPublishesOnceItHasTheViewTheBrokersAndTheStoredAssignment) {
  Start("coord-1");
  state_->OnView(View(3, {Node("agent-a", kAgent, "a"), Node("coord-1", kCoordinator, "")}));
  state_->OnBrokers(Brokers());
  // Not before the stored assignment has been read: it may hold drains.
  EXPECT_FALSE(state_->WaitNewer(nullptr, absl::Milliseconds(300), [] { return false; }));
  EXPECT_EQ(topic_.size(), 0u);
  state_->OnStoredAssignmentLoaded();
  std::optional<v1::Assignment> a = Next();
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->generation_id(), 3);
  EXPECT_EQ(a->revision(), 1);
  EXPECT_EQ(a->leader_node_id(), "coord-1");
  EXPECT_EQ(topic_.size(), 1u);
  EXPECT_TRUE(state_->IsLeader());
  EXPECT_TRUE(state_->Ready());
}

TEST_F(ControlStateTest, FollowerServesWhatTheTopicHoldsAndNeverPublishes) {
  Start("coord-2");
  state_->OnView(View(4, {Node("agent-a", kAgent, "a"), Node("coord-1", kCoordinator, ""),
                          Node("coord-2", kCoordinator, "")}));
  state_->OnBrokers(Brokers());
  state_->OnStoredAssignmentLoaded();
  EXPECT_FALSE(state_->IsLeader());
  EXPECT_EQ(state_->LeaderEndpoint(), "coord-1:6900");
  v1::Assignment stored;
  stored.set_generation_id(4);
  stored.set_revision(2);
  stored.set_leader_node_id("coord-1");
  state_->OnStoredAssignment(stored);
  std::optional<v1::Assignment> a = Next();
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->revision(), 2);
  // An older one (a deposed leader's) is ignored.
  v1::Assignment older = stored;
  older.set_generation_id(3);
  older.set_revision(9);
  state_->OnStoredAssignment(older);
  EXPECT_EQ(state_->Current()->generation_id(), 4);
  EXPECT_EQ(topic_.size(), 0u);
  EXPECT_TRUE(absl::IsFailedPrecondition(state_->SetDrained("agent-a", true).status()));
}

TEST_F(ControlStateTest, DrainsMoveBrokersAndSurviveAChangeOfLeader) {
  Start("coord-1");
  state_->OnView(View(5, {Node("agent-a", kAgent, "a"), Node("agent-b", kAgent, "b"),
                          Node("coord-1", kCoordinator, "")}));
  state_->OnBrokers(Brokers());
  state_->OnStoredAssignmentLoaded();
  std::optional<v1::Assignment> first = Next();
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(absl::IsNotFound(state_->SetDrained("agent-zz", true).status()));

  absl::StatusOr<v1::Assignment> drained = state_->SetDrained("agent-a", true);
  ASSERT_TRUE(drained.ok()) << drained.status();
  EXPECT_TRUE(control::Drains(*drained, "agent-a"));
  EXPECT_EQ(drained->generation_id(), 5);
  EXPECT_EQ(drained->revision(), 2);
  for (const v1::BrokerAssignment& b : drained->brokers()) {
    const auto& ids = control::EligibleIds(*drained, b);
    EXPECT_EQ(std::vector<std::string>(ids.begin(), ids.end()),
              std::vector<std::string>{"agent-b"});
  }
  EXPECT_EQ(state_->Nodes().nodes(0).health(), v1::NodeStatus::HEALTH_DRAINING);

  // Another coordinator takes over from the stored assignment and keeps the drain.
  Topic other_topic;
  ControlState other({.node_id = "coord-0", .cluster_id = "test", .group_id = "kgw_test"},
                     [&](const v1::Assignment& a) { return other_topic.Write(a); });
  other.Start();
  other.OnStoredAssignment(*drained);
  other.OnStoredAssignmentLoaded();
  other.OnBrokers(Brokers());
  other.OnView(View(6, {Node("agent-a", kAgent, "a"), Node("agent-b", kAgent, "b"),
                        Node("coord-0", kCoordinator, "")}));
  std::optional<v1::Assignment> taken_over =
      other.WaitNewer(&*drained, absl::Seconds(5), [] { return false; });
  other.Stop();
  ASSERT_TRUE(taken_over.has_value());
  EXPECT_EQ(taken_over->generation_id(), 6);
  EXPECT_EQ(taken_over->leader_node_id(), "coord-0");
  EXPECT_TRUE(control::Drains(*taken_over, "agent-a"));
}

// An agent shutting down says so on its stream: its brokers move at once,
// without a rebalance and without being stored as an operator's drain, and
// come back when it streams again.
TEST_F(ControlStateTest, AnAgentShuttingDownLosesItsBrokersUntilItIsBack) {
  Start("coord-1");
  state_->OnView(View(5, {Node("agent-a", kAgent, "a"), Node("agent-b", kAgent, "b"),
                          Node("coord-1", kCoordinator, "")}));
  state_->OnBrokers(Brokers());
  state_->OnStoredAssignmentLoaded();
  std::optional<v1::Assignment> first = Next();
  ASSERT_TRUE(first.has_value());
  v1::NodeDescriptor leaving = Node("agent-a", kAgent, "a").node();
  leaving.set_draining(true);

  state_->OnAgentDescriptor(leaving);
  std::optional<v1::Assignment> without = Next(&*first);

  ASSERT_TRUE(without.has_value());
  EXPECT_EQ(without->generation_id(), 5);
  for (const v1::BrokerAssignment& b : without->brokers()) {
    const auto& ids = control::EligibleIds(*without, b);
    EXPECT_EQ(std::vector<std::string>(ids.begin(), ids.end()),
              std::vector<std::string>{"agent-b"});
  }
  EXPECT_FALSE(control::Drains(*without, "agent-a"));
  EXPECT_EQ(state_->Nodes().nodes(0).health(), v1::NodeStatus::HEALTH_DRAINING);

  leaving.set_draining(false);
  state_->OnAgentDescriptor(leaving);
  std::optional<v1::Assignment> back = Next(&*without);

  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(control::SameRouting(*back, *first));
}

// A sidecar streams but is no member: listed while its stream lasts, drained
// by node id (kept in the assignment), never assigned a broker.
TEST_F(ControlStateTest, ASidecarIsListedAndDrainedButNeverAssignedBrokers) {
  Start("coord-1");
  state_->OnView(View(5, {Node("agent-a", kAgent, "a"), Node("coord-1", kCoordinator, "")}));
  state_->OnBrokers(Brokers());
  state_->OnStoredAssignmentLoaded();
  std::optional<v1::Assignment> first = Next();
  ASSERT_TRUE(first.has_value());
  v1::NodeDescriptor sidecar = Node("app-1", v1::NodeDescriptor::ROLE_SIDECAR, "a").node();
  sidecar.set_advertised_host("localhost");

  state_->OnAgentStream("app-1", true);
  state_->OnAgentDescriptor(sidecar);
  v1::LoadReport load;
  load.set_connections(4);
  state_->OnLoad("app-1", load);

  EXPECT_EQ(state_->Status().sidecars(), 1);
  EXPECT_EQ(state_->Status().agents(), 1);
  const v1::ListNodesResponse nodes = state_->Nodes();
  ASSERT_EQ(nodes.nodes_size(), 3);
  const v1::NodeStatus& listed = nodes.nodes(2);
  EXPECT_EQ(listed.node().node_id(), "app-1");
  EXPECT_EQ(listed.node().role(), v1::NodeDescriptor::ROLE_SIDECAR);
  EXPECT_EQ(listed.health(), v1::NodeStatus::HEALTH_LIVE);
  EXPECT_EQ(listed.load().connections(), 4);

  absl::StatusOr<v1::Assignment> drained = state_->SetDrained("app-1", true);
  ASSERT_TRUE(drained.ok()) << drained.status();
  EXPECT_TRUE(control::Drains(*drained, "app-1"));
  for (const v1::BrokerAssignment& b : drained->brokers()) {
    const auto& ids = control::EligibleIds(*drained, b);
    EXPECT_EQ(std::vector<std::string>(ids.begin(), ids.end()),
              std::vector<std::string>{"agent-a"});
  }
  EXPECT_EQ(state_->Nodes().nodes(2).health(), v1::NodeStatus::HEALTH_DRAINING);

  // Gone with its stream; a node id nobody has cannot be drained.
  state_->OnAgentStream("app-1", false);
  EXPECT_EQ(state_->Status().sidecars(), 0);
  EXPECT_EQ(state_->Nodes().nodes_size(), 2);
  EXPECT_TRUE(absl::IsNotFound(state_->SetDrained("app-2", true).status()));
}

// Every gateway node stopped, Kafka deleted the empty group, and the new
// group's generations start again below the stored assignment's: the new
// leader says so and supersedes it with a higher epoch instead of waiting for
// a generation that never comes.
TEST_F(ControlStateTest, ALeaderSupersedesAStoredAssignmentOfARecreatedGroup) {
  Start("coord-1");
  v1::Assignment stored;
  stored.set_epoch(4);
  stored.set_generation_id(21);
  stored.set_revision(2);
  stored.set_leader_node_id("coord-9");
  v1::BrokerAssignment* b = stored.add_brokers();
  b->set_broker_id(1);
  b->add_agent_node_ids("agent-dead");
  state_->OnStoredAssignment(stored);
  state_->OnStoredAssignmentLoaded();
  state_->OnBrokers(Brokers());

  state_->OnView(View(3, {Node("agent-a", kAgent, "a"), Node("coord-1", kCoordinator, "")}));
  std::optional<v1::Assignment> a = Next(&stored);

  ASSERT_TRUE(a.has_value());
  EXPECT_GT(a->epoch(), 4);
  EXPECT_EQ(a->generation_id(), 3);
  EXPECT_EQ(a->leader_node_id(), "coord-1");
  EXPECT_EQ(control::EligibleIds(*a, a->brokers(0))[0], "agent-a");
  EXPECT_EQ(topic_.size(), 1u);
}

// A record nobody could have computed (a forged epoch of 2^63-1) is ignored;
// one written over the leader's by someone else is superseded at once.
TEST_F(ControlStateTest, ALeaderIgnoresForgedEpochsAndSupersedesForeignRecords) {
  Start("coord-1");
  state_->OnView(View(3, {Node("agent-a", kAgent, "a"), Node("coord-1", kCoordinator, "")}));
  state_->OnBrokers(Brokers());
  state_->OnStoredAssignmentLoaded();
  std::optional<v1::Assignment> first = Next();
  ASSERT_TRUE(first.has_value());
  // Never below the clock, so that an old record replayed cannot make a
  // later leader reuse an epoch.
  EXPECT_GE(first->epoch(), absl::ToUnixMillis(absl::Now()) - 60 * 1000);

  v1::Assignment forged = *first;
  forged.set_epoch(std::numeric_limits<int64_t>::max());
  forged.set_leader_node_id("0-evil");
  state_->OnStoredAssignment(forged);
  EXPECT_EQ(state_->Current()->epoch(), first->epoch());

  v1::Assignment foreign = *first;
  foreign.set_epoch(first->epoch() + 7);
  foreign.set_leader_node_id("0-evil");
  foreign.clear_brokers();
  state_->OnStoredAssignment(foreign);
  std::optional<v1::Assignment> back = Next(&foreign);

  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->epoch(), first->epoch() + 8);
  EXPECT_EQ(back->leader_node_id(), "coord-1");
  EXPECT_TRUE(control::SameRouting(*back, *first));
}

TEST_F(ControlStateTest, ServesAnAssignmentTheTopicRefusedAndStoresItLater) {
  Start("coord-1");
  topic_.set_fail(true);
  state_->OnView(View(2, {Node("agent-a", kAgent, "a"), Node("coord-1", kCoordinator, "")}));
  state_->OnBrokers(Brokers());
  state_->OnStoredAssignmentLoaded();
  ASSERT_TRUE(Next().has_value());
  EXPECT_EQ(state_->counters().publish_failures, 1);
  topic_.set_fail(false);
  // Retried on the computing thread's next pass (every 5 s).
  for (int i = 0; i < 80 && topic_.size() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(topic_.size(), 1u);
}

bool Names(const v1::Assignment& a, const std::string& node_id) {
  for (const v1::AgentEndpoint& e : a.agents()) {
    if (e.node_id() == node_id) return true;
  }
  return false;
}

// Leads generation 3 of agent-a alone; returns its first assignment.
std::optional<v1::Assignment> LeadAgentA(
    ControlState& state, const std::function<std::optional<v1::Assignment>()>& next) {
  state.OnView(View(3, {Node("agent-a", kAgent, "a"), Node("coord-1", kCoordinator, "")}));
  state.OnBrokers(Brokers());
  state.OnStoredAssignmentLoaded();
  return next();
}

// agent-b opens a stream and sends its descriptor.
void StreamAgentB(ControlState& state) {
  state.OnAgentStream("agent-b", true);
  state.OnAgentDescriptor(Node("agent-b", kAgent, "b").node());
}

// With proven streams, an agent that streams before the group lists it is
// assigned at once, for a while: a join need not wait for the rebalance.
TEST_F(ControlStateTest, AProvenStreamingAgentIsAssignedBeforeTheGroupListsIt) {
  Start("coord-1", absl::Milliseconds(800), /*proven=*/true);
  std::optional<v1::Assignment> first = LeadAgentA(*state_, [this] { return Next(); });
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->leader_endpoint(), "coord-1:6900");
  EXPECT_FALSE(Names(*first, "agent-b"));

  // agent-b streams; the group has not rebalanced yet.
  const absl::Time opened = absl::Now();
  StreamAgentB(*state_);
  std::optional<v1::Assignment> joined = Next(&*first);
  ASSERT_TRUE(joined.has_value());
  EXPECT_TRUE(Names(*joined, "agent-b"));
  EXPECT_EQ(joined->generation_id(), 3);  // a new revision, not a new generation
  EXPECT_EQ(joined->revision(), first->revision() + 1);
  EXPECT_EQ(joined->brokers(1).broker_id(), 2);
  const auto& eligible = control::EligibleIds(*joined, joined->brokers(1));
  EXPECT_EQ(std::vector<std::string>(eligible.begin(), eligible.end()),
            std::vector<std::string>{"agent-b"});

  // The group never lists it: once the window has passed, only the group
  // counts.
  std::optional<v1::Assignment> expired = Next(&*joined);
  ASSERT_TRUE(expired.has_value());
  EXPECT_FALSE(Names(*expired, "agent-b"));
  EXPECT_GE(absl::Now() - opened, absl::Milliseconds(800));

  // Listed by the group, it stays whatever its stream's age.
  state_->OnView(View(4, {Node("agent-a", kAgent, "a"), Node("agent-b", kAgent, "b"),
                          Node("coord-1", kCoordinator, ""), Node("coord-2", kCoordinator, "")}));
  std::optional<v1::Assignment> member = Next(&*expired);
  ASSERT_TRUE(member.has_value());
  EXPECT_TRUE(Names(*member, "agent-b"));
  // Every coordinator, this leader's endpoint first (agents learn the
  // followers here: the group names them the leader alone).
  EXPECT_EQ(member->leader_node_id(), "coord-1");
  EXPECT_EQ(std::vector<std::string>(member->coordinator_endpoints().begin(),
                                     member->coordinator_endpoints().end()),
            (std::vector<std::string>{"coord-1:6900", "coord-2:6900"}));
}

TEST_F(ControlStateTest, AStreamingAgentIsForgottenWithItsStreamAndNeverAdmittedUnproven) {
  Start("coord-1", absl::Seconds(30), /*proven=*/true);
  std::optional<v1::Assignment> first = LeadAgentA(*state_, [this] { return Next(); });
  ASSERT_TRUE(first.has_value());
  StreamAgentB(*state_);
  std::optional<v1::Assignment> joined = Next(&*first);
  ASSERT_TRUE(joined.has_value());
  ASSERT_TRUE(Names(*joined, "agent-b"));
  // A draining descriptor (an agent stopping before the group listed it)
  // is not admitted either.
  v1::NodeDescriptor draining = Node("agent-b", kAgent, "b").node();
  draining.set_draining(true);
  state_->OnAgentDescriptor(draining);
  std::optional<v1::Assignment> stopping = Next(&*joined);
  ASSERT_TRUE(stopping.has_value());
  EXPECT_FALSE(Names(*stopping, "agent-b"));
  state_->OnAgentDescriptor(Node("agent-b", kAgent, "b").node());
  std::optional<v1::Assignment> back = Next(&*stopping);
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(Names(*back, "agent-b"));
  state_->OnAgentStream("agent-b", false);
  std::optional<v1::Assignment> gone = Next(&*back);
  ASSERT_TRUE(gone.has_value());
  EXPECT_FALSE(Names(*gone, "agent-b"));

  // Without proven streams (no cluster key) only the group counts.
  TearDown();
  Start("coord-1", absl::Seconds(30), /*proven=*/false);
  first = LeadAgentA(*state_, [this] { return Next(); });
  ASSERT_TRUE(first.has_value());
  StreamAgentB(*state_);
  EXPECT_FALSE(state_->WaitNewer(&*first, absl::Milliseconds(500), [] { return false; }));
}

TEST_F(ControlStateTest, ExplainsARoute) {
  Start("coord-1");
  state_->OnView(View(2, {Node("agent-a", kAgent, "a"), Node("agent-b", kAgent, "b"),
                          Node("coord-1", kCoordinator, "")}));
  state_->OnBrokers(Brokers());
  state_->OnStoredAssignmentLoaded();
  ASSERT_TRUE(Next().has_value());
  v1::ExplainRouteRequest request;
  request.set_broker_id(2);
  request.set_client_id("billing");
  request.set_client_host("192.0.2.7");
  absl::StatusOr<v1::ExplainRouteResponse> r = state_->Explain(request);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->node_id(), "agent-b");
  EXPECT_EQ(r->host(), "agent-b.example");
  EXPECT_EQ(r->broker_rack(), "b");
  EXPECT_NE(r->reason().find("same rack"), std::string::npos) << r->reason();
  request.set_broker_id(9);
  EXPECT_TRUE(absl::IsNotFound(state_->Explain(request).status()));
}

}  // namespace
}  // namespace kgw::coordinator
