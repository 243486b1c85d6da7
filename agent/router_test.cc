// Where the agent advertises a broker: at the agent the assignment picks for
// the client, or at itself when there is no assignment or internal load
// balancing is off; older assignments never replace newer ones.
#include "agent/router.h"

#include <limits>

#include "common/assignment/rendezvous.h"
#include "gtest/gtest.h"

namespace kgw::agent {
namespace {

v1::Assignment OneBroker(int32_t generation, int64_t revision, const std::string& agent_host) {
  v1::Assignment a;
  a.set_generation_id(generation);
  a.set_revision(revision);
  v1::BrokerAssignment* b = a.add_brokers();
  b->set_broker_id(2);
  b->set_broker_rack("b");
  b->add_agent_node_ids("agent-b");
  v1::AgentEndpoint* e = a.add_agents();
  e->set_node_id("agent-b");
  e->set_advertised_host(agent_host);
  e->set_port_start(7000);
  e->set_min_broker_id(1);
  return a;
}

const PortMap kPorts{.port_start = 6969, .min_broker_id = 0, .advertised_host = "self"};

TEST(RouterTest, AdvertisesItselfUntilAnAssignmentArrives) {
  Router router(kPorts, /*internal_load_balancing=*/true);
  const std::string key = assignment::ClientKey("app", "10.0.0.9");
  AdvertisedAddress a = router.AddressFor(router.Snapshot().get(), 2, key);
  EXPECT_EQ(a.host, "self");
  EXPECT_EQ(a.port, 6971);
  ASSERT_TRUE(router.Install(OneBroker(3, 1, "agent-b.example"), "test"));
  a = router.AddressFor(router.Snapshot().get(), 2, key);
  EXPECT_EQ(a.host, "agent-b.example");
  EXPECT_EQ(a.port, 7001);  // that agent's port_start + (2 - its min broker id)
  // A broker the assignment does not know yet is served here.
  a = router.AddressFor(router.Snapshot().get(), 5, key);
  EXPECT_EQ(a.host, "self");
  EXPECT_EQ(a.port, 6974);
}

TEST(RouterTest, KeepsTheNewestAssignment) {
  Router router(kPorts, true);
  int installed = 0;
  router.OnInstall([&](const v1::Assignment&) { ++installed; });
  EXPECT_TRUE(router.Install(OneBroker(4, 2, "new"), "test"));
  EXPECT_FALSE(router.Install(OneBroker(4, 1, "older revision"), "test"));
  EXPECT_FALSE(router.Install(OneBroker(3, 9, "older generation"), "test"));
  EXPECT_FALSE(router.Install(OneBroker(4, 2, "same"), "test"));
  EXPECT_EQ(installed, 1);
  EXPECT_EQ(router.AddressFor(router.Snapshot().get(), 2, "k").host, "new");
}

// A coordinator that claimed a huge epoch and left cannot pin the agents:
// the leader the group names now replaces its assignment, and an epoch no
// leader can reach is refused outright.
TEST(RouterTest, TheLeadersAssignmentReplacesAForgedOneAndImplausibleOnesAreRefused) {
  Router router(kPorts, true);
  v1::Assignment forged = OneBroker(4, 1, "evil.example");
  forged.set_epoch(int64_t{1} << 40);
  forged.set_leader_node_id("0-evil");
  v1::Assignment leaders = OneBroker(2, 1, "good.example");
  leaders.set_epoch(3);
  leaders.set_leader_node_id("coord-1");
  v1::Assignment impossible = OneBroker(9, 1, "worse.example");
  impossible.set_epoch(std::numeric_limits<int64_t>::max());

  ASSERT_TRUE(router.Install(forged, "coordinator"));
  EXPECT_FALSE(router.Install(leaders, "coordinator", /*from_leader=*/false));
  EXPECT_TRUE(router.Install(leaders, "coordinator", /*from_leader=*/true));
  EXPECT_FALSE(router.Install(impossible, "coordinator", /*from_leader=*/true));

  EXPECT_EQ(router.AddressFor(router.Snapshot().get(), 2, "k").host, "good.example");
}

TEST(RouterTest, ExternalLoadBalancerModeAlwaysAdvertisesItsOwnHost) {
  Router router({.port_start = 9000, .min_broker_id = 1, .advertised_host = "lb.example"},
                /*internal_load_balancing=*/false);
  router.Install(OneBroker(1, 1, "agent-b.example"), "test");
  AdvertisedAddress a = router.AddressFor(router.Snapshot().get(), 2, "k");
  EXPECT_EQ(a.host, "lb.example");
  EXPECT_EQ(a.port, 9001);
}

}  // namespace
}  // namespace kgw::agent
