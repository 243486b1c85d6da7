#include "agent/api_versions_cache.h"

#include <string>
#include <vector>

#include "common/kafka/header.h"
#include "common/kafka/messages/all_messages.h"
#include "common/kafka/wire/writer.h"
#include "gtest/gtest.h"

namespace kgw::agent {
namespace {

using Clock = ApiVersionsCache::Clock;

std::vector<uint8_t> Request(int16_t version, const std::string& name = "kgw-test",
                             const std::string& software_version = "1.2.3") {
  kafka::ApiVersionsRequest m;
  m.client_software_name = name;
  m.client_software_version = software_version;
  kafka::Writer w;
  kafka::RequestHeader h;
  h.request_api_key = kafka::ApiVersionsRequest::kApiKey;
  h.request_api_version = version;
  h.correlation_id = 7;
  h.client_id = "test";
  h.Encode(w, kafka::RequestHeaderVersion(kafka::ApiVersionsRequest::kApiKey, version));
  m.Encode(w, version);
  return w.Release();
}

kafka::ApiVersionsResponse Success() {
  kafka::ApiVersionsResponse m;
  m.api_keys.push_back({.api_key = 0, .min_version = 3, .max_version = 12});
  m.api_keys.push_back({.api_key = 18, .min_version = 0, .max_version = 4});
  return m;
}

// A response frame without its size prefix: correlation id, then the body.
std::vector<uint8_t> Response(const kafka::ApiVersionsResponse& m, int16_t version) {
  kafka::Writer w;
  w.WriteInt32(7);
  m.Encode(w, version);
  return w.Release();
}

std::vector<uint8_t> Body(const std::vector<uint8_t>& response) {
  return {response.begin() + 4, response.end()};
}

TEST(ApiVersionsCacheTest, AnswersOnlyRequestsWhoseAnswerDependsOnNothingInThem) {
  for (int16_t v = 0; v <= 4; ++v) EXPECT_TRUE(ApiVersionsCache::Answerable(Request(v))) << v;
  // Version 5 names a cluster and a node, which the broker may judge.
  EXPECT_FALSE(ApiVersionsCache::Answerable(Request(5)));
  // A broker refuses software names outside its pattern with INVALID_REQUEST;
  // such requests must reach it. Before version 3 there is no name.
  for (const std::string bad : {"", "my client", "-kgw", "kgw.", "kgw_go"}) {
    EXPECT_FALSE(ApiVersionsCache::Answerable(Request(3, bad))) << bad;
    EXPECT_FALSE(ApiVersionsCache::Answerable(Request(4, "kgw", bad))) << bad;
    EXPECT_TRUE(ApiVersionsCache::Answerable(Request(2, bad))) << bad;
  }
  EXPECT_TRUE(ApiVersionsCache::Answerable(Request(3, "apache-kafka-java", "4.1.0")));
  // Not ApiVersions, truncated, with bytes after the body, or oversized.
  std::vector<uint8_t> other = Request(3);
  other[1] = 3;  // api key 3, Metadata
  EXPECT_FALSE(ApiVersionsCache::Answerable(other));
  std::vector<uint8_t> cut = Request(3);
  cut.pop_back();
  EXPECT_FALSE(ApiVersionsCache::Answerable(cut));
  std::vector<uint8_t> longer = Request(2);
  longer.push_back(0);
  EXPECT_FALSE(ApiVersionsCache::Answerable(longer));
  EXPECT_FALSE(ApiVersionsCache::Answerable(
      Request(3, std::string(ApiVersionsCache::kMaxRequestBytes, 'a'))));
}

TEST(ApiVersionsCacheTest, KeepsSuccessesPerBrokerAndVersionWhileFresh) {
  ApiVersionsCache cache;
  const Clock::time_point t0 = Clock::now();
  EXPECT_EQ(cache.Find(1, 3, t0), nullptr);
  const std::vector<uint8_t> v3 = Response(Success(), 3);
  cache.Learn(1, 3, v3, t0);
  ASSERT_NE(cache.Find(1, 3, t0), nullptr);
  EXPECT_EQ(*cache.Find(1, 3, t0), Body(v3));
  // Another broker, another version: not answered for.
  EXPECT_EQ(cache.Find(2, 3, t0), nullptr);
  EXPECT_EQ(cache.Find(1, 2, t0), nullptr);
  // Stale once no exchange refreshed it for kFreshFor; the same answer again
  // refreshes it.
  const Clock::time_point later = t0 + ApiVersionsCache::kFreshFor;
  EXPECT_EQ(cache.Find(1, 3, later), nullptr);
  cache.Learn(1, 3, v3, later - std::chrono::seconds(1));
  EXPECT_NE(cache.Find(1, 3, later), nullptr);
  // A changed answer (an upgrade) replaces the old one.
  kafka::ApiVersionsResponse upgraded = Success();
  upgraded.api_keys[0].max_version = 13;
  const std::vector<uint8_t> v3b = Response(upgraded, 3);
  cache.Learn(1, 3, v3b, later);
  EXPECT_EQ(*cache.Find(1, 3, later), Body(v3b));
  EXPECT_EQ(cache.size(), 1u);
}

TEST(ApiVersionsCacheTest, ForgetsABrokerThatAnswersWithAnErrorOrThrottles) {
  ApiVersionsCache cache;
  const Clock::time_point t0 = Clock::now();
  cache.Learn(1, 3, Response(Success(), 3), t0);
  cache.Learn(2, 3, Response(Success(), 3), t0);
  ASSERT_EQ(cache.size(), 2u);
  kafka::ApiVersionsResponse refused = Success();
  refused.error_code = 35;  // UNSUPPORTED_VERSION
  cache.Learn(1, 3, Response(refused, 3), t0);
  EXPECT_EQ(cache.Find(1, 3, t0), nullptr);
  kafka::ApiVersionsResponse throttled = Success();
  throttled.throttle_time_ms = 100;
  cache.Learn(2, 3, Response(throttled, 3), t0);
  EXPECT_EQ(cache.Find(2, 3, t0), nullptr);
  // Nor is an answer kept that does not parse at its version, or a v5 one.
  std::vector<uint8_t> junk = Response(Success(), 3);
  junk.push_back(1);
  cache.Learn(3, 3, junk, t0);
  cache.Learn(3, 5, Response(Success(), 5), t0);
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace kgw::agent
