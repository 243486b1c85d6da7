// The gateway's internal Kafka topics (assignments, drains, ...) through
// librdkafka: creating and checking them, writing records, reading the newest
// record and following a topic as it grows.
//
// Records are opaque bytes to this library (callers put serialized protobuf
// in them). Everything lives in partition 0: writers produce to it explicitly
// and readers read only it, so a topic an operator created with more
// partitions still works (the other partitions stay empty). An empty value is
// treated as a tombstone: TopicWriter refuses to write one, ReadLatest and
// TopicTail skip them.
//
// Every function opens its own short-lived librdkafka handle except
// TopicWriter and TopicTail, which keep one for their lifetime. librdkafka's
// log lines of WARNING and above go to glog; the rest is not generated.
//
// Errors: Unavailable when no broker answered before the deadline (the
// message names the bootstrap servers and librdkafka's last complaint, e.g.
// "Connection refused" or a SASL failure), NotFound when a topic does not
// exist, FailedPrecondition when an existing topic is configured in a way the
// gateway cannot work with, InvalidArgument for configuration librdkafka
// refuses, DeadlineExceeded when a write is not acknowledged in time.
//
// Known limitation: Debian 12's librdkafka 2.0.2 builds a SASL/SCRAM proof
// that Kafka 4.x rejects (fixed in librdkafka 2.6.1), so SCRAM-SHA-256/512
// fail to authenticate against Kafka 4 brokers; PLAIN (also over SASL_SSL),
// PLAINTEXT and SSL (with or without a client certificate) work.
#ifndef KGW_COMMON_CLUSTER_INTERNAL_TOPICS_H_
#define KGW_COMMON_CLUSTER_INTERNAL_TOPICS_H_

#include <librdkafka/rdkafkacpp.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/cluster/broker_directory.h"
#include "common/config/gateway_settings.h"

namespace kgw::cluster {

// How to reach the backing cluster: security protocol, SASL and TLS
// (KAFKA_SSL_*) all come from `client`.
struct KafkaConnection {
  std::vector<std::string> bootstrap_servers;  // host:port
  config::KafkaClientConfig client;
  std::string client_id = "kgw";
};

// The node's own connection (MakeOwnKafka) for librdkafka, as `client_id`.
KafkaConnection TopicConnection(const OwnKafka& kafka, std::string client_id);

// librdkafka configuration for `c`: bootstrap.servers, client.id,
// security.protocol, sasl.mechanisms/username/password and, with TLS,
// ssl.ca.location (unset: librdkafka's default, the system's CAs),
// ssl.certificate.location, ssl.key.location, ssl.key.password and
// ssl.endpoint.identification.algorithm (https or none).
// InvalidArgument naming the property (never the password) when librdkafka
// refuses one, or when `c` has no bootstrap servers.
absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConf(const KafkaConnection& c);

struct TopicSpec {
  std::string name;
  bool compacted = true;      // cleanup.policy=compact, else delete
  int64_t retention_ms = -1;  // only for delete topics; -1 leaves the broker default
};

// Creates `spec.name` when it is missing, with
//  - 1 partition: readers follow partition 0 only and records must stay in
//    the order they were written;
//  - replication factor min(3, brokers the metadata lists): three copies
//    where the cluster has them, and creation still works on a 1- or
//    2-broker development cluster. A broker that is down at the first
//    creation lowers it; a WARNING says so;
//  - min.insync.replicas max(1, min(2, RF - 1)), i.e. 2 for RF 3 and 1 for
//    RF 1 or 2: with acks=all an acknowledged record is on two brokers
//    whenever there are three, and a single broker down (a rolling restart)
//    never blocks the gateway's writes. RF 2 with min.insync 2 would block
//    them on every restart. Applied to delete topics too;
//  - cleanup.policy compact or delete, and retention.ms for delete topics
//    when `spec.retention_ms` >= 0.
// Returns once partition 0 has a leader that answers. When the topic exists
// (also when another node created it concurrently) its configuration is
// described and FailedPrecondition with one line saying what differs and how
// to fix it is returned when cleanup.policy is not exactly the one needed or
// min.insync.replicas exceeds the replication factor (acks=all writes could
// never succeed). Fewer replicas than wanted only log a WARNING.
// Bounded by `timeout`.
absl::Status EnsureTopic(const KafkaConnection& c, const TopicSpec& spec, absl::Duration timeout);

// What the cluster says about a topic.
struct TopicDescription {
  int partitions = 0;
  int replication_factor = 0;                 // replicas of partition 0
  std::map<std::string, std::string> config;  // every entry DescribeConfigs returns
};

// NotFound when the topic does not exist. Bounded by `timeout`.
absl::StatusOr<TopicDescription> DescribeTopic(const KafkaConnection& c, const std::string& topic,
                                               absl::Duration timeout);

// Writes records to partition 0 of a topic with an idempotent producer
// (acks=all), so records a Write call acknowledged are never duplicated or
// reordered. Create it after EnsureTopic: the producer never asks the broker
// to auto-create a topic, and Write to a missing topic times out.
// Thread-safe; a thread of its own serves librdkafka's callbacks.
class TopicWriter {
 public:
  static absl::StatusOr<std::unique_ptr<TopicWriter>> Create(const KafkaConnection& c,
                                                             std::string topic);
  ~TopicWriter();  // drops records not yet acknowledged (their Write has returned)
  TopicWriter(const TopicWriter&) = delete;
  TopicWriter& operator=(const TopicWriter&) = delete;

  // Produces one record and waits until all in-sync replicas have it, or
  // `timeout` (DeadlineExceeded). A record that timed out may still be
  // written later, but never after a record written by a later Write call.
  // InvalidArgument for an empty value (reserved for tombstones). Internal
  // after a fatal idempotent-producer error; then make a new TopicWriter.
  absl::Status Write(std::string_view key, std::string_view value, absl::Duration timeout);

  const std::string& topic() const;

 private:
  struct Impl;
  explicit TopicWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The newest non-empty record of partition 0 of a (compacted, single-key)
// topic that `accept` takes (any, when null), nullopt when there is none: a
// record that does not hold up (one nobody with the cluster key wrote) does
// not hide the genuine ones before it. Bounded by `timeout`: Unavailable when
// no broker answered, NotFound when the topic does not exist (believed after
// 2 s of retries, since a topic another node just created is not known to
// every broker at once).
absl::StatusOr<std::optional<std::string>> ReadLatest(
    const KafkaConnection& c, const std::string& topic, absl::Duration timeout,
    const std::function<bool(std::string_view)>& accept = nullptr);

// Follows partition 0 of a topic on a thread of its own, from its newest
// non-empty record onwards, calling `on_record(value)` on that thread for
// each non-empty record in offset order (the newest existing one first, if
// any). Broker restarts and leader changes are ridden out: librdkafka
// reconnects and fetches from the new leader; problems are logged.
class TopicTail {
 public:
  using Callback = std::function<void(const std::string& value)>;

  // Finds the newest record before returning (bounded by `timeout`, errors as
  // for ReadLatest); the first callback may run before Start returns.
  static absl::StatusOr<std::unique_ptr<TopicTail>> Start(
      const KafkaConnection& c, std::string topic, Callback on_record,
      absl::Duration timeout = absl::Seconds(30));
  ~TopicTail();  // Stop()
  TopicTail(const TopicTail&) = delete;
  TopicTail& operator=(const TopicTail&) = delete;

  // Stops following and joins the thread; no callback runs once it returned.
  // Idempotent. Must not be called from the callback.
  void Stop();

 private:
  struct Impl;
  explicit TopicTail(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kgw::cluster

#endif  // KGW_COMMON_CLUSTER_INTERNAL_TOPICS_H_
