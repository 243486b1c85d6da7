// Assignments on the wire: the compact form read back, and deltas that
// rebuild exactly the next assignment at a size that follows the change, not
// the fleet.
#include "common/control/assignment_wire.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/control/routing.h"
#include "gtest/gtest.h"

namespace kgw::control {
namespace {

// A fleet of `agents` agents in racks a/b/c (agent i in rack i mod 3) and
// `brokers` brokers in the same racks, built as a leader builds it.
struct Fleet {
  membership::View view;
  std::vector<cluster::BrokerEndpoint> brokers;
  std::set<std::string> drained;
  int64_t revision = 1;

  Fleet(int brokers_count, int agents) {
    view.generation_id = 4;
    for (int i = 0; i < agents; ++i) Add(i);
    for (int b = 1; b <= brokers_count; ++b) {
      brokers.push_back({b, absl::StrCat("k", b), 9092, std::string(1, 'a' + b % 3)});
    }
  }
  void Add(int i) {
    v1::Member m;
    m.set_member_id(absl::StrCat("member-", i));
    v1::NodeDescriptor* d = m.mutable_node();
    d->set_node_id(absl::StrCat("agent-", i));
    d->set_role(v1::NodeDescriptor::ROLE_AGENT);
    d->set_rack(std::string(1, 'a' + i % 3));
    d->set_advertised_host(absl::StrCat("10.1.", i / 250, ".", i % 250));
    d->set_port_start(9000);
    d->set_min_broker_id(1);
    view.members.push_back(m);
  }
  void Remove(const std::string& node_id) {
    std::erase_if(view.members, [&](const v1::Member& m) { return m.node().node_id() == node_id; });
  }
  v1::Assignment Build(const v1::Assignment* previous = nullptr) {
    v1::Assignment a = BuildAssignment(
        {.view = &view, .brokers = brokers, .drained = drained, .previous = previous},
        "coord-1", revision++);
    a.set_epoch(9);
    return a;
  }
};

// ApplyDelta(from, MakeDelta(from, to)) is `to`, byte for byte.
void ExpectRebuilds(const v1::Assignment& from, const v1::Assignment& to) {
  std::optional<v1::AssignmentDelta> d = MakeDelta(from, to);
  ASSERT_TRUE(d.has_value());
  absl::StatusOr<v1::Assignment> rebuilt = ApplyDelta(from, *d);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(rebuilt->SerializeAsString(), to.SerializeAsString());
}

TEST(AssignmentDeltaTest, RebuildsTheNextAssignmentAfterEveryKindOfChange) {
  Fleet fleet(9, 12);
  const v1::Assignment first = fleet.Build();

  fleet.Add(12);  // joins rack a
  const v1::Assignment joined = fleet.Build(&first);
  ExpectRebuilds(first, joined);

  fleet.Remove("agent-4");  // leaves rack b
  const v1::Assignment left = fleet.Build(&joined);
  ExpectRebuilds(joined, left);

  fleet.drained = {"agent-2"};  // drained: stamps and a rack set change
  const v1::Assignment drained = fleet.Build(&left);
  ExpectRebuilds(left, drained);

  // Rack c loses every agent: its brokers become orphans with sets of their
  // own (more sets), then it gets one back (fewer sets again).
  for (const char* id : {"agent-2", "agent-5", "agent-8", "agent-11"}) fleet.Remove(id);
  const v1::Assignment orphans = fleet.Build(&drained);
  EXPECT_GT(orphans.agent_sets_size(), drained.agent_sets_size());
  ExpectRebuilds(drained, orphans);
  fleet.Add(14);
  const v1::Assignment back = fleet.Build(&orphans);
  ExpectRebuilds(orphans, back);

  // A broker added and one removed.
  fleet.brokers.push_back({40, "k40", 9092, "a"});
  fleet.brokers.erase(fleet.brokers.begin());
  const v1::Assignment moved = fleet.Build(&back);
  ExpectRebuilds(back, moved);

  // Nothing in common at all, and nothing at all.
  ExpectRebuilds(v1::Assignment(), moved);
  ExpectRebuilds(moved, v1::Assignment());
}

// What Kafka-scale fleets need: one agent joining costs each agent a delta of
// the same size whatever the fleet's size, while the whole assignment grows.
TEST(AssignmentDeltaTest, AJoinCostsTheSameBytesAtAnyFleetSize) {
  std::vector<size_t> delta_bytes;
  std::vector<size_t> full_bytes;
  for (int agents : {30, 300, 3000}) {
    Fleet fleet(100, agents);
    const v1::Assignment before = fleet.Build();
    fleet.Add(agents);
    const v1::Assignment after = fleet.Build(&before);
    std::optional<v1::AssignmentDelta> d = MakeDelta(before, after);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->upserted_agents_size(), 1);
    EXPECT_EQ(d->agent_set_edits_size(), 1);
    EXPECT_EQ(d->upserted_brokers_size(), 0);
    delta_bytes.push_back(d->ByteSizeLong());
    full_bytes.push_back(after.ByteSizeLong());
    ExpectRebuilds(before, after);
  }
  // The node id grows by a digit or two; nothing else does.
  EXPECT_LE(delta_bytes[2], delta_bytes[0] + 8);
  EXPECT_LT(delta_bytes[2], 512u);
  EXPECT_GT(full_bytes[2], 30 * full_bytes[0]);
}

// Brokers of a rack without agents ("orphans") are spread over agents of the
// other racks, each on one here, so there are many small sets. Draining the
// agent of the first orphan makes its set go; the others keep their numbers,
// so the delta carries the change and not a renumbering of every later set.
TEST(AssignmentDeltaTest, ASetThatGoesRenumbersNoOtherSet) {
  Fleet fleet(0, 30);
  for (int b = 1; b <= 40; ++b) {
    const std::string rack = b <= 30 ? "z" : std::string(1, 'a' + b % 3);
    fleet.brokers.push_back({b, absl::StrCat("k", b), 9092, rack});
  }
  const v1::Assignment before = fleet.Build();
  ASSERT_GT(before.agent_sets_size(), 15);
  ASSERT_EQ(before.brokers(0).broker_id(), 1);
  const auto& first = EligibleIds(before, before.brokers(0));
  ASSERT_EQ(first.size(), 1);
  fleet.drained.insert(first[0]);
  const v1::Assignment after = fleet.Build(&before);
  ExpectRebuilds(before, after);

  int changed = 0;
  for (int i = 0; i < after.agent_sets_size(); ++i) {
    if (i >= before.agent_sets_size() ||
        before.agent_sets(i).SerializeAsString() != after.agent_sets(i).SerializeAsString()) {
      ++changed;
    }
  }
  EXPECT_LE(changed, 4) << "of " << after.agent_sets_size() << " sets";
}

TEST(AssignmentDeltaTest, RefusesADeltaForAnotherAssignment) {
  Fleet fleet(3, 6);
  const v1::Assignment a = fleet.Build();
  fleet.Add(6);
  const v1::Assignment b = fleet.Build(&a);
  fleet.Add(7);
  const v1::Assignment c = fleet.Build(&b);
  absl::StatusOr<v1::Assignment> wrong = ApplyDelta(a, *MakeDelta(b, c));
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition) << wrong.status();
}

TEST(AssignmentDeltaTest, RefusesADeltaThatDoesNotRebuildItsDigest) {
  Fleet fleet(3, 6);
  const v1::Assignment a = fleet.Build();
  fleet.Add(6);
  const v1::Assignment b = fleet.Build(&a);
  v1::AssignmentDelta d = *MakeDelta(a, b);
  ASSERT_EQ(d.agent_set_edits_size(), 1);
  *d.mutable_agent_set_edits(0)->mutable_added(0) = "agent-evil";
  EXPECT_EQ(ApplyDelta(a, d).status().code(), absl::StatusCode::kDataLoss);

  d = *MakeDelta(a, b);
  d.mutable_agent_set_edits(0)->set_index(99);
  EXPECT_EQ(ApplyDelta(a, d).status().code(), absl::StatusCode::kDataLoss);

  d = *MakeDelta(a, b);
  d.set_agent_set_count(1000);
  EXPECT_EQ(ApplyDelta(a, d).status().code(), absl::StatusCode::kDataLoss);
}

TEST(AssignmentDeltaTest, DeclinesAssignmentsOutOfCanonicalOrder) {
  Fleet fleet(3, 6);
  const v1::Assignment a = fleet.Build();
  v1::Assignment shuffled = a;
  shuffled.mutable_agents()->SwapElements(0, 1);
  EXPECT_FALSE(MakeDelta(a, shuffled).has_value());
  EXPECT_FALSE(MakeDelta(shuffled, a).has_value());
}

// Records of earlier versions list each broker's agents itself.
TEST(EligibleIdsTest, ReadsBothFormsAndExpandsToTheListedOne) {
  Fleet fleet(3, 6);
  const v1::Assignment compact = fleet.Build();
  const v1::Assignment expanded = Expanded(compact);
  EXPECT_EQ(expanded.agent_sets_size(), 0);
  for (int i = 0; i < compact.brokers_size(); ++i) {
    const auto& a = EligibleIds(compact, compact.brokers(i));
    const auto& b = EligibleIds(expanded, expanded.brokers(i));
    EXPECT_EQ(std::vector<std::string>(a.begin(), a.end()),
              std::vector<std::string>(b.begin(), b.end()));
    EXPECT_EQ(b.size(), 2);
    EXPECT_EQ(expanded.brokers(i).agent_set(), 0);
  }
  v1::BrokerAssignment dangling;
  dangling.set_agent_set(7);
  EXPECT_TRUE(EligibleIds(compact, dangling).empty());
  EXPECT_EQ(BrokersByAgent(compact).at("agent-0").size(), 1u);
}

}  // namespace
}  // namespace kgw::control
