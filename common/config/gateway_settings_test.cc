#include "common/config/gateway_settings.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kgw::config {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<Settings> ParseEnv(const std::map<std::string, std::string>& env) {
  std::vector<SettingSpec> specs = GatewayNodeSettings();
  return Parse(specs, env, {});
}

TEST(GatewayNodeSettingsTest, GroupIdDefaultsFromClusterId) {
  absl::StatusOr<Settings> s =
      ParseEnv({{"KAFKA_BOOTSTRAP_SERVERS", "k:9092"}, {"GATEWAY_CLUSTER_ID", "payments"}});
  ASSERT_TRUE(s.ok()) << s.status();
  absl::StatusOr<GatewayNodeConfig> read = ReadGatewayNodeConfig(*s);
  ASSERT_TRUE(read.ok()) << read.status();
  const GatewayNodeConfig& c = *read;
  EXPECT_EQ(c.cluster_id, "payments");
  EXPECT_EQ(InternalTopic(c, "assignments"), "_kgw_payments_assignments");
  EXPECT_EQ(c.group_session_timeout, absl::Seconds(10));
  EXPECT_EQ(c.group_heartbeat_interval, absl::Seconds(1));
  EXPECT_EQ(c.node_id, "");
  EXPECT_EQ(c.group_id, "kgw_payments");
  EXPECT_EQ(s->GetString("GATEWAY_GROUP_ID"), "kgw_payments");  // shown by --check-config
  EXPECT_EQ(c.advertised_host, LocalHostName());
  EXPECT_EQ(c.http_port, 8888);
  EXPECT_EQ(c.rack_id, "");
}

TEST(GatewayNodeSettingsTest, ExplicitGroupIdIsKept) {
  absl::StatusOr<Settings> s =
      ParseEnv({{"KAFKA_BOOTSTRAP_SERVERS", "k:9092"}, {"GATEWAY_GROUP_ID", "my-group"},
                {"GATEWAY_RACK_ID", "eu-west-1a"}});
  ASSERT_TRUE(s.ok());
  GatewayNodeConfig c = *ReadGatewayNodeConfig(*s);
  EXPECT_EQ(c.group_id, "my-group");
  EXPECT_EQ(c.rack_id, "eu-west-1a");
}

TEST(GatewayNodeSettingsTest, HeartbeatMustFitThriceIntoTheSessionTimeout) {
  absl::StatusOr<Settings> s =
      ParseEnv({{"KAFKA_BOOTSTRAP_SERVERS", "k:9092"}, {"GATEWAY_GROUP_SESSION_TIMEOUT", "6s"},
                {"GATEWAY_GROUP_HEARTBEAT_INTERVAL", "3s"}});
  ASSERT_TRUE(s.ok()) << s.status();
  absl::StatusOr<GatewayNodeConfig> c = ReadGatewayNodeConfig(*s);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), testing::HasSubstr("GATEWAY_GROUP_HEARTBEAT_INTERVAL=3s"));
}

TEST(GatewayNodeSettingsTest, ClusterIdMustBeUsableInTopicNames) {
  absl::StatusOr<Settings> s =
      ParseEnv({{"KAFKA_BOOTSTRAP_SERVERS", "k:9092"}, {"GATEWAY_CLUSTER_ID", "my cluster"}});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("invalid GATEWAY_CLUSTER_ID=\"my cluster\""));
  EXPECT_THAT(s.status().message(), HasSubstr("[A-Za-z0-9._-]"));
  s = ParseEnv({{"KAFKA_BOOTSTRAP_SERVERS", "k:9092"},
                {"GATEWAY_CLUSTER_ID", std::string(201, 'x')}});
  EXPECT_THAT(s.status().message(), HasSubstr("longer than 200 characters"));
}

}  // namespace
}  // namespace kgw::config
