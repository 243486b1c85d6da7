// The control plane's shared decisions: who leads, what an assignment built
// from a group view holds, and where one client is sent for one broker.
#include "common/control/routing.h"

#include <algorithm>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/assignment/rendezvous.h"
#include "gtest/gtest.h"

namespace kgw::control {
namespace {

v1::Member Node(const std::string& id, v1::NodeDescriptor::Role role, const std::string& rack,
                const std::string& host = "", uint32_t weight = 0) {
  v1::Member m;
  m.set_member_id(absl::StrCat("member-", id));
  v1::NodeDescriptor* d = m.mutable_node();
  d->set_node_id(id);
  d->set_role(role);
  d->set_rack(rack);
  d->set_advertised_host(host);
  d->set_port_start(9000);
  d->set_min_broker_id(1);
  d->set_weight(weight);
  return m;
}

constexpr auto kAgent = v1::NodeDescriptor::ROLE_AGENT;
constexpr auto kCoordinator = v1::NodeDescriptor::ROLE_COORDINATOR;

membership::View ThreeRacks() {
  membership::View v;
  v.generation_id = 7;
  v.members = {Node("agent-a", kAgent, "a", "10.0.0.1"), Node("agent-b", kAgent, "b", "10.0.0.2"),
               Node("agent-c", kAgent, "c", "10.0.0.3"), Node("coord-2", kCoordinator, ""),
               Node("coord-1", kCoordinator, "")};
  return v;
}

std::vector<cluster::BrokerEndpoint> Brokers() {
  return {{1, "k1", 9092, "a"}, {2, "k2", 9092, "b"}, {3, "k3", 9092, "c"}};
}

std::vector<std::string> Agents(const v1::Assignment& a, int32_t broker) {
  for (const v1::BrokerAssignment& b : a.brokers()) {
    if (b.broker_id() == broker) {
      const auto& ids = EligibleIds(a, b);
      return {ids.begin(), ids.end()};
    }
  }
  return {};
}

TEST(LeaderCoordinatorTest, IsTheCoordinatorWithTheSmallestNodeId) {
  membership::View v = ThreeRacks();
  EXPECT_EQ(LeaderCoordinator(v), "coord-1");
  EXPECT_EQ(LeaderEndpoint(v), "");  // Node() gives coordinators no endpoint
  v.members.back().mutable_node()->set_grpc_endpoint("10.0.0.9:6900");
  EXPECT_EQ(LeaderEndpoint(v), "10.0.0.9:6900");
  v.members.pop_back();
  EXPECT_EQ(LeaderCoordinator(v), "coord-2");
  v.members.pop_back();
  EXPECT_EQ(LeaderCoordinator(v), std::nullopt);  // agents never lead
  EXPECT_EQ(LeaderEndpoint(v), std::nullopt);
}

TEST(IsNewerTest, OrdersByGenerationThenRevision) {
  v1::Assignment a, b;
  a.set_generation_id(5);
  a.set_revision(9);
  b.set_generation_id(6);
  b.set_revision(1);
  EXPECT_TRUE(IsNewer(b, a));  // a later generation wins whatever the revision
  EXPECT_FALSE(IsNewer(a, b));
  a.set_generation_id(6);
  EXPECT_TRUE(IsNewer(a, b));
  EXPECT_FALSE(IsNewer(a, a));
}

// The epoch comes first: a new leader's assignment supersedes one of a
// higher generation when the group was deleted and created again.
TEST(IsNewerTest, ALaterEpochWinsWhateverTheGeneration) {
  v1::Assignment stored, fresh;
  stored.set_epoch(4);
  stored.set_generation_id(21);
  stored.set_revision(3);
  fresh.set_epoch(5);
  fresh.set_generation_id(3);
  fresh.set_revision(1);
  EXPECT_TRUE(IsNewer(fresh, stored));
  EXPECT_FALSE(IsNewer(stored, fresh));
}

TEST(PlausibleTest, RefusesEpochsAndRevisionsNoLeaderCanReach) {
  v1::Assignment a;
  a.set_epoch(12);
  a.set_revision(7);
  EXPECT_TRUE(Plausible(a));
  a.set_epoch(std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(Plausible(a));
  a.set_epoch(-1);
  EXPECT_FALSE(Plausible(a));
  a.set_epoch(1);
  a.set_revision(std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(Plausible(a));
}

TEST(BuildAssignmentTest, CarriesRackLocalSetsEndpointsDrainsAndStamps) {
  membership::View v = ThreeRacks();
  AssignmentInputs in{.view = &v, .brokers = Brokers(), .drained = {"agent-b"}};
  v1::Assignment a = BuildAssignment(in, "coord-1", 3);
  EXPECT_EQ(a.generation_id(), 7);
  EXPECT_EQ(a.revision(), 3);
  EXPECT_EQ(a.leader_node_id(), "coord-1");
  EXPECT_GT(a.computed_at_ms(), 0);
  EXPECT_EQ(Agents(a, 1), std::vector<std::string>{"agent-a"});
  EXPECT_EQ(Agents(a, 3), std::vector<std::string>{"agent-c"});
  // Broker 2's rack has only a drained agent: it goes to the agents of other
  // racks, max(1, 2 agents / 1 such broker) of them.
  EXPECT_EQ(Agents(a, 2), (std::vector<std::string>{"agent-a", "agent-c"}));
  EXPECT_TRUE(Drains(a, "agent-b"));
  EXPECT_FALSE(Drains(a, "agent-a"));
  // Endpoints of exactly the agents it names.
  std::set<std::string> endpoints;
  for (const v1::AgentEndpoint& e : a.agents()) {
    endpoints.insert(e.node_id());
    EXPECT_EQ(e.port_start(), 9000);
    EXPECT_EQ(e.min_broker_id(), 1);
  }
  EXPECT_EQ(endpoints, (std::set<std::string>{"agent-a", "agent-c"}));
}

// Brokers of a rack share one set of agents: the assignment grows with brokers
// plus agents, not with their product.
TEST(BuildAssignmentTest, NamesEachSetOnceSoItsSizeGrowsWithBrokersPlusAgents) {
  const auto build = [](int brokers, int agents) {
    membership::View v;
    v.generation_id = 1;
    for (int i = 0; i < agents; ++i) {
      v.members.push_back(Node(absl::StrCat("agent-", i), kAgent, std::string(1, 'a' + i % 3),
                               absl::StrCat("10.0.", i / 250, ".", i % 250)));
    }
    std::vector<cluster::BrokerEndpoint> list;
    for (int b = 1; b <= brokers; ++b) {
      list.push_back({b, absl::StrCat("k", b), 9092, std::string(1, 'a' + b % 3)});
    }
    return BuildAssignment({.view = &v, .brokers = list}, "coord-1", 1);
  };
  const v1::Assignment small = build(30, 60);
  const v1::Assignment large = build(300, 600);
  EXPECT_EQ(large.agent_sets_size(), 3);
  for (const v1::BrokerAssignment& b : large.brokers()) {
    EXPECT_EQ(EligibleIds(large, b).size(), 200) << "broker " << b.broker_id();
    EXPECT_TRUE(b.agent_node_ids().empty());
  }
  // Ten times the brokers and the agents: about ten times the bytes (the
  // expanded form would be a hundred times).
  EXPECT_LT(large.ByteSizeLong(), 12 * small.ByteSizeLong());
  EXPECT_GT(Expanded(large).ByteSizeLong(), 50 * small.ByteSizeLong());
}

TEST(BuildAssignmentTest, SameRoutingIgnoresStampsOnly) {
  membership::View v = ThreeRacks();
  AssignmentInputs in{.view = &v, .brokers = Brokers()};
  v1::Assignment a = BuildAssignment(in, "coord-1", 1);
  v1::Assignment b = BuildAssignment(in, "coord-2", 2);
  EXPECT_TRUE(SameRouting(a, b));
  in.drained = {"agent-c"};
  EXPECT_FALSE(SameRouting(a, BuildAssignment(in, "coord-1", 3)));
}

TEST(RouteTest, SendsAClientToTheSameAgentEveryTimeAndToTheAgentsPortForTheBroker) {
  membership::View v = ThreeRacks();
  v.members.push_back(Node("agent-a2", kAgent, "a", "10.0.0.4"));
  v1::Assignment a = BuildAssignment({.view = &v, .brokers = Brokers()}, "coord-1", 1);
  ASSERT_EQ(Agents(a, 1), (std::vector<std::string>{"agent-a", "agent-a2"}));
  std::map<std::string, int> chosen;
  RouteIndex index(a, nullptr);
  for (int i = 0; i < 200; ++i) {
    const std::string client = absl::StrCat("client-", i);
    RouteDecision d = index.Route(1, client, "192.0.2.1");
    ASSERT_TRUE(d.chosen.has_value());
    EXPECT_EQ(d.port, 9000);  // port_start + (1 - min_broker_id)
    EXPECT_EQ(d.host, d.chosen->advertised_host());
    EXPECT_EQ(d.candidates.size(), 2u);
    EXPECT_EQ(d.candidates[0].agent.node_id(), d.chosen->node_id());
    EXPECT_EQ(Route(a, 1, client, "192.0.2.1").chosen->node_id(), d.chosen->node_id());
    const v1::AgentEndpoint* picked =
        index.Pick(1, assignment::ClientKey(client, "192.0.2.1"));
    ASSERT_NE(picked, nullptr);
    EXPECT_EQ(picked->node_id(), d.chosen->node_id());
    ++chosen[d.chosen->node_id()];
  }
  // Both rack-a agents get a fair share of the clients.
  EXPECT_GT(chosen["agent-a"], 60);
  EXPECT_GT(chosen["agent-a2"], 60);
  EXPECT_FALSE(index.Route(42, "c", "h").chosen.has_value());  // no such broker
}

TEST(RouteTest, SkipsAgentsTheGroupNoLongerHasUnlessNoneIsLive) {
  membership::View v = ThreeRacks();
  v.members.push_back(Node("agent-a2", kAgent, "a", "10.0.0.4"));
  v1::Assignment a = BuildAssignment({.view = &v, .brokers = Brokers()}, "coord-1", 1);
  absl::flat_hash_set<std::string> live = {"agent-a2", "agent-b", "agent-c"};
  RouteIndex index(a, &live);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(index.Route(1, absl::StrCat("client-", i), "h").chosen->node_id(), "agent-a2");
  }
  // Broker 2's only agent is gone too: better a stale address than none.
  live = {"agent-a2"};
  RouteIndex stale(a, &live);
  EXPECT_EQ(stale.Route(2, "client", "h").chosen->node_id(), "agent-b");
}

// An assignment whose sets are `sets`, in this order (numbers 1, 2, ...).
v1::Assignment WithSets(const std::vector<std::vector<std::string>>& sets) {
  v1::Assignment a;
  for (const auto& set : sets) {
    v1::AgentSet* s = a.add_agent_sets();
    for (const std::string& id : set) s->add_agent_node_ids(id);
  }
  return a;
}

std::vector<int32_t> Numbers(const std::vector<std::vector<std::string>>& sets,
                             const v1::Assignment* previous) {
  std::vector<const std::vector<std::string>*> pointers;
  for (const auto& set : sets) pointers.push_back(&set);
  return NumberAgentSets(pointers, previous);
}

TEST(NumberAgentSetsTest, SameRoutingDoesNotCompareSetNumbers) {
  v1::Assignment a = WithSets({{"agent-a"}, {"agent-b"}});
  v1::Assignment b = WithSets({{"agent-b"}, {"agent-a"}});
  for (int id : {1, 2}) {
    a.add_brokers()->set_broker_id(id);
    a.mutable_brokers(id - 1)->set_agent_set(id);
    b.add_brokers()->set_broker_id(id);
    b.mutable_brokers(id - 1)->set_agent_set(3 - id);
  }
  EXPECT_TRUE(SameRouting(a, b));
  b.mutable_brokers(0)->set_agent_set(1);
  EXPECT_FALSE(SameRouting(a, b));
}

TEST(NumberAgentSetsTest, WithoutAPreviousAssignmentSetsAreNumberedInOrder) {
  EXPECT_EQ(Numbers({{"a"}, {"b"}, {"c"}}, nullptr), (std::vector<int32_t>{1, 2, 3}));
}

TEST(NumberAgentSetsTest, SetsKeepTheirNumbersWhateverOrderBrokersNameThem) {
  const v1::Assignment previous = WithSets({{"a1", "a2"}, {"b1"}, {"c1", "c2"}});
  EXPECT_EQ(Numbers({{"c1", "c2"}, {"a1", "a2"}, {"b1"}}, &previous),
            (std::vector<int32_t>{3, 1, 2}));
}

TEST(NumberAgentSetsTest, AChangedSetKeepsTheNumberOfTheSetItOverlapsMost) {
  const v1::Assignment previous = WithSets({{"a1", "a2", "a3"}, {"b1", "b2"}});
  // A new set first, then a grown and a shrunk one.
  EXPECT_EQ(Numbers({{"x1"}, {"a1", "a2", "a3", "a4"}, {"b2"}}, &previous),
            (std::vector<int32_t>{3, 1, 2}));
}

TEST(NumberAgentSetsTest, NewSetsTakeTheNumbersOfSetsThatAreGone) {
  const v1::Assignment previous = WithSets({{"a1"}, {"b1"}, {"c1"}});
  EXPECT_EQ(Numbers({{"c1"}, {"x1"}, {"a1"}}, &previous), (std::vector<int32_t>{3, 2, 1}));
}

TEST(NumberAgentSetsTest, WhenSetsAreGoneTheLastMoveIntoTheHoles) {
  const v1::Assignment previous = WithSets({{"a1"}, {"b1"}, {"c1"}, {"d1"}});
  EXPECT_EQ(Numbers({{"d1"}, {"a1"}}, &previous), (std::vector<int32_t>{2, 1}));
}

TEST(NumberAgentSetsTest, AlwaysNumbersOneToN) {
  std::mt19937 random(7);
  std::vector<std::vector<std::string>> previous_sets;
  for (int round = 0; round < 200; ++round) {
    std::vector<std::vector<std::string>> sets;
    std::set<std::vector<std::string>> distinct;
    const int n = static_cast<int>(random() % 12);
    for (int i = 0; i < n; ++i) {
      std::vector<std::string> set;
      for (int j = 0; j < 6; ++j) {
        if (random() % 3 == 0) set.push_back(absl::StrCat("agent-", j));
      }
      if (!set.empty() && distinct.insert(set).second) sets.push_back(set);
    }
    const v1::Assignment previous = WithSets(previous_sets);
    std::vector<int32_t> numbers = Numbers(sets, &previous);
    std::sort(numbers.begin(), numbers.end());
    for (size_t i = 0; i < numbers.size(); ++i) ASSERT_EQ(numbers[i], static_cast<int32_t>(i + 1));
    previous_sets = sets;
  }
}

}  // namespace
}  // namespace kgw::control
