#include "agent/sni_route.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kgw::agent {
namespace {

using ::testing::HasSubstr;

TEST(SniRouteTest, AdvertisesTheBrokerIdInThePattern) {
  SniRoute route("broker{{nodeId}}.kafka.example.com", "kafka.example.com");
  EXPECT_EQ(route.HostFor(0), "broker0.kafka.example.com");
  EXPECT_EQ(route.HostFor(1234), "broker1234.kafka.example.com");
  SniRoute leading("{{nodeId}}-kgw.internal", "bootstrap.kgw.internal");
  EXPECT_EQ(leading.HostFor(7), "7-kgw.internal");
}

TEST(SniRouteTest, ReadsTheBrokerBackFromTheServerName) {
  SniRoute route("broker{{nodeId}}.kafka.example.com", "kafka.example.com");
  for (int32_t id : {0, 1, 42, 2147483647}) {
    absl::StatusOr<std::optional<int32_t>> b = route.BrokerFor(route.HostFor(id));
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ(*b, id);
  }
  // Host names are case-insensitive and may end in the root's dot.
  EXPECT_EQ(*route.BrokerFor("BROKER3.Kafka.Example.com."), 3);
  EXPECT_EQ(*route.BrokerFor("kafka.example.com"), std::nullopt);
  EXPECT_EQ(*route.BrokerFor("Kafka.Example.COM."), std::nullopt);
}

TEST(SniRouteTest, RefusesNamesThatMatchNothingSayingWhatWasExpected) {
  SniRoute route("broker{{nodeId}}.kafka.example.com", "kafka.example.com");
  struct Case {
    std::string sni;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"", "sent no server name"},
           {"other.example.com", "unknown server name \"other.example.com\""},
           {"broker.kafka.example.com", "unknown server name"},
           {"brokerx.kafka.example.com", "has no broker id"},
           {"broker01.kafka.example.com", "has no broker id"},
           {"broker-1.kafka.example.com", "has no broker id"},
           {"broker+1.kafka.example.com", "has no broker id"},
           {"broker2147483648.kafka.example.com", "has no broker id"},
           {"broker1.kafka.example.com.evil", "unknown server name"},
           {"xbroker1.kafka.example.com", "unknown server name"},
       }) {
    absl::StatusOr<std::optional<int32_t>> b = route.BrokerFor(c.sni);
    ASSERT_FALSE(b.ok()) << c.sni;
    EXPECT_THAT(b.status().message(), HasSubstr(c.says)) << c.sni;
    EXPECT_THAT(b.status().message(),
                HasSubstr("expected a name matching broker{{nodeId}}.kafka.example.com or the "
                          "bootstrap host kafka.example.com"));
  }
}

}  // namespace
}  // namespace kgw::agent
