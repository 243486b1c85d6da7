// What the gateway group stores per member is bounded: a member's metadata
// and its assignment keep their size as the fleet grows.
#include "common/membership/member_state.h"

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

TEST(MemberAssignmentTest, SizeDoesNotGrowWithTheNumberOfAgents) {
  std::vector<size_t> sizes;
  for (int agents : {10, 100, 1000, 10000}) {
    const v1::Membership a = MemberAssignment(7, "kgw-agent-leader-member-id", Fleet(agents, 3));
    sizes.push_back(a.ByteSizeLong());
    EXPECT_EQ(a.member_count(), agents + 3);
    EXPECT_EQ(a.members_size(), 3);
    EXPECT_TRUE(a.coordinators_only());
  }
  // Only the member count's varint may widen (10 -> 10000: two more bytes).
  EXPECT_LE(sizes.back() - sizes.front(), 2u);
  EXPECT_LE(sizes.back(), kMaxAssignmentBytes);
}

TEST(MemberAssignmentTest, NamesTheCoordinatorsLeaderFirstWithoutMemberIds) {
  std::vector<v1::Member> members = Fleet(5, 0);
  members.push_back(Coordinator(2));
  members.push_back(Coordinator(0));
  members.push_back(Coordinator(1));

  const v1::Membership a = MemberAssignment(3, "leader", members);

  ASSERT_EQ(a.members_size(), 3);
  EXPECT_EQ(a.members(0).node().node_id(), "coordinator-0");
  EXPECT_EQ(a.members(1).node().node_id(), "coordinator-1");
  EXPECT_EQ(a.members(2).node().node_id(), "coordinator-2");
  EXPECT_EQ(a.members(0).node().grpc_endpoint(), "coordinator-0.kgw.svc:7000");
  EXPECT_EQ(a.members(0).node().role(), v1::NodeDescriptor::ROLE_COORDINATOR);
  EXPECT_EQ(a.members(0).node().SerializeAsString(), Coordinator(0).node().SerializeAsString());
  EXPECT_TRUE(a.members(0).member_id().empty());
  EXPECT_EQ(a.generation_id(), 3);
  EXPECT_EQ(a.leader_member_id(), "leader");
}

TEST(MemberAssignmentTest, ManyCoordinatorsAreCutToTheBudgetKeepingTheLeader) {
  const v1::Membership a = MemberAssignment(1, "leader", Fleet(50, 200));

  EXPECT_LE(a.ByteSizeLong(), kMaxAssignmentBytes);
  ASSERT_GT(a.members_size(), 0);
  EXPECT_LT(a.members_size(), 200);
  EXPECT_EQ(a.members(0).node().node_id(), "coordinator-0");
  EXPECT_EQ(a.member_count(), 250);
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
  // Metadata and assignment of one member: bounded whatever the fleet.
  EXPECT_LE(d.ByteSizeLong() + kMaxAssignmentBytes, 1400u);
}

TEST(ValidateDescriptorTest, ATypicalMembersStoredStateIsUnderOneKibibyte) {
  const std::vector<v1::Member> fleet = Fleet(2000, 3);
  const v1::Membership assignment = MemberAssignment(9, fleet[5].member_id(), fleet);

  EXPECT_LE(fleet[5].node().ByteSizeLong() + assignment.ByteSizeLong() +
                fleet[5].member_id().size() + fleet[5].node().node_id().size(),
            1024u);
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
