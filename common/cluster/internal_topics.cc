#include "common/cluster/internal_topics.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/status/status_macros.h"
#include "glog/logging.h"

namespace kgw::cluster {
namespace {

int RemainingMs(absl::Time deadline) {
  const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
  return static_cast<int>(std::clamp<int64_t>(ms, 0, INT_MAX));
}

// Forwards librdkafka's log lines (only WARNING and above are generated, see
// log_level) to glog, and remembers the last complaint so that a timeout can
// say why: "Connection refused", a SASL failure, ... Called on librdkafka's
// threads and on whichever thread polls the handle.
class ClientEvents : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& event) override {
    switch (event.type()) {
      case RdKafka::Event::EVENT_LOG:
        if (event.severity() <= RdKafka::Event::EVENT_SEVERITY_CRITICAL) {
          LOG(ERROR) << "librdkafka " << event.fac() << ": " << event.str();
        } else if (event.severity() <= RdKafka::Event::EVENT_SEVERITY_WARNING) {
          LOG(WARNING) << "librdkafka " << event.fac() << ": " << event.str();
        } else {
          return;
        }
        Remember(event.str());
        break;
      case RdKafka::Event::EVENT_ERROR:
        // Mostly transient (librdkafka retries); the log line above usually
        // said it already, so only remember it.
        Remember(absl::StrCat(RdKafka::err2str(event.err()), ": ", event.str()));
        if (event.fatal()) LOG(ERROR) << "librdkafka fatal error: " << event.str();
        break;
      default:
        break;
    }
  }

  // " (last broker error: ...)" or "".
  std::string LastProblem() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_.empty() ? "" : absl::StrCat(" (last broker error: ", last_, ")");
  }

 private:
  void Remember(std::string s) {
    // Log lines start with "[thrd:NAME]: "; the broker is named again after it.
    if (absl::StartsWith(s, "[thrd:")) {
      if (size_t end = s.find("]: "); end != std::string::npos) s.erase(0, end + 3);
    }
    std::lock_guard<std::mutex> lock(mu_);
    last_ = std::move(s);
  }

  mutable std::mutex mu_;
  std::string last_ ABSL_GUARDED_BY(mu_);
};

// The process-wide sink MakeConf installs; handles made here get their own.
ClientEvents* SharedEvents() {
  static ClientEvents* const events = new ClientEvents();
  return events;
}

absl::Status Set(RdKafka::Conf& conf, const std::string& name, const std::string& value) {
  std::string err;
  if (conf.set(name, value, err) != RdKafka::Conf::CONF_OK) {
    const bool secret = name.find("password") != std::string::npos;
    return absl::InvalidArgumentError(absl::StrCat(
        "librdkafka refused ", name, secret ? "" : absl::StrCat("=", value), ": ", err));
  }
  return absl::OkStatus();
}

absl::StatusCode CodeFor(RdKafka::ErrorCode err) {
  switch (err) {
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__TRANSPORT:
    case RdKafka::ERR__ALL_BROKERS_DOWN:
    case RdKafka::ERR__MSG_TIMED_OUT:
    case RdKafka::ERR__WAIT_COORD:
    case RdKafka::ERR__NODE_UPDATE:
    case RdKafka::ERR_REQUEST_TIMED_OUT:
    case RdKafka::ERR_BROKER_NOT_AVAILABLE:
    case RdKafka::ERR_LEADER_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_LEADER_FOR_PARTITION:
    case RdKafka::ERR_NOT_CONTROLLER:
    case RdKafka::ERR_NETWORK_EXCEPTION:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
      return absl::StatusCode::kUnavailable;
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR__UNKNOWN_PARTITION:
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
      return absl::StatusCode::kNotFound;
    case RdKafka::ERR__AUTHENTICATION:
    case RdKafka::ERR_SASL_AUTHENTICATION_FAILED:
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
    case RdKafka::ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RdKafka::ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
      return absl::StatusCode::kPermissionDenied;
    case RdKafka::ERR_POLICY_VIOLATION:
      return absl::StatusCode::kFailedPrecondition;
    case RdKafka::ERR_INVALID_REPLICATION_FACTOR:
    case RdKafka::ERR_INVALID_CONFIG:
    case RdKafka::ERR_INVALID_PARTITIONS:
    case RdKafka::ERR_TOPIC_EXCEPTION:
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
    case RdKafka::ERR_INVALID_RECORD:
      return absl::StatusCode::kInvalidArgument;
    case RdKafka::ERR__QUEUE_FULL:
      return absl::StatusCode::kResourceExhausted;
    default:
      return absl::StatusCode::kInternal;
  }
}

// `what` failed with `err`; librdkafka's last complaint is added for errors
// that mean the brokers could not be reached.
absl::Status KafkaError(RdKafka::ErrorCode err, absl::string_view what, const std::string& detail,
                        const ClientEvents& events) {
  const absl::StatusCode code = CodeFor(err);
  std::string message = absl::StrCat(what, ": ", detail.empty() ? RdKafka::err2str(err) : detail);
  if (code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kPermissionDenied) {
    absl::StrAppend(&message, events.LastProblem());
  }
  return absl::Status(code, message);
}

absl::Status KafkaError(rd_kafka_resp_err_t err, absl::string_view what, const char* detail,
                        const ClientEvents& events) {
  return KafkaError(static_cast<RdKafka::ErrorCode>(err), what, detail ? detail : "", events);
}

std::string Bootstrap(const KafkaConnection& c) { return absl::StrJoin(c.bootstrap_servers, ","); }

template <auto kDestroy>
struct CDeleter {
  template <typename T>
  void operator()(T* p) const {
    kDestroy(p);
  }
};
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, CDeleter<rd_kafka_queue_destroy>>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, CDeleter<rd_kafka_event_destroy>>;
using AdminOptionsPtr =
    std::unique_ptr<rd_kafka_AdminOptions_t, CDeleter<rd_kafka_AdminOptions_destroy>>;
using NewTopicPtr = std::unique_ptr<rd_kafka_NewTopic_t, CDeleter<rd_kafka_NewTopic_destroy>>;
using ConfigResourcePtr =
    std::unique_ptr<rd_kafka_ConfigResource_t, CDeleter<rd_kafka_ConfigResource_destroy>>;

// A librdkafka handle with the events sink it reports to. Members are
// destroyed in reverse order: topic, then handle, then the sink it calls.
template <typename H>
struct Client {
  std::unique_ptr<ClientEvents> events = std::make_unique<ClientEvents>();
  std::unique_ptr<H> handle;
  std::unique_ptr<RdKafka::Topic> topic;
  std::string bootstrap;
};

// MakeConf plus what every handle made here shares: its own events sink and
// no broker-side topic auto-creation (a Metadata or Produce request for a
// missing internal topic must not create it with the broker's defaults).
absl::StatusOr<std::unique_ptr<RdKafka::Conf>> ClientConf(
    const KafkaConnection& c, ClientEvents* events,
    const std::vector<std::pair<std::string, std::string>>& extra) {
  KGW_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Conf> conf, MakeConf(c));
  std::string err;
  if (conf->set("event_cb", static_cast<RdKafka::EventCb*>(events), err) !=
      RdKafka::Conf::CONF_OK) {
    return absl::InvalidArgumentError(absl::StrCat("librdkafka refused event_cb: ", err));
  }
  KGW_RETURN_IF_ERROR(Set(*conf, "allow.auto.create.topics", "false"));
  // A restarted broker is back within seconds; don't wait up to 10 s for it.
  KGW_RETURN_IF_ERROR(Set(*conf, "reconnect.backoff.max.ms", "2000"));
  for (const auto& [name, value] : extra) KGW_RETURN_IF_ERROR(Set(*conf, name, value));
  return conf;
}

absl::StatusOr<Client<RdKafka::Producer>> NewProducer(
    const KafkaConnection& c, const std::vector<std::pair<std::string, std::string>>& extra,
    RdKafka::DeliveryReportCb* dr = nullptr) {
  Client<RdKafka::Producer> client;
  client.bootstrap = Bootstrap(c);
  KGW_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Conf> conf,
                       ClientConf(c, client.events.get(), extra));
  std::string err;
  if (dr != nullptr && conf->set("dr_cb", dr, err) != RdKafka::Conf::CONF_OK) {
    return absl::InvalidArgumentError(absl::StrCat("librdkafka refused dr_cb: ", err));
  }
  client.handle.reset(RdKafka::Producer::create(conf.get(), err));
  if (client.handle == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot create a Kafka producer: ", err));
  }
  return client;
}

// A consumer without a group (the legacy API: start/consume one partition
// at explicit offsets, nothing committed anywhere) for `topic`. It reports
// reaching the end of the partition: FindLatest relies on that when the last
// offsets hold no record a reader sees (transaction markers).
absl::StatusOr<Client<RdKafka::Consumer>> NewConsumer(const KafkaConnection& c,
                                                      const std::string& topic) {
  Client<RdKafka::Consumer> client;
  client.bootstrap = Bootstrap(c);
  KGW_ASSIGN_OR_RETURN(
      std::unique_ptr<RdKafka::Conf> conf,
      ClientConf(c, client.events.get(),
                 {{"enable.auto.commit", "false"}, {"enable.partition.eof", "true"}}));
  std::string err;
  client.handle.reset(RdKafka::Consumer::create(conf.get(), err));
  if (client.handle == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot create a Kafka consumer: ", err));
  }
  std::unique_ptr<RdKafka::Conf> tconf(RdKafka::Conf::create(RdKafka::Conf::CONF_TOPIC));
  KGW_RETURN_IF_ERROR(Set(*tconf, "auto.commit.enable", "false"));
  // Only reached if records vanish under a reader (retention); read on from
  // the oldest rather than skip to the end.
  KGW_RETURN_IF_ERROR(Set(*tconf, "auto.offset.reset", "earliest"));
  client.topic.reset(RdKafka::Topic::create(client.handle.get(), topic, tconf.get(), err));
  if (client.topic == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("topic ", topic, ": ", err));
  }
  return client;
}

// Cluster metadata; Unavailable (naming the bootstrap servers) when no broker
// answered in time.
template <typename H>
absl::StatusOr<std::unique_ptr<RdKafka::Metadata>> FetchMetadata(Client<H>& client,
                                                                 const RdKafka::Topic* only,
                                                                 absl::Time deadline) {
  RdKafka::Metadata* md = nullptr;
  const RdKafka::ErrorCode err =
      client.handle->metadata(only == nullptr, only, &md, RemainingMs(deadline));
  std::unique_ptr<RdKafka::Metadata> owned(md);
  if (err != RdKafka::ERR_NO_ERROR) {
    return KafkaError(err, absl::StrCat("no answer from the Kafka cluster at ", client.bootstrap),
                      "", *client.events);
  }
  return owned;
}

const RdKafka::TopicMetadata* FindTopic(const RdKafka::Metadata& md, const std::string& name) {
  for (const RdKafka::TopicMetadata* t : *md.topics()) {
    if (t->topic() == name) return t;
  }
  return nullptr;
}

const RdKafka::PartitionMetadata* PartitionZero(const RdKafka::TopicMetadata& t) {
  for (const RdKafka::PartitionMetadata* p : *t.partitions()) {
    if (p->id() == 0) return p;
  }
  return nullptr;
}

// Waits for the admin request's result on `queue`; the request itself was
// given the same deadline, so librdkafka answers with a timeout first.
absl::StatusOr<EventPtr> AwaitAdminResult(rd_kafka_queue_t* queue, absl::Time deadline,
                                          absl::string_view what, const ClientEvents& events) {
  EventPtr event(
      rd_kafka_queue_poll(queue, std::min(RemainingMs(deadline), INT_MAX - 1000) + 1000));
  if (event == nullptr) {
    return KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT, what, nullptr, events);
  }
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaError(rd_kafka_event_error(event.get()), what,
                      rd_kafka_event_error_string(event.get()), events);
  }
  return event;
}

absl::StatusOr<AdminOptionsPtr> AdminOptions(rd_kafka_t* rk, rd_kafka_admin_op_t op,
                                             absl::Time deadline) {
  AdminOptionsPtr options(rd_kafka_AdminOptions_new(rk, op));
  char err[512];
  const int ms = std::max(1, RemainingMs(deadline));
  if (rd_kafka_AdminOptions_set_request_timeout(options.get(), ms, err, sizeof(err)) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(err);
  }
  if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS &&
      rd_kafka_AdminOptions_set_operation_timeout(options.get(), ms, err, sizeof(err)) !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(err);
  }
  return options;
}

// True when the topic was created, false when it already existed.
absl::StatusOr<bool> CreateTopic(Client<RdKafka::Producer>& admin, const TopicSpec& spec,
                                 int replication_factor, int min_insync, absl::Time deadline) {
  rd_kafka_t* rk = admin.handle->c_ptr();
  const std::string what = absl::StrCat("cannot create topic ", spec.name);
  char err[512];
  NewTopicPtr topic(
      rd_kafka_NewTopic_new(spec.name.c_str(), 1, replication_factor, err, sizeof(err)));
  if (topic == nullptr) return absl::InvalidArgumentError(absl::StrCat(what, ": ", err));
  std::vector<std::pair<std::string, std::string>> configs = {
      {"cleanup.policy", spec.compacted ? "compact" : "delete"},
      {"min.insync.replicas", absl::StrCat(min_insync)}};
  if (!spec.compacted && spec.retention_ms >= 0) {
    configs.emplace_back("retention.ms", absl::StrCat(spec.retention_ms));
  }
  for (const auto& [name, value] : configs) {
    if (rd_kafka_resp_err_t e =
            rd_kafka_NewTopic_set_config(topic.get(), name.c_str(), value.c_str());
        e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return KafkaError(e, what, nullptr, *admin.events);
    }
  }
  KGW_ASSIGN_OR_RETURN(AdminOptionsPtr options,
                       AdminOptions(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, deadline));
  QueuePtr queue(rd_kafka_queue_new(rk));
  rd_kafka_NewTopic_t* topics[] = {topic.get()};
  rd_kafka_CreateTopics(rk, topics, 1, options.get(), queue.get());
  KGW_ASSIGN_OR_RETURN(EventPtr event,
                       AwaitAdminResult(queue.get(), deadline, what, *admin.events));
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
  size_t n = 0;
  const rd_kafka_topic_result_t** results =
      result == nullptr ? nullptr : rd_kafka_CreateTopics_result_topics(result, &n);
  if (n != 1) return absl::InternalError(absl::StrCat(what, ": no result for the topic"));
  const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[0]);
  if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) return false;
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaError(e, what, rd_kafka_topic_result_error_string(results[0]), *admin.events);
  }
  return true;
}

using TopicConfig = std::map<std::string, std::string>;

absl::StatusOr<TopicConfig> DescribeTopicConfig(Client<RdKafka::Producer>& admin,
                                                const std::string& name, absl::Time deadline) {
  rd_kafka_t* rk = admin.handle->c_ptr();
  const std::string what = absl::StrCat("cannot describe the configuration of topic ", name);
  ConfigResourcePtr resource(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name.c_str()));
  KGW_ASSIGN_OR_RETURN(AdminOptionsPtr options,
                       AdminOptions(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, deadline));
  QueuePtr queue(rd_kafka_queue_new(rk));
  rd_kafka_ConfigResource_t* resources[] = {resource.get()};
  rd_kafka_DescribeConfigs(rk, resources, 1, options.get(), queue.get());
  KGW_ASSIGN_OR_RETURN(EventPtr event,
                       AwaitAdminResult(queue.get(), deadline, what, *admin.events));
  const rd_kafka_DescribeConfigs_result_t* result =
      rd_kafka_event_DescribeConfigs_result(event.get());
  size_t n = 0;
  const rd_kafka_ConfigResource_t** described =
      result == nullptr ? nullptr : rd_kafka_DescribeConfigs_result_resources(result, &n);
  if (n != 1) return absl::InternalError(absl::StrCat(what, ": no result for the topic"));
  if (rd_kafka_resp_err_t e = rd_kafka_ConfigResource_error(described[0]);
      e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaError(e, what, rd_kafka_ConfigResource_error_string(described[0]), *admin.events);
  }
  size_t entries_n = 0;
  const rd_kafka_ConfigEntry_t** entries =
      rd_kafka_ConfigResource_configs(described[0], &entries_n);
  std::map<std::string, std::string> config;
  for (size_t i = 0; i < entries_n; ++i) {
    const char* value = rd_kafka_ConfigEntry_value(entries[i]);
    config[rd_kafka_ConfigEntry_name(entries[i])] = value == nullptr ? "" : value;
  }
  return config;
}

// Retries `fn` while it fails with NotFound or Unavailable (a topic another
// node just created is not known to every broker at once) until `deadline`.
template <typename Fn>
auto RetryUntil(absl::Time deadline, Fn fn) -> decltype(fn()) {
  absl::Duration backoff = absl::Milliseconds(50);
  for (;;) {
    auto result = fn();
    if (result.ok()) return result;
    const absl::StatusCode code = result.status().code();
    if ((code != absl::StatusCode::kNotFound && code != absl::StatusCode::kUnavailable) ||
        absl::Now() + backoff >= deadline) {
      return result;
    }
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Milliseconds(500));
  }
}

// Metadata naming `name` with a leader for partition 0: the topic is usable.
absl::StatusOr<const RdKafka::TopicMetadata*> UsableTopic(const RdKafka::Metadata& md,
                                                          const std::string& name) {
  const RdKafka::TopicMetadata* t = FindTopic(md, name);
  if (t == nullptr || t->err() == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART) {
    return absl::NotFoundError(absl::StrCat("topic ", name, " does not exist"));
  }
  const RdKafka::PartitionMetadata* p0 = PartitionZero(*t);
  if (p0 == nullptr || p0->leader() < 0) {
    return absl::UnavailableError(absl::StrCat("topic ", name, " has no leader for partition 0"));
  }
  return t;
}

std::string FixCommand(const std::string& bootstrap, const std::string& topic,
                       const std::string& setting) {
  return absl::StrCat("kafka-configs.sh --bootstrap-server ", bootstrap,
                      " --alter --entity-type topics --entity-name ", topic, " --add-config ",
                      setting);
}

struct Watermarks {
  int64_t low = 0;
  int64_t high = 0;
};

// Asks partition 0's leader for its watermarks: once it answers, the topic is
// usable there.
absl::StatusOr<Watermarks> QueryWatermarks(RdKafka::Handle& handle, const std::string& topic,
                                           absl::Time deadline, const ClientEvents& events) {
  Watermarks marks;
  if (RdKafka::ErrorCode err =
          handle.query_watermark_offsets(topic, 0, &marks.low, &marks.high, RemainingMs(deadline));
      err != RdKafka::ERR_NO_ERROR) {
    return KafkaError(err, absl::StrCat("cannot read the offsets of topic ", topic), "", events);
  }
  return marks;
}

// NotFound when the topic does not exist, else partition 0's watermarks.
absl::StatusOr<Watermarks> LocatePartitionZero(Client<RdKafka::Consumer>& client,
                                               absl::Time deadline) {
  const std::string& name = client.topic->name();
  KGW_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Metadata> md,
                       FetchMetadata(client, client.topic.get(), deadline));
  const RdKafka::TopicMetadata* t = FindTopic(*md, name);
  if (t == nullptr || t->err() == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART || t->partitions()->empty()) {
    return absl::NotFoundError(absl::StrCat("topic ", name, " does not exist"));
  }
  if (t->err() != RdKafka::ERR_NO_ERROR) {
    return KafkaError(t->err(), absl::StrCat("topic ", name), "", *client.events);
  }
  return QueryWatermarks(*client.handle, name, deadline, *client.events);
}

// How long readers retry NotFound before believing it (KRaft brokers apply a
// new topic within moments of each other).
constexpr absl::Duration kNewTopicGrace = absl::Seconds(2);

// The newest non-empty record of partition 0 at or after the low watermark.
struct Latest {
  int64_t high = 0;  // high watermark when looked up
  std::optional<int64_t> offset;
  std::string value;
};

// Reads backwards in growing windows from the high watermark until a
// non-empty record that `accept` takes (any, when null) turns up: normally
// the first window, [high-1, high), has it. Leaves the partition stopped.
absl::StatusOr<Latest> FindLatest(Client<RdKafka::Consumer>& client, absl::Time deadline,
                                  const std::function<bool(std::string_view)>& accept = nullptr) {
  RdKafka::Consumer& consumer = *client.handle;
  RdKafka::Topic* topic = client.topic.get();
  const std::string& name = topic->name();
  // A topic created moments ago is not known to every broker at once.
  KGW_ASSIGN_OR_RETURN(const Watermarks marks,
                       RetryUntil(std::min(deadline, absl::Now() + kNewTopicGrace),
                                  [&] { return LocatePartitionZero(client, deadline); }));
  const int64_t low = marks.low;
  Latest latest;
  latest.high = marks.high;
  int64_t end = latest.high;
  int64_t window = 1;
  while (end > low) {
    const int64_t start = std::max(low, end - window);
    if (RdKafka::ErrorCode err = consumer.start(topic, 0, start); err != RdKafka::ERR_NO_ERROR) {
      return KafkaError(err, absl::StrCat("cannot read topic ", name), "", *client.events);
    }
    bool done = false;
    absl::Status status;
    while (!done) {
      if (absl::Now() >= deadline) {
        status =
            KafkaError(RdKafka::ERR__TIMED_OUT,
                       absl::StrCat("cannot read partition 0 of topic ", name), "", *client.events);
        break;
      }
      std::unique_ptr<RdKafka::Message> m(
          consumer.consume(topic, 0, std::min(200, RemainingMs(deadline))));
      switch (m->err()) {
        case RdKafka::ERR_NO_ERROR:
          if (m->offset() >= end) {
            done = true;
            break;
          }
          if (m->len() > 0 &&
              (!accept ||
               accept(std::string_view(static_cast<const char*>(m->payload()), m->len())))) {
            latest.offset = m->offset();
            latest.value.assign(static_cast<const char*>(m->payload()), m->len());
          }
          done = m->offset() >= end - 1;
          break;
        case RdKafka::ERR__PARTITION_EOF:
          done = true;
          break;
        case RdKafka::ERR__TIMED_OUT:
          break;
        default:
          // librdkafka retries fetch errors itself; the deadline bounds us.
          LOG_EVERY_N(WARNING, 20) << "reading topic " << name << ": " << m->errstr();
          break;
      }
      consumer.poll(0);
    }
    consumer.stop(topic, 0);
    KGW_RETURN_IF_ERROR(status);
    if (latest.offset.has_value()) break;
    end = start;
    window = std::min<int64_t>(window * 16, int64_t{1} << 40);
  }
  return latest;
}

}  // namespace

KafkaConnection TopicConnection(const OwnKafka& kafka, std::string client_id) {
  return {.bootstrap_servers = kafka.bootstrap_servers,
          .client = kafka.client,
          .client_id = std::move(client_id)};
}

absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConf(const KafkaConnection& c) {
  if (c.bootstrap_servers.empty()) {
    return absl::InvalidArgumentError("no Kafka bootstrap servers configured");
  }
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  KGW_RETURN_IF_ERROR(Set(*conf, "bootstrap.servers", Bootstrap(c)));
  KGW_RETURN_IF_ERROR(Set(*conf, "client.id", c.client_id));
  if (!c.client.security_protocol.empty()) {
    KGW_RETURN_IF_ERROR(Set(*conf, "security.protocol", c.client.security_protocol));
  }
  if (c.client.sasl) {
    KGW_RETURN_IF_ERROR(Set(*conf, "sasl.mechanisms", c.client.sasl_mechanism));
    KGW_RETURN_IF_ERROR(Set(*conf, "sasl.username", c.client.sasl_username));
    KGW_RETURN_IF_ERROR(Set(*conf, "sasl.password", c.client.sasl_password));
  }
  if (c.client.tls) {
    if (!c.client.ssl_ca_file.empty()) {
      KGW_RETURN_IF_ERROR(Set(*conf, "ssl.ca.location", c.client.ssl_ca_file));
    }
    if (!c.client.ssl_cert_file.empty()) {
      KGW_RETURN_IF_ERROR(Set(*conf, "ssl.certificate.location", c.client.ssl_cert_file));
      KGW_RETURN_IF_ERROR(Set(*conf, "ssl.key.location", c.client.ssl_key_file));
    }
    if (!c.client.ssl_key_password.empty()) {
      KGW_RETURN_IF_ERROR(Set(*conf, "ssl.key.password", c.client.ssl_key_password));
    }
    KGW_RETURN_IF_ERROR(Set(*conf, "ssl.endpoint.identification.algorithm",
                            c.client.ssl_verify_hostname ? "https" : "none"));
  }
  // Lines below WARNING are not even generated; the rest goes to glog.
  KGW_RETURN_IF_ERROR(Set(*conf, "log_level", "4"));
  std::string err;
  if (conf->set("event_cb", static_cast<RdKafka::EventCb*>(SharedEvents()), err) !=
      RdKafka::Conf::CONF_OK) {
    return absl::InvalidArgumentError(absl::StrCat("librdkafka refused event_cb: ", err));
  }
  return conf;
}

absl::Status EnsureTopic(const KafkaConnection& c, const TopicSpec& spec, absl::Duration timeout) {
  if (spec.name.empty()) return absl::InvalidArgumentError("empty topic name");
  const absl::Time deadline = absl::Now() + timeout;
  KGW_ASSIGN_OR_RETURN(Client<RdKafka::Producer> admin, NewProducer(c, {}));
  KGW_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Metadata> md,
                       FetchMetadata(admin, nullptr, deadline));
  const int brokers = static_cast<int>(md->brokers()->size());
  const int wanted_rf = std::max(1, std::min(3, brokers));
  bool created = false;
  if (FindTopic(*md, spec.name) == nullptr) {
    const int min_insync = std::max(1, std::min(2, wanted_rf - 1));
    KGW_ASSIGN_OR_RETURN(created, CreateTopic(admin, spec, wanted_rf, min_insync, deadline));
    if (created) {
      LOG(INFO) << "created topic " << spec.name
                << " (cleanup.policy=" << (spec.compacted ? "compact" : "delete")
                << ", replication factor " << wanted_rf << ", min.insync.replicas " << min_insync
                << ")";
      LOG_IF(WARNING, wanted_rf < 3)
          << "topic " << spec.name << " has replication factor " << wanted_rf
          << " because the cluster metadata lists only " << brokers << " broker(s)";
    }
  }
  // Usable: the metadata names a leader and the leader knows it is one. Not
  // every broker knows a just-created topic yet; readers allow for that.
  KGW_ASSIGN_OR_RETURN(
      const int rf, RetryUntil(deadline, [&]() -> absl::StatusOr<int> {
        KGW_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Metadata> now,
                             FetchMetadata(admin, nullptr, deadline));
        KGW_ASSIGN_OR_RETURN(const RdKafka::TopicMetadata* t, UsableTopic(*now, spec.name));
        KGW_RETURN_IF_ERROR(
            QueryWatermarks(*admin.handle, spec.name, deadline, *admin.events).status());
        return static_cast<int>(PartitionZero(*t)->replicas()->size());
      }));
  if (created) return absl::OkStatus();

  KGW_ASSIGN_OR_RETURN(TopicConfig config, RetryUntil(deadline, [&] {
                         return DescribeTopicConfig(admin, spec.name, deadline);
                       }));
  const std::string needed_policy = spec.compacted ? "compact" : "delete";
  const std::string& policy = config["cleanup.policy"];
  if (policy != needed_policy) {
    return absl::FailedPreconditionError(
        absl::StrCat("topic ", spec.name, " has cleanup.policy=", policy,
                     "; the gateway needs cleanup.policy=", needed_policy, " (fix it with ",
                     FixCommand(c.bootstrap_servers.front(), spec.name,
                                absl::StrCat("cleanup.policy=", needed_policy)),
                     ")"));
  }
  if (int min_insync = 0;
      absl::SimpleAtoi(config["min.insync.replicas"], &min_insync) && min_insync > rf) {
    return absl::FailedPreconditionError(absl::StrCat(
        "topic ", spec.name, " has min.insync.replicas=", min_insync, " but only ", rf,
        " replica(s), so no acks=all write can succeed (fix it with ",
        FixCommand(c.bootstrap_servers.front(), spec.name,
                   absl::StrCat("min.insync.replicas=", std::max(1, std::min(2, rf - 1)))),
        ")"));
  }
  LOG_IF(WARNING, rf < wanted_rf) << "topic " << spec.name << " has replication factor " << rf
                                  << "; " << wanted_rf << " is recommended";
  return absl::OkStatus();
}

absl::StatusOr<TopicDescription> DescribeTopic(const KafkaConnection& c, const std::string& topic,
                                               absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  KGW_ASSIGN_OR_RETURN(Client<RdKafka::Producer> admin, NewProducer(c, {}));
  KGW_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Metadata> md,
                       FetchMetadata(admin, nullptr, deadline));
  const RdKafka::TopicMetadata* t = FindTopic(*md, topic);
  if (t == nullptr || t->err() == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART) {
    return absl::NotFoundError(absl::StrCat("topic ", topic, " does not exist"));
  }
  TopicDescription description;
  description.partitions = static_cast<int>(t->partitions()->size());
  if (const RdKafka::PartitionMetadata* p0 = PartitionZero(*t); p0 != nullptr) {
    description.replication_factor = static_cast<int>(p0->replicas()->size());
  }
  KGW_ASSIGN_OR_RETURN(description.config, DescribeTopicConfig(admin, topic, deadline));
  return description;
}

// ---- TopicWriter ----

namespace {

// One Write call's record; shared by the caller and the delivery report
// (which may come after the caller gave up).
struct Delivery {
  std::mutex mu;
  std::condition_variable done_cv;
  bool done ABSL_GUARDED_BY(mu) = false;
  RdKafka::ErrorCode err ABSL_GUARDED_BY(mu) = RdKafka::ERR_NO_ERROR;
  std::string errstr ABSL_GUARDED_BY(mu);
};

class DeliveryReports : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    std::unique_ptr<std::shared_ptr<Delivery>> owner(
        static_cast<std::shared_ptr<Delivery>*>(message.msg_opaque()));
    if (owner == nullptr) return;
    Delivery& d = **owner;
    {
      std::lock_guard<std::mutex> lock(d.mu);
      d.done = true;
      d.err = message.err();
      d.errstr = message.errstr();
    }
    d.done_cv.notify_all();
  }
};

}  // namespace

struct TopicWriter::Impl {
  std::string topic_name;
  DeliveryReports reports;  // outlives the producer that calls it
  Client<RdKafka::Producer> client;
  std::atomic<bool> stop{false};
  std::thread poller;

  ~Impl() {
    stop = true;
    if (poller.joinable()) poller.join();
    if (client.handle == nullptr) return;
    // Records still queued belong to Write calls that already gave up;
    // purging hands them to the delivery reports, which free their state.
    client.handle->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
    for (int i = 0; i < 100 && client.handle->outq_len() > 0; ++i) client.handle->poll(10);
  }
};

TopicWriter::TopicWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TopicWriter::~TopicWriter() = default;

const std::string& TopicWriter::topic() const { return impl_->topic_name; }

absl::StatusOr<std::unique_ptr<TopicWriter>> TopicWriter::Create(const KafkaConnection& c,
                                                                 std::string topic) {
  if (topic.empty()) return absl::InvalidArgumentError("empty topic name");
  auto impl = std::make_unique<Impl>();
  impl->topic_name = std::move(topic);
  KGW_ASSIGN_OR_RETURN(impl->client, NewProducer(c,
                                                 {{"enable.idempotence", "true"},
                                                  {"acks", "all"},
                                                  // One record at a time: don't wait to batch.
                                                  {"linger.ms", "0"}},
                                                 &impl->reports));
  std::string err;
  impl->client.topic.reset(
      RdKafka::Topic::create(impl->client.handle.get(), impl->topic_name, nullptr, err));
  if (impl->client.topic == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("topic ", impl->topic_name, ": ", err));
  }
  Impl* raw = impl.get();
  impl->poller = std::thread([raw] {
    while (!raw->stop) raw->client.handle->poll(100);
  });
  return std::unique_ptr<TopicWriter>(new TopicWriter(std::move(impl)));
}

absl::Status TopicWriter::Write(std::string_view key, std::string_view value,
                                absl::Duration timeout) {
  if (value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "topic ", impl_->topic_name, ": empty values are tombstones and cannot be written"));
  }
  const absl::Time deadline = absl::Now() + timeout;
  auto delivery = std::make_shared<Delivery>();
  auto* opaque = new std::shared_ptr<Delivery>(delivery);
  // A null key would be refused by a compacted topic; an empty one is not.
  const char* key_data = key.data() == nullptr ? "" : key.data();
  const RdKafka::ErrorCode err = impl_->client.handle->produce(
      impl_->client.topic.get(), 0, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()),
      value.size(), key_data, key.size(), opaque);
  if (err != RdKafka::ERR_NO_ERROR) {
    delete opaque;
    std::string fatal;
    if (impl_->client.handle->fatal_error(fatal) != RdKafka::ERR_NO_ERROR) {
      return absl::InternalError(
          absl::StrCat("topic ", impl_->topic_name, ": producer failed for good: ", fatal));
    }
    return KafkaError(err, absl::StrCat("cannot write to topic ", impl_->topic_name), "",
                      *impl_->client.events);
  }
  std::unique_lock<std::mutex> lock(delivery->mu);
  while (!delivery->done) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    delivery->done_cv.wait_for(lock,
                               absl::ToChronoMilliseconds(left) + std::chrono::milliseconds(1));
  }
  if (!delivery->done) {
    return absl::DeadlineExceededError(
        absl::StrCat("topic ", impl_->topic_name, ": record not acknowledged within ",
                     absl::FormatDuration(timeout), " (it may still be written later)",
                     impl_->client.events->LastProblem()));
  }
  if (delivery->err == RdKafka::ERR_NO_ERROR) return absl::OkStatus();
  if (delivery->err == RdKafka::ERR__FATAL) {
    std::string fatal;
    impl_->client.handle->fatal_error(fatal);
    return absl::InternalError(
        absl::StrCat("topic ", impl_->topic_name, ": producer failed for good: ", fatal));
  }
  return KafkaError(delivery->err, absl::StrCat("cannot write to topic ", impl_->topic_name),
                    delivery->errstr, *impl_->client.events);
}

// ---- ReadLatest ----

absl::StatusOr<std::optional<std::string>> ReadLatest(
    const KafkaConnection& c, const std::string& topic, absl::Duration timeout,
    const std::function<bool(std::string_view)>& accept) {
  const absl::Time deadline = absl::Now() + timeout;
  KGW_ASSIGN_OR_RETURN(Client<RdKafka::Consumer> client, NewConsumer(c, topic));
  KGW_ASSIGN_OR_RETURN(Latest latest, FindLatest(client, deadline, accept));
  if (!latest.offset.has_value()) return std::nullopt;
  return std::move(latest.value);
}

// ---- TopicTail ----

struct TopicTail::Impl {
  Callback on_record;
  Client<RdKafka::Consumer> client;
  std::atomic<bool> stop{false};
  std::thread thread;

  void Run() {
    RdKafka::Consumer& consumer = *client.handle;
    RdKafka::Topic* topic = client.topic.get();
    while (!stop) {
      std::unique_ptr<RdKafka::Message> m(consumer.consume(topic, 0, 200));
      switch (m->err()) {
        case RdKafka::ERR_NO_ERROR:
          if (m->len() > 0) {
            on_record(std::string(static_cast<const char*>(m->payload()), m->len()));
          }
          break;
        case RdKafka::ERR__TIMED_OUT:
        case RdKafka::ERR__PARTITION_EOF:
          break;
        default:
          // librdkafka keeps retrying (reconnects, finds the new leader).
          LOG_EVERY_N(WARNING, 20) << "following topic " << topic->name() << ": " << m->errstr();
          break;
      }
      consumer.poll(0);
    }
  }
};

TopicTail::TopicTail(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TopicTail::~TopicTail() { Stop(); }

absl::StatusOr<std::unique_ptr<TopicTail>> TopicTail::Start(const KafkaConnection& c,
                                                            std::string topic, Callback on_record,
                                                            absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  auto impl = std::make_unique<Impl>();
  impl->on_record = std::move(on_record);
  KGW_ASSIGN_OR_RETURN(impl->client, NewConsumer(c, topic));
  KGW_ASSIGN_OR_RETURN(Latest latest, FindLatest(impl->client, deadline));
  const int64_t from = latest.offset.value_or(latest.high);
  if (RdKafka::ErrorCode err = impl->client.handle->start(impl->client.topic.get(), 0, from);
      err != RdKafka::ERR_NO_ERROR) {
    return KafkaError(err, absl::StrCat("cannot follow topic ", topic), "", *impl->client.events);
  }
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->Run(); });
  return std::unique_ptr<TopicTail>(new TopicTail(std::move(impl)));
}

void TopicTail::Stop() {
  if (impl_ == nullptr || !impl_->thread.joinable()) return;
  CHECK(impl_->thread.get_id() != std::this_thread::get_id())
      << "TopicTail::Stop called from its own callback";
  impl_->stop = true;
  impl_->thread.join();
  impl_->client.handle->stop(impl_->client.topic.get(), 0);
}

}  // namespace kgw::cluster
