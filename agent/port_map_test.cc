#include "agent/port_map.h"

#include <optional>

#include "gtest/gtest.h"

namespace kgw::agent {
namespace {

TEST(PortMapTest, PortsFollowBrokerIds) {
  const PortMap ports{.port_start = 9000, .min_broker_id = 100, .advertised_host = "a"};
  EXPECT_EQ(ports.AddressFor(100).port, 9000);
  EXPECT_EQ(ports.AddressFor(103).port, 9003);
  EXPECT_EQ(ports.BrokerFor(9003), 103);
  // Below the minimum id: the first (bootstrap) port, never a broker address.
  EXPECT_EQ(ports.AddressFor(7).port, 9000);
  EXPECT_EQ(ports.AddressFor(7).host, "a");
  EXPECT_EQ(ports.AddressFor(100 + 70000).port, 9000);
}

TEST(PortMapTest, PortCountGrowsWithTheHighestBrokerId) {
  const PortMap ports{.port_start = 6969, .min_broker_id = 0, .advertised_host = "a"};
  EXPECT_EQ(ports.PortCount(std::nullopt, 3), 6);    // (3 - 0) + 3
  EXPECT_EQ(ports.PortCount(std::nullopt, 7), 10);   // a broker 7 joins: ports up to 6978
  EXPECT_EQ(ports.PortCount(5, 7), 5);               // GATEWAY_PORT_COUNT wins
  const PortMap high{.port_start = 65530, .min_broker_id = 0, .advertised_host = "a"};
  EXPECT_EQ(high.PortCount(std::nullopt, 100), 6);   // never past 65535
  const PortMap offset{.port_start = 9000, .min_broker_id = 100, .advertised_host = "a"};
  EXPECT_EQ(offset.PortCount(std::nullopt, 102), 5);
}

}  // namespace
}  // namespace kgw::agent
