// Proves the Kafka test harness: the cluster it starts takes produce and
// consume through librdkafka on every listener (PLAINTEXT, SASL_PLAINTEXT,
// SSL, SASL_SSL, MTLS), refuses wrong credentials and missing client
// certificates, and reports three brokers in racks a, b and c. Every later
// end-to-end suite relies on these facts.
#include <chrono>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/kafka/header.h"
#include "common/kafka/messages/metadata.h"
#include "common/kafka/wire/reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "librdkafka/rdkafka.h"
#include "tests/e2e/kafka_test_connection.h"

namespace kgw {
namespace {

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

std::string RequireEnv(const char* name) {
  std::optional<std::string> v = Env(name);
  if (!v) {
    ADD_FAILURE() << name << " is not set: start the cluster with tests/kafka/kafka-cluster.sh "
                  << "start and source the cluster.env it writes";
    return "";
  }
  return *v;
}

using Config = std::map<std::string, std::string>;

rd_kafka_conf_t* MakeConf(const Config& settings) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      ADD_FAILURE() << "librdkafka rejected " << k << "=" << v << ": " << err;
    }
  }
  return conf;
}

std::string UniqueTopic(absl::string_view stem) {
  std::random_device rd;
  return absl::StrCat("kgw-harness-", stem, "-", rd() % 1000000000);
}

// Produces `count` records to `topic` and consumes them back from the start,
// checking every payload arrives exactly once.
void ProduceAndConsume(const Config& client, const std::string& topic, int count) {
  char err[512];
  Config producer_settings = client;
  producer_settings["acks"] = "all";
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, MakeConf(producer_settings), err,
                                      sizeof(err));
  ASSERT_NE(producer, nullptr) << err;
  for (int i = 0; i < count; ++i) {
    std::string payload = absl::StrCat("record-", i);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(payload.data(), payload.size()), RD_KAFKA_V_END);
    ASSERT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(e);
  }
  rd_kafka_resp_err_t flushed = rd_kafka_flush(producer, 60000);
  EXPECT_EQ(flushed, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(flushed);
  EXPECT_EQ(rd_kafka_outq_len(producer), 0);
  rd_kafka_destroy(producer);

  Config consumer_settings = client;
  consumer_settings["group.id"] = topic + "-group";
  consumer_settings["auto.offset.reset"] = "earliest";
  consumer_settings["enable.auto.commit"] = "false";
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, MakeConf(consumer_settings), err,
                                      sizeof(err));
  ASSERT_NE(consumer, nullptr) << err;
  rd_kafka_poll_set_consumer(consumer);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  ASSERT_EQ(rd_kafka_subscribe(consumer, topics), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(topics);

  std::multiset<std::string> seen;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (static_cast<int>(seen.size()) < count && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 500);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      seen.emplace(static_cast<const char*>(m->payload), m->len);
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      ADD_FAILURE() << "consume error: " << rd_kafka_message_errstr(m);
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);

  ASSERT_EQ(static_cast<int>(seen.size()), count) << "records missing after 90 s";
  for (int i = 0; i < count; ++i) {
    EXPECT_EQ(seen.count(absl::StrCat("record-", i)), 1u) << i;
  }
}

// librdkafka's metadata API does not expose broker racks, and this test must
// see them, so Metadata goes through the project's codec on a plain socket.
std::map<int32_t, std::string> BrokerRacks(const std::string& host_port) {
  absl::StatusOr<kafka::test::Connection> conn = kafka::test::Connection::Open(host_port);
  if (!conn.ok()) {
    ADD_FAILURE() << conn.status();
    return {};
  }
  constexpr int16_t kVersion = 1;  // the first version with racks
  kafka::MetadataRequest request;  // an empty topic list: brokers only
  absl::StatusOr<std::vector<uint8_t>> frame = conn->Exchange(request, kVersion);
  if (!frame.ok()) {
    ADD_FAILURE() << "no Metadata response from " << host_port << ": " << frame.status();
    return {};
  }
  kafka::Reader r(absl::MakeConstSpan(*frame));
  kafka::ResponseHeader header;
  kafka::MetadataResponse response;
  absl::Status s =
      header.Decode(r, kafka::ResponseHeaderVersion(kafka::MetadataRequest::kApiKey, kVersion));
  if (s.ok()) s = response.Decode(r, kVersion);
  if (!s.ok()) {
    ADD_FAILURE() << "bad Metadata response: " << s;
    return {};
  }
  EXPECT_EQ(header.correlation_id, conn->last_correlation_id());
  std::map<int32_t, std::string> racks;
  for (const auto& b : response.brokers) racks[b.node_id] = b.rack.value_or("<none>");
  return racks;
}

TEST(KafkaHarnessTest, MetadataReportsThreeBrokersInRacksABC) {
  std::string bootstrap = RequireEnv("KGW_KAFKA_BOOTSTRAP");
  ASSERT_FALSE(bootstrap.empty());
  std::vector<std::string> servers = absl::StrSplit(bootstrap, ',');
  EXPECT_THAT(BrokerRacks(servers.front()),
              testing::ElementsAre(testing::Pair(1, "a"), testing::Pair(2, "b"),
                                   testing::Pair(3, "c")));
}

TEST(KafkaHarnessTest, ProducesAndConsumesOverPlaintext) {
  std::string bootstrap = RequireEnv("KGW_KAFKA_BOOTSTRAP");
  ASSERT_FALSE(bootstrap.empty());
  ProduceAndConsume({{"bootstrap.servers", bootstrap}}, UniqueTopic("plain"), 500);
}

// SCRAM is proven with Kafka's Java client (java/SaslScramCheck.java): the
// librdkafka in Debian 12 (2.0.2) builds a SCRAM final message that Kafka 4.x
// rejects, a client bug fixed in librdkafka 2.6.1.
TEST(KafkaHarnessTest, ProducesAndConsumesOverSaslPlain) {
  std::optional<std::string> bootstrap = Env("KGW_KAFKA_SASL_BOOTSTRAP");
  if (!bootstrap) GTEST_SKIP() << "cluster started without --security";
  ProduceAndConsume({{"bootstrap.servers", *bootstrap},
                     {"security.protocol", "SASL_PLAINTEXT"},
                     {"sasl.mechanisms", "PLAIN"},
                     {"sasl.username", RequireEnv("KGW_KAFKA_SASL_USER")},
                     {"sasl.password", RequireEnv("KGW_KAFKA_SASL_PASSWORD")}},
                    UniqueTopic("sasl"), 50);
}

TEST(KafkaHarnessTest, RejectsWrongSaslPassword) {
  std::optional<std::string> bootstrap = Env("KGW_KAFKA_SASL_BOOTSTRAP");
  if (!bootstrap) GTEST_SKIP() << "cluster started without --security";
  char err[512];
  rd_kafka_t* producer = rd_kafka_new(
      RD_KAFKA_PRODUCER,
      MakeConf({{"bootstrap.servers", *bootstrap},
                {"security.protocol", "SASL_PLAINTEXT"},
                {"sasl.mechanisms", "PLAIN"},
                {"sasl.username", RequireEnv("KGW_KAFKA_SASL_USER")},
                {"sasl.password", "wrong-password"}}),
      err, sizeof(err));
  ASSERT_NE(producer, nullptr) << err;
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(producer, 0, nullptr, &md, 10000);
  EXPECT_NE(e, RD_KAFKA_RESP_ERR_NO_ERROR) << "metadata succeeded with a wrong password";
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  rd_kafka_destroy(producer);
}

TEST(KafkaHarnessTest, ProducesAndConsumesOverTlsWithAndWithoutClientCertificate) {
  std::optional<std::string> bootstrap = Env("KGW_KAFKA_SSL_BOOTSTRAP");
  if (!bootstrap) GTEST_SKIP() << "cluster started without --security";
  Config tls = {{"bootstrap.servers", *bootstrap},
                {"security.protocol", "SSL"},
                {"ssl.ca.location", RequireEnv("KGW_KAFKA_CA_FILE")}};
  ProduceAndConsume(tls, UniqueTopic("tls"), 50);
  tls["ssl.certificate.location"] = RequireEnv("KGW_KAFKA_CLIENT_CERT_FILE");
  tls["ssl.key.location"] = RequireEnv("KGW_KAFKA_CLIENT_KEY_FILE");
  ProduceAndConsume(tls, UniqueTopic("mtls"), 50);
}

// SASL_SSL: the same users as SASL_PLAINTEXT, inside TLS with the harness's CA.
TEST(KafkaHarnessTest, ProducesAndConsumesOverSaslSslWithPlain) {
  std::optional<std::string> bootstrap = Env("KGW_KAFKA_SASL_SSL_BOOTSTRAP");
  if (!bootstrap) GTEST_SKIP() << "cluster started without --security";
  ProduceAndConsume({{"bootstrap.servers", *bootstrap},
                     {"security.protocol", "SASL_SSL"},
                     {"ssl.ca.location", RequireEnv("KGW_KAFKA_CA_FILE")},
                     {"sasl.mechanisms", "PLAIN"},
                     {"sasl.username", RequireEnv("KGW_KAFKA_SASL_USER")},
                     {"sasl.password", RequireEnv("KGW_KAFKA_SASL_PASSWORD")}},
                    UniqueTopic("sasl-ssl"), 50);
}

TEST(KafkaHarnessTest, SaslSslRefusesAWrongPassword) {
  std::optional<std::string> bootstrap = Env("KGW_KAFKA_SASL_SSL_BOOTSTRAP");
  if (!bootstrap) GTEST_SKIP() << "cluster started without --security";
  char err[512];
  rd_kafka_t* producer =
      rd_kafka_new(RD_KAFKA_PRODUCER,
                   MakeConf({{"bootstrap.servers", *bootstrap},
                             {"security.protocol", "SASL_SSL"},
                             {"ssl.ca.location", RequireEnv("KGW_KAFKA_CA_FILE")},
                             {"sasl.mechanisms", "PLAIN"},
                             {"sasl.username", RequireEnv("KGW_KAFKA_SASL_USER")},
                             {"sasl.password", "wrong-password"}}),
                   err, sizeof(err));
  ASSERT_NE(producer, nullptr) << err;
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(producer, 0, nullptr, &md, 10000);
  EXPECT_NE(e, RD_KAFKA_RESP_ERR_NO_ERROR) << "metadata succeeded with a wrong password";
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  rd_kafka_destroy(producer);
}

// MTLS (protocol SSL, ssl.client.auth=required): no client certificate, no
// metadata; with the harness's client certificate, produce and consume work.
TEST(KafkaHarnessTest, MtlsListenerDemandsTheClientCertificate) {
  std::optional<std::string> bootstrap = Env("KGW_KAFKA_MTLS_BOOTSTRAP");
  if (!bootstrap) GTEST_SKIP() << "cluster started without --security";
  Config tls = {{"bootstrap.servers", *bootstrap},
                {"security.protocol", "SSL"},
                {"ssl.ca.location", RequireEnv("KGW_KAFKA_CA_FILE")}};
  char err[512];
  rd_kafka_t* anonymous = rd_kafka_new(RD_KAFKA_PRODUCER, MakeConf(tls), err, sizeof(err));
  ASSERT_NE(anonymous, nullptr) << err;
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(anonymous, 0, nullptr, &md, 5000);
  EXPECT_NE(e, RD_KAFKA_RESP_ERR_NO_ERROR) << "metadata succeeded without a client certificate";
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  rd_kafka_destroy(anonymous);

  tls["ssl.certificate.location"] = RequireEnv("KGW_KAFKA_CLIENT_CERT_FILE");
  tls["ssl.key.location"] = RequireEnv("KGW_KAFKA_CLIENT_KEY_FILE");
  ProduceAndConsume(tls, UniqueTopic("mtls-required"), 50);
}

}  // namespace
}  // namespace kgw
