// The cluster key: proofs that only holders of the key can make, bound to
// their purpose and cluster, verifiable under either key of a rotation, and
// a key file read again when it changes.
#include "common/control/cluster_key.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace kgw::control {
namespace {

const std::string kOld = "old-key-0123456789abcdefghijklmnopqrstuvwxyz";
const std::string kNew = "new-key-0123456789abcdefghijklmnopqrstuvwxyz";

ClusterKey Key(const std::string& text, const std::string& cluster = "prod") {
  absl::StatusOr<ClusterKeys> keys = ParseClusterKeys(text);
  EXPECT_TRUE(keys.ok()) << keys.status();
  return ClusterKey(cluster, keys.ok() ? *keys : ClusterKeys{});
}

v1::NodeDescriptor Agent() {
  v1::NodeDescriptor d;
  d.set_node_id("agent-a");
  d.set_role(v1::NodeDescriptor::ROLE_AGENT);
  d.set_advertised_host("10.0.0.1");
  d.set_port_start(9092);
  d.set_weight(100);
  return d;
}

TEST(ParseClusterKeysTest, TakesOneOrTwoLongKeysIgnoringCommentsAndBlankLines) {
  absl::StatusOr<ClusterKeys> two = ParseClusterKeys("# rotation\n\n" + kNew + "\n  " + kOld + "\n");
  ASSERT_TRUE(two.ok()) << two.status();
  ASSERT_EQ(two->keys.size(), 2u);
  EXPECT_EQ(two->keys[0].secret, kNew);
  EXPECT_EQ(two->keys[0].id.size(), 8u);
  EXPECT_NE(two->keys[0].id, two->keys[1].id);

  EXPECT_FALSE(ParseClusterKeys("").ok());
  EXPECT_FALSE(ParseClusterKeys("short\n").ok());
  EXPECT_FALSE(ParseClusterKeys(kOld + "\n" + kOld + "\n").ok());
  EXPECT_FALSE(ParseClusterKeys(kOld + "\n" + kNew + "\n" + kNew + "x\n").ok());
}

TEST(ClusterKeyTest, ADescriptorVerifiesOnlyAsSigned) {
  const ClusterKey key = Key(kOld);
  v1::NodeDescriptor d = Agent();
  key.SignDescriptor(d);
  EXPECT_TRUE(key.VerifyDescriptor(d).ok());
  EXPECT_FALSE(d.proof().empty());

  v1::NodeDescriptor heavier = d;
  heavier.set_weight(10000);
  EXPECT_TRUE(absl::IsUnauthenticated(key.VerifyDescriptor(heavier)));
  v1::NodeDescriptor unsigned_one = Agent();
  EXPECT_TRUE(absl::IsUnauthenticated(key.VerifyDescriptor(unsigned_one)));
  // Another key, or the same key of another gateway cluster, proves nothing.
  EXPECT_TRUE(absl::IsUnauthenticated(Key(kNew).VerifyDescriptor(d)));
  EXPECT_TRUE(absl::IsUnauthenticated(Key(kOld, "staging").VerifyDescriptor(d)));
  // Without a key nothing is signed and everything passes.
  const ClusterKey none;
  EXPECT_FALSE(none.enabled());
  EXPECT_TRUE(none.VerifyDescriptor(unsigned_one).ok());
}

TEST(ClusterKeyTest, AProofForOnePurposeIsWorthNothingForAnother) {
  const ClusterKey key = Key(kOld);
  v1::Assignment a;
  a.set_epoch(3);
  a.set_leader_node_id("coord-1");
  key.SignAssignment(a);
  ASSERT_TRUE(key.VerifyAssignment(a).ok());
  v1::Assignment forged = a;
  forged.set_epoch(4);
  EXPECT_TRUE(absl::IsUnauthenticated(key.VerifyAssignment(forged)));

  // A descriptor's bytes signed as a descriptor do not pass as a stream hello.
  v1::AgentMessage hello;
  *hello.mutable_node() = Agent();
  hello.set_sent_at_ms(absl::ToUnixMillis(absl::Now()));
  v1::NodeDescriptor signed_node = Agent();
  key.SignDescriptor(signed_node);
  hello.set_key_id(signed_node.key_id());
  hello.set_proof(signed_node.proof());
  EXPECT_TRUE(absl::IsUnauthenticated(key.VerifyStreamHello(hello, absl::Now())));
}

TEST(ClusterKeyTest, AStreamHelloIsRefusedOutsideItsTimeWindow) {
  const ClusterKey key = Key(kOld);
  v1::AgentMessage hello;
  *hello.mutable_node() = Agent();
  const absl::Time sent = absl::Now();
  hello.set_sent_at_ms(absl::ToUnixMillis(sent));
  key.SignStreamHello(hello);

  EXPECT_TRUE(key.VerifyStreamHello(hello, sent + absl::Seconds(30)).ok());
  EXPECT_TRUE(absl::IsUnauthenticated(key.VerifyStreamHello(hello, sent + absl::Minutes(3))));
  EXPECT_TRUE(absl::IsUnauthenticated(key.VerifyStreamHello(hello, sent - absl::Minutes(3))));
}

// Rotation: every node holds both keys before any signs with the new one.
TEST(ClusterKeyTest, BothKeysOfARotationVerify) {
  const ClusterKey before = Key(kOld);
  const ClusterKey during = Key(kNew + "\n" + kOld);
  v1::NodeDescriptor by_old = Agent();
  before.SignDescriptor(by_old);
  v1::NodeDescriptor by_new = Agent();
  during.SignDescriptor(by_new);

  EXPECT_TRUE(during.VerifyDescriptor(by_old).ok());
  EXPECT_TRUE(during.VerifyDescriptor(by_new).ok());
  EXPECT_TRUE(absl::IsUnauthenticated(before.VerifyDescriptor(by_new)));
}

TEST(ClusterKeyTest, AChangedKeyFileIsReadAgainAndABrokenOneIgnored) {
  const std::string path = ::testing::TempDir() + "/kgw_cluster_key_test.keys";
  const auto write = [&](const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
  };
  write(kOld + "\n");
  absl::StatusOr<std::shared_ptr<ClusterKey>> key =
      ClusterKey::FromFile("prod", path, absl::ZeroDuration());
  ASSERT_TRUE(key.ok()) << key.status();
  v1::NodeDescriptor by_new = Agent();
  Key(kNew).SignDescriptor(by_new);
  EXPECT_FALSE((*key)->VerifyDescriptor(by_new).ok());

  write(kOld + "\n" + kNew + "\n# longer, so the file surely changed\n");
  EXPECT_TRUE((*key)->VerifyDescriptor(by_new).ok());

  write("too short\n");
  EXPECT_TRUE((*key)->VerifyDescriptor(by_new).ok());  // the keys read before stay
  std::remove(path.c_str());

  EXPECT_FALSE(ClusterKey::FromFile("prod", path).ok());
}

}  // namespace
}  // namespace kgw::control
