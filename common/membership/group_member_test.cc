// GroupMember against the real Kafka cluster: members of one group agree on
// each generation's membership, see joins, leaves and descriptor changes,
// and authenticate with SCRAM where the brokers demand it.
#include "common/membership/group_member.h"

#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/testing/wait_for.h"
#include "gtest/gtest.h"

namespace kgw::membership {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

std::vector<config::HostPort> Bootstrap(const std::string& list) {
  std::vector<config::HostPort> out;
  for (absl::string_view hp : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    out.push_back(config::SplitHostPort(hp));
  }
  return out;
}

// Records every view a member publishes.
class Recorder {
 public:
  void Add(const std::optional<View>& v) {
    std::lock_guard<std::mutex> lock(mu_);
    views_.push_back(v);
  }
  std::optional<View> Last() {
    std::lock_guard<std::mutex> lock(mu_);
    return views_.empty() ? std::nullopt : views_.back();
  }

 private:
  std::mutex mu_;
  std::vector<std::optional<View>> views_;
};

struct Node {
  Recorder recorder;
  std::unique_ptr<GroupMember> member;
};

std::unique_ptr<Node> StartNode(const std::string& group, const std::string& node_id,
                                v1::NodeDescriptor::Role role, const std::string& bootstrap,
                                std::optional<kafka::SaslCredentials> sasl = std::nullopt) {
  auto node = std::make_unique<Node>();
  GroupMember::Options o;
  o.bootstrap = Bootstrap(bootstrap);
  o.sasl = std::move(sasl);
  o.group_id = group;
  o.session_timeout = absl::Seconds(6);
  o.rebalance_timeout = absl::Seconds(6);
  o.heartbeat_interval = absl::Milliseconds(500);
  o.software_version = "test";
  v1::NodeDescriptor self;
  self.set_node_id(node_id);
  self.set_role(role);
  self.set_rack(node_id.substr(node_id.size() - 1));
  Recorder* recorder = &node->recorder;
  node->member = std::make_unique<GroupMember>(
      o, self, [recorder](const std::optional<View>& v) { recorder->Add(v); });
  node->member->Start();
  return node;
}

// Node ids in the last view of `node`, or "" when it has none.
std::string Ids(Node& node) {
  std::optional<View> v = node.recorder.Last();
  if (!v) return "";
  std::string out;
  for (const v1::Member& m : v->members) absl::StrAppend(&out, out.empty() ? "" : ",", m.node().node_id());
  return out;
}

using ::kgw::testing::WaitFor;

std::string FreshGroup() {
  absl::BitGen gen;
  return absl::StrCat("kgw_test_membership_", absl::Uniform<uint64_t>(gen));
}

class GroupMemberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bootstrap_ = Env("KGW_KAFKA_BOOTSTRAP");
    ASSERT_FALSE(bootstrap_.empty()) << "KGW_KAFKA_BOOTSTRAP is not set: start "
                                        "tests/kafka/kafka-cluster.sh and source its cluster.env";
  }
  std::string bootstrap_;
};

TEST_F(GroupMemberTest, MembersAgreeOnEachGenerationsMembership) {
  const std::string group = FreshGroup();
  std::vector<std::unique_ptr<Node>> nodes;
  nodes.push_back(StartNode(group, "agent-a", v1::NodeDescriptor::ROLE_AGENT, bootstrap_));
  nodes.push_back(StartNode(group, "agent-b", v1::NodeDescriptor::ROLE_AGENT, bootstrap_));
  nodes.push_back(StartNode(group, "coord-c", v1::NodeDescriptor::ROLE_COORDINATOR, bootstrap_));
  const auto all_see = [&](const std::string& ids) {
    for (auto& n : nodes) {
      if (Ids(*n) != ids) return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitFor([&] { return all_see("agent-a,agent-b,coord-c"); }, absl::Seconds(30)))
      << Ids(*nodes[0]) << " / " << Ids(*nodes[1]) << " / " << Ids(*nodes[2]);
  // The same generation and leader everywhere; each knows its own member id.
  std::optional<View> v0 = nodes[0]->recorder.Last();
  for (auto& n : nodes) {
    std::optional<View> v = n->recorder.Last();
    EXPECT_EQ(v->generation_id, v0->generation_id);
    EXPECT_EQ(v->leader_member_id, v0->leader_member_id);
    bool found = false;
    for (const v1::Member& m : v->members) found |= m.member_id() == v->member_id;
    EXPECT_TRUE(found);
  }
  EXPECT_EQ(v0->WithRole(v1::NodeDescriptor::ROLE_COORDINATOR).size(), 1u);
  EXPECT_EQ(v0->members[2].node().rack(), "c");

  // A clean leave is seen at once (LeaveGroup), well before a session timeout.
  const absl::Time left_at = absl::Now();
  nodes[1]->member->Stop();
  nodes.erase(nodes.begin() + 1);
  ASSERT_TRUE(WaitFor([&] { return all_see("agent-a,coord-c"); }, absl::Seconds(5)));
  EXPECT_LT(absl::Now() - left_at, absl::Seconds(5));
  EXPECT_GT(nodes[0]->recorder.Last()->generation_id, v0->generation_id);

  // A changed descriptor reaches the others.
  v1::NodeDescriptor changed;
  changed.set_node_id("agent-a");
  changed.set_role(v1::NodeDescriptor::ROLE_AGENT);
  changed.set_draining(true);
  nodes[0]->member->SetDescriptor(changed);
  ASSERT_TRUE(WaitFor(
      [&] {
        std::optional<View> v = nodes[1]->recorder.Last();
        return v && !v->members.empty() && v->members[0].node().draining();
      },
      absl::Seconds(10)));
}

TEST_F(GroupMemberTest, JoinsThroughScramAuthenticatedBrokers) {
  const std::string sasl_bootstrap = Env("KGW_KAFKA_SASL_BOOTSTRAP");
  ASSERT_FALSE(sasl_bootstrap.empty())
      << "KGW_KAFKA_SASL_BOOTSTRAP is not set: start the cluster with --security";
  const std::string group = FreshGroup();
  kafka::SaslCredentials scram{"SCRAM-SHA-512", "admin", "admin-secret"};
  auto a = StartNode(group, "agent-a", v1::NodeDescriptor::ROLE_AGENT, sasl_bootstrap, scram);
  auto b = StartNode(group, "coord-b", v1::NodeDescriptor::ROLE_COORDINATOR, sasl_bootstrap,
                     scram);
  ASSERT_TRUE(WaitFor([&] { return Ids(*a) == "agent-a,coord-b" && Ids(*b) == Ids(*a); },
                      absl::Seconds(30)));
}

}  // namespace
}  // namespace kgw::membership
