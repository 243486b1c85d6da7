// What the gateway group stores per member is bounded: a member's metadata
// and its assignment keep their size as the fleet grows.
#include "common/membership/member_state.h"

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace kgw::membership {
namespace {

v1::Member Agent(int i) {
  v1::Member m;
  m.set_member_id(absl::StrCat("kgw-agent-0b1d5c7e-9a2f-4c1e-8d3b-", 100000 + i));
  v1::NodeDescriptor* d = m.mutable_node();
  d->set_node_id(absl::StrCat("agent-", i, ".apps.example.internal:9092"));
  d->set_role(v1::NodeDescriptor::ROLE_AGENT);
  d->set_advertised_host(absl::StrCat("agent-", i, ".apps.example.internal"));
  d->set_port_start(9092);
  d->set_rack(absl::StrCat("zone-", i % 3));
  d->set_version("0.1.0");
  d->set_weight(100);
  return m;
}

v1::Member Coordinator(int i) {
  v1::Member m;
  m.set_member_id(absl::StrCat("kgw-coordinator-5e0c-", i));
  v1::NodeDescriptor* d = m.mutable_node();
  d->set_node_id(absl::StrCat("coordinator-", i));
  d->set_role(v1::NodeDescriptor::ROLE_COORDINATOR);
  d->set_advertised_host(absl::StrCat("coordinator-", i, ".kgw.svc"));
  d->set_rack(absl::StrCat("zone-", i % 3));
  d->set_grpc_endpoint(absl::StrCat("coordinator-", i, ".kgw.svc:7000"));
  d->set_version("0.1.0");
  return m;
}

std::vector<v1::Member> Fleet(int agents, int coordinators) {
  std::vector<v1::Member> members;
  for (int i = 0; i < coordinators; ++i) members.push_back(Coordinator(i));
  for (int i = 0; i < agents; ++i) members.push_back(Agent(i));
  return members;
}

TEST(MemberAssignmentTest, SizeGrowsWithNeitherAgentsNorCoordinators) {
  std::vector<size_t> sizes;
  for (int agents : {10, 100, 1000, 10000}) {
    for (int coordinators : {1, 3, 9}) {
      const v1::Membership a = MemberAssignment(7, Fleet(agents, coordinators));
      sizes.push_back(a.ByteSizeLong());
      EXPECT_EQ(a.member_count(), agents + coordinators);
      EXPECT_EQ(a.members_size(), 1);
      EXPECT_TRUE(a.coordinators_only());
    }
  }
  // Only the member count's varint may widen (11 -> 10009: two more bytes).
  EXPECT_LE(sizes.back() - sizes.front(), 2u);
  EXPECT_LE(sizes.back(), kMaxAssignmentBytes);
}

TEST(MemberAssignmentTest, NamesTheLeadingCoordinatorAloneWithoutMemberIds) {
  std::vector<v1::Member> members = Fleet(5, 0);
  members.push_back(Coordinator(2));
  members.push_back(Coordinator(0));
  members.push_back(Coordinator(1));

  const v1::Membership a = MemberAssignment(3, members);

  ASSERT_EQ(a.members_size(), 1);
  EXPECT_EQ(a.members(0).node().node_id(), "coordinator-0");
  EXPECT_EQ(a.members(0).node().grpc_endpoint(), "coordinator-0.kgw.svc:7000");
  EXPECT_EQ(a.members(0).node().role(), v1::NodeDescriptor::ROLE_COORDINATOR);
  EXPECT_EQ(a.members(0).node().SerializeAsString(), Coordinator(0).node().SerializeAsString());
  EXPECT_TRUE(a.members(0).member_id().empty());
  EXPECT_EQ(a.generation_id(), 3);
  EXPECT_EQ(a.member_count(), 8);
  EXPECT_TRUE(a.leader_member_id().empty());

  EXPECT_EQ(MemberAssignment(4, Fleet(5, 0)).members_size(), 0);
}

TEST(ValidateDescriptorTest, TheLargestValidDescriptorStaysSmall) {
  v1::NodeDescriptor d;
  d.set_node_id(std::string(kMaxNodeIdLength, 'n'));
  d.set_role(v1::NodeDescriptor::ROLE_AGENT);
  d.set_advertised_host(std::string(kMaxHostLength, 'h'));
  d.set_port_start(65535);
  d.set_rack(std::string(kMaxRackLength, 'r'));
  d.set_version(std::string(kMaxVersionLength, 'v'));
  d.set_weight(kMaxWeight);
  d.set_min_broker_id(1 << 30);
  d.set_draining(true);

  ASSERT_TRUE(ValidateDescriptor(d).ok()) << ValidateDescriptor(d);
  d.set_key_id("0123abcd");
  d.set_proof(std::string(32, 'p'));  // HMAC-SHA256
  // Metadata and assignment of one member: bounded whatever the fleet, even
  // when the leading coordinator's fields are as long as allowed too.
  v1::Member leader;
  *leader.mutable_node() = d;
  leader.mutable_node()->set_role(v1::NodeDescriptor::ROLE_COORDINATOR);
  leader.mutable_node()->set_grpc_endpoint(std::string(kMaxEndpointLength, 'e'));
  leader.mutable_node()->clear_port_start();
  leader.mutable_node()->clear_min_broker_id();
  const v1::Membership assignment = MemberAssignment(1, {leader});
  ASSERT_EQ(assignment.members_size(), 1);
  EXPECT_LE(assignment.ByteSizeLong(), kMaxAssignmentBytes);
  EXPECT_LE(d.ByteSizeLong() + assignment.ByteSizeLong(), 1700u);
}

// What Kafka stores for one member of a classic group in the group's record
// (GroupMetadataValue, version 3): member id, group instance id, client id,
// client host, two timeouts, metadata and assignment, each string and byte
// field with a two- or four-byte length.
size_t StoredMemberBytes(const v1::Member& m, const v1::Membership& assignment) {
  const std::string client_id = "kgw-agent";
  const std::string client_host = "/10.100.200.255";
  return 2 + m.member_id().size() + 2 + m.node().node_id().size() + 2 + client_id.size() + 2 +
         client_host.size() + 4 + 4 + 4 + m.node().ByteSizeLong() + 4 + assignment.ByteSizeLong();
}

// The whole group lives in one record of the offsets topic, 1 MB at most by
// default: 2,000 agents signed with the cluster key, with node ids as long
// as a service's DNS name, fit with room to spare. (Before the assignment
// named the leading coordinator alone, they took about 1.2 MB.)
TEST(ValidateDescriptorTest, TwoThousandKeyedAgentsFitInOneOffsetsRecord) {
  std::vector<v1::Member> fleet;
  for (int i = 0; i < 3; ++i) {
    v1::Member c = Coordinator(i);
    c.mutable_node()->set_key_id("0123abcd");
    c.mutable_node()->set_proof(std::string(32, 'p'));
    fleet.push_back(c);
  }
  for (int i = 0; i < 2000; ++i) {
    v1::Member a;
    const std::string id = absl::StrCat("kgw-agent-", 10000 + i, ".kgw.svc:6969");
    a.set_member_id(absl::StrCat(id, "-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"));
    v1::NodeDescriptor* d = a.mutable_node();
    d->set_node_id(id);
    d->set_role(v1::NodeDescriptor::ROLE_AGENT);
    d->set_advertised_host(absl::StrCat("kgw-agent-", 10000 + i, ".kgw.svc"));
    d->set_port_start(6969);
    d->set_rack("eu-west-1a");
    d->set_version("0.9.0");
    d->set_weight(100);
    d->set_min_broker_id(1);
    d->set_key_id("0123abcd");
    d->set_proof(std::string(32, 'p'));
    ASSERT_TRUE(ValidateDescriptor(*d).ok());
    fleet.push_back(std::move(a));
  }
  const v1::Membership assignment = MemberAssignment(9, fleet);
  size_t record = 0;
  for (const v1::Member& m : fleet) record += StoredMemberBytes(m, assignment);
  std::cout << "2,003 keyed members: " << record << " bytes in the group's record, "
            << record / fleet.size() << " per member" << std::endl;
  // Kafka's default limit is 1,048,588 bytes; leave a tenth of it spare.
  EXPECT_LE(record, 1048588u * 9 / 10);
  EXPECT_LE(StoredMemberBytes(fleet[5], assignment), 512u);
}

TEST(ValidateDescriptorTest, RefusesFieldsOutOfBounds) {
  const v1::NodeDescriptor good = Agent(1).node();
  ASSERT_TRUE(ValidateDescriptor(good).ok());
  const auto refused = [&](auto change, const std::string& field) {
    v1::NodeDescriptor d = good;
    change(d);
    const absl::Status s = ValidateDescriptor(d);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_NE(std::string(s.message()).find(field), std::string::npos) << s;
  };
  refused([](v1::NodeDescriptor& d) { d.set_node_id(""); }, "node_id");
  refused([](v1::NodeDescriptor& d) { d.set_node_id(std::string(261, 'x')); }, "node_id");
  refused([](v1::NodeDescriptor& d) { d.set_node_id("evil\nnode"); }, "node_id");
  refused([](v1::NodeDescriptor& d) { d.set_weight(10001); }, "weight");
  refused([](v1::NodeDescriptor& d) { d.set_rack(std::string(65, 'r')); }, "rack");
  refused([](v1::NodeDescriptor& d) { d.set_advertised_host(""); }, "advertised_host");
  refused([](v1::NodeDescriptor& d) { d.set_advertised_host("a b"); }, "advertised_host");
  refused([](v1::NodeDescriptor& d) { d.set_port_start(0); }, "port_start");
  refused([](v1::NodeDescriptor& d) { d.set_port_start(70000); }, "port_start");
  refused([](v1::NodeDescriptor& d) { d.set_min_broker_id(-1); }, "min_broker_id");
  refused([](v1::NodeDescriptor& d) { d.set_role(v1::NodeDescriptor::ROLE_UNSPECIFIED); },
          "role");
  // A coordinator needs no client address.
  EXPECT_TRUE(ValidateDescriptor(Coordinator(1).node()).ok());
}

TEST(DropDuplicateNodeIdsTest, KeepsTheFirstMemberOfEachNodeId) {
  std::vector<v1::Member> members = {Agent(1), Agent(1), Agent(2), Coordinator(0)};
  members[1].set_member_id("zz-second");
  SortMembers(members);

  const std::vector<v1::Member> dropped = DropDuplicateNodeIds(members);

  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0].member_id(), "zz-second");
  ASSERT_EQ(members.size(), 3u);
  EXPECT_NE(members[0].node().node_id(), members[1].node().node_id());
}

TEST(ParseDescriptorTest, RefusesBytesThatAreNoDescriptor) {
  const std::string bytes = Agent(3).node().SerializeAsString();
  absl::StatusOr<v1::NodeDescriptor> ok =
      ParseDescriptor(std::vector<uint8_t>(bytes.begin(), bytes.end()));
  absl::StatusOr<v1::NodeDescriptor> garbage = ParseDescriptor({0xff, 0xff, 0xff});

  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->node_id(), Agent(3).node().node_id());
  EXPECT_EQ(garbage.status().code(), absl::StatusCode::kInvalidArgument);
}

// Sidecars register over their stream; one in the group is a mistake or a
// forgery, and never counts.
TEST(ParseDescriptorTest, ASidecarIsValidOnAStreamButNeverAGroupMember) {
  v1::NodeDescriptor sidecar = Agent(3).node();
  sidecar.set_role(v1::NodeDescriptor::ROLE_SIDECAR);
  EXPECT_TRUE(ValidateDescriptor(sidecar).ok());
  const std::string bytes = sidecar.SerializeAsString();
  absl::StatusOr<v1::NodeDescriptor> parsed =
      ParseDescriptor(std::vector<uint8_t>(bytes.begin(), bytes.end()));
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().message(), "a sidecar agent is never a member of the gateway group");
}

}  // namespace
}  // namespace kgw::membership
