#include "common/kafka/response_walk.h"

#include <cstdint>
#include <random>
#include <vector>

#include "common/kafka/header.h"
#include "common/kafka/messages/fetch.h"
#include "common/kafka/messages/share_fetch.h"
#include "common/kafka/messages/random_fill.h"
#include "common/kafka/node_endpoints.h"
#include "common/kafka/testing/random_source.h"
#include "common/kafka/wire/array_codec.h"
#include "common/kafka/wire/reader.h"
#include "common/kafka/wire/writer.h"
#include "gtest/gtest.h"

namespace kgw::kafka {
namespace {

using ::kgw::kafka::testing::FillRandom;
using ::kgw::kafka::testing::RandomSource;

constexpr int32_t kCorrelationId = 77;

// A whole response frame, size prefix first, and where its body starts.
struct Frame {
  std::vector<uint8_t> bytes;
  size_t body_offset = 0;
};

template <typename Response>
Frame EncodeFrame(const Response& response, int16_t version,
                  std::vector<RawTaggedField> header_tags = {}) {
  Writer w;
  const size_t mark = BeginFrame(w);
  ResponseHeader header;
  header.correlation_id = kCorrelationId;
  header.unknown_tagged_fields = std::move(header_tags);
  header.Encode(w, ResponseHeaderVersion(Response::kApiKey, version));
  const size_t body_offset = w.size();
  response.Encode(w, version);
  EndFrame(w, mark);
  return {w.Release(), body_offset};
}

FetchResponse SampleResponse() {
  FetchResponse response;
  response.throttle_time_ms = 1;
  for (int t = 0; t < 2; ++t) {
    auto& topic = response.responses.emplace_back();
    topic.topic_id.bytes[0] = static_cast<uint8_t>(t + 1);
    for (int p = 0; p < 3; ++p) {
      auto& partition = topic.partitions.emplace_back();
      partition.partition_index = p;
      partition.high_watermark = 1000;
      partition.aborted_transactions.emplace();
      partition.aborted_transactions->push_back({.producer_id = 9, .first_offset = 4});
      partition.current_leader = {.leader_id = 2, .leader_epoch = 5};
    }
  }
  return response;
}

// Feeds `frame` to a walk in pieces of `chunk` bytes as a session would:
// what the walk did not pass is given again with the next piece. Returns
// the walk's position once it stands at the tail (or all bytes are given).
// With `unseen`, bytes the walk says it need not see (opaque_ahead) are
// passed without being given, in random parts, as a splicing session does;
// their count is added to *unseen.
absl::StatusOr<size_t> WalkInPieces(int16_t api_key, const std::vector<uint8_t>& frame,
                                    int16_t version, std::mt19937& rng, size_t max_chunk,
                                    size_t* unseen = nullptr) {
  ResponseWalk walk(api_key, version, frame.size());
  size_t given = 0;   // bytes handed over so far
  size_t passed = 0;  // bytes the walk passed
  std::uniform_int_distribution<size_t> piece(1, max_chunk);
  while (!walk.at_tail() && given < frame.size()) {
    if (const size_t opaque = walk.opaque_ahead(); unseen != nullptr && opaque > 0) {
      if (given > passed) {
        // Bytes given and not yet passed are given again first, as ever.
      } else {
        const size_t n = std::uniform_int_distribution<size_t>(1, opaque)(rng);
        walk.PassedUnseen(n);
        passed += n;
        given = passed;
        *unseen += n;
        if (passed != walk.position()) return absl::InternalError("position disagrees");
        continue;
      }
    }
    given = std::min(frame.size(), given + piece(rng));
    absl::StatusOr<size_t> n =
        walk.Advance(absl::MakeConstSpan(frame).subspan(passed, given - passed));
    if (!n.ok()) return n.status();
    passed += *n;
    if (passed != walk.position()) return absl::InternalError("position disagrees");
  }
  if (!walk.at_tail()) return absl::OutOfRangeError("never reached the tail");
  if (walk.tail_size() != frame.size() - passed) return absl::InternalError("tail size");
  return passed;
}

// The walk stops exactly where the generated skip finds the top-level
// tagged fields, on random responses fed in random pieces.
TEST(ResponseWalkTest, AgreesWithTheGeneratedSkipOnRandomResponses) {
  std::mt19937 rng(7);
  int with_records = 0;
  size_t unseen = 0;
  for (int i = 0; i < 300; ++i) {
    for (int16_t version = 16; version <= FetchResponse::kMaxVersion; ++version) {
      ASSERT_TRUE(ResponseWalk::Walks(FetchResponse::kApiKey, version));
      RandomSource rnd(i * 100 + version);
      FetchResponse response;
      FillRandom(&response, version, rnd);
      std::vector<RawTaggedField> header_tags;
      if (i % 3 == 0) header_tags.push_back({.tag = 5, .data = {1, 2, 3}});
      const Frame frame = EncodeFrame(response, version, header_tags);
      auto location = FindNodeEndpoints(
          FetchResponse::kApiKey, version,
          absl::MakeConstSpan(frame.bytes).subspan(frame.body_offset));
      ASSERT_TRUE(location.ok()) << location.status();
      for (size_t max_chunk : {size_t{1}, size_t{7}, size_t{64}, frame.bytes.size()}) {
        absl::StatusOr<size_t> at =
            WalkInPieces(FetchResponse::kApiKey, frame.bytes, version, rng, max_chunk);
        ASSERT_TRUE(at.ok()) << at.status() << " (response " << i << " v" << version << ")";
        EXPECT_EQ(*at, frame.body_offset + location->tagged_fields_offset)
            << "response " << i << " v" << version << ", pieces of up to " << max_chunk;
        // The same when the records pass unseen (spliced).
        at = WalkInPieces(FetchResponse::kApiKey, frame.bytes, version, rng, max_chunk,
                          &unseen);
        ASSERT_TRUE(at.ok()) << at.status() << " (response " << i << " v" << version
                             << ", unseen)";
        EXPECT_EQ(*at, frame.body_offset + location->tagged_fields_offset)
            << "response " << i << " v" << version << ", pieces of up to " << max_chunk
            << ", records unseen";
      }
      for (const auto& topic : response.responses) {
        for (const auto& p : topic.partitions) with_records += p.records && !p.records->empty();
      }
    }
  }
  EXPECT_GT(with_records, 100);  // the random responses do carry records
  EXPECT_GT(unseen, 10000u);     // and the walks did pass some unseen
}

// A ShareFetch response's tail is its NodeEndpoints and top-level tagged
// fields: the walk stops where they start, on random responses.
TEST(ResponseWalkTest, FindsTheTailOfRandomShareFetchResponses) {
  std::mt19937 rng(11);
  for (int i = 0; i < 300; ++i) {
    for (int16_t version = ShareFetchResponse::kMinVersion;
         version <= ShareFetchResponse::kMaxVersion; ++version) {
      ASSERT_TRUE(ResponseWalk::Walks(ShareFetchResponse::kApiKey, version));
      RandomSource rnd(i * 100 + version);
      ShareFetchResponse response;
      FillRandom(&response, version, rnd);
      const Frame frame = EncodeFrame(response, version);
      // Without endpoints and tags the body ends with two bytes: an empty
      // array and no tagged fields.
      ShareFetchResponse bare = response;
      bare.node_endpoints.clear();
      bare.unknown_tagged_fields.clear();
      Writer w;
      bare.Encode(w, version);
      const size_t tail_at = frame.body_offset + w.size() - 2;
      for (size_t max_chunk : {size_t{1}, size_t{13}, frame.bytes.size()}) {
        absl::StatusOr<size_t> at =
            WalkInPieces(ShareFetchResponse::kApiKey, frame.bytes, version, rng, max_chunk);
        ASSERT_TRUE(at.ok()) << at.status() << " (response " << i << " v" << version << ")";
        EXPECT_EQ(*at, tail_at) << "response " << i << " v" << version;
      }
    }
  }
  EXPECT_FALSE(ResponseWalk::Walks(ShareFetchResponse::kApiKey, 0));
  EXPECT_FALSE(ResponseWalk::Walks(FetchResponse::kApiKey, 15));
}

TEST(ResponseWalkTest, PassesRecordsAsTheyArrive) {
  FetchResponse response = SampleResponse();
  const std::vector<uint8_t> records(200 * 1024, 0xab);
  response.responses[0].partitions[0].records = RecordsView(records);
  const Frame frame = EncodeFrame(response, 17);
  ResponseWalk walk(FetchResponse::kApiKey, 17, frame.bytes.size());
  // The first 100 KiB: everything of them is passed, records included.
  auto first = walk.Advance(absl::MakeConstSpan(frame.bytes).first(100 * 1024));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 100u * 1024);
  EXPECT_FALSE(walk.at_tail());
  auto rest = walk.Advance(absl::MakeConstSpan(frame.bytes).subspan(*first));
  ASSERT_TRUE(rest.ok()) << rest.status();
  ASSERT_TRUE(walk.at_tail());
  EXPECT_EQ(walk.tail_size(), 1u);  // no top-level tagged fields: their count
  EXPECT_EQ(*first + *rest + walk.tail_size(), frame.bytes.size());
}

TEST(ResponseWalkTest, HoldsBackAFieldThatHasNotArrivedWhole) {
  const Frame frame = EncodeFrame(SampleResponse(), 16);
  ResponseWalk walk(FetchResponse::kApiKey, 16, frame.bytes.size());
  // Size prefix, correlation id, header tags (1 byte), then 5 of the 10
  // bytes of throttle time, error code and session id.
  auto n = walk.Advance(absl::MakeConstSpan(frame.bytes).first(14));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 9u);
  EXPECT_EQ(walk.position(), 9u);
}

TEST(ResponseWalkTest, RejectsRecordsThatOverrunTheFrame) {
  FetchResponse response = SampleResponse();
  const std::vector<uint8_t> records(1000, 1);
  response.responses[1].partitions[2].records = RecordsView(records);
  Frame frame = EncodeFrame(response, 16);
  // The frame claims 600 bytes fewer than the records need.
  ResponseWalk walk(FetchResponse::kApiKey, 16, frame.bytes.size() - 600);
  auto n = walk.Advance(frame.bytes);
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("too short for Records"), std::string::npos)
      << n.status();
}

TEST(ResponseWalkTest, RejectsMalformedResponses) {
  // Throttle time, error code, session id, then a null Responses array.
  std::vector<uint8_t> null_topics = {0, 0, 0, 20, 0, 0, 0, 1, 0};
  null_topics.insert(null_topics.end(), 10, 0);
  null_topics.push_back(0);  // null
  null_topics.push_back(0);  // tagged fields
  ResponseWalk walk(FetchResponse::kApiKey, 16, null_topics.size());
  auto n = walk.Advance(null_topics);
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("a null Responses"), std::string::npos) << n.status();

  // A varint of six bytes.
  std::vector<uint8_t> long_varint = {0, 0, 0, 30, 0, 0, 0, 1, 0};
  long_varint.insert(long_varint.end(), 10, 0);
  long_varint.insert(long_varint.end(), {0x81, 0x81, 0x81, 0x81, 0x81, 0x01});
  long_varint.resize(34, 0);
  ResponseWalk walk2(FetchResponse::kApiKey, 16, long_varint.size());
  EXPECT_FALSE(walk2.Advance(long_varint).ok());

  // A frame that ends where its tagged fields should start.
  const Frame frame = EncodeFrame(SampleResponse(), 16);
  ResponseWalk walk3(FetchResponse::kApiKey, 16, frame.bytes.size() - 1);
  auto n3 = walk3.Advance(absl::MakeConstSpan(frame.bytes).first(frame.bytes.size() - 1));
  ASSERT_FALSE(n3.ok());
  EXPECT_NE(n3.status().message().find("ends before the top-level tagged fields"), std::string::npos)
      << n3.status();

  // A frame too short for a varint it needs.
  ResponseWalk walk4(FetchResponse::kApiKey, 16, 19);
  std::vector<uint8_t> cut(frame.bytes.begin(), frame.bytes.begin() + 19);
  EXPECT_FALSE(walk4.Advance(cut).ok());
}

// The tail of a response, as the walk leaves it.
std::vector<uint8_t> TailOf(const Frame& frame, int16_t version) {
  ResponseWalk walk(FetchResponse::kApiKey, version, frame.bytes.size());
  auto n = walk.Advance(frame.bytes);
  EXPECT_TRUE(n.ok() && walk.at_tail());
  return {frame.bytes.end() - static_cast<ptrdiff_t>(walk.tail_size()), frame.bytes.end()};
}

std::vector<uint8_t> EndpointsValue(const std::vector<FetchResponse::NodeEndpoint>& endpoints,
                                    int16_t version) {
  Writer w;
  internal::EncodeArray(w, /*compact=*/true, version, endpoints);
  return w.Release();
}

// Decodes the body of `frame` with its tail replaced by `tail`.
absl::StatusOr<FetchResponse> DecodeWithTail(const Frame& frame, absl::Span<const uint8_t> tail,
                                             int16_t version) {
  std::vector<uint8_t> body(frame.bytes.begin() + static_cast<ptrdiff_t>(frame.body_offset),
                            frame.bytes.end() - static_cast<ptrdiff_t>(tail.size()));
  body.insert(body.end(), tail.begin(), tail.end());
  Reader r(body);
  FetchResponse out;
  if (absl::Status s = out.Decode(r, version); !s.ok()) return s;
  if (r.remaining() != 0) return absl::DataLossError("bytes left");
  return out;
}

TEST(ResizeTaggedSectionTest, ShorterEndpointsFitWithFillersAndDecode) {
  FetchResponse response = SampleResponse();
  response.node_endpoints.push_back(
      {.node_id = 2, .host = "broker-2.kafka.example.internal", .port = 9092, .rack = "b"});
  response.node_endpoints.push_back(
      {.node_id = 3, .host = "broker-3.kafka.example.internal", .port = 9092});
  const Frame frame = EncodeFrame(response, 18);
  const std::vector<uint8_t> tail = TailOf(frame, 18);
  // Every shortening from 0 to 30 bytes fits, except by a single byte.
  for (size_t shorter = 0; shorter <= 30; ++shorter) {
    std::vector<FetchResponse::NodeEndpoint> rewritten = response.node_endpoints;
    rewritten[0].host = std::string(response.node_endpoints[0].host.size(), 'x');
    rewritten[1].host = std::string(response.node_endpoints[1].host.size() - shorter, 'a');
    const std::vector<uint8_t> value = EndpointsValue(rewritten, 18);
    auto resized = ResizeTaggedSection(tail, kNodeEndpointsTag, value, /*filler_tag=*/100, tail.size());
    if (shorter == 1) {
      EXPECT_FALSE(resized.ok());
      continue;
    }
    ASSERT_TRUE(resized.ok()) << resized.status() << " (" << shorter << " shorter)";
    ASSERT_EQ(resized->size(), tail.size());
    auto decoded = DecodeWithTail(frame, *resized, 18);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->node_endpoints, rewritten);
    EXPECT_EQ(decoded->responses, response.responses);
  }
}

TEST(ResizeTaggedSectionTest, ALongerValueDoesNotFitButTheFieldCanBeDropped) {
  FetchResponse response = SampleResponse();
  response.node_endpoints.push_back({.node_id = 2, .host = "b2", .port = 9092});
  response.unknown_tagged_fields.push_back({.tag = 7, .data = {4, 5}});
  const Frame frame = EncodeFrame(response, 16);
  const std::vector<uint8_t> tail = TailOf(frame, 16);
  std::vector<FetchResponse::NodeEndpoint> longer = response.node_endpoints;
  longer[0].host = "a-much-longer-agent-host-name";
  auto resized = ResizeTaggedSection(tail, kNodeEndpointsTag, EndpointsValue(longer, 16), 100, tail.size());
  EXPECT_FALSE(resized.ok());

  auto dropped = ResizeTaggedSection(tail, kNodeEndpointsTag, std::nullopt, 100, tail.size());
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  ASSERT_EQ(dropped->size(), tail.size());
  auto decoded = DecodeWithTail(frame, *dropped, 16);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(decoded->node_endpoints.empty());
  // The other field is kept; the fillers are unknown fields of tag 100.
  ASSERT_FALSE(decoded->unknown_tagged_fields.empty());
  EXPECT_EQ(decoded->unknown_tagged_fields[0], response.unknown_tagged_fields[0]);
  for (size_t i = 1; i < decoded->unknown_tagged_fields.size(); ++i) {
    EXPECT_EQ(decoded->unknown_tagged_fields[i].tag, 100u);
  }
}

TEST(ResizeTaggedSectionTest, FindsAFieldAndRejectsABrokenSection) {
  FetchResponse response = SampleResponse();
  response.node_endpoints.push_back({.node_id = 1, .host = "h", .port = 1});
  const std::vector<uint8_t> tail = TailOf(EncodeFrame(response, 17), 17);
  auto found = FindTaggedField(tail, kNodeEndpointsTag);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(std::vector<uint8_t>((*found)->begin(), (*found)->end()),
            EndpointsValue(response.node_endpoints, 17));
  auto missing = FindTaggedField(tail, 3);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  std::vector<uint8_t> broken = tail;
  broken.push_back(0);
  EXPECT_FALSE(FindTaggedField(broken, 0).ok());
  EXPECT_FALSE(ResizeTaggedSection(broken, 0, std::nullopt, 100, broken.size()).ok());
}

}  // namespace
}  // namespace kgw::kafka
