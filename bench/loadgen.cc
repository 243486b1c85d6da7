// kgw-loadgen: the benchmark's load generator. One workload per run, against
// one bootstrap address, with exact control over what is sent; it prints one
// JSON object of figures on stdout and explains any failure on stderr.
//
//   produce  N records of a fixed size as fast as the client can (acks=all)
//   consume  N records from the beginning of every partition of a topic
//   latency  records at a fixed rate (open loop): each record's latency runs
//            from the time it was meant to be sent, so a stall of the client
//            or of the path shows up instead of delaying the schedule
//   connect  open connections that each exchange ApiVersions (and, if asked,
//            Metadata) with the target;
//            either hold them all (idle memory) or open and close them as
//            fast as possible (connection storm)
//
// The Kafka workloads use librdkafka; `connect` speaks the protocol itself,
// because a librdkafka client per connection would measure the client. With
// --ca-file every workload speaks TLS to the target (trusting that CA, and
// checking that the certificate names the host connected to).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "librdkafka/rdkafka.h"
#include "openssl/err.h"
#include "openssl/ssl.h"
#include "openssl/x509v3.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr char kUsage[] = R"(usage: kgw-loadgen WORKLOAD --bootstrap HOST:PORT[,...] [options]

workloads and their options:
  produce   --topic T [--records 100000] [--record-size 1024]
  consume   --topic T [--records 100000]
  latency   --topic T [--rate 1000] [--seconds 10] [--record-size 1024]
  create-topic --topic T [--partitions 6]   (replication factor: the brokers' default)
  delete-topics --topic T[,T...]   (topics that do not exist are not an error)
  connect   [--connections 1000] [--hold-seconds 0] [--ready-file F] [--threads 4]
            [--requests versions]
            --hold-seconds 0 opens and closes each connection (a storm);
            more holds them all open that long, writing F once they are.
            --requests versions,metadata: each connection also asks for the
            brokers (Metadata v1, no topics) after ApiVersions, one at a time.

every workload also takes
  --ca-file F   speak TLS to the target, trusting the CA certificates in F

Each prints one JSON object of figures on stdout; exit 1 on any failure.
)";

struct Options {
  std::string workload;
  std::string bootstrap;
  std::string topic;
  int64_t records = 100000;
  int record_size = 1024;
  int rate = 1000;
  double seconds = 10;
  int connections = 1000;
  double hold_seconds = 0;
  std::string ready_file;
  int threads = 4;
  int partitions = 6;
  bool metadata = false;  // connect: Metadata after ApiVersions
  std::string ca_file;  // TLS when set
};

absl::StatusOr<Options> ParseOptions(int argc, char** argv) {
  if (argc < 2) return absl::InvalidArgumentError("no workload given");
  Options o;
  o.workload = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat(flag, " needs a value"));
    std::string value = argv[++i];
    auto integer = [&](auto* out, int64_t min) -> absl::Status {
      int64_t v = 0;
      if (!absl::SimpleAtoi(value, &v) || v < min) {
        return absl::InvalidArgumentError(
            absl::StrCat(flag, " must be an integer of at least ", min, ", not \"", value, "\""));
      }
      *out = static_cast<std::remove_pointer_t<decltype(out)>>(v);
      return absl::OkStatus();
    };
    auto real = [&](double* out, double min) -> absl::Status {
      if (!absl::SimpleAtod(value, out) || *out < min) {
        return absl::InvalidArgumentError(
            absl::StrCat(flag, " must be a number of at least ", min, ", not \"", value, "\""));
      }
      return absl::OkStatus();
    };
    absl::Status s;
    if (flag == "--bootstrap") {
      o.bootstrap = value;
    } else if (flag == "--topic") {
      o.topic = value;
    } else if (flag == "--records") {
      s = integer(&o.records, 1);
    } else if (flag == "--record-size") {
      s = integer(&o.record_size, 1);
    } else if (flag == "--rate") {
      s = integer(&o.rate, 1);
    } else if (flag == "--seconds") {
      s = real(&o.seconds, 0.1);
    } else if (flag == "--connections") {
      s = integer(&o.connections, 1);
    } else if (flag == "--hold-seconds") {
      s = real(&o.hold_seconds, 0);
    } else if (flag == "--ready-file") {
      o.ready_file = value;
    } else if (flag == "--partitions") {
      s = integer(&o.partitions, 1);
    } else if (flag == "--threads") {
      s = integer(&o.threads, 1);
    } else if (flag == "--requests") {
      if (value == "versions,metadata") {
        o.metadata = true;
      } else if (value != "versions") {
        s = absl::InvalidArgumentError(absl::StrCat(
            "--requests must be versions or versions,metadata, not \"", value, "\""));
      }
    } else if (flag == "--ca-file") {
      o.ca_file = value;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown option ", flag));
    }
    if (!s.ok()) return s;
  }
  if (o.bootstrap.empty()) return absl::InvalidArgumentError("--bootstrap is required");
  if (o.workload != "connect" && o.topic.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(o.workload, " needs --topic"));
  }
  return o;
}

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// ------------------------------------------------------------- librdkafka ---

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

absl::StatusOr<KafkaHandle> NewClient(rd_kafka_type_t type, const Options& o,
                                      const std::map<std::string, std::string>& props,
                                      void (*dr_cb)(rd_kafka_t*, const rd_kafka_message_t*,
                                                    void*) = nullptr,
                                      void* opaque = nullptr) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  std::map<std::string, std::string> all = {{"bootstrap.servers", o.bootstrap},
                                            {"client.id", "kgw-loadgen"}};
  if (!o.ca_file.empty()) {
    all["security.protocol"] = "ssl";
    all["ssl.ca.location"] = o.ca_file;
  }
  for (const auto& [k, v] : props) all[k] = v;
  for (const auto& [k, v] : all) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(absl::StrCat(k, "=", v, ": ", err));
    }
  }
  if (dr_cb != nullptr) rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
  rd_kafka_conf_set_opaque(conf, opaque);
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat("cannot create the client: ", err));
  }
  return KafkaHandle(rk);
}

struct ProduceState {
  int64_t delivered = 0;
  int64_t failed = 0;
  std::string first_error;
  Clock::time_point last_delivery;
  // latency workload: intended send time of record i, and the latencies seen.
  std::vector<Clock::time_point> intended;
  std::vector<double> latency_us;
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* st = static_cast<ProduceState*>(opaque);
  Clock::time_point now = Clock::now();
  st->last_delivery = now;
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (st->failed++ == 0) st->first_error = rd_kafka_err2str(m->err);
    return;
  }
  ++st->delivered;
  if (!st->intended.empty()) {
    auto i = reinterpret_cast<uintptr_t>(m->_private);
    st->latency_us.push_back(
        std::chrono::duration<double, std::micro>(now - st->intended[i]).count());
  }
}

// Produces one record, waiting (and serving callbacks) while the local queue
// is full. The payload is not copied: it lives until the client is destroyed.
absl::Status ProduceOne(rd_kafka_t* rk, const Options& o, const std::string& payload,
                        void* msg_opaque, int32_t partition = RD_KAFKA_PARTITION_UA) {
  for (;;) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(o.topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
        RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      return absl::InternalError(absl::StrCat("produce: ", rd_kafka_err2str(err)));
    }
    rd_kafka_poll(rk, 1);
  }
}

std::string Payload(int size) {
  std::string p(static_cast<size_t>(size), '\0');
  uint32_t x = 2463534242u;  // xorshift: incompressible, the same every run
  for (char& c : p) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return p;
}

absl::Status Flush(rd_kafka_t* rk, ProduceState& st) {
  rd_kafka_resp_err_t err = rd_kafka_flush(rk, 120000);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::DeadlineExceededError(
        absl::StrCat("flush: ", rd_kafka_err2str(err), "; ", rd_kafka_outq_len(rk), " left"));
  }
  if (st.failed > 0) {
    return absl::InternalError(
        absl::StrCat(st.failed, " records failed, the first with: ", st.first_error));
  }
  return absl::OkStatus();
}

absl::Status Produce(const Options& o) {
  ProduceState st;
  auto rk = NewClient(RD_KAFKA_PRODUCER, o,
                      {{"acks", "all"},
                       {"linger.ms", "5"},
                       {"batch.size", "262144"},
                       {"queue.buffering.max.kbytes", "65536"},
                       {"message.timeout.ms", "120000"}},
                      OnDelivery, &st);
  if (!rk.ok()) return rk.status();
  const std::string payload = Payload(o.record_size);
  Clock::time_point t0 = Clock::now();
  for (int64_t i = 0; i < o.records; ++i) {
    if (absl::Status s = ProduceOne(rk->get(), o, payload, nullptr); !s.ok()) return s;
    rd_kafka_poll(rk->get(), 0);
  }
  if (absl::Status s = Flush(rk->get(), st); !s.ok()) return s;
  double secs = std::chrono::duration<double>(st.last_delivery - t0).count();
  double bytes = static_cast<double>(o.records) * o.record_size;
  std::cout << absl::StrFormat(
      "{\"workload\":\"produce\",\"records\":%d,\"record_size\":%d,\"seconds\":%.3f,"
      "\"records_per_s\":%.0f,\"mb_per_s\":%.2f,\"bytes\":%.0f}\n",
      o.records, o.record_size, secs, o.records / secs, bytes / secs / 1e6, bytes);
  return absl::OkStatus();
}

absl::StatusOr<int> PartitionCount(rd_kafka_t* rk, const std::string& topic) {
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, 30000);
  rd_kafka_topic_destroy(t);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("metadata: ", rd_kafka_err2str(err)));
  }
  int n = md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR
              ? md->topics[0].partition_cnt
              : 0;
  std::string why = md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "not returned";
  rd_kafka_metadata_destroy(md);
  if (n == 0) return absl::NotFoundError(absl::StrCat("topic ", topic, ": ", why));
  return n;
}

absl::Status Consume(const Options& o) {
  auto rk = NewClient(RD_KAFKA_CONSUMER, o,
                      {{"group.id", absl::StrCat("kgw-loadgen-", getpid())},
                       {"enable.auto.commit", "false"},
                       {"fetch.wait.max.ms", "100"},
                       {"queued.max.messages.kbytes", "262144"}});
  if (!rk.ok()) return rk.status();
  auto partitions = PartitionCount(rk->get(), o.topic);
  if (!partitions.ok()) return partitions.status();
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(*partitions);
  for (int p = 0; p < *partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, o.topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  Clock::time_point t0 = Clock::now();
  rd_kafka_resp_err_t err = rd_kafka_assign(rk->get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(absl::StrCat("assign: ", rd_kafka_err2str(err)));
  }
  int64_t got = 0;
  double bytes = 0;
  Clock::time_point last_progress = Clock::now();
  while (got < o.records) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk->get(), 100);
    if (m == nullptr) {
      if (SecondsSince(last_progress) > 30) {
        return absl::DeadlineExceededError(
            absl::StrCat("read ", got, " of ", o.records, " records, then nothing for 30 s"));
      }
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++got;
      bytes += static_cast<double>(m->len);
      last_progress = Clock::now();
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      std::string e = rd_kafka_message_errstr(m);
      rd_kafka_message_destroy(m);
      return absl::InternalError(absl::StrCat("consume: ", e));
    }
    rd_kafka_message_destroy(m);
  }
  double secs = SecondsSince(t0);
  std::cout << absl::StrFormat(
      "{\"workload\":\"consume\",\"records\":%d,\"seconds\":%.3f,\"records_per_s\":%.0f,"
      "\"mb_per_s\":%.2f,\"bytes\":%.0f}\n",
      got, secs, got / secs, bytes / secs / 1e6, bytes)
            << std::flush;
  // The system librdkafka (2.0.2) sometimes fails an assertion while tearing
  // a consumer down (rd_kafka_broker_destroy_final: thrd_is_current). Nothing
  // is left to commit, so leave without the teardown; the kernel closes the
  // sockets.
  (void)rk->release();
  std::_Exit(0);
}

// Deletes the comma-separated topics; one that does not exist is already
// deleted.
absl::Status DeleteTopics(const Options& o) {
  auto rk = NewClient(RD_KAFKA_PRODUCER, o, {});
  if (!rk.ok()) return rk.status();
  std::vector<std::string> names = absl::StrSplit(o.topic, ',', absl::SkipEmpty());
  std::vector<rd_kafka_DeleteTopic_t*> topics;
  for (const std::string& name : names) topics.push_back(rd_kafka_DeleteTopic_new(name.c_str()));
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk->get());
  rd_kafka_DeleteTopics(rk->get(), topics.data(), topics.size(), nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 60000);
  absl::Status result = absl::DeadlineExceededError("no answer to DeleteTopics within 60 s");
  if (ev != nullptr) {
    result = absl::OkStatus();
    if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      result = absl::UnavailableError(rd_kafka_event_error_string(ev));
    } else {
      size_t n = 0;
      const rd_kafka_topic_result_t** r =
          rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
      for (size_t i = 0; i < n && result.ok(); ++i) {
        const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(r[i]);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
          result = absl::UnavailableError(absl::StrCat(
              "delete ", rd_kafka_topic_result_name(r[i]), ": ", rd_kafka_err2str(e)));
        }
      }
    }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(q);
  for (rd_kafka_DeleteTopic_t* t : topics) rd_kafka_DeleteTopic_destroy(t);
  if (!result.ok()) return result;
  std::cout << absl::StrFormat("{\"workload\":\"delete-topics\",\"topics\":%d}\n",
                               names.size());
  return absl::OkStatus();
}

// Creates the topic, or accepts it if it exists already.
absl::Status CreateTopic(const Options& o) {
  auto rk = NewClient(RD_KAFKA_PRODUCER, o, {});
  if (!rk.ok()) return rk.status();
  char err[512];
  rd_kafka_NewTopic_t* t = rd_kafka_NewTopic_new(o.topic.c_str(), o.partitions, -1, err, sizeof err);
  if (t == nullptr) return absl::InvalidArgumentError(err);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk->get());
  rd_kafka_CreateTopics(rk->get(), &t, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 60000);
  absl::Status result = absl::DeadlineExceededError("no answer to CreateTopics within 60 s");
  if (ev != nullptr) {
    if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      result = absl::UnavailableError(rd_kafka_event_error_string(ev));
    } else {
      size_t n = 0;
      const rd_kafka_topic_result_t** r =
          rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
      rd_kafka_resp_err_t e = n == 1 ? rd_kafka_topic_result_error(r[0]) : RD_KAFKA_RESP_ERR__FAIL;
      result = e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS
                   ? absl::OkStatus()
                   : absl::UnavailableError(absl::StrCat("create ", o.topic, ": ",
                                                         rd_kafka_err2str(e)));
    }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(t);
  if (!result.ok()) return result;
  // Wait until the client sees every partition, so the workloads start clean.
  for (int i = 0; i < 100; ++i) {
    auto p = PartitionCount(rk->get(), o.topic);
    if (p.ok() && *p == o.partitions) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cout << absl::StrFormat("{\"workload\":\"create-topic\",\"topic\":\"%s\",\"partitions\":%d}\n",
                               o.topic, o.partitions);
  return absl::OkStatus();
}

double Percentile(const std::vector<double>& sorted, double q) {
  size_t i = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

absl::Status Latency(const Options& o) {
  ProduceState st;
  auto rk = NewClient(RD_KAFKA_PRODUCER, o,
                      {{"acks", "all"},
                       {"linger.ms", "1"},
                       {"max.in.flight.requests.per.connection", "5"},
                       {"message.timeout.ms", "60000"}},
                      OnDelivery, &st);
  if (!rk.ok()) return rk.status();
  const std::string payload = Payload(o.record_size);
  const int64_t total = static_cast<int64_t>(o.rate * o.seconds);
  st.intended.reserve(static_cast<size_t>(total));
  st.latency_us.reserve(static_cast<size_t>(total));
  // Warm up the connections and the topic before the clock starts. The
  // first records to a topic created a moment before wait about half a
  // second while its replicas start (p99 340-420 ms on a just-created topic
  // of the test cluster, 12-14 ms on the same topic right after). One record
  // to each partition, all acknowledged and none counted, keeps that out.
  const Clock::time_point warm_start = Clock::now();
  auto partitions = PartitionCount(rk->get(), o.topic);
  if (!partitions.ok()) return partitions.status();
  for (int32_t p = 0; p < *partitions; ++p) {
    if (absl::Status s = ProduceOne(rk->get(), o, payload, nullptr, p); !s.ok()) return s;
  }
  if (absl::Status s = Flush(rk->get(), st); !s.ok()) return s;
  const double warmup_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - warm_start).count();
  const auto interval = std::chrono::nanoseconds(1000000000LL / o.rate);
  const Clock::time_point t0 = Clock::now();
  for (int64_t i = 0; i < total; ++i) {
    Clock::time_point due = t0 + i * interval;
    // Serve delivery reports while waiting for the record's time, so their
    // timestamps are close to when they arrived; sleep out the last
    // millisecond rather than spin (a spinning client would take a core from
    // the brokers and the gateway on a small machine).
    for (Clock::time_point now = Clock::now(); now < due; now = Clock::now()) {
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(due - now);
      if (wait.count() == 0) {
        rd_kafka_poll(rk->get(), 0);
        std::this_thread::sleep_until(due);
        break;
      }
      rd_kafka_poll(rk->get(), static_cast<int>(wait.count()));
    }
    st.intended.push_back(due);
    if (absl::Status s = ProduceOne(rk->get(), o, payload, reinterpret_cast<void*>(i)); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = Flush(rk->get(), st); !s.ok()) return s;
  std::vector<double>& l = st.latency_us;
  std::sort(l.begin(), l.end());
  std::cout << absl::StrFormat(
      "{\"workload\":\"latency\",\"records\":%d,\"rate\":%d,\"seconds\":%.1f,"
      "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,"
      "\"warmup_ms\":%.1f}\n",
      static_cast<int64_t>(l.size()), o.rate, o.seconds, Percentile(l, 0.5) / 1000,
      Percentile(l, 0.99) / 1000, Percentile(l, 0.999) / 1000, l.back() / 1000, warmup_ms);
  return absl::OkStatus();
}

// ---------------------------------------------------------------- connect ---

struct Endpoint {
  std::string host;  // as given, for TLS's name check
  sockaddr_storage addr{};
  socklen_t len = 0;
};

absl::StatusOr<Endpoint> Resolve(const std::string& hostport) {
  std::vector<std::string> first = absl::StrSplit(hostport, ',');
  size_t colon = first[0].rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("\"", first[0], "\" is not HOST:PORT"));
  }
  std::string host = first[0].substr(0, colon), port = first[0].substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat(first[0], ": ", gai_strerror(rc)));
  }
  Endpoint e;
  e.host = host;
  std::memcpy(&e.addr, res->ai_addr, res->ai_addrlen);
  e.len = res->ai_addrlen;
  freeaddrinfo(res);
  return e;
}

// A request with header v1 (client id "kgw-loadgen"), correlation id
// `correlation_id`, and `body`, framed.
std::string RequestFrame(int api_key, int version, int correlation_id, const std::string& body) {
  std::string frame;
  auto put16 = [&](int v) {
    frame.push_back(static_cast<char>(v >> 8));
    frame.push_back(static_cast<char>(v));
  };
  put16(api_key);
  put16(version);
  put16(correlation_id >> 16);
  put16(correlation_id & 0xffff);
  const std::string id = "kgw-loadgen";
  put16(static_cast<int>(id.size()));
  frame += id;
  frame += body;
  uint32_t n = htonl(static_cast<uint32_t>(frame.size()));
  return std::string(reinterpret_cast<const char*>(&n), 4) + frame;
}

// What each connection sends, one request at a time: ApiVersions v0 (with
// correlation id 1), then, with `metadata`, Metadata v1 for no topics (2).
std::vector<std::string> ConnectRequests(bool metadata) {
  std::vector<std::string> requests = {RequestFrame(18, 0, 1, "")};
  if (metadata) requests.push_back(RequestFrame(3, 1, 2, std::string("\0\0\0\0", 4)));
  return requests;
}

// One connection of the connect workload: a socket, and its TLS session
// when the target speaks TLS.
struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;
};

void CloseConn(Conn c) {
  if (c.ssl != nullptr) SSL_free(c.ssl);  // no close_notify: a storm drops connections
  close(c.fd);
}

// The client context of --ca-file: the CA trusted, the target's name checked.
absl::StatusOr<SSL_CTX*> ClientTls(const std::string& ca_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return absl::InternalError("cannot create a TLS context");
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    SSL_CTX_free(ctx);
    return absl::InvalidArgumentError(absl::StrCat("cannot read CA certificates from ", ca_file));
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  return ctx;
}

// Connects and exchanges `requests` in turn (over TLS when `tls` is set,
// checking that the certificate names the host); the i-th answer must carry
// correlation id i + 1. Returns the connection or why it failed.
absl::StatusOr<Conn> OpenOne(const Endpoint& e, SSL_CTX* tls,
                             const std::vector<std::string>& requests) {
  int fd = socket(e.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", strerror(errno)));
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  Conn c{.fd = fd};
  auto fail = [&](const std::string& what) {
    std::string why = absl::StrCat(what, ": ", errno != 0 ? strerror(errno) : "closed");
    if (c.ssl != nullptr) {
      if (const unsigned long err = ERR_peek_last_error(); err != 0) {
        why = absl::StrCat(what, ": ", ERR_reason_error_string(err));
      }
      ERR_clear_error();
    }
    CloseConn(c);
    return absl::UnavailableError(why);
  };
  // Plain reads and writes, or the TLS session's; each returns what it moved.
  auto write_all = [&](const char* p, size_t n) {
    return c.ssl != nullptr ? SSL_write(c.ssl, p, static_cast<int>(n)) == static_cast<int>(n)
                            : send(fd, p, n, MSG_NOSIGNAL) == static_cast<ssize_t>(n);
  };
  auto read_some = [&](char* p, size_t n) -> ssize_t {
    return c.ssl != nullptr ? SSL_read(c.ssl, p, static_cast<int>(n)) : recv(fd, p, n, 0);
  };
  errno = 0;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&e.addr), e.len) != 0) return fail("connect");
  if (tls != nullptr) {
    c.ssl = SSL_new(tls);
    if (c.ssl == nullptr) return fail("TLS session");
    SSL_set_fd(c.ssl, fd);
    X509_VERIFY_PARAM* param = SSL_get0_param(c.ssl);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, e.host.c_str()) != 1) {  // not an IP: a name
      SSL_set_tlsext_host_name(c.ssl, e.host.c_str());
      X509_VERIFY_PARAM_set1_host(param, e.host.c_str(), 0);
    }
    if (SSL_connect(c.ssl) != 1) return fail("TLS handshake");
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    const std::string& request = requests[i];
    if (!write_all(request.data(), request.size())) return fail("send");
    char size_buf[4];
    size_t have = 0;
    while (have < 4) {
      ssize_t r = read_some(size_buf + have, 4 - have);
      if (r <= 0) return fail("receive");
      have += static_cast<size_t>(r);
    }
    uint32_t size;
    std::memcpy(&size, size_buf, 4);
    size = ntohl(size);
    if (size < 4 || size > (1u << 20)) {
      CloseConn(c);
      return absl::DataLossError(absl::StrCat("response size ", size));
    }
    std::string rest(size, '\0');
    have = 0;
    while (have < size) {
      ssize_t r = read_some(rest.data() + have, size - have);
      if (r <= 0) return fail("receive");
      have += static_cast<size_t>(r);
    }
    uint32_t id;
    std::memcpy(&id, rest.data(), 4);
    if (ntohl(id) != i + 1) {
      CloseConn(c);
      return absl::DataLossError("response with another correlation id");
    }
  }
  return c;
}

void RaiseFileLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

absl::Status Connect(const Options& o) {
  RaiseFileLimit();
  auto endpoint = Resolve(o.bootstrap);
  if (!endpoint.ok()) return endpoint.status();
  SSL_CTX* tls = nullptr;
  if (!o.ca_file.empty()) {
    absl::StatusOr<SSL_CTX*> ctx = ClientTls(o.ca_file);
    if (!ctx.ok()) return ctx.status();
    tls = *ctx;
  }
  const std::vector<std::string> requests = ConnectRequests(o.metadata);
  const bool hold = o.hold_seconds > 0;
  std::atomic<int> next{0};
  std::mutex mu;
  int failed = 0;
  std::string first_error;
  std::vector<Conn> held;
  std::vector<double> setup_us;
  held.reserve(hold ? static_cast<size_t>(o.connections) : 0);
  setup_us.reserve(static_cast<size_t>(o.connections));
  Clock::time_point t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < std::min(o.threads, o.connections); ++t) {
    threads.emplace_back([&] {
      std::vector<Conn> mine;
      std::vector<double> times;
      int my_failed = 0;
      std::string my_error;
      while (next.fetch_add(1) < o.connections) {
        Clock::time_point start = Clock::now();
        auto conn = OpenOne(*endpoint, tls, requests);
        if (!conn.ok()) {
          if (my_failed++ == 0) my_error = std::string(conn.status().message());
          continue;
        }
        times.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
        if (hold) {
          mine.push_back(*conn);
        } else {
          CloseConn(*conn);
        }
      }
      std::lock_guard lock(mu);
      held.insert(held.end(), mine.begin(), mine.end());
      setup_us.insert(setup_us.end(), times.begin(), times.end());
      if (failed == 0 && my_failed > 0) first_error = my_error;
      failed += my_failed;
    });
  }
  for (auto& t : threads) t.join();
  double secs = SecondsSince(t0);
  if (hold && !o.ready_file.empty()) {
    std::ofstream(o.ready_file) << held.size() << "\n";
  }
  if (hold) std::this_thread::sleep_for(std::chrono::duration<double>(o.hold_seconds));
  // Every held connection must still be open: the peer has not closed it.
  int lost = 0;
  for (const Conn& c : held) {
    // Readable here means EOF or an error (a TLS peer sends nothing unasked either).
    pollfd p{c.fd, POLLIN, 0};
    if (poll(&p, 1, 0) == 1) ++lost;
    CloseConn(c);
  }
  if (tls != nullptr) SSL_CTX_free(tls);
  std::sort(setup_us.begin(), setup_us.end());
  double p99 = setup_us.empty() ? 0 : Percentile(setup_us, 0.99) / 1000;
  std::cout << absl::StrFormat(
      "{\"workload\":\"%s\",\"connections\":%d,\"opened\":%d,\"failed\":%d,\"lost\":%d,"
      "\"seconds\":%.3f,\"connections_per_s\":%.0f,\"setup_p99_ms\":%.3f,\"first_error\":\"%s\"}\n",
      hold ? "idle" : "storm", o.connections, static_cast<int>(setup_us.size()), failed, lost,
      secs, setup_us.size() / secs, p99, absl::StrReplaceAll(first_error, {{"\"", "'"}}));
  if (failed > 0 || lost > 0) {
    return absl::UnavailableError(absl::StrCat(failed, " connections failed (the first: ",
                                               first_error, "), ", lost, " held ones were closed"));
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  auto o = ParseOptions(argc, argv);
  if (!o.ok()) {
    std::cerr << "kgw-loadgen: " << o.status().message() << "\n" << kUsage;
    return 2;
  }
  absl::Status s;
  if (o->workload == "produce") {
    s = Produce(*o);
  } else if (o->workload == "consume") {
    s = Consume(*o);
  } else if (o->workload == "latency") {
    s = Latency(*o);
  } else if (o->workload == "create-topic") {
    s = CreateTopic(*o);
  } else if (o->workload == "delete-topics") {
    s = DeleteTopics(*o);
  } else if (o->workload == "connect") {
    s = Connect(*o);
  } else {
    std::cerr << "kgw-loadgen: unknown workload \"" << o->workload << "\"\n" << kUsage;
    return 2;
  }
  if (!s.ok()) {
    std::cerr << "kgw-loadgen " << o->workload << " via " << o->bootstrap << ": " << s.message()
              << "\n";
    return 1;
  }
  return 0;
}
