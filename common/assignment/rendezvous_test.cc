#include "common/assignment/rendezvous.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace kgw::assignment {
namespace {

constexpr int kKeys = 30000;

std::string Key(int n) { return ClientKey(absl::StrCat("client-", n), absl::StrCat("10.1.", n)); }

TEST(StableHash64Test, MatchesPinnedValues) {
  // Computed from the definition in rendezvous.h by an independent implementation. Every agent
  // and coordinator must agree on these: a change here moves clients between agents.
  struct Golden {
    std::string_view a;
    std::string_view b;
    uint64_t hash;
  };
  const Golden kGolden[] = {
      {"", "", 0x813f0174a2367c13ULL},
      {"a", "", 0xb2a81edc870f611dULL},
      {"", "a", 0x0d38d3c8a628cc82ULL},
      {"ab", "c", 0x238402e0c3104247ULL},
      {"a", "bc", 0xd05db19d777129f7ULL},
      {"8:client-110.0.0.7", "agent-1", 0xc393af46c57e1f0dULL},
      {"8:client-110.0.0.7", "agent-2", 0xb30d33ce05c0deddULL},
      {"8:client-110.0.0.7", "agent-3", 0xf64ca62bab486e89ULL},
  };
  for (const Golden& g : kGolden) {
    EXPECT_EQ(StableHash64(g.a, g.b), g.hash) << "(\"" << g.a << "\", \"" << g.b << "\")";
  }
}

TEST(RendezvousScoreTest, MatchesPinnedValues) {
  EXPECT_NEAR(RendezvousScore("8:client-110.0.0.7", "agent-1", 100), 371.43814981981245, 1e-9);
  EXPECT_NEAR(RendezvousScore("8:client-110.0.0.7", "agent-3", 100), 2588.692988428713, 1e-9);
}

TEST(RendezvousScoreTest, ScalesWithWeightAndTreatsZeroAsDefault) {
  const double base = RendezvousScore("key", "agent-1", 100);
  EXPECT_GT(base, 0);
  EXPECT_DOUBLE_EQ(RendezvousScore("key", "agent-1", 200), 2 * base);
  EXPECT_DOUBLE_EQ(RendezvousScore("key", "agent-1", 0), base);
}

TEST(ClientKeyTest, KeepsClientIdAndHostApart) {
  EXPECT_EQ(ClientKey("client-1", "10.0.0.7"), "8:client-110.0.0.7");
  EXPECT_NE(ClientKey("ab", "c"), ClientKey("a", "bc"));
  EXPECT_NE(ClientKey("", "1:a"), ClientKey("1:a", ""));
  EXPECT_NE(ClientKey("1", "2"), ClientKey("", "12"));
}

TEST(PickCandidateTest, EmptyCandidatesPickNothing) { EXPECT_EQ(PickCandidate("key", {}), -1); }

TEST(PickCandidateTest, PicksTheHighestScoreWhateverTheOrder) {
  const std::vector<Candidate> forward = {{"agent-1", 100}, {"agent-2", 100}, {"agent-3", 100}};
  const std::vector<Candidate> backward(forward.rbegin(), forward.rend());
  // Scores pinned above: agent-3 wins for this key.
  const std::string key = ClientKey("client-1", "10.0.0.7");
  EXPECT_EQ(forward[PickCandidate(key, forward)].node_id, "agent-3");
  EXPECT_EQ(backward[PickCandidate(key, backward)].node_id, "agent-3");
  for (int n = 0; n < 1000; ++n) {
    EXPECT_EQ(forward[PickCandidate(Key(n), forward)].node_id,
              backward[PickCandidate(Key(n), backward)].node_id);
  }
}

TEST(PickCandidateTest, TiesGoToTheSmallerNodeId) {
  // The same node id twice scores the same; the first of equal ids, then the smaller id, wins.
  const std::vector<Candidate> candidates = {{"agent-2", 100}, {"agent-1", 100}, {"agent-1", 100}};
  for (int n = 0; n < 100; ++n) {
    const int pick = PickCandidate(Key(n), candidates);
    EXPECT_NE(pick, 2);
  }
}

std::vector<int> CountPicks(const std::vector<Candidate>& candidates) {
  std::vector<int> count(candidates.size(), 0);
  for (int n = 0; n < kKeys; ++n) ++count[PickCandidate(Key(n), candidates)];
  return count;
}

TEST(PickCandidateTest, SpreadsKeysEvenlyOverEqualCandidates) {
  const std::vector<int> count = CountPicks({{"agent-a", 100}, {"agent-b", 100}, {"agent-c", 100}});
  for (int c : count) {
    // Within 5% of a third; binomial sd is ~82 keys, so this is a ~6 sd margin.
    EXPECT_NEAR(c, kKeys / 3, kKeys / 3 * 0.05) << c;
  }
}

TEST(PickCandidateTest, SpreadsKeysInProportionToWeight) {
  const std::vector<int> count = CountPicks({{"agent-a", 100}, {"agent-b", 200}});
  EXPECT_NEAR(count[1] / static_cast<double>(kKeys), 2.0 / 3, 0.02) << count[0] << ":" << count[1];
}

TEST(PickCandidateTest, RemovingACandidateMovesOnlyItsKeys) {
  const std::vector<Candidate> all = {
      {"agent-a", 100}, {"agent-b", 300}, {"agent-c", 100}, {"agent-d", 50}};
  const std::vector<Candidate> without_b = {{"agent-a", 100}, {"agent-c", 100}, {"agent-d", 50}};
  int moved = 0;
  for (int n = 0; n < kKeys; ++n) {
    const std::string_view before = all[PickCandidate(Key(n), all)].node_id;
    const std::string_view after = without_b[PickCandidate(Key(n), without_b)].node_id;
    if (before != "agent-b") {
      EXPECT_EQ(after, before) << Key(n);
    } else {
      ++moved;
    }
  }
  EXPECT_GT(moved, 0);
}

}  // namespace
}  // namespace kgw::assignment
