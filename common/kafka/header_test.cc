#include "common/kafka/header.h"

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "common/kafka/messages/metadata.h"
#include "common/kafka/wire/reader.h"
#include "common/kafka/wire/writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kgw::kafka {
namespace {

using ::testing::ElementsAre;

std::vector<uint8_t> Bytes(const Writer& w) { return {w.data().begin(), w.data().end()}; }

TEST(HeaderVersionTest, FlexibleVersionsUseTaggedHeaders) {
  EXPECT_EQ(RequestHeaderVersion(3, 8), 1);  // Metadata v8
  EXPECT_EQ(RequestHeaderVersion(3, 9), 2);  // Metadata v9 is flexible
  EXPECT_EQ(ResponseHeaderVersion(3, 8), 0);
  EXPECT_EQ(ResponseHeaderVersion(3, 9), 1);
  EXPECT_EQ(RequestHeaderVersion(60, 0), 2);  // DescribeCluster: flexible from v0
  EXPECT_EQ(RequestHeaderVersion(17, 1), 1);  // SaslHandshake: never flexible
}

TEST(HeaderVersionTest, ApiVersionsResponsesAlwaysUseHeaderV0) {
  EXPECT_EQ(RequestHeaderVersion(18, 3), 2);
  for (int16_t v = 0; v <= 5; ++v) EXPECT_EQ(ResponseHeaderVersion(18, v), 0) << v;
}

TEST(HeaderVersionTest, UnsupportedApiOrVersionIsMinusOne) {
  EXPECT_EQ(RequestHeaderVersion(7, 3), -1);
  EXPECT_EQ(RequestHeaderVersion(3, 14), -1);
  EXPECT_EQ(ResponseHeaderVersion(0, 2), -1);  // Produce v0-2 were removed in Kafka 4
}

TEST(RequestHeaderTest, V2KeepsInt16ClientIdAndAddsTaggedFields) {
  RequestHeader header;
  header.request_api_key = 3;
  header.request_api_version = 12;
  header.correlation_id = 7;
  header.client_id = "ab";
  header.unknown_tagged_fields = {{5, {0x01}}};
  Writer w;
  header.Encode(w, 2);
  EXPECT_THAT(Bytes(w), ElementsAre(0, 3, 0, 12, 0, 0, 0, 7, 0, 2, 'a', 'b', 1, 5, 1, 0x01));

  Reader r(w.data());
  RequestHeader decoded;
  int16_t header_version;
  ASSERT_TRUE(DecodeRequestHeader(r, &decoded, &header_version).ok());
  EXPECT_EQ(header_version, 2);
  EXPECT_EQ(decoded, header);
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(RequestHeaderTest, NullClientIdAndV0) {
  RequestHeader header;
  header.request_api_key = 18;
  header.correlation_id = -1;
  Writer v1;
  header.Encode(v1, 1);
  EXPECT_THAT(Bytes(v1), ElementsAre(0, 18, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
  Writer v0;
  header.Encode(v0, 0);
  EXPECT_EQ(v0.size(), 8u);
}

TEST(RequestHeaderTest, UnsupportedApiIsUnimplemented) {
  const std::vector<uint8_t> bytes = {0, 7, 0, 3, 0, 0, 0, 1, 0, 0};
  Reader r{absl::MakeConstSpan(bytes)};
  RequestHeader header;
  int16_t header_version;
  EXPECT_EQ(DecodeRequestHeader(r, &header, &header_version).code(),
            absl::StatusCode::kUnimplemented);
}

TEST(ResponseHeaderTest, V1RoundTripsUnknownTags) {
  ResponseHeader header;
  header.correlation_id = 258;
  header.unknown_tagged_fields = {{0, {}}, {3, {9, 9}}};
  Writer w;
  header.Encode(w, 1);
  EXPECT_THAT(Bytes(w), ElementsAre(0, 0, 1, 2, 2, 0, 0, 3, 2, 9, 9));
  Reader r(w.data());
  ResponseHeader decoded;
  ASSERT_TRUE(decoded.Decode(r, 1).ok());
  EXPECT_EQ(decoded, header);
}

TEST(FrameTest, SplitsCompleteFramesAndWaitsForPartialOnes) {
  Writer w;
  const size_t mark = BeginFrame(w);
  w.WriteInt16(42);
  EndFrame(w, mark);
  EXPECT_THAT(Bytes(w), ElementsAre(0, 0, 0, 2, 0, 42));

  auto frame = NextFrame(w.data(), 100);
  ASSERT_TRUE(frame.ok());
  ASSERT_TRUE(frame->has_value());
  EXPECT_THAT(**frame, ElementsAre(0, 42));

  auto partial = NextFrame(w.data().subspan(0, 5), 100);
  ASSERT_TRUE(partial.ok());
  EXPECT_FALSE(partial->has_value());
  auto tiny = NextFrame(w.data().subspan(0, 3), 100);
  ASSERT_TRUE(tiny.ok());
  EXPECT_FALSE(tiny->has_value());
}

TEST(FrameTest, RejectsNegativeAndOversizedFrames) {
  const std::vector<uint8_t> negative = {0xff, 0xff, 0xff, 0xfe};
  EXPECT_FALSE(NextFrame(negative, 100).ok());
  const std::vector<uint8_t> big = {0, 0, 1, 0};
  EXPECT_FALSE(NextFrame(big, 255).ok());
}

// A whole response frame: size, header v1 (Metadata v12 is flexible), body.
TEST(FrameTest, MetadataResponseFrameRoundTrips) {
  MetadataResponse response;
  response.brokers.push_back({.node_id = 1, .host = "b1", .port = 9092, .rack = "a"});
  response.cluster_id = "c";
  Writer w;
  const size_t mark = BeginFrame(w);
  ResponseHeader{.correlation_id = 9}.Encode(w, ResponseHeaderVersion(3, 12));
  response.Encode(w, 12);
  EndFrame(w, mark);

  auto frame = NextFrame(w.data(), 1 << 20);
  ASSERT_TRUE(frame.ok() && frame->has_value());
  Reader r(**frame);
  ResponseHeader header;
  ASSERT_TRUE(header.Decode(r, 1).ok());
  EXPECT_EQ(header.correlation_id, 9);
  MetadataResponse decoded;
  ASSERT_TRUE(decoded.Decode(r, 12).ok());
  EXPECT_EQ(decoded, response);
}

TEST(MessageErrorTest, TruncatedBrokerHostNamesMessageVersionAndPath) {
  MetadataResponse response;
  for (int i = 0; i < 4; ++i) {
    response.brokers.push_back({.node_id = i, .host = "host-name-17-char", .port = 9092});
  }
  Writer w;
  response.Encode(w, 12);
  // Cut inside the fourth broker's host: 4 throttle + 1 array length, then
  // each broker is 4 id + 1 + 17 host + 4 port + 1 rack + 1 tags = 28 bytes.
  const size_t cut = 4 + 1 + 3 * 28 + 4 + 1 + 4;
  Reader r(w.data().subspan(0, cut));
  MetadataResponse decoded;
  absl::Status status = decoded.Decode(r, 12);
  EXPECT_EQ(status.code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(status.message(),
            "MetadataResponse v12: truncated at Brokers[3].Host (need 17 bytes, have 4)");
}

}  // namespace
}  // namespace kgw::kafka
