#include "common/kafka/metadata_rewrite.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/kafka/messages/random_fill.h"
#include "common/kafka/testing/random_source.h"
#include "common/kafka/wire/reader.h"
#include "common/kafka/wire/writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kgw::kafka {
namespace {

using Broker = MetadataResponse::MetadataResponseBroker;

void MoveToGateway(Broker& b) {
  b.host = absl::StrCat("agent-", b.node_id % 7, ".gateway.internal");
  b.port = 6969 + (b.node_id & 0xff);
}

std::vector<uint8_t> Encode(const MetadataResponse& m, int16_t version) {
  Writer w;
  m.Encode(w, version);
  return w.Release();
}

TEST(MetadataRewriteTest, MatchesFullDecodeRewriteEncodeAtEveryVersion) {
  testing::RandomSource rnd(20261129);
  int checked = 0;
  for (int16_t v = MetadataResponse::kMinVersion; v <= MetadataResponse::kMaxVersion; ++v) {
    for (int i = 0; i < 200; ++i) {
      MetadataResponse m;
      testing::FillRandom(&m, v, rnd);
      const std::vector<uint8_t> body = Encode(m, v);

      MetadataResponse expected = m;
      for (Broker& b : expected.brokers) MoveToGateway(b);
      absl::StatusOr<std::vector<uint8_t>> fast = RewriteMetadataBrokers(body, v, MoveToGateway);
      ASSERT_TRUE(fast.ok()) << "v" << v << ": " << fast.status();
      ASSERT_EQ(*fast, Encode(expected, v)) << "v" << v << " case " << i;
      checked += m.brokers.empty() ? 0 : 1;
    }
  }
  EXPECT_GT(checked, 1000) << "too few cases had brokers to rewrite";
}

TEST(MetadataRewriteTest, CallsRewriteOncePerBrokerInOrder) {
  MetadataResponse m;
  for (int id : {3, 1, 2}) {
    Broker& b = m.brokers.emplace_back();
    b.node_id = id;
    b.host = "broker";
    b.port = 9092;
  }
  std::vector<int32_t> seen;
  absl::StatusOr<std::vector<uint8_t>> out =
      RewriteMetadataBrokers(Encode(m, 12), 12, [&](Broker& b) { seen.push_back(b.node_id); });
  ASSERT_TRUE(out.ok());
  EXPECT_THAT(seen, ::testing::ElementsAre(3, 1, 2));
  EXPECT_EQ(*out, Encode(m, 12));  // unchanged brokers: unchanged bytes
}

TEST(MetadataRewriteTest, RejectsEveryTruncationAndTrailingBytes) {
  testing::RandomSource rnd(7);
  MetadataResponse m;
  testing::FillRandom(&m, 12, rnd);
  std::vector<uint8_t> body = Encode(m, 12);
  for (size_t n = 0; n < body.size(); ++n) {
    absl::StatusOr<std::vector<uint8_t>> out =
        RewriteMetadataBrokers(absl::MakeConstSpan(body.data(), n), 12, MoveToGateway);
    EXPECT_FALSE(out.ok()) << "accepted a body cut to " << n << " of " << body.size() << " bytes";
    if (!out.ok()) {
      EXPECT_THAT(out.status().message(), ::testing::HasSubstr("MetadataResponse v12"));
    }
  }
  body.push_back(0);
  EXPECT_FALSE(RewriteMetadataBrokers(body, 12, MoveToGateway).ok());
}

TEST(MetadataRewriteTest, RejectsUnsupportedVersions) {
  absl::StatusOr<std::vector<uint8_t>> out =
      RewriteMetadataBrokers({}, MetadataResponse::kMaxVersion + 1, MoveToGateway);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kgw::kafka
