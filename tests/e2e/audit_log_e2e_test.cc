// The audit log's Kafka sink against the real cluster started by
// tests/kafka/kafka-cluster.sh (PLAINTEXT bootstrap from KGW_KAFKA_BOOTSTRAP):
// topic creation, records arriving in order, the bounded flush on shutdown,
// and an unreachable cluster that must never hold up Record or the other sinks.
// Every test uses topics of its own, deleted afterwards.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/audit/audit_log.h"
#include "common/cluster/internal_topics.h"
#include "common/testing/wait_for.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace kgw::audit {
namespace {

using ::kgw::testing::WaitFor;
using ::testing::ElementsAreArray;

constexpr absl::Duration kTimeout = absl::Seconds(30);

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

cluster::KafkaConnection Connection(const std::string& bootstrap) {
  cluster::KafkaConnection c;
  c.bootstrap_servers = std::vector<std::string>(absl::StrSplit(bootstrap, ',', absl::SkipEmpty()));
  c.client.security_protocol = "PLAINTEXT";
  c.client_id = "kgw-audit-log-test";
  return c;
}

// The value of counter `name`{sink=`sink`}; -1 when there is none.
double Counter(prometheus::Registry& registry, const std::string& name, const std::string& sink) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        if (label.name == "sink" && label.value == sink) return metric.counter.value;
      }
    }
  }
  return -1;
}

struct Record {
  std::string key;
  std::string value;
  bool operator==(const Record&) const = default;
};

void PrintTo(const Record& r, std::ostream* os) { *os << r.key << " => " << r.value; }

// Every record of partition 0, read from the beginning until at least `n`
// arrived and the end of the partition was reached after that.
std::vector<Record> ReadTopic(const cluster::KafkaConnection& c, const std::string& topic,
                              size_t n) {
  std::vector<Record> records;
  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf = cluster::MakeConf(c);
  EXPECT_TRUE(conf.ok()) << conf.status();
  if (!conf.ok()) return records;
  std::string err;
  EXPECT_EQ((*conf)->set("enable.partition.eof", "true", err), RdKafka::Conf::CONF_OK) << err;
  std::unique_ptr<RdKafka::Consumer> consumer(RdKafka::Consumer::create(conf->get(), err));
  EXPECT_NE(consumer, nullptr) << err;
  if (consumer == nullptr) return records;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(consumer.get(), topic, nullptr, err));
  EXPECT_NE(t, nullptr) << err;
  if (t == nullptr) return records;
  EXPECT_EQ(consumer->start(t.get(), 0, RdKafka::Topic::OFFSET_BEGINNING), RdKafka::ERR_NO_ERROR);
  const absl::Time deadline = absl::Now() + kTimeout;
  while (absl::Now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(t.get(), 0, 200));
    if (m->err() == RdKafka::ERR_NO_ERROR) {
      records.push_back({m->key() == nullptr ? "" : *m->key(),
                         std::string(static_cast<const char*>(m->payload()), m->len())});
    } else if (m->err() == RdKafka::ERR__PARTITION_EOF && records.size() >= n) {
      break;
    }
  }
  consumer->stop(t.get(), 0);
  return records;
}

void DeleteTopics(const cluster::KafkaConnection& c, const std::vector<std::string>& names) {
  if (names.empty()) return;
  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf = cluster::MakeConf(c);
  ASSERT_TRUE(conf.ok()) << conf.status();
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf->get(), err));
  ASSERT_NE(p, nullptr) << err;
  rd_kafka_t* rk = p->c_ptr();
  std::vector<rd_kafka_DeleteTopic_t*> topics;
  for (const std::string& n : names) topics.push_back(rd_kafka_DeleteTopic_new(n.c_str()));
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_DeleteTopics(rk, topics.data(), topics.size(), nullptr, q);
  if (rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 15000); ev != nullptr) {
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_DeleteTopic_destroy_array(topics.data(), topics.size());
}

AuditEvent Event(int n) {
  AuditEvent e;
  e.type = static_cast<EventType>(n % 3);
  e.time = absl::Now();
  e.node_id = "agent-e2e";
  e.listener_port = 19092;
  e.broker_id = n % 3 + 1;
  e.client_address = absl::StrCat("127.0.0.1:", 30000 + n);
  e.tls_version = n % 2 == 0 ? "TLSv1.3" : "";
  e.sasl_mechanism = "PLAIN";
  e.principal = "alice";
  e.success = n % 4 != 0;
  e.close_reason = "client closed";
  e.duration = absl::Milliseconds(n);
  return e;
}

class AuditLogKafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string bootstrap = Env("KGW_KAFKA_BOOTSTRAP");
    ASSERT_FALSE(bootstrap.empty()) << "KGW_KAFKA_BOOTSTRAP is not set: start "
                                       "tests/kafka/kafka-cluster.sh and source its cluster.env";
    conn_ = Connection(bootstrap);
  }
  void TearDown() override { DeleteTopics(conn_, created_); }

  AuditLogOptions Options() {
    AuditLogOptions o;
    o.sinks = {"kafka"};
    o.kafka = conn_;
    o.topic = absl::StrCat("_kgw_test", absl::Uniform<uint64_t>(gen_), "_auditlogs");
    o.retention_ms = 3600000;
    created_.push_back(o.topic);
    return o;
  }

  cluster::KafkaConnection conn_;
  absl::BitGen gen_;
  std::vector<std::string> created_;
};

TEST_F(AuditLogKafkaTest, StartCreatesTheTopicWithDeletePolicyAndRetention) {
  const AuditLogOptions options = Options();
  auto log = AuditLog::Start(options, nullptr);
  ASSERT_TRUE(log.ok()) << log.status();

  absl::StatusOr<cluster::TopicDescription> d;
  ASSERT_TRUE(WaitFor(
      [&] {
        d = cluster::DescribeTopic(conn_, options.topic, absl::Seconds(5));
        return d.ok();
      },
      absl::Seconds(60), absl::Milliseconds(200)))
      << d.status();
  EXPECT_EQ(d->partitions, 1);
  EXPECT_EQ(d->replication_factor, 3);
  EXPECT_EQ(d->config["cleanup.policy"], "delete");
  EXPECT_EQ(d->config["retention.ms"], "3600000");
  EXPECT_EQ(d->config["min.insync.replicas"], "2");
}

TEST_F(AuditLogKafkaTest, RecordedEventsArriveInTheTopicInOrder) {
  prometheus::Registry registry;
  const AuditLogOptions options = Options();
  auto log = AuditLog::Start(options, &registry);
  ASSERT_TRUE(log.ok()) << log.status();

  // Recorded at once, before the topic exists: they wait in the producer.
  std::vector<Record> expected;
  for (int i = 0; i < 300; ++i) {
    const AuditEvent e = Event(i);
    expected.push_back({e.node_id, ToJsonLine(e)});
    (*log)->Record(e);
  }
  EXPECT_TRUE(WaitFor([&] { return Counter(registry, "kgw_audit_events_total", "kafka") == 300; },
                      absl::Seconds(60)))
      << Counter(registry, "kgw_audit_events_total", "kafka") << " acknowledged";
  EXPECT_EQ(Counter(registry, "kgw_audit_write_failures_total", "kafka"), 0);
  EXPECT_EQ(Counter(registry, "kgw_audit_events_dropped_total", "kafka"), 0);

  EXPECT_THAT(ReadTopic(conn_, options.topic, expected.size()), ElementsAreArray(expected));
}

TEST_F(AuditLogKafkaTest, DestroyingTheLogFlushesWhatTheProducerHolds) {
  const AuditLogOptions options = Options();
  auto log = AuditLog::Start(options, nullptr);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE(
      WaitFor([&] { return cluster::DescribeTopic(conn_, options.topic, absl::Seconds(5)).ok(); },
              absl::Seconds(60), absl::Milliseconds(200)));

  std::vector<Record> expected;
  for (int i = 0; i < 50; ++i) {
    const AuditEvent e = Event(i);
    expected.push_back({e.node_id, ToJsonLine(e)});
    (*log)->Record(e);
  }
  const absl::Time before = absl::Now();
  log->reset();
  EXPECT_LT(absl::Now() - before, absl::Seconds(7));

  EXPECT_THAT(ReadTopic(conn_, options.topic, expected.size()), ElementsAreArray(expected));
}

// With no broker to talk to, Start still succeeds, Record stays fast, the
// file sink gets every event, the Kafka sink drops (and counts) what its
// bounded queue cannot hold, and shutdown is bounded.
TEST(AuditLogUnreachableKafkaTest, RecordNeverWaitsForAnUnreachableCluster) {
  char dir_template[] = "/tmp/kgw_audit_e2e_XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string path = absl::StrCat(dir_template, "/audit.log");

  prometheus::Registry registry;
  AuditLogOptions options;
  options.sinks = {"kafka", "file"};
  options.file_path = path;
  options.queue_capacity = 100;
  options.kafka = Connection("127.0.0.1:1");
  options.topic = "_kgw_unreachable_auditlogs";

  absl::Time t = absl::Now();
  auto log = AuditLog::Start(options, &registry);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_LT(absl::Now() - t, absl::Seconds(1)) << "Start waited for the cluster";

  absl::Duration slowest;
  std::vector<std::string> expected;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 100; ++i) {
      const AuditEvent e = Event(round * 100 + i);
      expected.push_back(ToJsonLine(e));
      t = absl::Now();
      (*log)->Record(e);
      slowest = std::max(slowest, absl::Now() - t);
    }
    // The file keeps up although the Kafka sink cannot deliver anything.
    ASSERT_TRUE(WaitFor(
        [&] {
          std::ifstream in(path);
          size_t lines = 0;
          for (std::string l; std::getline(in, l);) ++lines;
          return lines == expected.size();
        },
        absl::Seconds(10)))
        << "round " << round;
  }
  EXPECT_LT(slowest, absl::Milliseconds(100));
  EXPECT_EQ((*log)->dropped(), 0u);
  // librdkafka's queue holds the first 100; the other 200 found it full.
  EXPECT_EQ(Counter(registry, "kgw_audit_events_dropped_total", "kafka"), 200);
  EXPECT_EQ(Counter(registry, "kgw_audit_events_total", "kafka"), 0);
  EXPECT_EQ(Counter(registry, "kgw_audit_events_total", "file"), 300);

  t = absl::Now();
  log->reset();
  EXPECT_LT(absl::Now() - t, absl::Seconds(8)) << "shutdown not bounded";
  // The 100 it held were given up at shutdown.
  EXPECT_EQ(Counter(registry, "kgw_audit_write_failures_total", "kafka"), 100);

  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  EXPECT_THAT(lines, ElementsAreArray(expected));
  std::remove(path.c_str());
  ::rmdir(dir_template);
}

}  // namespace
}  // namespace kgw::audit
