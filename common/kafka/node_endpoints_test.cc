#include "common/kafka/node_endpoints.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

#include "absl/status/status.h"
#include "common/kafka/messages/fetch.h"
#include "common/kafka/messages/produce.h"
#include "common/kafka/messages/random_fill.h"
#include "common/kafka/testing/random_source.h"
#include "common/kafka/wire/array_codec.h"
#include "common/kafka/wire/writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

// Counts heap allocations so the test can show the fast path makes none.
// This binary holds only these tests, so replacing the global operators
// affects nothing else.
namespace {
std::atomic<int64_t> g_allocations{0};
}  // namespace

// GCC pairs the inlined operator new with free() and warns, although both
// sides of every pair here are the replacements below, which match.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace kgw::kafka {
namespace {

using ::kgw::kafka::testing::FillRandom;
using ::kgw::kafka::testing::RandomSource;

std::vector<uint8_t> Bytes(absl::Span<const uint8_t> s) { return {s.begin(), s.end()}; }

ProduceResponse SampleProduceResponse() {
  ProduceResponse response;
  auto& topic = response.responses.emplace_back();
  topic.name = "orders";
  auto& partition = topic.partition_responses.emplace_back();
  partition.index = 2;
  partition.current_leader = {.leader_id = 3, .leader_epoch = 7};
  response.throttle_time_ms = 5;
  return response;
}

TEST(FindNodeEndpointsTest, LocatesTheFieldInProduceResponses) {
  for (int16_t version = 10; version <= ProduceResponse::kMaxVersion; ++version) {
    ProduceResponse response = SampleProduceResponse();
    response.node_endpoints.push_back({.node_id = 3, .host = "broker-3", .port = 9092});
    response.unknown_tagged_fields = {{1, {0xaa}}};  // a later, unknown tag
    Writer w;
    response.Encode(w, version);

    auto location = FindNodeEndpoints(ProduceResponse::kApiKey, version, w.data());
    ASSERT_TRUE(location.ok()) << location.status();
    ASSERT_TRUE(location->present);
    EXPECT_EQ(w.data()[location->tagged_fields_offset], 2);  // two tagged fields
    EXPECT_EQ(location->field_offset, location->tagged_fields_offset + 1);
    EXPECT_EQ(w.data()[location->field_offset], kNodeEndpointsTag);

    Writer expected_value;
    internal::EncodeArray(expected_value, /*compact=*/true, version, response.node_endpoints);
    EXPECT_EQ(Bytes(w.data().subspan(location->value_offset,
                                     location->field_end - location->value_offset)),
              Bytes(expected_value.data()));
    // The unknown tag 1 follows, then the body ends.
    EXPECT_EQ(location->field_end + 3, w.size());
  }
}

TEST(FindNodeEndpointsTest, AbsentWhenOnlyOtherTagsArePresent) {
  ProduceResponse response = SampleProduceResponse();
  response.unknown_tagged_fields = {{4, {1, 2, 3}}};
  Writer w;
  response.Encode(w, 11);
  auto location = FindNodeEndpoints(ProduceResponse::kApiKey, 11, w.data());
  ASSERT_TRUE(location.ok()) << location.status();
  EXPECT_FALSE(location->present);
  // Count, tag, size and three bytes of value end the body.
  EXPECT_EQ(location->tagged_fields_offset, w.size() - 6);
}

// Nested tagged fields with tag 0 (CurrentLeader, DivergingEpoch) must not
// be mistaken for the top-level one.
TEST(FindNodeEndpointsTest, NestedTagZeroIsNotNodeEndpoints) {
  FetchResponse response;
  auto& partition = response.responses.emplace_back().partitions.emplace_back();
  partition.diverging_epoch.epoch = 4;
  partition.current_leader.leader_id = 1;
  const std::vector<uint8_t> records = {1, 2, 3, 4, 5, 6, 7, 8};
  partition.records = RecordsView(records);
  Writer w;
  response.Encode(w, 17);
  auto location = FindNodeEndpoints(FetchResponse::kApiKey, 17, w.data());
  ASSERT_TRUE(location.ok()) << location.status();
  EXPECT_FALSE(location->present);
}

// The fast path must agree with the full decoder on every random response.
TEST(FindNodeEndpointsTest, AgreesWithFullDecodeOnRandomResponses) {
  int present = 0;
  int absent = 0;
  for (int i = 0; i < 300; ++i) {
    for (int16_t version = 10; version <= ProduceResponse::kMaxVersion; ++version) {
      RandomSource rnd(i * 100 + version);
      ProduceResponse response;
      FillRandom(&response, version, rnd);
      Writer w;
      response.Encode(w, version);
      auto location = FindNodeEndpoints(ProduceResponse::kApiKey, version, w.data());
      ASSERT_TRUE(location.ok()) << location.status();
      EXPECT_EQ(location->present, !response.node_endpoints.empty());
      (location->present ? present : absent)++;
    }
    for (int16_t version = 16; version <= FetchResponse::kMaxVersion; ++version) {
      RandomSource rnd(i * 100 + version);
      FetchResponse response;
      FillRandom(&response, version, rnd);
      Writer w;
      response.Encode(w, version);
      auto location = FindNodeEndpoints(FetchResponse::kApiKey, version, w.data());
      ASSERT_TRUE(location.ok()) << location.status();
      EXPECT_EQ(location->present, !response.node_endpoints.empty());
      (location->present ? present : absent)++;
    }
  }
  EXPECT_GT(present, 100);
  EXPECT_GT(absent, 100);
}

TEST(FindNodeEndpointsTest, DoesNotAllocate) {
  FetchResponse response;
  for (int t = 0; t < 3; ++t) {
    auto& topic = response.responses.emplace_back();
    for (int p = 0; p < 10; ++p) topic.partitions.emplace_back().records = RecordsView();
  }
  response.node_endpoints.push_back({.node_id = 1, .host = "h", .port = 1, .rack = "r"});
  Writer w;
  const int64_t before_encode = g_allocations.load();
  response.Encode(w, 18);
  ASSERT_GT(g_allocations.load(), before_encode) << "the allocation counter is not counting";

  const int64_t before = g_allocations.load();
  auto location = FindNodeEndpoints(FetchResponse::kApiKey, 18, w.data());
  const int64_t after = g_allocations.load();
  ASSERT_TRUE(location.ok());
  EXPECT_TRUE(location->present);
  EXPECT_EQ(after, before);
}

TEST(FindNodeEndpointsTest, RejectsVersionsWithoutTheField) {
  const std::vector<uint8_t> body(16, 0);
  EXPECT_EQ(FindNodeEndpoints(ProduceResponse::kApiKey, 9, body).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FindNodeEndpoints(FetchResponse::kApiKey, 15, body).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FindNodeEndpoints(3, 12, body).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FindNodeEndpointsTest, EveryTruncationAndTrailingBytesAreErrors) {
  ProduceResponse response = SampleProduceResponse();
  response.node_endpoints.push_back({.node_id = 3, .host = "broker-3", .port = 9092});
  Writer w;
  response.Encode(w, 12);
  for (size_t size = 0; size < w.size(); ++size) {
    EXPECT_FALSE(FindNodeEndpoints(ProduceResponse::kApiKey, 12, w.data().subspan(0, size)).ok())
        << size;
  }
  w.WriteInt8(0);
  auto trailing = FindNodeEndpoints(ProduceResponse::kApiKey, 12, w.data());
  EXPECT_EQ(trailing.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FindNodeEndpointsTest, ErrorsNameTheField) {
  ProduceResponse response = SampleProduceResponse();
  Writer w;
  response.Encode(w, 10);
  // Cut inside the topic name.
  auto location = FindNodeEndpoints(ProduceResponse::kApiKey, 10, w.data().subspan(0, 4));
  EXPECT_EQ(location.status().message(),
            "ProduceResponse v10: truncated at Responses[0].Name (need 6 bytes, have 2)");
}

}  // namespace
}  // namespace kgw::kafka
