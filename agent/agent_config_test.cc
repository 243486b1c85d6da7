#include "agent/agent_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kgw::agent {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<AgentConfig> Load(std::map<std::string, std::string> env) {
  env.emplace("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19091");
  std::vector<config::SettingSpec> specs = AgentSettingSpecs();
  absl::StatusOr<config::Settings> settings = config::Parse(specs, env, {});
  if (!settings.ok()) return settings.status();
  return LoadAgentConfig(*settings);
}

TEST(AgentConfigTest, DefaultsMatchTheDocumentedOnes) {
  absl::StatusOr<AgentConfig> c = Load({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->bind_host, "0.0.0.0");
  EXPECT_EQ(c->port_start, 6969);
  EXPECT_FALSE(c->port_count.has_value());
  EXPECT_EQ(c->min_broker_id, 0);
  EXPECT_EQ(c->routing, RoutingMechanism::kPort);
  EXPECT_TRUE(c->internal_load_balancing);
  EXPECT_FALSE(c->haproxy_protocol);
  EXPECT_EQ(c->security_protocol, SecurityProtocol::kPlaintext);
  EXPECT_EQ(c->node.group_id, "kgw_gateway");
}

TEST(AgentConfigTest, PortRangeMustEndAtOrBelow65535) {
  absl::StatusOr<AgentConfig> c =
      Load({{"GATEWAY_PORT_START", "65530"}, {"GATEWAY_PORT_COUNT", "10"}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("GATEWAY_PORT_COUNT=10"));
  EXPECT_THAT(c.status().message(), HasSubstr("65539"));
  EXPECT_TRUE(Load({{"GATEWAY_PORT_START", "65530"}, {"GATEWAY_PORT_COUNT", "6"}}).ok());
}

TEST(AgentConfigTest, HostRoutingNeedsTls) {
  absl::StatusOr<AgentConfig> c = Load({{"GATEWAY_ROUTING_MECHANISM", "host"}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("needs SSL or SASL_SSL"));
  c = Load({{"GATEWAY_ROUTING_MECHANISM", "host"},
            {"GATEWAY_SECURITY_PROTOCOL", "sasl_ssl"},
            {"KAFKA_SECURITY_PROTOCOL", "SASL_SSL"},
            {"KAFKA_SASL_USERNAME", "u"},
            {"KAFKA_SASL_PASSWORD", "p"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->routing, RoutingMechanism::kHost);
  EXPECT_EQ(c->security_protocol, SecurityProtocol::kSaslSsl);
}

TEST(AgentConfigTest, SaslOnBothSidesOrNeither) {
  // Clients' SASL passes through to the brokers' listener.
  absl::StatusOr<AgentConfig> c = Load({{"GATEWAY_SECURITY_PROTOCOL", "SASL_PLAINTEXT"}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("both must use SASL or neither"));
  c = Load({{"KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"},
            {"KAFKA_SASL_USERNAME", "u"},
            {"KAFKA_SASL_PASSWORD", "p"}});
  ASSERT_FALSE(c.ok());
  // The agent's own connections need credentials.
  c = Load({{"GATEWAY_SECURITY_PROTOCOL", "SASL_PLAINTEXT"},
            {"KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"));
  c = Load({{"GATEWAY_SECURITY_PROTOCOL", "SASL_PLAINTEXT"},
            {"KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"},
            {"KAFKA_SASL_MECHANISM", "scram-sha-512"},
            {"KAFKA_SASL_USERNAME", "admin"},
            {"KAFKA_SASL_PASSWORD", "admin-secret"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->kafka.sasl);
  EXPECT_EQ(c->kafka.sasl_mechanism, "SCRAM-SHA-512");
  EXPECT_EQ(c->kafka.sasl_username, "admin");
}

TEST(AgentConfigTest, FeatureFlagsAreRead) {
  absl::StatusOr<AgentConfig> c = Load({{"GATEWAY_FEATURE_FLAGS_INTERNAL_LOAD_BALANCING", "false"},
                                        {"GATEWAY_FEATURE_FLAGS_HAPROXY_PROTOCOL", "true"}});
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->internal_load_balancing);
  EXPECT_TRUE(c->haproxy_protocol);
}

}  // namespace
}  // namespace kgw::agent
