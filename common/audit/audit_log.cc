#include "common/audit/audit_log.h"

#include <fcntl.h>
#include <librdkafka/rdkafkacpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <map>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/status/status_macros.h"
#include "glog/logging.h"

namespace kgw::audit {
namespace internal {

// The counters of one sink; null members without a registry.
struct SinkCounters {
  prometheus::Counter* written = nullptr;
  prometheus::Counter* dropped = nullptr;
  prometheus::Counter* failed = nullptr;

  static void Add(prometheus::Counter* c) {
    if (c != nullptr) c->Increment();
  }
};

// A destination for audit lines. Every method runs on the writer thread.
class Sink {
 public:
  virtual ~Sink() = default;
  // `line` ends with '\n'.
  virtual void Write(const AuditEvent& event, absl::string_view line) = 0;
  virtual void Reopen() {}
  // Serves asynchronous completions; called after every batch and, for
  // sinks that need it, at least every 100 ms.
  virtual void Poll() {}
  virtual bool needs_polling() const { return false; }
  // Called once after the last Write.
  virtual void Close() {}
};

}  // namespace internal

namespace {

using internal::Sink;
using internal::SinkCounters;

constexpr absl::string_view kStderr = "stderr";
constexpr absl::string_view kFile = "file";
constexpr absl::string_view kKafka = "kafka";
constexpr absl::string_view kTest = "test";

// How long ~AuditLog waits for the brokers to acknowledge queued records.
constexpr int kKafkaFlushMs = 5000;
// One topic creation attempt; also bounds how long ~AuditLog waits for an
// attempt under way.
constexpr absl::Duration kTopicAttemptTimeout = absl::Seconds(5);
constexpr absl::Duration kTopicMaxBackoff = absl::Seconds(30);

// Writes all of `data`; 0 or the errno of the failure.
int WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

absl::StatusOr<int> OpenForAppend(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    const int err = errno;
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open audit log file ", path, ": ", std::strerror(err)));
  }
  return fd;
}

// stderr, or a file it opened (and reopens for log rotation).
class FdSink final : public Sink {
 public:
  static std::unique_ptr<FdSink> Stderr(SinkCounters counters) {
    return std::unique_ptr<FdSink>(new FdSink(STDERR_FILENO, "", counters));
  }
  static absl::StatusOr<std::unique_ptr<FdSink>> File(const std::string& path,
                                                      SinkCounters counters) {
    KGW_ASSIGN_OR_RETURN(const int fd, OpenForAppend(path));
    return std::unique_ptr<FdSink>(new FdSink(fd, path, counters));
  }
  ~FdSink() override {
    if (!path_.empty()) ::close(fd_);
  }

  void Write(const AuditEvent&, absl::string_view line) override {
    if (const int err = WriteAll(fd_, line); err != 0) {
      SinkCounters::Add(counters_.failed);
      LOG_EVERY_N(ERROR, 1000) << "cannot write an audit event to "
                               << (path_.empty() ? "stderr" : path_) << ": " << std::strerror(err)
                               << " (" << google::COUNTER << " failures so far)";
      return;
    }
    SinkCounters::Add(counters_.written);
  }

  void Reopen() override {
    if (path_.empty()) return;
    absl::StatusOr<int> fd = OpenForAppend(path_);
    if (!fd.ok()) {
      LOG(ERROR) << fd.status().message() << "; still writing to the file opened before";
      return;
    }
    ::close(fd_);
    fd_ = *fd;
    LOG(INFO) << "reopened audit log file " << path_;
  }

 private:
  FdSink(int fd, std::string path, SinkCounters counters)
      : fd_(fd), path_(std::move(path)), counters_(counters) {}

  int fd_;
  const std::string path_;  // empty for stderr (not closed)
  const SinkCounters counters_;
};

// Produces each line (without its newline) to the audit topic, keyed by
// node id, through librdkafka's bounded queue; never waits for the brokers.
class KafkaSink final : public Sink, private RdKafka::DeliveryReportCb {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaSink>> Create(const AuditLogOptions& options,
                                                           SinkCounters counters) {
    KGW_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Conf> conf, cluster::MakeConf(options.kafka));
    auto sink = std::unique_ptr<KafkaSink>(new KafkaSink(options.topic, counters));
    const size_t capacity = std::min<size_t>(options.queue_capacity, INT_MAX);
    const std::pair<const char*, std::string> settings[] = {
        // Records reach the topic once each, in the order they were produced.
        {"enable.idempotence", "true"},
        {"queue.buffering.max.messages", absl::StrCat(capacity)},
        {"queue.buffering.max.kbytes", "65536"},
        // The topic is created by AuditLog with the retention it needs, not
        // by the broker with its defaults.
        {"allow.auto.create.topics", "false"},
        // Records wait this long for the topic to be created once brokers
        // answer; longer than the topic creator's backoff plus an attempt.
        {"topic.metadata.propagation.max.ms", "60000"},
        {"reconnect.backoff.max.ms", "2000"},
    };
    std::string err;
    for (const auto& [name, value] : settings) {
      if (conf->set(name, value, err) != RdKafka::Conf::CONF_OK) {
        return absl::InvalidArgumentError(
            absl::StrCat("librdkafka refused ", name, "=", value, ": ", err));
      }
    }
    if (conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(sink.get()), err) !=
        RdKafka::Conf::CONF_OK) {
      return absl::InvalidArgumentError(absl::StrCat("librdkafka refused dr_cb: ", err));
    }
    sink->producer_.reset(RdKafka::Producer::create(conf.get(), err));
    if (sink->producer_ == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot create a Kafka producer for the audit log: ", err));
    }
    sink->topic_.reset(RdKafka::Topic::create(sink->producer_.get(), options.topic, nullptr, err));
    if (sink->topic_ == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("audit topic ", options.topic, ": ", err));
    }
    return sink;
  }

  ~KafkaSink() override {
    // Destroyed before the members the delivery reports use.
    topic_.reset();
    producer_.reset();
  }

  void Write(const AuditEvent& event, absl::string_view line) override {
    line.remove_suffix(1);  // the newline
    const RdKafka::ErrorCode err =
        producer_->produce(topic_.get(), RdKafka::Topic::PARTITION_UA,
                           RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(line.data()),
                           line.size(), event.node_id.data(), event.node_id.size(), nullptr);
    if (err == RdKafka::ERR_NO_ERROR) return;
    if (err == RdKafka::ERR__QUEUE_FULL) {
      SinkCounters::Add(counters_.dropped);
      LOG_EVERY_N(WARNING, 1000) << "Kafka producer queue full, audit event for topic "
                                 << topic_name_ << " dropped (" << google::COUNTER << " so far)";
      return;
    }
    SinkCounters::Add(counters_.failed);
    LOG_EVERY_N(ERROR, 1000) << "cannot produce an audit event to topic " << topic_name_ << ": "
                             << RdKafka::err2str(err) << " (" << google::COUNTER
                             << " failures so far)";
  }

  void Poll() override { producer_->poll(0); }
  bool needs_polling() const override { return true; }

  void Close() override {
    if (producer_->flush(kKafkaFlushMs) == RdKafka::ERR_NO_ERROR) return;
    LOG(WARNING) << producer_->outq_len() << " audit record(s) not acknowledged by topic "
                 << topic_name_ << " within " << kKafkaFlushMs << " ms; dropping them";
    // Purged records get delivery reports with an error: counted as failed.
    producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
    for (int i = 0; i < 20 && producer_->outq_len() > 0; ++i) producer_->poll(50);
  }

 private:
  KafkaSink(std::string topic_name, SinkCounters counters)
      : topic_name_(std::move(topic_name)), counters_(counters) {}

  // On the writer thread, from Poll and Close.
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      SinkCounters::Add(counters_.written);
      return;
    }
    SinkCounters::Add(counters_.failed);
    LOG_EVERY_N(WARNING, 1000) << "audit event not written to topic " << topic_name_ << ": "
                               << message.errstr() << " (" << google::COUNTER
                               << " failures so far)";
  }

  const std::string topic_name_;
  const SinkCounters counters_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::unique_ptr<RdKafka::Topic> topic_;
};

class FunctionSink final : public Sink {
 public:
  FunctionSink(AuditLog::LineSink fn, SinkCounters counters)
      : fn_(std::move(fn)), counters_(counters) {}

  void Write(const AuditEvent&, absl::string_view line) override {
    line.remove_suffix(1);
    if (fn_(std::string(line)).ok()) {
      SinkCounters::Add(counters_.written);
    } else {
      SinkCounters::Add(counters_.failed);
    }
  }

 private:
  const AuditLog::LineSink fn_;
  const SinkCounters counters_;
};

// Kafka's rule for topic names.
absl::Status ValidateTopicName(const std::string& topic) {
  if (topic.empty()) {
    return absl::InvalidArgumentError("the kafka audit sink needs a topic name");
  }
  if (topic.size() > 249 || topic == "." || topic == "..") {
    return absl::InvalidArgumentError(absl::StrCat("invalid audit topic name \"", topic, "\""));
  }
  for (const char c : topic) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat("invalid audit topic name \"", topic,
                                                     "\": only letters, digits, '.', '_' and '-'"));
    }
  }
  return absl::OkStatus();
}

struct Families {
  prometheus::Family<prometheus::Counter>* written = nullptr;
  prometheus::Family<prometheus::Counter>* dropped = nullptr;
  prometheus::Family<prometheus::Counter>* failed = nullptr;

  SinkCounters For(absl::string_view sink) const {
    if (written == nullptr) return {};
    const std::map<std::string, std::string> labels = {{"sink", std::string(sink)}};
    return {.written = &written->Add(labels),
            .dropped = &dropped->Add(labels),
            .failed = &failed->Add(labels)};
  }
};

Families RegisterFamilies(prometheus::Registry* registry) {
  if (registry == nullptr) return {};
  return {
      .written = &prometheus::BuildCounter()
                      .Name("kgw_audit_events_total")
                      .Help("Audit events written, by sink (kafka: acknowledged by the brokers)")
                      .Register(*registry),
      .dropped = &prometheus::BuildCounter()
                      .Name("kgw_audit_events_dropped_total")
                      .Help("Audit events dropped because a queue was full, by sink")
                      .Register(*registry),
      .failed = &prometheus::BuildCounter()
                     .Name("kgw_audit_write_failures_total")
                     .Help("Audit events whose write failed, by sink")
                     .Register(*registry),
  };
}

}  // namespace

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Start(AuditLogOptions options,
                                                          prometheus::Registry* registry) {
  return Create(std::move(options), registry, nullptr);
}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::StartForTest(AuditLogOptions options,
                                                                 prometheus::Registry* registry,
                                                                 LineSink test_sink) {
  if (test_sink == nullptr) return absl::InvalidArgumentError("no test sink");
  return Create(std::move(options), registry, std::move(test_sink));
}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Create(AuditLogOptions options,
                                                           prometheus::Registry* registry,
                                                           LineSink test_sink) {
  absl::flat_hash_set<std::string> names;
  for (const std::string& name : options.sinks) {
    if (name != kStderr && name != kFile && name != kKafka) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown audit sink \"", name, "\"; the sinks are stderr, file and kafka"));
    }
    if (!names.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat("audit sink \"", name, "\" given twice"));
    }
  }
  if (names.empty() && test_sink == nullptr) {
    return std::unique_ptr<AuditLog>(new AuditLog(0, {}, {}));
  }
  if (options.queue_capacity == 0) {
    return absl::InvalidArgumentError("the audit queue capacity must be at least 1");
  }
  if (names.contains(kFile) && options.file_path.empty()) {
    return absl::InvalidArgumentError("the file audit sink needs a file path");
  }
  if (names.contains(kKafka)) {
    KGW_RETURN_IF_ERROR(ValidateTopicName(options.topic));
    if (options.retention_ms <= 0 && options.retention_ms != -1) {
      return absl::InvalidArgumentError(
          absl::StrCat("audit topic retention must be positive (or -1 for the broker's default), "
                       "not ",
                       options.retention_ms, " ms"));
    }
  }

  const Families families = RegisterFamilies(registry);
  std::vector<std::unique_ptr<Sink>> sinks;
  std::vector<prometheus::Counter*> drop_counters;
  const auto add = [&](std::unique_ptr<Sink> sink, const SinkCounters& c) {
    sinks.push_back(std::move(sink));
    drop_counters.push_back(c.dropped);
  };
  // A fixed order, whatever the order of options.sinks.
  if (names.contains(kStderr)) {
    const SinkCounters c = families.For(kStderr);
    add(FdSink::Stderr(c), c);
  }
  if (names.contains(kFile)) {
    const SinkCounters c = families.For(kFile);
    KGW_ASSIGN_OR_RETURN(std::unique_ptr<FdSink> file, FdSink::File(options.file_path, c));
    add(std::move(file), c);
  }
  if (names.contains(kKafka)) {
    const SinkCounters c = families.For(kKafka);
    KGW_ASSIGN_OR_RETURN(std::unique_ptr<KafkaSink> kafka, KafkaSink::Create(options, c));
    add(std::move(kafka), c);
  }
  if (test_sink != nullptr) {
    const SinkCounters c = families.For(kTest);
    add(std::make_unique<FunctionSink>(std::move(test_sink), c), c);
  }

  auto log = std::unique_ptr<AuditLog>(
      new AuditLog(options.queue_capacity, std::move(sinks), std::move(drop_counters)));
  AuditLog* raw = log.get();
  log->writer_.Start([raw] { raw->RunWriter(); });
  if (names.contains(kKafka)) {
    cluster::TopicSpec spec{
        .name = options.topic, .compacted = false, .retention_ms = options.retention_ms};
    log->topic_creator_.Start([raw, kafka = std::move(options.kafka), spec = std::move(spec)] {
      raw->RunTopicCreator(kafka, spec);
    });
  }
  return log;
}

AuditLog::AuditLog(size_t queue_capacity, std::vector<std::unique_ptr<Sink>> sinks,
                   std::vector<prometheus::Counter*> drop_counters)
    : queue_capacity_(queue_capacity),
      sinks_(std::move(sinks)),
      drop_counters_(std::move(drop_counters)),
      poll_sinks_(std::any_of(sinks_.begin(), sinks_.end(),
                              [](const auto& s) { return s->needs_polling(); })) {}

AuditLog::~AuditLog() {
  writer_.Stop();
  topic_creator_.Stop();
}

void AuditLog::Record(AuditEvent event) {
  if (sinks_.empty()) return;
  bool was_empty = false;
  bool queue_full = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() < queue_capacity_) {
      was_empty = queue_.empty();
      queue_.push_back(std::move(event));
    } else {
      queue_full = true;
    }
  }
  if (queue_full) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    for (prometheus::Counter* c : drop_counters_) SinkCounters::Add(c);
    LOG_EVERY_N(WARNING, 10000) << "audit queue full (" << queue_capacity_
                                << " events), event dropped (" << google::COUNTER << " so far)";
    return;
  }
  // The writer only waits when it found the queue empty.
  if (was_empty) writer_.Wake();
}

void AuditLog::ReopenFile() {
  if (sinks_.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reopen_file_ = true;
  }
  writer_.Wake();
}

void AuditLog::RunWriter() {
  std::deque<AuditEvent> batch;
  std::string line;
  for (;;) {
    bool reopen = false;
    bool stop = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      const auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !queue_.empty() || reopen_file_;
      };
      // Record does not run concurrently with the destructor, so nothing
      // arrives after the batch taken together with the stop.
      stop = writer_.Wait(
          lock, poll_sinks_ ? absl::Milliseconds(100) : absl::InfiniteDuration(), ready);
      batch.swap(queue_);
      reopen = std::exchange(reopen_file_, false);
    }
    if (reopen) {
      for (const auto& sink : sinks_) sink->Reopen();
    }
    for (const AuditEvent& event : batch) {
      line = ToJsonLine(event);
      line.push_back('\n');
      for (const auto& sink : sinks_) sink->Write(event, line);
    }
    batch.clear();
    for (const auto& sink : sinks_) sink->Poll();
    if (stop) break;
  }
  for (const auto& sink : sinks_) sink->Close();
}

void AuditLog::RunTopicCreator(const cluster::KafkaConnection& kafka,
                               const cluster::TopicSpec& spec) {
  absl::Duration backoff = absl::Seconds(1);
  for (;;) {
    if (topic_creator_.StopRequested()) return;
    const absl::Status status = cluster::EnsureTopic(kafka, spec, kTopicAttemptTimeout);
    if (status.ok()) {
      LOG(INFO) << "audit topic " << spec.name << " is ready";
      return;
    }
    if (status.code() == absl::StatusCode::kFailedPrecondition) {
      // The topic exists but is configured differently; records still go to
      // it. The message says how to fix it; retrying would only repeat it.
      LOG(ERROR) << "audit topic: " << status.message();
      return;
    }
    LOG(WARNING) << "audit topic " << spec.name << " not ready (retrying in "
                 << absl::FormatDuration(backoff) << "): " << status;
    std::unique_lock<std::mutex> lock(mu_);
    if (topic_creator_.Wait(lock, backoff)) return;
    backoff = std::min(backoff * 2, kTopicMaxBackoff);
  }
}

}  // namespace kgw::audit
