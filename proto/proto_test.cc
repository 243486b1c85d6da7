// The node descriptor is the member metadata of the gateway's Kafka group:
// nodes of different versions must read each other's bytes. These tests pin
// the wire form so a careless renumbering fails here, not in a mixed cluster.
#include <string>

#include "gtest/gtest.h"
#include "kgw/v1/assignment.grpc.pb.h"
#include "kgw/v1/assignment.pb.h"
#include "kgw/v1/node.pb.h"

namespace kgw {
namespace {

TEST(NodeDescriptorTest, RoundTripsThroughBytes) {
  v1::NodeDescriptor in;
  in.set_node_id("agent-7");
  in.set_role(v1::NodeDescriptor::ROLE_AGENT);
  in.set_advertised_host("127.0.0.2");
  in.set_port_start(6969);
  in.set_rack("b");
  in.set_grpc_endpoint("127.0.0.2:6900");
  in.set_version("0.1.0");
  in.set_weight(150);
  in.set_draining(true);

  std::string bytes;
  ASSERT_TRUE(in.SerializeToString(&bytes));
  v1::NodeDescriptor out;
  ASSERT_TRUE(out.ParseFromString(bytes));
  EXPECT_EQ(out.node_id(), "agent-7");
  EXPECT_EQ(out.role(), v1::NodeDescriptor::ROLE_AGENT);
  EXPECT_EQ(out.port_start(), 6969);
  EXPECT_EQ(out.rack(), "b");
  EXPECT_EQ(out.weight(), 150u);
  EXPECT_TRUE(out.draining());
}

TEST(NodeDescriptorTest, FieldNumbersAreStableOnTheWire) {
  v1::NodeDescriptor d;
  d.set_node_id("n");  // field 1, length-delimited: tag byte 0x0a
  d.set_role(v1::NodeDescriptor::ROLE_COORDINATOR);  // field 2, varint: 0x10
  d.set_port_start(1);  // field 4, varint: 0x20
  std::string bytes;
  ASSERT_TRUE(d.SerializeToString(&bytes));
  EXPECT_EQ(bytes, std::string("\x0a\x01n\x10\x02\x20\x01", 7));
}

TEST(AssignmentTest, KeepsEligibleAgentsInPreferenceOrder) {
  v1::Assignment a;
  a.set_generation_id(12);
  v1::BrokerAssignment* b = a.add_brokers();
  b->set_broker_id(3);
  b->set_broker_rack("c");
  b->add_agent_node_ids("agent-c1");
  b->add_agent_node_ids("agent-c2");
  v1::Assignment copy;
  ASSERT_TRUE(copy.ParseFromString(a.SerializeAsString()));
  ASSERT_EQ(copy.brokers_size(), 1);
  EXPECT_EQ(copy.generation_id(), 12);
  EXPECT_EQ(copy.brokers(0).agent_node_ids(0), "agent-c1");
  EXPECT_EQ(copy.brokers(0).agent_node_ids(1), "agent-c2");
  // The service is declared with the streaming method agents rely on.
  EXPECT_STREQ(v1::AgentService::service_full_name(), "kgw.v1.AgentService");
}

}  // namespace
}  // namespace kgw
