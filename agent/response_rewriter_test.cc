#include "agent/response_rewriter.h"

#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/port_map.h"
#include "common/kafka/header.h"
#include "common/kafka/messages/all_messages.h"
#include "common/kafka/messages/api_registry.h"
#include "common/kafka/messages/random_fill.h"
#include "common/kafka/node_endpoints.h"
#include "common/kafka/testing/random_source.h"
#include "common/kafka/wire/reader.h"
#include "common/kafka/wire/writer.h"
#include "gtest/gtest.h"

namespace kgw::agent {
namespace {

const PortMap kPorts{.port_start = 6969, .min_broker_id = 0, .advertised_host = "agent.test"};

AdvertisedAddress AddressFor(int32_t node) { return kPorts.AddressFor(node); }

template <typename M>
std::vector<uint8_t> Encode(const M& m, int16_t version) {
  kafka::Writer w;
  m.Encode(w, version);
  return w.Release();
}

template <typename M>
M Decode(const std::vector<uint8_t>& body, int16_t version) {
  kafka::Reader r(body);
  M m;
  EXPECT_TRUE(m.Decode(r, version).ok());
  EXPECT_EQ(r.remaining(), 0u);
  return m;
}

template <typename M>
std::optional<std::vector<uint8_t>> Rewrite(const M& m, int16_t version,
                                            std::vector<BrokerEndpoint>* seen = nullptr) {
  std::vector<uint8_t> body = Encode(m, version);
  auto out = RewriteResponse(M::kApiKey, version, body, AddressFor,
                             [&](const std::vector<BrokerEndpoint>& b) {
                               if (seen) *seen = b;
                             });
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : std::nullopt;
}

template <typename Endpoint>
void Move(Endpoint& e, int32_t node) {
  AdvertisedAddress a = AddressFor(node);
  e.host = a.host;
  e.port = a.port;
}

// For each API: a random response at every version, rewritten, must equal the
// same response with every address replaced and nothing else changed.
TEST(ResponseRewriterTest, MetadataBrokersMoveAndAreReported) {
  kafka::testing::RandomSource rnd(1);
  for (int16_t v = kafka::MetadataResponse::kMinVersion; v <= kafka::MetadataResponse::kMaxVersion;
       ++v) {
    for (int i = 0; i < 30; ++i) {
      kafka::MetadataResponse m;
      kafka::testing::FillRandom(&m, v, rnd);
      kafka::MetadataResponse expected = m;
      for (auto& b : expected.brokers) Move(b, b.node_id);
      std::vector<BrokerEndpoint> seen;
      auto out = Rewrite(m, v, &seen);
      ASSERT_TRUE(out.has_value());
      EXPECT_EQ(Decode<kafka::MetadataResponse>(*out, v), expected) << "v" << v;
      ASSERT_EQ(seen.size(), m.brokers.size());
      for (size_t j = 0; j < seen.size(); ++j) {
        EXPECT_EQ(seen[j].host, m.brokers[j].host);
        EXPECT_EQ(seen[j].port, m.brokers[j].port);
      }
    }
  }
}

TEST(ResponseRewriterTest, FindCoordinatorLeavesErrorsAlone) {
  kafka::testing::RandomSource rnd(2);
  for (int16_t v = kafka::FindCoordinatorResponse::kMinVersion;
       v <= kafka::FindCoordinatorResponse::kMaxVersion; ++v) {
    for (int i = 0; i < 30; ++i) {
      kafka::FindCoordinatorResponse m;
      kafka::testing::FillRandom(&m, v, rnd);
      if (v <= 3) {
        m.node_id = i % 3 == 0 ? -1 : i;
        m.host = m.node_id < 0 ? "" : "broker.internal";
      } else {
        for (size_t j = 0; j < m.coordinators.size(); ++j) {
          m.coordinators[j].node_id = j % 2 == 0 ? -1 : static_cast<int32_t>(j);
        }
      }
      kafka::FindCoordinatorResponse expected = m;
      bool any = false;
      if (v <= 3) {
        if (m.node_id >= 0) {
          Move(expected, m.node_id);
          any = true;
        }
      } else {
        for (auto& c : expected.coordinators) {
          if (c.node_id >= 0) {
            Move(c, c.node_id);
            any = true;
          }
        }
      }
      auto out = Rewrite(m, v);
      EXPECT_EQ(out.has_value(), any) << "v" << v;
      if (out) {
        EXPECT_EQ(Decode<kafka::FindCoordinatorResponse>(*out, v), expected) << "v" << v;
      }
    }
  }
}

TEST(ResponseRewriterTest, DescribeClusterAndQuorumAddressesMove) {
  kafka::testing::RandomSource rnd(3);
  for (int16_t v = kafka::DescribeClusterResponse::kMinVersion;
       v <= kafka::DescribeClusterResponse::kMaxVersion; ++v) {
    kafka::DescribeClusterResponse m;
    kafka::testing::FillRandom(&m, v, rnd);
    m.brokers.resize(3);
    for (int j = 0; j < 3; ++j) m.brokers[j].broker_id = j + 1;
    kafka::DescribeClusterResponse expected = m;
    for (auto& b : expected.brokers) Move(b, b.broker_id);
    auto out = Rewrite(m, v);
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(Decode<kafka::DescribeClusterResponse>(*out, v), expected);
  }
  for (int16_t v = kafka::DescribeQuorumResponse::kMinVersion;
       v <= kafka::DescribeQuorumResponse::kMaxVersion; ++v) {
    kafka::DescribeQuorumResponse m;
    kafka::testing::FillRandom(&m, v, rnd);
    kafka::DescribeQuorumResponse expected = m;
    bool any = false;
    for (auto& n : expected.nodes) {
      for (auto& l : n.listeners) {
        l.host = AddressFor(n.node_id).host;
        l.port = static_cast<uint16_t>(AddressFor(n.node_id).port);
        any = true;
      }
    }
    auto out = Rewrite(m, v);
    EXPECT_EQ(out.has_value(), any);
    if (out) {
      EXPECT_EQ(Decode<kafka::DescribeQuorumResponse>(*out, v), expected);
    }
  }
}

template <typename Response>
void CheckNodeEndpoints(int16_t first_version, uint64_t seed) {
  kafka::testing::RandomSource rnd(seed);
  for (int16_t v = Response::kMinVersion; v <= Response::kMaxVersion; ++v) {
    for (int i = 0; i < 20; ++i) {
      Response m;
      kafka::testing::FillRandom(&m, v, rnd);
      Response expected = m;
      for (auto& e : expected.node_endpoints) Move(e, e.node_id);
      auto out = Rewrite(m, v);
      const bool rewritten = v >= first_version && !m.node_endpoints.empty();
      EXPECT_EQ(out.has_value(), rewritten) << Response::kName << " v" << v;
      if (out) {
        EXPECT_EQ(Decode<Response>(*out, v), expected) << Response::kName << " v" << v;
      }
    }
  }
}

TEST(ResponseRewriterTest, NodeEndpointsMoveOnlyWhenPresent) {
  CheckNodeEndpoints<kafka::ProduceResponse>(10, 4);
  CheckNodeEndpoints<kafka::FetchResponse>(16, 5);
  CheckNodeEndpoints<kafka::ShareFetchResponse>(kafka::ShareFetchResponse::kMinVersion, 6);
  CheckNodeEndpoints<kafka::ShareAcknowledgeResponse>(kafka::ShareAcknowledgeResponse::kMinVersion,
                                                      7);
}

TEST(ResponseRewriterTest, MalformedResponsesAreErrors) {
  const std::vector<uint8_t> garbage = {0, 0, 0, 9, 0xff, 0xff, 0xff};
  for (int16_t api : {0, 1, 3, 10, 55, 60, 78, 79}) {
    const kafka::ApiInfo* info = kafka::FindApi(api);
    ASSERT_NE(info, nullptr);
    auto out = RewriteResponse(api, info->max_version, garbage, AddressFor,
                               [](const std::vector<BrokerEndpoint>&) {});
    EXPECT_FALSE(out.ok()) << "api key " << api;
  }
}

TEST(ResponseRewriterTest, ApiVersionsAreCappedToTheCodecForParsedApisOnly) {
  const kafka::ApiInfo* metadata = kafka::FindApi(kafka::MetadataResponse::kApiKey);
  // Metadata: the broker offers more than the codec knows.
  auto capped = IntersectApiVersions(3, {0, static_cast<int16_t>(metadata->max_version + 5)});
  ASSERT_TRUE(capped.has_value());
  EXPECT_EQ(capped->max_version, metadata->max_version);
  // An API the agent never parses (OffsetCommit, 8) is left as the broker said.
  auto untouched = IntersectApiVersions(8, {2, 99});
  ASSERT_TRUE(untouched.has_value());
  EXPECT_EQ(untouched->min_version, 2);
  EXPECT_EQ(untouched->max_version, 99);
  // No overlap: the API disappears.
  EXPECT_FALSE(IntersectApiVersions(3, {static_cast<int16_t>(metadata->max_version + 1),
                                        static_cast<int16_t>(metadata->max_version + 2)})
                   .has_value());

  kafka::ApiVersionsResponse m;
  m.api_keys.push_back({.api_key = 3, .min_version = 0, .max_version = 99});
  m.api_keys.push_back({.api_key = 8, .min_version = 2, .max_version = 99});
  for (int16_t v = 0; v <= kafka::ApiVersionsResponse::kMaxVersion; ++v) {
    auto out = Rewrite(m, v);
    ASSERT_TRUE(out.has_value());
    auto got = Decode<kafka::ApiVersionsResponse>(*out, v);
    ASSERT_EQ(got.api_keys.size(), 2u);
    EXPECT_EQ(got.api_keys[0].max_version, metadata->max_version);
    EXPECT_EQ(got.api_keys[1].max_version, 99);
  }
  // An UNSUPPORTED_VERSION answer comes in v0 form whatever was asked.
  kafka::ApiVersionsResponse unsupported = m;
  unsupported.error_code = 35;
  std::vector<uint8_t> v0 = Encode(unsupported, 0);
  auto out = RewriteResponse(18, kafka::ApiVersionsResponse::kMaxVersion, v0, AddressFor,
                             [](const std::vector<BrokerEndpoint>&) {});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(out->has_value());
  EXPECT_EQ(Decode<kafka::ApiVersionsResponse>(**out, 0).api_keys[0].max_version,
            metadata->max_version);
}

// Each thread remembers the ApiVersions answers it narrowed; an answer given
// again must come out as it would have fresh, and a different answer (another
// broker, an upgrade, another version) must not be served a remembered one.
TEST(ResponseRewriterTest, RememberedApiVersionsAnswersMatchFreshOnes) {
  const kafka::ApiInfo* metadata = kafka::FindApi(kafka::MetadataResponse::kApiKey);
  const int16_t metadata_max = metadata->max_version;
  auto narrowed = [](const kafka::ApiVersionsResponse& m, int16_t v) {
    auto out = Rewrite(m, v);
    return out.has_value() ? Decode<kafka::ApiVersionsResponse>(*out, v)
                           : kafka::ApiVersionsResponse{};
  };
  kafka::ApiVersionsResponse wide;
  wide.api_keys.push_back({.api_key = 3, .min_version = 0, .max_version = 99});
  kafka::ApiVersionsResponse narrow = wide;
  narrow.api_keys[0] = {.api_key = 3, .min_version = metadata->min_version,
                        .max_version = metadata_max};
  narrow.api_keys.push_back({.api_key = 8, .min_version = 1, .max_version = 50});
  // More distinct answers than a thread keeps, each asked several times and
  // interleaved, so that entries are reused and replaced.
  for (int round = 0; round < 3; ++round) {
    for (int16_t v = 0; v <= kafka::ApiVersionsResponse::kMaxVersion; ++v) {
      const auto w = narrowed(wide, v);
      ASSERT_EQ(w.api_keys.size(), 1u) << "v" << v;
      EXPECT_EQ(w.api_keys[0].max_version, metadata_max) << "v" << v;
      // Within the codec already: nothing to narrow, passed through as is.
      EXPECT_FALSE(Rewrite(narrow, v).has_value()) << "v" << v;
      const auto again = narrowed(wide, v);
      ASSERT_EQ(again.api_keys.size(), 1u);
      EXPECT_EQ(again.api_keys[0].max_version, metadata_max);
    }
  }
}

// A response frame (header and body, no size prefix) as a broker sends it.
template <typename M>
std::vector<uint8_t> ResponseFrame(const M& m, int16_t version, int32_t correlation_id) {
  kafka::Writer w;
  kafka::ResponseHeader header;
  header.correlation_id = correlation_id;
  header.Encode(w, M::kApiKey == kafka::ApiVersionsResponse::kApiKey
                       ? 0
                       : kafka::ResponseHeaderVersion(M::kApiKey, version));
  m.Encode(w, version);
  return w.Release();
}

TEST(ResponseRewriterTest, WholeFramesKeepTheirHeaderAndGetANewSize) {
  kafka::testing::RandomSource rnd(9);
  for (int16_t v : {int16_t{1}, int16_t{9}, kafka::MetadataResponse::kMaxVersion}) {
    kafka::MetadataResponse m;
    kafka::testing::FillRandom(&m, v, rnd);
    m.brokers.resize(1);
    m.brokers[0].node_id = 2;
    m.brokers[0].host = "broker-2.internal";
    const std::vector<uint8_t> frame = ResponseFrame(m, v, 77);
    auto out = RewriteResponseFrame(kafka::MetadataResponse::kApiKey, v, frame, AddressFor,
                                    [](const std::vector<BrokerEndpoint>&) {});
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_TRUE(out->has_value());
    const std::vector<uint8_t>& rewritten = **out;
    // The size prefix counts what follows; the header (correlation id 77) is kept.
    auto inner = kafka::NextFrame(rewritten, std::numeric_limits<int32_t>::max());
    ASSERT_TRUE(inner.ok() && inner->has_value());
    EXPECT_EQ((*inner)->size(), rewritten.size() - kafka::kFrameSizeBytes);
    kafka::Reader r(**inner);
    kafka::ResponseHeader header;
    ASSERT_TRUE(header.Decode(r, kafka::ResponseHeaderVersion(kafka::MetadataResponse::kApiKey, v))
                    .ok());
    EXPECT_EQ(header.correlation_id, 77);
    kafka::MetadataResponse got;
    ASSERT_TRUE(got.Decode(r, v).ok());
    EXPECT_EQ(got.brokers[0].host, "agent.test");
    EXPECT_EQ(got.brokers[0].port, 6971);
  }
  // Nothing to rewrite: forwarded as it came.
  kafka::ProduceResponse produce;
  auto untouched = RewriteResponseFrame(kafka::ProduceResponse::kApiKey, 9,
                                        ResponseFrame(produce, 9, 1), AddressFor,
                                        [](const std::vector<BrokerEndpoint>&) {});
  ASSERT_TRUE(untouched.ok());
  EXPECT_FALSE(untouched->has_value());
  // A header that ends early is an error, not a frame forwarded blind.
  const std::vector<uint8_t> cut = {0, 0};
  EXPECT_FALSE(RewriteResponseFrame(kafka::MetadataResponse::kApiKey, 12, cut, AddressFor,
                                    [](const std::vector<BrokerEndpoint>&) {})
                   .ok());
}

TEST(ResponseRewriterTest, TheTableSaysWhichResponsesAreNeededWhole) {
  // Rewritten from the version that can carry addresses.
  EXPECT_FALSE(NeedsWholeResponse(kafka::FetchResponse::kApiKey, 15));
  EXPECT_TRUE(NeedsWholeResponse(kafka::FetchResponse::kApiKey, 16));
  EXPECT_FALSE(MayRewrite(kafka::ProduceResponse::kApiKey, 9));
  EXPECT_TRUE(MayRewrite(kafka::ProduceResponse::kApiKey, 10));
  // Read by the SASL watcher, never rewritten.
  EXPECT_TRUE(NeedsWholeResponse(kafka::SaslAuthenticateResponse::kApiKey, 2));
  EXPECT_FALSE(MayRewrite(kafka::SaslAuthenticateResponse::kApiKey, 2));
  EXPECT_TRUE(NeedsWholeResponse(kafka::SaslHandshakeResponse::kApiKey, 1));
  // APIs without a row pass through, their versions as the broker says.
  constexpr int16_t kListOffsets = 2;
  EXPECT_FALSE(NeedsWholeResponse(kListOffsets, 8));
  EXPECT_EQ(IntersectApiVersions(kListOffsets, {0, 99})->max_version, 99);
  EXPECT_EQ(IntersectApiVersions(kafka::SaslAuthenticateResponse::kApiKey, {0, 99})->max_version,
            99);
  EXPECT_EQ(IntersectApiVersions(kafka::SaslHandshakeResponse::kApiKey, {0, 99})->max_version,
            kafka::SaslHandshakeResponse::kMaxVersion);
}

// The tail a ResponseWalk leaves of `response`'s body (the top-level
// tagged fields), and the body before it.
std::pair<std::vector<uint8_t>, std::vector<uint8_t>> SplitAtTail(
    const kafka::FetchResponse& response, int16_t version) {
  std::vector<uint8_t> body = Encode(response, version);
  auto location = kafka::FindNodeEndpoints(kafka::FetchResponse::kApiKey, version, body);
  EXPECT_TRUE(location.ok()) << location.status();
  const auto at = static_cast<ptrdiff_t>(location->tagged_fields_offset);
  return {{body.begin(), body.begin() + at}, {body.begin() + at, body.end()}};
}

// Decoded records would be views into a local: only for responses without.
kafka::FetchResponse WithTail(std::vector<uint8_t> head, const std::vector<uint8_t>& tail,
                              int16_t version) {
  head.insert(head.end(), tail.begin(), tail.end());
  return Decode<kafka::FetchResponse>(head, version);
}

TEST(ResponseRewriterTest, StreamedFetchTailsMoveTheirEndpointsInPlace) {
  EXPECT_TRUE(WalksResponse(kafka::FetchResponse::kApiKey, 16));
  EXPECT_FALSE(WalksResponse(kafka::FetchResponse::kApiKey, 15));
  EXPECT_FALSE(WalksResponse(kafka::ProduceResponse::kApiKey, 11));

  kafka::FetchResponse response;
  response.responses.emplace_back().partitions.emplace_back().current_leader.leader_id = 4;
  // No endpoints: the tail goes on as it is.
  auto [head, tail] = SplitAtTail(response, 17);
  auto none = RewriteWalkedTail(kafka::FetchResponse::kApiKey, 17, tail, AddressFor);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());

  // Broker names longer than the agent's: rewritten within the same bytes.
  response.node_endpoints.push_back(
      {.node_id = 4, .host = "kafka-4.brokers.example.internal", .port = 9092, .rack = "c"});
  std::tie(head, tail) = SplitAtTail(response, 17);
  auto moved = RewriteWalkedTail(kafka::FetchResponse::kApiKey, 17, tail, AddressFor);
  ASSERT_TRUE(moved.ok()) << moved.status();
  ASSERT_TRUE(moved->has_value());
  EXPECT_FALSE((*moved)->endpoints_dropped);
  ASSERT_EQ((*moved)->bytes.size(), tail.size());
  kafka::FetchResponse out = WithTail(head, (*moved)->bytes, 17);
  kafka::FetchResponse::NodeEndpoint want = response.node_endpoints[0];
  Move(want, 4);
  ASSERT_EQ(out.node_endpoints.size(), 1u);
  EXPECT_EQ(out.node_endpoints[0], want);
  EXPECT_EQ(out.responses, response.responses);

  // A broker name shorter than the agent's: the endpoints are left out.
  response.node_endpoints[0].host = "k4";
  std::tie(head, tail) = SplitAtTail(response, 17);
  auto dropped = RewriteWalkedTail(kafka::FetchResponse::kApiKey, 17, tail, AddressFor);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  ASSERT_TRUE(dropped->has_value());
  EXPECT_TRUE((*dropped)->endpoints_dropped);
  ASSERT_EQ((*dropped)->bytes.size(), tail.size());
  out = WithTail(head, (*dropped)->bytes, 17);
  EXPECT_TRUE(out.node_endpoints.empty());
  EXPECT_EQ(out.responses, response.responses);

  // Endpoints that do not parse are an error, as in a whole response.
  std::vector<uint8_t> broken = {1, 0, 2, 2, 0};  // one field, tag 0: an array of one, cut
  EXPECT_FALSE(RewriteWalkedTail(kafka::FetchResponse::kApiKey, 17, broken, AddressFor).ok());
}

TEST(ResponseRewriterTest, StreamedShareFetchTailsMoveTheirEndpointsInPlace) {
  constexpr int16_t kVersion = 1;
  EXPECT_TRUE(WalksResponse(kafka::ShareFetchResponse::kApiKey, kVersion));
  kafka::ShareFetchResponse response;
  auto& partition = response.responses.emplace_back().partitions.emplace_back();
  partition.partition_index = 3;
  const std::vector<uint8_t> records = {1, 2, 3, 4};
  partition.records = kafka::RecordsView(records);
  response.unknown_tagged_fields.push_back({.tag = 9, .data = {7}});
  // The tail: what follows the body encoded without endpoints and tags.
  auto split = [&](const kafka::ShareFetchResponse& m) {
    kafka::ShareFetchResponse bare = m;
    bare.node_endpoints.clear();
    bare.unknown_tagged_fields.clear();
    const size_t at = Encode(bare, kVersion).size() - 2;
    std::vector<uint8_t> body = Encode(m, kVersion);
    const auto cut = body.begin() + static_cast<ptrdiff_t>(at);
    return std::pair<std::vector<uint8_t>, std::vector<uint8_t>>{{body.begin(), cut},
                                                                 {cut, body.end()}};
  };
  // The decoded records are views into `joined`, which must outlive them.
  std::vector<uint8_t> joined;
  auto rejoin = [&joined](const std::vector<uint8_t>& head, const std::vector<uint8_t>& tail) {
    joined = head;
    joined.insert(joined.end(), tail.begin(), tail.end());
    return Decode<kafka::ShareFetchResponse>(joined, kVersion);
  };
  auto [head, tail] = split(response);
  auto none = RewriteWalkedTail(kafka::ShareFetchResponse::kApiKey, kVersion, tail, AddressFor);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());

  response.node_endpoints.push_back(
      {.node_id = 4, .host = "kafka-4.brokers.example.internal", .port = 9092});
  std::tie(head, tail) = split(response);
  auto moved = RewriteWalkedTail(kafka::ShareFetchResponse::kApiKey, kVersion, tail, AddressFor);
  ASSERT_TRUE(moved.ok()) << moved.status();
  ASSERT_TRUE(moved->has_value());
  EXPECT_FALSE((*moved)->endpoints_dropped);
  ASSERT_EQ((*moved)->bytes.size(), tail.size());
  kafka::ShareFetchResponse out = rejoin(head, (*moved)->bytes);
  kafka::ShareFetchResponse::NodeEndpoint want = response.node_endpoints[0];
  Move(want, 4);
  EXPECT_EQ(out.node_endpoints, std::vector{want});
  EXPECT_EQ(out.responses, response.responses);
  ASSERT_FALSE(out.unknown_tagged_fields.empty());
  EXPECT_EQ(out.unknown_tagged_fields[0], response.unknown_tagged_fields[0]);

  // Longer once rewritten: the array is emptied, the size kept.
  response.node_endpoints[0].host = "k4";
  std::tie(head, tail) = split(response);
  auto emptied = RewriteWalkedTail(kafka::ShareFetchResponse::kApiKey, kVersion, tail, AddressFor);
  ASSERT_TRUE(emptied.ok()) << emptied.status();
  ASSERT_TRUE(emptied->has_value());
  EXPECT_TRUE((*emptied)->endpoints_dropped);
  ASSERT_EQ((*emptied)->bytes.size(), tail.size());
  out = rejoin(head, (*emptied)->bytes);
  EXPECT_TRUE(out.node_endpoints.empty());
  EXPECT_EQ(out.responses, response.responses);

  EXPECT_FALSE(RewriteWalkedTail(kafka::MetadataResponse::kApiKey, 12, tail, AddressFor).ok());
}

}  // namespace
}  // namespace kgw::agent
