// AuditLog: writes audit events (audit_event.h) as JSON lines to stderr, a
// file and/or a Kafka topic, without ever making the caller wait for I/O.
//
// Threads: Record may be called from any number of threads (kgw-agent's
// worker threads); it moves the event into a bounded in-memory queue under a
// mutex and returns. One writer thread owned by the AuditLog formats the
// events and writes them to every sink in the order they were recorded. With
// the "kafka" sink a second thread creates the audit topic in the background
// (retrying while the cluster cannot be reached), so a gateway starts even
// when its cluster is momentarily down.
//
// Delivery is best effort: when the in-memory queue is full an event is
// dropped for every sink; when librdkafka's own bounded queue is full it is
// dropped for the Kafka sink only. Drops and failed writes are counted
// (dropped(), and the metrics below); nothing is retried beyond what
// librdkafka does for records it has accepted (an idempotent producer, so
// records reach the topic in the order they were recorded, at most once).
//
// Metrics, when a registry is given, per sink ("stderr", "file", "kafka"):
//   kgw_audit_events_total{sink}          events written (for Kafka:
//                                         acknowledged by the brokers)
//   kgw_audit_events_dropped_total{sink}  events dropped because a queue was
//                                         full (the in-memory queue counts for
//                                         every sink)
//   kgw_audit_write_failures_total{sink}  writes that failed (I/O error,
//                                         Kafka delivery error or timeout)
// For each sink, every recorded event ends up in exactly one of the three.
//
// Errors (from Start only): InvalidArgument for options that can never work
// (unknown or repeated sink name, missing file path or topic, a Kafka
// setting librdkafka refuses), FailedPrecondition when the file cannot be
// opened (missing directory, permissions).
#ifndef KGW_COMMON_AUDIT_AUDIT_LOG_H_
#define KGW_COMMON_AUDIT_AUDIT_LOG_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/audit/audit_event.h"
#include "common/cluster/internal_topics.h"
#include "common/sync/background_loop.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace kgw::audit {

struct AuditLogOptions {
  // Any of "stderr", "file", "kafka", each at most once; empty: audit off.
  std::vector<std::string> sinks;
  // For "file": appended to; created with mode 0640 (less the umask) when
  // missing. See AuditLog::ReopenFile for log rotation.
  std::string file_path;
  // Events waiting for the writer thread (besides the batch it is writing)
  // before new ones are dropped; also the bound of the Kafka producer's own
  // queue (queue.buffering.max.messages).
  size_t queue_capacity = 10000;
  // For "kafka":
  cluster::KafkaConnection kafka;
  std::string topic;  // _kgw_<cluster id>_auditlogs
  // retention.ms of the topic when AuditLog creates it; -1: the broker's default.
  int64_t retention_ms = 7 * 24 * 3600 * 1000LL;
};

namespace internal {
class Sink;
}  // namespace internal

class AuditLog {
 public:
  // Validates `options`, opens the file, creates the Kafka producer (which
  // connects in the background) and starts the writer thread. With the
  // "kafka" sink, the topic is created in the background when missing (one
  // partition, cleanup.policy=delete, retention.ms, replication factor
  // min(3, brokers); see cluster::EnsureTopic), retried with a growing
  // backoff (1 s up to 30 s) while that fails, with a WARNING each time.
  // An existing topic with another cleanup.policy gets one ERROR (saying how
  // to fix it) and is written to as it is. Records produced before the topic
  // exists wait in librdkafka's queue. With no sinks, returns a log whose
  // Record does nothing. `registry` may be null.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Start(AuditLogOptions options,
                                                         prometheus::Registry* registry);

  // For tests: a sink that hands each line (without the newline) to a
  // function on the writer thread; a non-OK status counts as a write failure.
  using LineSink = std::function<absl::Status(const std::string& line)>;
  // Start, plus `test_sink` as a sink named "test" written after the others.
  static absl::StatusOr<std::unique_ptr<AuditLog>> StartForTest(AuditLogOptions options,
                                                                prometheus::Registry* registry,
                                                                LineSink test_sink);

  // Writes what is queued, waits at most 5 s for the Kafka brokers to
  // acknowledge what the producer holds (the rest is counted as failed) and
  // stops the threads. Must not run concurrently with Record.
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Queues `event` for every sink; never blocks on I/O. When the queue holds
  // queue_capacity events already, the event is dropped and counted.
  void Record(AuditEvent event);

  // Events dropped because the in-memory queue was full (they reached no
  // sink). Drops by the Kafka producer's queue are only in the metrics.
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

  // False when Start was given no sinks.
  bool enabled() const { return !sinks_.empty(); }

  // Asks the writer thread to reopen the file sink's path before it writes
  // the next event, for log rotation: rename the file, call ReopenFile, and
  // events recorded after the call go to a new file at the configured path.
  // If reopening fails, the writer keeps the old file and logs an ERROR.
  // A no-op without the file sink. Not async-signal-safe: call it from a
  // normal thread (e.g. the handler of an asio::signal_set for SIGHUP).
  void ReopenFile();

 private:
  AuditLog(size_t queue_capacity, std::vector<std::unique_ptr<internal::Sink>> sinks,
           std::vector<prometheus::Counter*> drop_counters);
  static absl::StatusOr<std::unique_ptr<AuditLog>> Create(AuditLogOptions options,
                                                          prometheus::Registry* registry,
                                                          LineSink test_sink);
  void RunWriter();
  void RunTopicCreator(const cluster::KafkaConnection& kafka, const cluster::TopicSpec& spec);

  const size_t queue_capacity_;
  // Used by the writer thread only (and by the destructor once it stopped).
  const std::vector<std::unique_ptr<internal::Sink>> sinks_;
  // One per sink (null without a registry), incremented by Record.
  const std::vector<prometheus::Counter*> drop_counters_;
  // Some sink needs Poll calls while idle (Kafka's delivery reports).
  const bool poll_sinks_;
  std::atomic<uint64_t> dropped_{0};

  std::mutex mu_;
  std::deque<AuditEvent> queue_ ABSL_GUARDED_BY(mu_);
  bool reopen_file_ ABSL_GUARDED_BY(mu_) = false;

  // Last, so that they stop before the state their threads use goes.
  sync::BackgroundLoop writer_{mu_};
  sync::BackgroundLoop topic_creator_{mu_};
};

}  // namespace kgw::audit

#endif  // KGW_COMMON_AUDIT_AUDIT_LOG_H_
