// The internal-topics library against the real Kafka cluster started by
// tests/kafka/kafka-cluster.sh --security (found through KGW_KAFKA_* from its
// cluster.env). Every test uses topics of its own, deleted afterwards.
#include "common/cluster/internal_topics.h"

#include <librdkafka/rdkafka.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/testing/wait_for.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kgw::cluster {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kTimeout = absl::Seconds(30);

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

KafkaConnection Connection(const std::string& bootstrap) {
  KafkaConnection c;
  c.bootstrap_servers = std::vector<std::string>(absl::StrSplit(bootstrap, ',', absl::SkipEmpty()));
  c.client.security_protocol = "PLAINTEXT";
  c.client_id = "kgw-internal-topics-test";
  return c;
}

using ::kgw::testing::WaitFor;

// Deletes topics through the C admin API (the library has no need to).
void DeleteTopics(const KafkaConnection& c, const std::vector<std::string>& names) {
  if (names.empty()) return;
  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf = MakeConf(c);
  ASSERT_TRUE(conf.ok()) << conf.status();
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf->get(), err));
  ASSERT_NE(p, nullptr) << err;
  rd_kafka_t* rk = p->c_ptr();
  std::vector<rd_kafka_DeleteTopic_t*> topics;
  for (const std::string& n : names) topics.push_back(rd_kafka_DeleteTopic_new(n.c_str()));
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_DeleteTopics(rk, topics.data(), topics.size(), nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 15000);
  EXPECT_NE(ev, nullptr);
  if (ev != nullptr) {
    EXPECT_EQ(rd_kafka_event_error(ev), RD_KAFKA_RESP_ERR_NO_ERROR)
        << rd_kafka_event_error_string(ev);
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_DeleteTopic_destroy_array(topics.data(), topics.size());
}

// Produces `n` records with a null value (tombstones) the way another client
// might; TopicWriter refuses to.
void ProduceTombstones(const KafkaConnection& c, const std::string& topic, int n) {
  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf = MakeConf(c);
  ASSERT_TRUE(conf.ok()) << conf.status();
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf->get(), err));
  ASSERT_NE(p, nullptr) << err;
  const std::string key = "state";
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(p->produce(topic, 0, 0, nullptr, 0, key.data(), key.size(), 0, nullptr),
              RdKafka::ERR_NO_ERROR);
  }
  ASSERT_EQ(p->flush(15000), RdKafka::ERR_NO_ERROR);
}

// Replaces a topic's configuration (the non-incremental AlterConfigs that
// librdkafka 2.0.2 has) with `entries`.
void AlterTopicConfig(const KafkaConnection& c, const std::string& topic,
                      const std::vector<std::pair<std::string, std::string>>& entries) {
  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf = MakeConf(c);
  ASSERT_TRUE(conf.ok()) << conf.status();
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf->get(), err));
  ASSERT_NE(p, nullptr) << err;
  rd_kafka_t* rk = p->c_ptr();
  rd_kafka_ConfigResource_t* resource =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  for (const auto& [name, value] : entries) {
    ASSERT_EQ(rd_kafka_ConfigResource_set_config(resource, name.c_str(), value.c_str()),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_AlterConfigs(rk, &resource, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 15000);
  EXPECT_NE(ev, nullptr);
  if (ev != nullptr) {
    EXPECT_EQ(rd_kafka_event_error(ev), RD_KAFKA_RESP_ERR_NO_ERROR)
        << rd_kafka_event_error_string(ev);
    size_t n = 0;
    const rd_kafka_ConfigResource_t** results =
        rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &n);
    ASSERT_EQ(n, 1u);
    EXPECT_EQ(rd_kafka_ConfigResource_error(results[0]), RD_KAFKA_RESP_ERR_NO_ERROR)
        << rd_kafka_ConfigResource_error_string(results[0]);
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_ConfigResource_destroy(resource);
}

class InternalTopicsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string bootstrap = Env("KGW_KAFKA_BOOTSTRAP");
    ASSERT_FALSE(bootstrap.empty()) << "KGW_KAFKA_BOOTSTRAP is not set: start "
                                       "tests/kafka/kafka-cluster.sh and source its cluster.env";
    conn_ = Connection(bootstrap);
  }
  void TearDown() override { DeleteTopics(conn_, created_); }

  // A fresh name, deleted after the test.
  std::string NewTopicName(const std::string& what) {
    std::string name = absl::StrCat("_kgw_test_", what, "_", absl::Uniform<uint64_t>(gen_));
    created_.push_back(name);
    return name;
  }

  // The description of a topic just created. The broker that answers may
  // learn of the topic a moment after the controller created it, so a
  // NotFound is retried for a few seconds.
  absl::StatusOr<TopicDescription> DescribeNew(const std::string& name) {
    absl::StatusOr<TopicDescription> d = DescribeTopic(conn_, name, kTimeout);
    for (int i = 0; i < 50 && absl::IsNotFound(d.status()); ++i) {
      absl::SleepFor(absl::Milliseconds(100));
      d = DescribeTopic(conn_, name, kTimeout);
    }
    return d;
  }

  std::string NewCompactedTopic(const std::string& what) {
    std::string name = NewTopicName(what);
    absl::Status s = EnsureTopic(conn_, {.name = name}, kTimeout);
    EXPECT_TRUE(s.ok()) << s;
    return name;
  }

  std::unique_ptr<TopicWriter> Writer(const std::string& topic) {
    absl::StatusOr<std::unique_ptr<TopicWriter>> w = TopicWriter::Create(conn_, topic);
    EXPECT_TRUE(w.ok()) << w.status();
    return w.ok() ? *std::move(w) : nullptr;
  }

  KafkaConnection conn_;
  absl::BitGen gen_;
  std::vector<std::string> created_;
};

TEST_F(InternalTopicsTest, CreatesCompactedTopicWithOnePartitionThreeReplicasAndMinInsyncTwo) {
  const std::string name = NewTopicName("compacted");

  ASSERT_TRUE(EnsureTopic(conn_, {.name = name}, kTimeout).ok());

  absl::StatusOr<TopicDescription> d = DescribeNew(name);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->partitions, 1);
  EXPECT_EQ(d->replication_factor, 3);
  EXPECT_EQ(d->config["cleanup.policy"], "compact");
  EXPECT_EQ(d->config["min.insync.replicas"], "2");
  // A second call finds it as wanted.
  absl::Status again = EnsureTopic(conn_, {.name = name}, kTimeout);
  EXPECT_TRUE(again.ok()) << again;
}

TEST_F(InternalTopicsTest, CreatesDeleteTopicWithRetention) {
  const std::string name = NewTopicName("delete");

  absl::Status s =
      EnsureTopic(conn_, {.name = name, .compacted = false, .retention_ms = 3600000}, kTimeout);

  ASSERT_TRUE(s.ok()) << s;
  absl::StatusOr<TopicDescription> d = DescribeNew(name);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->config["cleanup.policy"], "delete");
  EXPECT_EQ(d->config["retention.ms"], "3600000");
  EXPECT_EQ(d->replication_factor, 3);
}

TEST_F(InternalTopicsTest, NodesEnsuringTheSameTopicAtOnceAllSucceed) {
  const std::string name = NewTopicName("race");
  std::vector<absl::Status> results(4);
  std::vector<std::thread> nodes;
  for (absl::Status& r : results) {
    nodes.emplace_back([&] { r = EnsureTopic(conn_, {.name = name}, kTimeout); });
  }
  for (std::thread& t : nodes) t.join();

  for (const absl::Status& r : results) EXPECT_TRUE(r.ok()) << r;
  absl::StatusOr<TopicDescription> d = DescribeNew(name);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->config["cleanup.policy"], "compact");
}

TEST_F(InternalTopicsTest, ExistingTopicWithDeletePolicyIsRefusedWithOneClearLine) {
  const std::string name = NewTopicName("wrong_policy");
  ASSERT_TRUE(EnsureTopic(conn_, {.name = name, .compacted = false}, kTimeout).ok());

  absl::Status s = EnsureTopic(conn_, {.name = name, .compacted = true}, kTimeout);

  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("topic ", name,
                                                  " has cleanup.policy=delete; the gateway "
                                                  "needs cleanup.policy=compact")));
  EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("kafka-configs.sh --bootstrap-server ",
                                                  conn_.bootstrap_servers.front(),
                                                  " --alter --entity-type topics --entity-name ",
                                                  name, " --add-config cleanup.policy=compact")));
  EXPECT_THAT(s.message(), Not(HasSubstr("\n")));
}

TEST_F(InternalTopicsTest, ExistingTopicWithMoreInsyncReplicasThanReplicasIsRefused) {
  const std::string name = NewCompactedTopic("insync");
  AlterTopicConfig(conn_, name, {{"cleanup.policy", "compact"}, {"min.insync.replicas", "4"}});

  absl::Status s = EnsureTopic(conn_, {.name = name}, kTimeout);

  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("has min.insync.replicas=4 but only 3 replica(s)"));
  EXPECT_THAT(s.message(), HasSubstr("--add-config min.insync.replicas=2"));
}

TEST_F(InternalTopicsTest, ReadLatestReturnsTheNewestOfSeveralRecords) {
  const std::string name = NewCompactedTopic("latest");
  std::unique_ptr<TopicWriter> w = Writer(name);
  ASSERT_NE(w, nullptr);
  for (const char* v : {"first", "second", "third"}) {
    absl::Status s = w->Write("state", v, kTimeout);
    ASSERT_TRUE(s.ok()) << s;
  }

  absl::StatusOr<std::optional<std::string>> latest = ReadLatest(conn_, name, kTimeout);

  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(*latest, "third");
}

TEST_F(InternalTopicsTest, ReadLatestOfAnEmptyTopicIsNullopt) {
  const std::string name = NewCompactedTopic("empty");

  absl::StatusOr<std::optional<std::string>> latest = ReadLatest(conn_, name, kTimeout);

  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(*latest, std::nullopt);
}

TEST_F(InternalTopicsTest, ReadLatestSkipsTombstonesBackToTheNewestValue) {
  const std::string name = NewCompactedTopic("tombstones");
  std::unique_ptr<TopicWriter> w = Writer(name);
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(w->Write("state", "old", kTimeout).ok());
  ASSERT_TRUE(w->Write("state", "kept", kTimeout).ok());
  // More tombstones than the first two windows read (1, then 16).
  ProduceTombstones(conn_, name, 20);

  absl::StatusOr<std::optional<std::string>> latest = ReadLatest(conn_, name, kTimeout);

  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(*latest, "kept");
}

// A forged record written after the genuine ones must not hide them.
TEST_F(InternalTopicsTest, ReadLatestSkipsRecordsTheCallerRefuses) {
  const std::string name = NewCompactedTopic("refused");
  std::unique_ptr<TopicWriter> w = Writer(name);
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(w->Write("state", "genuine-1", kTimeout).ok());
  ASSERT_TRUE(w->Write("state", "genuine-2", kTimeout).ok());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(w->Write("state", "forged", kTimeout).ok());

  absl::StatusOr<std::optional<std::string>> latest = ReadLatest(
      conn_, name, kTimeout, [](std::string_view v) { return v.substr(0, 7) == "genuine"; });

  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(*latest, "genuine-2");
}

TEST_F(InternalTopicsTest, ReadLatestOfAMissingTopicIsNotFoundAndDoesNotCreateIt) {
  const std::string name = NewTopicName("missing");

  absl::StatusOr<std::optional<std::string>> latest = ReadLatest(conn_, name, kTimeout);

  EXPECT_EQ(latest.status().code(), absl::StatusCode::kNotFound) << latest.status();
  EXPECT_THAT(latest.status().message(),
              HasSubstr(absl::StrCat("topic ", name, " does not exist")));
  EXPECT_EQ(DescribeTopic(conn_, name, kTimeout).status().code(), absl::StatusCode::kNotFound);
  created_.clear();  // nothing to delete
}

TEST_F(InternalTopicsTest, WriterRefusesEmptyValues) {
  const std::string name = NewCompactedTopic("empty_value");
  std::unique_ptr<TopicWriter> w = Writer(name);
  ASSERT_NE(w, nullptr);

  EXPECT_EQ(w->Write("state", "", kTimeout).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(InternalTopicsTest, WritesFromManyThreadsAreAllAcknowledged) {
  const std::string name = NewCompactedTopic("threads");
  std::unique_ptr<TopicWriter> w = Writer(name);
  ASSERT_NE(w, nullptr);
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(8);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 5 && results[i].ok(); ++j) {
        results[i] = w->Write(absl::StrCat("k", i), absl::StrCat("v", i, "_", j), kTimeout);
      }
    });
  }
  for (std::thread& t : threads) t.join();

  for (const absl::Status& r : results) EXPECT_TRUE(r.ok()) << r;
}

TEST_F(InternalTopicsTest, WriteToAMissingTopicTimesOutAndDoesNotCreateIt) {
  const std::string name = NewTopicName("write_missing");
  created_.clear();
  std::unique_ptr<TopicWriter> w = Writer(name);
  ASSERT_NE(w, nullptr);
  const absl::Time start = absl::Now();

  absl::Status s = w->Write("state", "lost", absl::Seconds(2));

  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
  w.reset();
  EXPECT_EQ(DescribeTopic(conn_, name, kTimeout).status().code(), absl::StatusCode::kNotFound);
}

// Collects what a TopicTail delivers.
class Received {
 public:
  void Add(const std::string& v) {
    std::lock_guard<std::mutex> lock(mu_);
    values_.push_back(v);
  }
  std::vector<std::string> Get() {
    std::lock_guard<std::mutex> lock(mu_);
    return values_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> values_;
};

TEST_F(InternalTopicsTest, TailDeliversTheNewestExistingRecordFirstThenNewOnesInOrder) {
  const std::string name = NewCompactedTopic("tail");
  std::unique_ptr<TopicWriter> w = Writer(name);
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(w->Write("state", "r1", kTimeout).ok());
  ASSERT_TRUE(w->Write("state", "r2", kTimeout).ok());
  Received received;

  absl::StatusOr<std::unique_ptr<TopicTail>> tail =
      TopicTail::Start(conn_, name, [&](const std::string& v) { received.Add(v); });
  ASSERT_TRUE(tail.ok()) << tail.status();
  ASSERT_TRUE(WaitFor([&] { return !received.Get().empty(); }, kTimeout));
  EXPECT_THAT(received.Get(), ElementsAre("r2"));
  for (const char* v : {"r3", "r4", "r5"}) ASSERT_TRUE(w->Write("state", v, kTimeout).ok());

  ASSERT_TRUE(WaitFor([&] { return received.Get().size() >= 4; }, kTimeout));
  (*tail)->Stop();
  EXPECT_THAT(received.Get(), ElementsAre("r2", "r3", "r4", "r5"));
}

TEST_F(InternalTopicsTest, TailOfAnEmptyTopicDeliversRecordsWrittenLater) {
  const std::string name = NewCompactedTopic("tail_empty");
  Received received;
  absl::StatusOr<std::unique_ptr<TopicTail>> tail =
      TopicTail::Start(conn_, name, [&](const std::string& v) { received.Add(v); });
  ASSERT_TRUE(tail.ok()) << tail.status();
  std::unique_ptr<TopicWriter> w = Writer(name);
  ASSERT_NE(w, nullptr);

  ASSERT_TRUE(w->Write("state", "a", kTimeout).ok());
  ASSERT_TRUE(w->Write("state", "b", kTimeout).ok());

  ASSERT_TRUE(WaitFor([&] { return received.Get().size() >= 2; }, kTimeout));
  tail->reset();  // stops
  EXPECT_THAT(received.Get(), ElementsAre("a", "b"));
}

TEST_F(InternalTopicsTest, TailOfAMissingTopicIsNotFound) {
  const std::string name = NewTopicName("tail_missing");
  created_.clear();

  absl::StatusOr<std::unique_ptr<TopicTail>> tail =
      TopicTail::Start(conn_, name, [](const std::string&) {});

  EXPECT_EQ(tail.status().code(), absl::StatusCode::kNotFound) << tail.status();
}

TEST_F(InternalTopicsTest, UnreachableBootstrapFailsWithinTheTimeoutNamingTheAddress) {
  const KafkaConnection nowhere = Connection("127.0.0.1:1");
  const absl::Duration timeout = absl::Seconds(3);

  for (int which = 0; which < 2; ++which) {
    const absl::Time start = absl::Now();
    const absl::Status s = which == 0 ? EnsureTopic(nowhere, {.name = "_kgw_test_nowhere"}, timeout)
                                      : ReadLatest(nowhere, "_kgw_test_nowhere", timeout).status();
    const absl::Duration took = absl::Now() - start;

    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    EXPECT_THAT(s.message(), HasSubstr("127.0.0.1:1"));
    EXPECT_LT(took, timeout + absl::Seconds(2)) << s;
  }
}

TEST_F(InternalTopicsTest, RefusedConfigurationNamesTheProperty) {
  KafkaConnection c = conn_;
  c.client.security_protocol = "CARRIER_PIGEON";

  absl::Status s = EnsureTopic(c, {.name = "_kgw_test_never"}, kTimeout);

  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("security.protocol"));
}

// A connection through the TLS listener named by `bootstrap_variable`
// (KGW_KAFKA_SSL_BOOTSTRAP and so on), verifying the brokers with the
// harness's CA and their address (the default, https).
KafkaConnection Tls(const char* bootstrap_variable, const std::string& protocol = "SSL") {
  KafkaConnection c = Connection(Env(bootstrap_variable));
  c.client.security_protocol = protocol;
  c.client.tls = true;
  c.client.ssl_ca_file = Env("KGW_KAFKA_CA_FILE");
  return c;
}

TEST(MakeConfTest, PassesTheTlsSettingsToLibrdkafka) {
  KafkaConnection c = Connection("127.0.0.1:9093");
  c.client.security_protocol = "SSL";
  c.client.tls = true;
  c.client.ssl_ca_file = "/etc/kgw/ca.pem";
  c.client.ssl_cert_file = "/etc/kgw/client.pem";
  c.client.ssl_key_file = "/etc/kgw/client.key";
  c.client.ssl_key_password = "key secret";
  c.client.ssl_verify_hostname = false;

  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf = MakeConf(c);

  ASSERT_TRUE(conf.ok()) << conf.status();
  const auto get = [&](const std::string& name) {
    std::string value;
    EXPECT_EQ((*conf)->get(name, value), RdKafka::Conf::CONF_OK) << name;
    return value;
  };
  EXPECT_EQ(get("security.protocol"), "ssl");
  EXPECT_EQ(get("ssl.ca.location"), "/etc/kgw/ca.pem");
  EXPECT_EQ(get("ssl.certificate.location"), "/etc/kgw/client.pem");
  EXPECT_EQ(get("ssl.key.location"), "/etc/kgw/client.key");
  EXPECT_EQ(get("ssl.key.password"), "key secret");
  EXPECT_EQ(get("ssl.endpoint.identification.algorithm"), "none");
}

TEST(MakeConfTest, LeavesTheSystemCasAndVerifiesHostNamesByDefault) {
  KafkaConnection c = Connection("127.0.0.1:9093");
  c.client.security_protocol = "SSL";
  c.client.tls = true;

  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf = MakeConf(c);

  ASSERT_TRUE(conf.ok()) << conf.status();
  std::string value;
  EXPECT_EQ((*conf)->get("ssl.endpoint.identification.algorithm", value), RdKafka::Conf::CONF_OK);
  EXPECT_EQ(value, "https");
  EXPECT_NE((*conf)->get("ssl.certificate.location", value), RdKafka::Conf::CONF_OK) << value;
}

TEST_F(InternalTopicsTest, ReadsOverTlsVerifyingTheBrokersAddress) {
  if (Env("KGW_KAFKA_SSL_BOOTSTRAP").empty()) GTEST_SKIP() << "the cluster has no SSL listeners";
  const std::string name = NewCompactedTopic("tls");
  std::unique_ptr<TopicWriter> w = Writer(name);
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(w->Write("state", "over tls", kTimeout).ok());
  const KafkaConnection tls = Tls("KGW_KAFKA_SSL_BOOTSTRAP");

  absl::StatusOr<std::optional<std::string>> latest = ReadLatest(tls, name, kTimeout);

  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(*latest, "over tls");
}

TEST_F(InternalTopicsTest, BrokersOfAnUntrustedCaAreRefused) {
  if (Env("KGW_KAFKA_SSL_BOOTSTRAP").empty()) GTEST_SKIP() << "the cluster has no SSL listeners";
  KafkaConnection tls = Tls("KGW_KAFKA_SSL_BOOTSTRAP");
  // A certificate that is not the brokers' CA: nothing verifies them.
  tls.client.ssl_ca_file = Env("KGW_KAFKA_CLIENT_CERT_FILE");
  const absl::Duration timeout = absl::Seconds(5);

  absl::Status s = ReadLatest(tls, "_kgw_test_never", timeout).status();

  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("certificate verify failed"));
}

// MTLS: the brokers demand a client certificate (ssl.client.auth=required).
TEST_F(InternalTopicsTest, EnsuresWritesAndReadsOverMutualTls) {
  if (Env("KGW_KAFKA_MTLS_BOOTSTRAP").empty()) GTEST_SKIP() << "the cluster has no MTLS listeners";
  KafkaConnection mtls = Tls("KGW_KAFKA_MTLS_BOOTSTRAP");
  mtls.client.ssl_cert_file = Env("KGW_KAFKA_CLIENT_CERT_FILE");
  mtls.client.ssl_key_file = Env("KGW_KAFKA_CLIENT_KEY_FILE");
  const std::string name = NewTopicName("mtls");

  absl::Status ensured = EnsureTopic(mtls, {.name = name}, kTimeout);
  ASSERT_TRUE(ensured.ok()) << ensured;
  absl::StatusOr<std::unique_ptr<TopicWriter>> w = TopicWriter::Create(mtls, name);
  ASSERT_TRUE(w.ok()) << w.status();
  absl::Status written = (*w)->Write("state", "over mtls", kTimeout);
  ASSERT_TRUE(written.ok()) << written;
  absl::StatusOr<std::optional<std::string>> latest = ReadLatest(mtls, name, kTimeout);

  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(*latest, "over mtls");
}

TEST_F(InternalTopicsTest, MutualTlsWithoutACertificateFailsWithinTheTimeout) {
  if (Env("KGW_KAFKA_MTLS_BOOTSTRAP").empty()) GTEST_SKIP() << "the cluster has no MTLS listeners";
  const KafkaConnection mtls = Tls("KGW_KAFKA_MTLS_BOOTSTRAP");
  const absl::Duration timeout = absl::Seconds(5);
  const absl::Time start = absl::Now();

  absl::Status s = ReadLatest(mtls, "_kgw_test_never", timeout).status();

  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_LT(absl::Now() - start, timeout + absl::Seconds(2)) << s;
}

// Through the SASL_PLAINTEXT listeners with PLAIN (the harness enables
// PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512; librdkafka 2.0.2's SCRAM does not
// work against Kafka 4, see internal_topics.h).
class SaslPlainTest : public InternalTopicsTest {
 protected:
  KafkaConnection Sasl(const std::string& password) {
    const std::string bootstrap = Env("KGW_KAFKA_SASL_BOOTSTRAP");
    KafkaConnection c = Connection(bootstrap);
    c.client.security_protocol = "SASL_PLAINTEXT";
    c.client.sasl = true;
    c.client.sasl_mechanism = "PLAIN";
    c.client.sasl_username = Env("KGW_KAFKA_SASL_USER");
    c.client.sasl_password = password;
    return c;
  }
  void SetUp() override {
    InternalTopicsTest::SetUp();
    if (Env("KGW_KAFKA_SASL_BOOTSTRAP").empty()) {
      GTEST_SKIP() << "the cluster has no SASL listeners (start it with --security)";
    }
  }
};

TEST_F(SaslPlainTest, EnsuresWritesAndReadsWithPlain) {
  const KafkaConnection sasl = Sasl(Env("KGW_KAFKA_SASL_PASSWORD"));
  const std::string name = NewTopicName("sasl");

  absl::Status ensured = EnsureTopic(sasl, {.name = name}, kTimeout);
  ASSERT_TRUE(ensured.ok()) << ensured;
  absl::StatusOr<std::unique_ptr<TopicWriter>> w = TopicWriter::Create(sasl, name);
  ASSERT_TRUE(w.ok()) << w.status();
  absl::Status written = (*w)->Write("state", "over sasl", kTimeout);
  ASSERT_TRUE(written.ok()) << written;
  absl::StatusOr<std::optional<std::string>> latest = ReadLatest(sasl, name, kTimeout);

  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(*latest, "over sasl");
}

// SASL_SSL: TLS first (verified against the harness's CA), PLAIN inside it.
TEST_F(SaslPlainTest, EnsuresWritesAndReadsWithPlainOverTls) {
  if (Env("KGW_KAFKA_SASL_SSL_BOOTSTRAP").empty()) GTEST_SKIP() << "no SASL_SSL listeners";
  KafkaConnection sasl_ssl = Tls("KGW_KAFKA_SASL_SSL_BOOTSTRAP", "SASL_SSL");
  sasl_ssl.client.sasl = true;
  sasl_ssl.client.sasl_mechanism = "PLAIN";
  sasl_ssl.client.sasl_username = Env("KGW_KAFKA_SASL_USER");
  sasl_ssl.client.sasl_password = Env("KGW_KAFKA_SASL_PASSWORD");
  const std::string name = NewTopicName("sasl_ssl");

  absl::Status ensured = EnsureTopic(sasl_ssl, {.name = name}, kTimeout);
  ASSERT_TRUE(ensured.ok()) << ensured;
  absl::StatusOr<std::unique_ptr<TopicWriter>> w = TopicWriter::Create(sasl_ssl, name);
  ASSERT_TRUE(w.ok()) << w.status();
  absl::Status written = (*w)->Write("state", "over sasl_ssl", kTimeout);
  ASSERT_TRUE(written.ok()) << written;
  absl::StatusOr<std::optional<std::string>> latest = ReadLatest(sasl_ssl, name, kTimeout);

  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(*latest, "over sasl_ssl");
}

TEST_F(SaslPlainTest, WrongPasswordFailsWithinTheTimeoutSayingWhy) {
  const KafkaConnection sasl = Sasl("not-the-password");
  const absl::Duration timeout = absl::Seconds(5);
  const absl::Time start = absl::Now();

  absl::Status s = EnsureTopic(sasl, {.name = "_kgw_test_never"}, timeout);

  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("uthentication")) << s;
  EXPECT_LT(absl::Now() - start, timeout + absl::Seconds(2)) << s;
}

// librdkafka finishes tearing its handles down on threads of its own; wait
// for that so the leak checker sees a clean exit.
class WaitForLibrdkafka : public ::testing::Environment {
 public:
  void TearDown() override { EXPECT_EQ(RdKafka::wait_destroyed(5000), 0); }
};
const auto* const kWaitForLibrdkafka = ::testing::AddGlobalTestEnvironment(new WaitForLibrdkafka);

}  // namespace
}  // namespace kgw::cluster
