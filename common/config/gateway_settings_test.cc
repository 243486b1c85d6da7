#include "common/config/gateway_settings.h"

#include <fstream>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
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

// A readable file for the KAFKA_SSL_*_FILE settings (only readability is
// checked here; the contents are the TLS library's business).
std::string ReadableFile() {
  const std::string path = ::testing::TempDir() + "/kgw_gateway_settings_test.pem";
  std::ofstream(path) << "not checked here\n";
  return path;
}

absl::StatusOr<KafkaClientConfig> ReadKafka(std::map<std::string, std::string> env) {
  env["KAFKA_BOOTSTRAP_SERVERS"] = "k:9093";
  absl::StatusOr<Settings> s = ParseEnv(env);
  if (!s.ok()) return s.status();
  return ReadKafkaClientConfig(*s);
}

TEST(KafkaClientConfigTest, TlsVerifiesAgainstSystemRootsAndHostNamesByDefault) {
  absl::StatusOr<KafkaClientConfig> c = ReadKafka({{"KAFKA_SECURITY_PROTOCOL", "SSL"}});

  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->tls);
  EXPECT_FALSE(c->sasl);
  EXPECT_EQ(c->ssl_ca_file, "");
  EXPECT_EQ(c->ssl_cert_file, "");
  EXPECT_EQ(c->ssl_key_file, "");
  EXPECT_TRUE(c->ssl_verify_hostname);
}

TEST(KafkaClientConfigTest, ReadsEveryTlsSetting) {
  const std::string file = ReadableFile();

  absl::StatusOr<KafkaClientConfig> c =
      ReadKafka({{"KAFKA_SECURITY_PROTOCOL", "SASL_SSL"},
                 {"KAFKA_SASL_USERNAME", "u"},
                 {"KAFKA_SASL_PASSWORD", "p"},
                 {"KAFKA_SSL_CA_FILE", file},
                 {"KAFKA_SSL_CERT_FILE", file},
                 {"KAFKA_SSL_KEY_FILE", file},
                 {"KAFKA_SSL_KEY_PASSWORD", "key secret"},
                 {"KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM", "NONE"}});

  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->tls);
  EXPECT_TRUE(c->sasl);
  EXPECT_EQ(c->ssl_ca_file, file);
  EXPECT_EQ(c->ssl_cert_file, file);
  EXPECT_EQ(c->ssl_key_file, file);
  EXPECT_EQ(c->ssl_key_password, "key secret");
  EXPECT_FALSE(c->ssl_verify_hostname);
}

TEST(KafkaClientConfigTest, TlsSettingsWithoutTlsAreRefused) {
  const std::string file = ReadableFile();

  absl::StatusOr<KafkaClientConfig> ca = ReadKafka({{"KAFKA_SSL_CA_FILE", file}});
  absl::StatusOr<KafkaClientConfig> password =
      ReadKafka({{"KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"},
                 {"KAFKA_SASL_USERNAME", "u"},
                 {"KAFKA_SASL_PASSWORD", "p"},
                 {"KAFKA_SSL_KEY_PASSWORD", "x"}});
  absl::StatusOr<KafkaClientConfig> identification =
      ReadKafka({{"KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM", "https"}});

  EXPECT_EQ(ca.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ca.status().message(),
            "KAFKA_SSL_CA_FILE is set but KAFKA_SECURITY_PROTOCOL is PLAINTEXT");
  EXPECT_EQ(password.status().message(),
            "KAFKA_SSL_KEY_PASSWORD is set but KAFKA_SECURITY_PROTOCOL is SASL_PLAINTEXT");
  EXPECT_EQ(identification.status().message(),
            "KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM is set but KAFKA_SECURITY_PROTOCOL is "
            "PLAINTEXT");
}

TEST(KafkaClientConfigTest, ClientCertificateNeedsItsKeyAndTheKeyPasswordItsKey) {
  const std::string file = ReadableFile();

  absl::StatusOr<KafkaClientConfig> cert_only =
      ReadKafka({{"KAFKA_SECURITY_PROTOCOL", "SSL"}, {"KAFKA_SSL_CERT_FILE", file}});
  absl::StatusOr<KafkaClientConfig> key_only =
      ReadKafka({{"KAFKA_SECURITY_PROTOCOL", "SSL"}, {"KAFKA_SSL_KEY_FILE", file}});
  absl::StatusOr<KafkaClientConfig> password_only =
      ReadKafka({{"KAFKA_SECURITY_PROTOCOL", "SSL"}, {"KAFKA_SSL_KEY_PASSWORD", "x"}});

  EXPECT_EQ(cert_only.status().message(),
            "KAFKA_SSL_CERT_FILE is set but KAFKA_SSL_KEY_FILE is not; a client certificate "
            "needs both");
  EXPECT_EQ(key_only.status().message(),
            "KAFKA_SSL_KEY_FILE is set but KAFKA_SSL_CERT_FILE is not; a client certificate "
            "needs both");
  EXPECT_EQ(password_only.status().message(),
            "KAFKA_SSL_KEY_PASSWORD is set but KAFKA_SSL_KEY_FILE is not");
}

TEST(KafkaClientConfigTest, TlsFilesMustBeReadableAndTheAlgorithmKnown) {
  const std::string missing = ::testing::TempDir() + "/kgw_no_such_file.pem";

  absl::StatusOr<KafkaClientConfig> ca =
      ReadKafka({{"KAFKA_SECURITY_PROTOCOL", "SSL"}, {"KAFKA_SSL_CA_FILE", missing}});
  absl::StatusOr<KafkaClientConfig> algorithm = ReadKafka(
      {{"KAFKA_SECURITY_PROTOCOL", "SSL"}, {"KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM", ""}});
  absl::StatusOr<KafkaClientConfig> unknown = ReadKafka(
      {{"KAFKA_SECURITY_PROTOCOL", "SSL"}, {"KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM", "dns"}});

  EXPECT_EQ(ca.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ca.status().message()), HasSubstr("invalid KAFKA_SSL_CA_FILE="));
  EXPECT_THAT(std::string(ca.status().message()),
              HasSubstr("cannot read the file: No such file or directory"));
  EXPECT_TRUE(algorithm.ok()) << algorithm.status();  // empty counts as unset: https
  EXPECT_TRUE(algorithm->ssl_verify_hostname);
  EXPECT_THAT(std::string(unknown.status().message()),
              HasSubstr("invalid KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM=\"dns\""));
}

TEST(KafkaClientConfigTest, KeyPasswordIsMaskedInTheEffectiveConfiguration) {
  const std::string file = ReadableFile();
  absl::StatusOr<Settings> s = ParseEnv({{"KAFKA_BOOTSTRAP_SERVERS", "k:9093"},
                                         {"KAFKA_SECURITY_PROTOCOL", "SSL"},
                                         {"KAFKA_SSL_CERT_FILE", file},
                                         {"KAFKA_SSL_KEY_FILE", file},
                                         {"KAFKA_SSL_KEY_PASSWORD", "hunter2"}});
  ASSERT_TRUE(s.ok()) << s.status();

  std::vector<std::string> lines = s->Describe();

  EXPECT_THAT(lines, ::testing::Contains("KAFKA_SSL_KEY_PASSWORD=****** (environment)"));
  EXPECT_THAT(lines,
              ::testing::Contains(absl::StrCat("KAFKA_SSL_KEY_FILE=", file, " (environment)")));
  EXPECT_THAT(lines,
              ::testing::Contains("KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM=https (default)"));
}

}  // namespace
}  // namespace kgw::config
