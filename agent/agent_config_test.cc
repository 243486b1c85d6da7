#include "agent/agent_config.h"

#include <fstream>

#include "absl/strings/match.h"

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

TEST(AgentConfigTest, HostileClientLimitsHaveSafeDefaultsAndMustFit) {
  absl::StatusOr<AgentConfig> c = Load({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->max_buffered_request_bytes, int64_t{256} << 20);
  EXPECT_EQ(c->sasl_max_receive_size, 512 * 1024);
  EXPECT_EQ(c->frame_timeout, absl::Seconds(30));
  EXPECT_EQ(c->first_request_timeout, absl::Seconds(10));
  // The budget must hold at least one frame of the largest allowed size.
  c = Load({{"GATEWAY_MAX_BUFFERED_REQUEST_BYTES", "64MiB"}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("GATEWAY_MAX_FRAME_SIZE"));
  EXPECT_TRUE(Load({{"GATEWAY_MAX_BUFFERED_REQUEST_BYTES", "64MiB"},
                    {"GATEWAY_MAX_FRAME_SIZE", "64MiB"}})
                  .ok());
}

TEST(AgentConfigTest, ASidecarNeedsCoordinatorsAndServesEveryBrokerOnLocalhost) {
  absl::StatusOr<AgentConfig> c = Load({{"GATEWAY_AGENT_ROLE", "sidecar"}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("needs GATEWAY_COORDINATORS"));

  c = Load({{"GATEWAY_AGENT_ROLE", "sidecar"}, {"GATEWAY_COORDINATORS", "kgw-coordinator:6900"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->role, AgentRole::kSidecar);
  EXPECT_FALSE(c->internal_load_balancing);
  EXPECT_EQ(c->node.advertised_host, "localhost");
  // Every sidecar advertises localhost; its node id still names its host.
  EXPECT_NE(c->node.node_id, "localhost:6969");
  EXPECT_TRUE(absl::EndsWith(c->node.node_id, ":6969")) << c->node.node_id;

  c = Load({{"GATEWAY_AGENT_ROLE", "sidecar"},
            {"GATEWAY_COORDINATORS", "kgw-coordinator:6900"},
            {"GATEWAY_ADVERTISED_HOST", "127.0.0.1"},
            {"GATEWAY_NODE_ID", "app-1"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->node.advertised_host, "127.0.0.1");
  EXPECT_EQ(c->node.node_id, "app-1");

  c = Load({{"GATEWAY_AGENT_ROLE", "sidecar"},
            {"GATEWAY_COORDINATORS", "kgw-coordinator:6900"},
            {"GATEWAY_FEATURE_FLAGS_INTERNAL_LOAD_BALANCING", "true"}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("a sidecar serves every broker itself"));
  EXPECT_EQ(Load({})->role, AgentRole::kShared);
}

TEST(AgentConfigTest, PortRangeMustEndAtOrBelow65535) {
  absl::StatusOr<AgentConfig> c =
      Load({{"GATEWAY_PORT_START", "65530"}, {"GATEWAY_PORT_COUNT", "10"}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("GATEWAY_PORT_COUNT=10"));
  EXPECT_THAT(c.status().message(), HasSubstr("65539"));
  EXPECT_TRUE(Load({{"GATEWAY_PORT_START", "65530"}, {"GATEWAY_PORT_COUNT", "6"}}).ok());
}

// A readable file for the settings that name one (contents are checked
// when the agent loads them, not by the configuration).
std::string SomeFile() {
  static const std::string path = [] {
    std::string p = ::testing::TempDir() + "/agent_config_test.pem";
    std::ofstream(p) << "not checked here\n";
    return p;
  }();
  return path;
}

TEST(AgentConfigTest, HostRoutingNeedsTls) {
  absl::StatusOr<AgentConfig> c = Load({{"GATEWAY_ROUTING_MECHANISM", "host"}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("needs SSL or SASL_SSL"));
  c = Load({{"GATEWAY_ROUTING_MECHANISM", "host"},
            {"GATEWAY_SSL_CERT_FILE", SomeFile()},
            {"GATEWAY_SSL_KEY_FILE", SomeFile()},
            {"GATEWAY_SECURITY_PROTOCOL", "sasl_ssl"},
            {"KAFKA_SECURITY_PROTOCOL", "SASL_SSL"},
            {"KAFKA_SASL_USERNAME", "u"},
            {"KAFKA_SASL_PASSWORD", "p"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->routing, RoutingMechanism::kHost);
  EXPECT_EQ(c->security_protocol, SecurityProtocol::kSaslSsl);
  EXPECT_EQ(c->sni.broker_host_pattern, "broker{{nodeId}}." + c->node.advertised_host);
  EXPECT_EQ(c->sni.bootstrap_host, c->node.advertised_host);
}

TEST(AgentConfigTest, SniPatternNeedsTheNodeIdOnce) {
  const std::map<std::string, std::string> tls = {{"GATEWAY_ROUTING_MECHANISM", "host"},
                                                  {"GATEWAY_SECURITY_PROTOCOL", "SSL"},
                                                  {"GATEWAY_SSL_CERT_FILE", SomeFile()},
                                                  {"GATEWAY_SSL_KEY_FILE", SomeFile()}};
  auto with = [&](std::string pattern) {
    auto env = tls;
    env["GATEWAY_SNI_BROKER_HOST_PATTERN"] = std::move(pattern);
    env["GATEWAY_SNI_BOOTSTRAP_HOST"] = "kafka.example.com";
    return Load(env);
  };
  absl::StatusOr<AgentConfig> c = with("b{{nodeId}}.kafka.example.com");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->sni.broker_host_pattern, "b{{nodeId}}.kafka.example.com");
  EXPECT_EQ(c->sni.bootstrap_host, "kafka.example.com");
  EXPECT_THAT(with("kafka.example.com").status().message(), HasSubstr("has no {{nodeId}}"));
  EXPECT_THAT(with("{{nodeId}}.{{nodeId}}.example.com").status().message(),
              HasSubstr("more than once"));
  EXPECT_THAT(with("b{{nodeId}}.example.com:9092").status().message(),
              HasSubstr("no port or path"));
}

TEST(AgentConfigTest, TlsSettingsMustFitTheSecurityProtocol) {
  absl::StatusOr<AgentConfig> c = Load({{"GATEWAY_SECURITY_PROTOCOL", "SSL"}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr("GATEWAY_SECURITY_PROTOCOL=SSL needs GATEWAY_SSL_CERT_FILE and "
                        "GATEWAY_SSL_KEY_FILE"));
  c = Load({{"GATEWAY_SSL_CERT_FILE", SomeFile()}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("GATEWAY_SSL_CERT_FILE is set but "
                                              "GATEWAY_SECURITY_PROTOCOL=PLAINTEXT has no TLS"));
  std::map<std::string, std::string> env = {{"GATEWAY_SECURITY_PROTOCOL", "SSL"},
                                            {"GATEWAY_SSL_CERT_FILE", SomeFile()},
                                            {"GATEWAY_SSL_KEY_FILE", SomeFile()},
                                            {"GATEWAY_SSL_CLIENT_AUTH", "require"}};
  c = Load(env);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("REQUIRE needs GATEWAY_SSL_CA_FILE"));
  env["GATEWAY_SSL_CA_FILE"] = SomeFile();
  c = Load(env);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->tls.client_auth, ClientAuth::kRequire);
  EXPECT_EQ(c->tls.ca_file, SomeFile());
  env.erase("GATEWAY_SSL_CLIENT_AUTH");
  c = Load(env);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("GATEWAY_SSL_CLIENT_AUTH=NONE"));
  // Unreadable files are refused by the setting itself.
  env["GATEWAY_SSL_CERT_FILE"] = "/nonexistent/cert.pem";
  c = Load(env);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("/nonexistent/cert.pem"));
}

TEST(AgentConfigTest, AuditSinks) {
  absl::StatusOr<AgentConfig> c = Load({});
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->audit.sinks.empty());
  EXPECT_EQ(c->audit.queue_size, 10000);
  EXPECT_EQ(c->audit.retention, absl::Hours(168));
  c = Load({{"GATEWAY_AUDIT_LOG_SINKS", "stderr, kafka,stderr"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->audit.sinks, (std::vector<std::string>{"stderr", "kafka"}));
  c = Load({{"GATEWAY_AUDIT_LOG_SINKS", "stderr,syslog"}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("unknown sink \"syslog\""));
  c = Load({{"GATEWAY_AUDIT_LOG_SINKS", "file"}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("GATEWAY_AUDIT_LOG_FILE is not set"));
  c = Load({{"GATEWAY_AUDIT_LOG_FILE", "/tmp/audit.log"}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("has no file sink"));
  c = Load({{"GATEWAY_AUDIT_LOG_SINKS", "file"}, {"GATEWAY_AUDIT_LOG_FILE", "/tmp/audit.log"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->audit.file, "/tmp/audit.log");
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
