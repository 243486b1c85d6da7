// kgw-agent in front of the real test cluster, driven by real clients (kcat
// and Kafka's Java client). The tests share one agent and run in order; the
// last ones stop a broker and then the agent itself.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <chrono>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "common/kafka/header.h"
#include "common/kafka/messages/api_versions.h"
#include "common/kafka/messages/fetch.h"
#include "common/kafka/messages/metadata.h"
#include "common/kafka/messages/produce.h"
#include "common/kafka/messages/sasl_handshake.h"
#include "common/kafka/wire/reader.h"
#include "common/kafka/wire/writer.h"
#include "tests/e2e/kafka_test_connection.h"
#include "tests/e2e/process_util.h"

namespace kgw::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Env {
  std::string agent_bin = EnvOr("KGW_AGENT_BIN", "");
  std::string source_dir = EnvOr("KGW_SOURCE_DIR", ".");
  std::string kafka_bootstrap = EnvOr("KGW_KAFKA_BOOTSTRAP", "");
  std::string kafka_libs = EnvOr("KGW_KAFKA_LIBS", "");
  std::string kafka_dir = EnvOr("KGW_KAFKA_DIR", "");
  int port_start = std::stoi(EnvOr("KGW_E2E_AGENT_PORT", "26969"));
  int http_port = std::stoi(EnvOr("KGW_E2E_AGENT_HTTP_PORT", "26888"));
  std::string work_dir;
};

Env& E() {
  static Env* env = new Env;
  return *env;
}

std::string Bootstrap() { return absl::StrCat("127.0.0.1:", E().port_start); }

// Ports of the brokers' own listeners: no client may ever connect to them.
std::set<int> BrokerPorts() {
  std::set<int> ports;
  for (absl::string_view hp : absl::StrSplit(E().kafka_bootstrap, ',')) {
    int p;
    if (absl::SimpleAtoi(hp.substr(hp.rfind(':') + 1), &p)) ports.insert(p);
  }
  return ports;
}

std::string Java(const std::string& program, const std::string& args) {
  return absl::StrCat("java -cp '", E().kafka_libs, "/*' '", E().source_dir, "/tests/e2e/java/",
                      program, "' ", args);
}

std::string UniqueTopic(const std::string& base) {
  return absl::StrCat(base, "-", getpid(), "-",
                      std::chrono::steady_clock::now().time_since_epoch().count() % 1000000);
}

// Samples the TCP peers of a client process while it runs and records any
// connection to a broker port.
class BrokerPortWatch {
 public:
  explicit BrokerPortWatch(pid_t pid) : thread_([this, pid] {
    const std::set<int> brokers = BrokerPorts();
    while (!stop_) {
      for (int port : PeerPortsOf(pid)) {
        if (port == E().port_start || brokers.count(port) == 0) {
          if (port >= E().port_start && port < E().port_start + 100) agent_seen_ = true;
          continue;
        }
        violations_.push_back(port);
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
  }) {}
  ~BrokerPortWatch() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  const std::vector<int>& violations() const { return violations_; }
  bool agent_seen() const { return agent_seen_; }

 private:
  std::atomic<bool> stop_{false};
  std::vector<int> violations_;
  std::atomic<bool> agent_seen_{false};
  std::thread thread_;
};

// Runs `command` as a child (through sh) while watching its sockets.
struct WatchedRun {
  int exit_code = -1;
  std::string output;
  std::vector<int> broker_port_connections;
  bool used_agent = false;
};
WatchedRun RunWatched(const std::string& name, const std::string& command, seconds timeout) {
  const std::string log = absl::StrCat(E().work_dir, "/", name, ".log");
  // exec: the watched pid is the client itself, not a shell around it.
  Child child({"/bin/sh", "-c", "exec " + command}, {}, log);
  BrokerPortWatch watch(child.pid());
  WatchedRun run;
  std::optional<int> rc = child.Wait(timeout);
  watch.Stop();
  run.exit_code = rc.value_or(-1);
  run.output = child.Log();
  run.broker_port_connections = watch.violations();
  run.used_agent = watch.agent_seen();
  return run;
}

// Writes `records` records of 1,000 bytes to `topic` straight to the brokers,
// in large batches (Kafka's own ProducerPerformance).
void ProduceDirectly(const std::string& topic, int records) {
  auto [rc, out] = Shell(absl::StrCat(
      "java -cp '", E().kafka_libs, "/*' org.apache.kafka.tools.ProducerPerformance --topic ",
      topic, " --num-records ", records, " --record-size 1000 --throughput -1",
      " --producer-props bootstrap.servers=", E().kafka_bootstrap,
      " acks=all linger.ms=20 batch.size=262144 2>&1"));
  ASSERT_EQ(rc, 0) << out;
}

// Starts kgw-agent in front of `bootstrap` and waits until it is ready.
Child* StartAgent(int port_start, int http_port, const std::string& bootstrap,
                  std::map<std::string, std::string> extra_env, const std::string& name) {
  std::map<std::string, std::string> env = {
      {"KAFKA_BOOTSTRAP_SERVERS", bootstrap},
      {"GATEWAY_BIND_HOST", "127.0.0.1"},
      {"GATEWAY_ADVERTISED_HOST", "127.0.0.1"},
      {"GATEWAY_PORT_START", std::to_string(port_start)},
      {"GATEWAY_HTTP_PORT", std::to_string(http_port)},
      {"GATEWAY_MAX_FRAME_SIZE", "16MiB"},
      {"GATEWAY_SHUTDOWN_DELAY_BETWEEN_BROKERS_MS", "200"}};
  for (auto& [k, v] : extra_env) env[k] = v;
  auto* agent = new Child({E().agent_bin}, env, absl::StrCat(E().work_dir, "/", name, ".log"));
  const auto give_up = std::chrono::steady_clock::now() + seconds(30);
  while (HttpGet(http_port, "/health/ready").first != 200) {
    EXPECT_TRUE(agent->running()) << "the agent exited:\n" << agent->Log();
    EXPECT_LT(std::chrono::steady_clock::now(), give_up) << "never ready:\n" << agent->Log();
    if (!agent->running() || std::chrono::steady_clock::now() >= give_up) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return agent;
}

void MakeWorkDir() {
  if (!E().work_dir.empty()) return;
  char dir[] = "/tmp/kgw-agent-e2e-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  E().work_dir = dir;
}

// Clients authenticate with the brokers through the agent (SASL passes
// through untouched); the agent's own metadata connection uses SCRAM.
class SaslAgentTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_FALSE(E().agent_bin.empty()) << "KGW_AGENT_BIN is not set";
    ASSERT_FALSE(EnvOr("KGW_KAFKA_SASL_BOOTSTRAP", "").empty())
        << "KGW_KAFKA_SASL_BOOTSTRAP is not set: start the cluster with --security";
    MakeWorkDir();
    agent_ = StartAgent(kPortStart, kHttpPort, EnvOr("KGW_KAFKA_SASL_BOOTSTRAP", ""),
                        {{"GATEWAY_SECURITY_PROTOCOL", "SASL_PLAINTEXT"},
                         {"KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"},
                         {"KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"},
                         {"KAFKA_SASL_USERNAME", "admin"},
                         {"KAFKA_SASL_PASSWORD", "admin-secret"}},
                        "sasl-agent");
  }
  static void TearDownTestSuite() {
    agent_->Signal(SIGTERM);
    agent_->Wait(seconds(30));
    delete agent_;
    agent_ = nullptr;
  }
  static std::string Kcat(const std::string& user, const std::string& password) {
    return absl::StrCat("kcat -b 127.0.0.1:", kPortStart,
                        " -X security.protocol=SASL_PLAINTEXT -X sasl.mechanism=PLAIN",
                        " -X sasl.username=", user, " -X sasl.password=", password);
  }
  static constexpr int kPortStart = 27969;
  static constexpr int kHttpPort = 27888;
  static Child* agent_;
};
Child* SaslAgentTest::agent_ = nullptr;

TEST_F(SaslAgentTest, PlainThroughTheAgentProducesAndConsumes) {
  const std::string topic = UniqueTopic("sasl-plain");
  auto [list_rc, list] = Shell(Kcat("alice", "alice-secret") + " -L");
  ASSERT_EQ(list_rc, 0) << list;
  EXPECT_TRUE(absl::StrContains(list, absl::StrCat("127.0.0.1:", kPortStart + 1))) << list;
  auto [produce_rc, produce] = Shell(absl::StrCat(
      "seq 1 1000 | ", Kcat("alice", "alice-secret"), " -P -t ", topic, " -X acks=all"));
  ASSERT_EQ(produce_rc, 0) << produce;
  auto [consume_rc, consumed] = Shell(absl::StrCat(Kcat("alice", "alice-secret"), " -C -t ",
                                                   topic, " -o beginning -e -q | wc -l"));
  ASSERT_EQ(consume_rc, 0) << consumed;
  EXPECT_EQ(absl::StripAsciiWhitespace(consumed), "1000");
}

TEST_F(SaslAgentTest, ScramFromTheJavaClientPassesThrough) {
  const std::string props =
      "security.protocol=SASL_PLAINTEXT sasl.mechanism=SCRAM-SHA-512 "
      "'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
      "username=\"alice\" password=\"alice-secret\";'";
  WatchedRun run = RunWatched(
      "java-sasl-scram",
      Java("ExactlyOnceCheck.java", absl::StrCat("127.0.0.1:", kPortStart, " ",
                                                 UniqueTopic("sasl-scram"), " 2000 ", props)),
      seconds(180));
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(run.broker_port_connections.empty()) << run.output;
}

TEST_F(SaslAgentTest, AWrongPasswordIsRefusedByTheBrokerAndHarmsNoOne) {
  auto [rc, out] = Shell(Kcat("alice", "not-her-password") + " -L -m 10");
  EXPECT_NE(rc, 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "uthentication")) << out;
  EXPECT_EQ(HttpGet(kHttpPort, "/health/ready").first, 200);
  auto [ok_rc, ok_out] = Shell(Kcat("alice", "alice-secret") + " -L");
  EXPECT_EQ(ok_rc, 0) << ok_out;
}

// Old clients (SaslHandshake v0) send SASL tokens as bare frames without a
// Kafka header; the agent must forward them 1:1 and then parse requests again.
TEST_F(SaslAgentTest, LegacyHandshakeV0TokensPassThrough) {
  const std::string address = absl::StrCat("127.0.0.1:", kPortStart + 1);
  const std::string good("\0alice\0alice-secret", 19);
  const std::string bad("\0alice\0wrong", 13);
  for (const std::string* token : {&bad, &good}) {
    auto connection = kafka::test::Connection::Open(address);
    ASSERT_TRUE(connection.ok()) << connection.status();
    kafka::SaslHandshakeRequest handshake;
    handshake.mechanism = "PLAIN";
    auto frame = connection->Exchange(handshake, 0);
    ASSERT_TRUE(frame.ok()) << frame.status();
    kafka::Reader r(*frame);
    kafka::ResponseHeader header;
    kafka::SaslHandshakeResponse accepted;
    ASSERT_TRUE(header.Decode(r, 0).ok());
    ASSERT_TRUE(accepted.Decode(r, 0).ok());
    ASSERT_EQ(accepted.error_code, 0);

    auto answer = connection->ExchangeRaw(
        absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(token->data()), token->size()));
    if (token == &bad) {
      // The broker closes the connection; the agent closes the client's.
      EXPECT_FALSE(answer.ok());
      continue;
    }
    ASSERT_TRUE(answer.ok()) << answer.status();
    EXPECT_TRUE(answer->empty());  // PLAIN's empty server token

    kafka::MetadataRequest metadata;
    auto md_frame = connection->Exchange(metadata, 12);
    ASSERT_TRUE(md_frame.ok()) << md_frame.status();
    kafka::Reader md(*md_frame);
    kafka::MetadataResponse brokers;
    ASSERT_TRUE(header.Decode(md, kafka::ResponseHeaderVersion(3, 12)).ok());
    ASSERT_TRUE(brokers.Decode(md, 12).ok());
    ASSERT_EQ(brokers.brokers.size(), 3u);
    for (const auto& b : brokers.brokers) {
      EXPECT_EQ(b.host, "127.0.0.1");
      EXPECT_EQ(b.port, kPortStart + b.node_id);
    }
  }
  EXPECT_EQ(HttpGet(kHttpPort, "/health/ready").first, 200);
}

class AgentTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_FALSE(E().agent_bin.empty()) << "KGW_AGENT_BIN is not set";
    ASSERT_FALSE(E().kafka_bootstrap.empty())
        << "KGW_KAFKA_BOOTSTRAP is not set: start tests/kafka/kafka-cluster.sh and source its "
           "cluster.env";
    MakeWorkDir();
    agent_ = StartAgent(E().port_start, E().http_port, E().kafka_bootstrap, {}, "agent");
  }
  static void TearDownTestSuite() {
    delete agent_;
    agent_ = nullptr;
  }
  static Child* agent_;
};
Child* AgentTest::agent_ = nullptr;

TEST_F(AgentTest, MetadataListsEveryBrokerAtItsAgentPortOnly) {
  auto [rc, out] = Shell(absl::StrCat("kcat -b ", Bootstrap(), " -L"));
  ASSERT_EQ(rc, 0) << out;
  int brokers = 0;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&line, "broker ")) continue;
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    ASSERT_GE(parts.size(), 3u) << line;
    const int id = std::stoi(parts[0]);
    EXPECT_EQ(parts[2], absl::StrCat("127.0.0.1:", E().port_start + id)) << line;
    ++brokers;
  }
  EXPECT_EQ(brokers, 3) << out;
  for (int port : BrokerPorts()) {
    EXPECT_FALSE(absl::StrContains(out, absl::StrCat(":", port))) << out;
  }
}

TEST_F(AgentTest, KcatMovesHundredThousandRecordsIntact) {
  const std::string topic = UniqueTopic("kcat");
  const std::string input = E().work_dir + "/records.txt";
  const std::string to_broker = "kgw_agent_spliced_bytes_total{direction=\"client_to_broker\"}";
  const std::string to_client = "kgw_agent_spliced_bytes_total{direction=\"broker_to_client\"}";
  const double produced_before = MetricValue(E().http_port, to_broker);
  ASSERT_EQ(Shell(absl::StrCat("seq 1 100000 | sed 's/^/record-/' > ", input)).first, 0);
  WatchedRun produce = RunWatched(
      "kcat-produce",
      absl::StrCat("kcat -b ", Bootstrap(), " -P -t ", topic, " -X acks=all -l ", input),
      seconds(120));
  ASSERT_EQ(produce.exit_code, 0) << produce.output;
  EXPECT_TRUE(produce.broker_port_connections.empty());
  // The records of Produce requests of 64 KiB or more went to the broker by
  // splice (and are read back intact below).
  const double produced = MetricValue(E().http_port, to_broker) - produced_before;
  std::cout << "spliced " << produced << " bytes of Produce requests" << std::endl;
  EXPECT_GT(produced, 0);
  const std::string output = E().work_dir + "/consumed.txt";
  const double spliced_before = MetricValue(E().http_port, to_client);
  WatchedRun consume = RunWatched(
      "kcat-consume",
      absl::StrCat("kcat -b ", Bootstrap(), " -C -t ", topic, " -o beginning -e -q"),
      seconds(120));
  ASSERT_EQ(consume.exit_code, 0) << consume.output.substr(0, 2000);
  EXPECT_TRUE(consume.broker_port_connections.empty());
  std::vector<std::string> got = absl::StrSplit(consume.output, '\n', absl::SkipEmpty());
  std::sort(got.begin(), got.end());
  std::vector<std::string> want = absl::StrSplit(ReadFile(input), '\n', absl::SkipEmpty());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got.size(), 100000u);
  EXPECT_TRUE(got == want) << "consumed records differ from those produced";
  // The records in the Fetch answers went from socket to socket by splice,
  // and arrived intact above.
  const double spliced = MetricValue(E().http_port, to_client);
  std::cout << "spliced " << spliced - spliced_before << " bytes of Fetch answers" << std::endl;
  EXPECT_GT(spliced, spliced_before);
}

TEST_F(AgentTest, JavaIdempotentProducerAndConsumerGroupLoseAndDuplicateNothing) {
  WatchedRun run = RunWatched(
      "java-exactly-once",
      Java("ExactlyOnceCheck.java", absl::StrCat(Bootstrap(), " ", UniqueTopic("java"), " 20000")),
      seconds(180));
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(run.broker_port_connections.empty()) << run.output;
  EXPECT_TRUE(run.used_agent);
  // The admin client learned agent addresses only.
  const size_t nodes = run.output.find("nodes:");
  ASSERT_NE(nodes, std::string::npos) << run.output;
  const std::string line = run.output.substr(nodes, run.output.find('\n', nodes) - nodes);
  for (int id = 1; id <= 3; ++id) {
    EXPECT_TRUE(absl::StrContains(line, absl::StrCat("127.0.0.1:", E().port_start + id))) << line;
  }
  for (int port : BrokerPorts()) {
    EXPECT_FALSE(absl::StrContains(line, absl::StrCat(":", port))) << line;
  }
}

TEST_F(AgentTest, JavaTransactionsCommitAndAbort) {
  WatchedRun run = RunWatched(
      "java-transactions",
      Java("TransactionCheck.java", absl::StrCat(Bootstrap(), " ", UniqueTopic("txn"))),
      seconds(180));
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(run.broker_port_connections.empty()) << run.output;
}

TEST_F(AgentTest, FollowerFetchingReachesTheRackLocalReplica) {
  WatchedRun run = RunWatched(
      "java-rack-fetch",
      Java("RackFetchCheck.java", absl::StrCat(Bootstrap(), " ", UniqueTopic("rack"), " b")),
      seconds(180));
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(run.broker_port_connections.empty()) << run.output;
}

// A TCP relay that records what an agent sends to the brokers. It listens
// where the cluster's RELAY listeners say the brokers are (kafka-cluster.sh
// --relay: KGW_KAFKA_RELAY_BOOTSTRAP) and forwards to those listeners
// (KGW_KAFKA_RELAY_TARGETS), so an agent bootstrapped at it reaches every
// broker through it. Of each connection it keeps the requests' api keys and
// the software name of its ApiVersions requests.
class RecordingRelay {
 public:
  struct Request {
    int connection = 0;
    int16_t api_key = 0;
    std::string software_name;  // ApiVersions v3+ only
  };

  RecordingRelay(const std::string& addresses, const std::string& targets) {
    const std::vector<std::string> at = absl::StrSplit(addresses, ',');
    const std::vector<std::string> to = absl::StrSplit(targets, ',');
    EXPECT_EQ(at.size(), to.size());
    for (size_t i = 0; i < at.size() && i < to.size(); ++i) {
      const std::vector<std::string> hp = absl::StrSplit(at[i], ':');
      const std::vector<std::string> target = absl::StrSplit(to[i], ':');
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(std::stoi(hp[1])));
      inet_pton(AF_INET, hp[0].c_str(), &a.sin_addr);
      EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << at[i];
      EXPECT_EQ(listen(fd, 64), 0);
      fds_.push_back(fd);
      threads_.emplace_back([this, fd, port = std::stoi(target[1])] { Accept(fd, port); });
    }
  }
  ~RecordingRelay() {
    stop_ = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : fds_) shutdown(fd, SHUT_RDWR);
    }
    for (std::thread& t : threads_) t.join();
    for (int fd : fds_) close(fd);
  }

  std::vector<Request> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void Accept(int listener, int target_port) {
    while (!stop_) {
      pollfd p{.fd = listener, .events = POLLIN, .revents = 0};
      if (poll(&p, 1, 100) <= 0) continue;
      const int client = accept(listener, nullptr, nullptr);
      if (client < 0) continue;
      const int broker = ConnectLoopback(target_port);
      std::lock_guard<std::mutex> lock(mu_);
      if (broker < 0 || stop_) {
        close(client);
        if (broker >= 0) close(broker);
        continue;
      }
      const int id = connections_++;
      fds_.push_back(client);
      fds_.push_back(broker);
      threads_.emplace_back([this, client, broker, id] { Copy(client, broker, id); });
      threads_.emplace_back([this, client, broker] { Copy(broker, client, -1); });
    }
  }
  // Copies from `from` to `to` until either ends; parses what it copies
  // unless `id` is -1 (the brokers' answers).
  void Copy(int from, int to, int id) {
    std::vector<uint8_t> pending;
    char buf[65536];
    ssize_t n;
    while ((n = read(from, buf, sizeof(buf))) > 0) {
      if (write(to, buf, static_cast<size_t>(n)) != n) break;
      if (id < 0) continue;
      pending.insert(pending.end(), buf, buf + n);
      while (pending.size() >= 4) {
        const uint32_t size = (uint32_t{pending[0]} << 24) | (uint32_t{pending[1]} << 16) |
                              (uint32_t{pending[2]} << 8) | pending[3];
        if (pending.size() < 4 + size) break;
        Record(id, absl::MakeConstSpan(pending.data() + 4, size));
        pending.erase(pending.begin(), pending.begin() + 4 + size);
      }
    }
    shutdown(from, SHUT_RDWR);
    shutdown(to, SHUT_RDWR);
  }
  void Record(int id, absl::Span<const uint8_t> frame) {
    Request r{.connection = id};
    kafka::Reader reader(frame);
    kafka::RequestHeader header;
    int16_t header_version = 0;
    if (!kafka::DecodeRequestHeader(reader, &header, &header_version).ok()) return;
    r.api_key = header.request_api_key;
    if (r.api_key == kafka::ApiVersionsRequest::kApiKey && header.request_api_version >= 3) {
      kafka::ApiVersionsRequest body;
      if (body.Decode(reader, header.request_api_version).ok()) {
        r.software_name = body.client_software_name;
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(std::move(r));
  }

  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
  int connections_ = 0;
  std::vector<Request> requests_;
};

// The requests the relay saw on connections whose ApiVersions named `software`.
std::vector<std::vector<int16_t>> ConnectionsOf(const RecordingRelay& relay,
                                                const std::string& software) {
  std::map<int, std::vector<int16_t>> by_connection;
  std::set<int> named;
  for (const RecordingRelay::Request& r : relay.requests()) {
    by_connection[r.connection].push_back(r.api_key);
    if (r.software_name == software) named.insert(r.connection);
  }
  std::vector<std::vector<int16_t>> out;
  for (int id : named) out.push_back(by_connection[id]);
  return out;
}

// A connection's first ApiVersions is answered by the agent from the answer
// the same broker gave before; the broker is connected to only for the next
// request, and the ApiVersions request is replayed to it first.
TEST_F(AgentTest, ApiVersionsIsAnsweredWithoutTheBrokerAndReplayedBeforeTheNextRequest) {
  const std::string relayed = EnvOr("KGW_KAFKA_RELAY_BOOTSTRAP", "");
  ASSERT_FALSE(relayed.empty()) << "KGW_KAFKA_RELAY_BOOTSTRAP is not set: start the cluster "
                                  "with --relay";
  RecordingRelay relay(relayed, EnvOr("KGW_KAFKA_RELAY_TARGETS", ""));
  constexpr int kPorts = 28939;
  constexpr int kHttp = 28893;
  std::unique_ptr<Child> agent(StartAgent(kPorts, kHttp, relayed, {}, "api-versions-agent"));
  const std::string broker1 = absl::StrCat("127.0.0.1:", kPorts + 1);
  auto versions = [](const std::string& name) {
    kafka::ApiVersionsRequest request;
    request.client_software_name = name;
    request.client_software_version = "1.0.0";
    return request;
  };
  // ApiVersions v3 naming `name` on a fresh connection: the answer's error
  // code and body (what follows the correlation id); -1 when none came.
  auto ask = [&](const std::string& name) {
    std::pair<int16_t, std::vector<uint8_t>> out{-1, {}};
    auto c = kafka::test::Connection::Open(broker1);
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return out;
    auto frame = c->Exchange(versions(name), 3);
    EXPECT_TRUE(frame.ok()) << frame.status() << agent->Log();
    if (!frame.ok()) return out;
    kafka::Reader r(*frame);
    kafka::ResponseHeader header;
    kafka::ApiVersionsResponse body;
    EXPECT_TRUE(header.Decode(r, 0).ok());
    EXPECT_EQ(header.correlation_id, c->last_correlation_id());
    EXPECT_TRUE(body.Decode(r, 3).ok());
    out = {body.error_code, std::vector<uint8_t>(frame->begin() + 4, frame->end())};
    return out;
  };
  auto wait_for = [&relay](const std::string& name, size_t n) {
    for (int i = 0; i < 50 && ConnectionsOf(relay, name).size() < n; ++i) {
      std::this_thread::sleep_for(milliseconds(100));
    }
    return ConnectionsOf(relay, name);
  };

  // Nothing is known of broker 1 yet: the first connection's ApiVersions
  // goes to it, and its answer is kept.
  const auto [first_error, first_body] = ask("kgw-e2e-first");
  ASSERT_EQ(first_error, 0);
  ASSERT_EQ(wait_for("kgw-e2e-first", 1).size(), 1u);

  // Connections that only ask for versions get the same answer, and none
  // of them reaches a broker.
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(ask("kgw-e2e-only"), std::make_pair(int16_t{0}, first_body));
  }

  // A connection that goes on: the broker gets the ApiVersions request (with
  // the client's software name) and then the Metadata request, on one
  // connection, and the client the broker's Metadata answer alone.
  {
    auto c = kafka::test::Connection::Open(broker1);
    ASSERT_TRUE(c.ok()) << c.status();
    auto frame = c->Exchange(versions("kgw-e2e-replay"), 3);
    ASSERT_TRUE(frame.ok()) << frame.status();
    EXPECT_EQ(std::vector<uint8_t>(frame->begin() + 4, frame->end()), first_body);
    auto metadata = c->Exchange(kafka::MetadataRequest{}, 12);
    ASSERT_TRUE(metadata.ok()) << metadata.status() << agent->Log();
    kafka::Reader r(*metadata);
    kafka::ResponseHeader header;
    kafka::MetadataResponse body;
    ASSERT_TRUE(header.Decode(r, kafka::ResponseHeaderVersion(3, 12)).ok());
    EXPECT_EQ(header.correlation_id, c->last_correlation_id());
    ASSERT_TRUE(body.Decode(r, 12).ok());
    ASSERT_EQ(body.brokers.size(), 3u);
    for (const auto& b : body.brokers) EXPECT_EQ(b.port, kPorts + b.node_id);
  }
  const std::vector<std::vector<int16_t>> replayed = wait_for("kgw-e2e-replay", 1);
  ASSERT_EQ(replayed.size(), 1u);
  EXPECT_EQ(replayed[0], (std::vector<int16_t>{kafka::ApiVersionsRequest::kApiKey,
                                               kafka::MetadataRequest::kApiKey}));
  EXPECT_TRUE(ConnectionsOf(relay, "kgw-e2e-only").empty());

  // A request a broker refuses (a software name outside its pattern) is
  // the broker's to answer.
  EXPECT_EQ(ask("kgw e2e").first, 42);  // INVALID_REQUEST
  // The 20 connections and the one that went on.
  EXPECT_EQ(MetricValue(kHttp, "kgw_agent_api_versions_answered_total"), 21);
  agent->Signal(SIGTERM);
  EXPECT_EQ(agent->Wait(seconds(30)), std::optional<int>(0)) << agent->Log();
}

// acks=0 Produce gets no response: the agent must not wait for one, or the
// next response would not match the oldest request and the connection would close.
TEST_F(AgentTest, AcksZeroProducesWithoutResponses) {
  const std::string topic = UniqueTopic("acks0");
  auto [create_rc, create_out] = Shell(absl::StrCat("kcat -b ", Bootstrap(), " -L -t ", topic));
  ASSERT_EQ(create_rc, 0) << create_out;  // auto-creates the topic
  auto [rc, out] = Shell(absl::StrCat("seq 1 5000 | kcat -b ", Bootstrap(), " -P -t ", topic,
                                      " -X acks=0 -X linger.ms=5"));
  ASSERT_EQ(rc, 0) << out;
  auto [consume_rc, consumed] = Shell(
      absl::StrCat("kcat -b ", Bootstrap(), " -C -t ", topic, " -o beginning -e -q | wc -l"));
  EXPECT_EQ(absl::StripAsciiWhitespace(consumed), "5000") << consumed;

  // The same on one connection, spelled out: acks=0 Produce, then a request
  // whose answer must come back (and match) on that connection.
  auto connection = kafka::test::Connection::Open(absl::StrCat("127.0.0.1:", E().port_start + 1));
  ASSERT_TRUE(connection.ok()) << connection.status();
  kafka::ProduceRequest produce;
  produce.acks = 0;
  produce.timeout_ms = 1000;
  ASSERT_TRUE(connection->Send(produce, 9).ok());
  kafka::ApiVersionsRequest versions;
  auto frame = connection->Exchange(versions, 3);
  ASSERT_TRUE(frame.ok()) << frame.status() << "\n" << agent_->Log();
  kafka::Reader r(*frame);
  kafka::ResponseHeader header;
  ASSERT_TRUE(header.Decode(r, 0).ok());
  EXPECT_EQ(header.correlation_id, connection->last_correlation_id());
  EXPECT_FALSE(absl::StrContains(agent_->Log(), "correlation id")) << agent_->Log();
}

TEST_F(AgentTest, IdleConnectionsAreClosed) {
  constexpr int kIdlePorts = 28969;
  constexpr int kIdleHttp = 28888;
  Child* idle = StartAgent(kIdlePorts, kIdleHttp, E().kafka_bootstrap,
                           {{"GATEWAY_IDLE_TIMEOUT", "1s"}}, "idle-agent");
  int fd = ConnectLoopback(kIdlePorts);
  ASSERT_GE(fd, 0);
  const auto start = std::chrono::steady_clock::now();
  char buf[16];
  const ssize_t n = read(fd, buf, sizeof(buf));  // blocks until the agent closes (10 s cap)
  const auto waited = std::chrono::steady_clock::now() - start;
  close(fd);
  EXPECT_EQ(n, 0);
  EXPECT_GE(waited, milliseconds(900));
  EXPECT_LT(waited, seconds(5));
  idle->Signal(SIGTERM);
  EXPECT_EQ(idle->Wait(seconds(30)), std::optional<int>(0)) << idle->Log();
  delete idle;
}

// A client that sends many requests and reads no answers must not make the
// agent buffer without bound: once GATEWAY_BUFFER_HIGH_WATER_MARK bytes wait
// for the client and GATEWAY_MAX_INFLIGHT_REQUESTS are unanswered, the agent
// stops reading that client. When the client reads again, every answer
// arrives, in order.
TEST_F(AgentTest, SlowReadersGetBackpressureNotUnboundedBuffers) {
  constexpr int kPorts = 28979;
  constexpr int kHttp = 28889;
  constexpr int kRequests = 20000;
  Child* agent = StartAgent(kPorts, kHttp, E().kafka_bootstrap,
                            {{"GATEWAY_BUFFER_HIGH_WATER_MARK", "64KiB"},
                             {"GATEWAY_MAX_INFLIGHT_REQUESTS", "5"}},
                            "backpressure-agent");
  const int fd = ConnectLoopback(kPorts + 1, /*receive_buffer=*/4096);  // a small window
  ASSERT_GE(fd, 0);

  // Metadata for every topic: a few KiB per answer.
  kafka::Writer w;
  kafka::MetadataRequest all_topics;
  all_topics.topics.reset();
  for (int i = 1; i <= kRequests; ++i) {
    kafka::EncodeRequestFrame(w, all_topics, 12, i, "slow-reader");
  }
  ASSERT_EQ(write(fd, w.data().data(), w.data().size()), static_cast<ssize_t>(w.data().size()));
  std::this_thread::sleep_for(seconds(2));
  const double forwarded = MetricValue(kHttp, "kgw_agent_requests_total{api_key=\"3\"}");
  std::cout << "forwarded " << forwarded << " of " << kRequests
            << " requests to a client that reads nothing" << std::endl;
  EXPECT_GT(forwarded, 0);
  EXPECT_LT(forwarded, kRequests / 2) << "the agent kept reading a client that reads nothing";

  // Now read: all answers, in order.
  int expected = 1;
  std::vector<uint8_t> buffer;
  char chunk[65536];
  const auto give_up = std::chrono::steady_clock::now() + seconds(60);
  while (expected <= kRequests && std::chrono::steady_clock::now() < give_up) {
    const ssize_t n = read(fd, chunk, sizeof(chunk));
    ASSERT_GT(n, 0) << "the agent closed the connection at answer " << expected << "\n"
                    << agent->Log();
    buffer.insert(buffer.end(), chunk, chunk + n);
    size_t at = 0;
    while (buffer.size() - at >= 8) {
      const uint32_t size = (uint32_t{buffer[at]} << 24) | (uint32_t{buffer[at + 1]} << 16) |
                            (uint32_t{buffer[at + 2]} << 8) | buffer[at + 3];
      if (buffer.size() - at < 4 + size) break;
      const int32_t id = static_cast<int32_t>(
          (uint32_t{buffer[at + 4]} << 24) | (uint32_t{buffer[at + 5]} << 16) |
          (uint32_t{buffer[at + 6]} << 8) | buffer[at + 7]);
      ASSERT_EQ(id, expected);
      ++expected;
      at += 4 + size;
    }
    buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(at));
  }
  close(fd);
  EXPECT_EQ(expected, kRequests + 1);
  agent->Signal(SIGTERM);
  EXPECT_EQ(agent->Wait(seconds(30)), std::optional<int>(0)) << agent->Log();
  delete agent;
}

// A Java consumer that asks for 32 MiB at a time (Fetch v16+, whose answers
// may end with NodeEndpoints) gets its records streamed through: the agent
// never holds a whole answer, so its memory stays flat. Assembling them, as
// the agent once did, took over 100 MiB for one such consumer.
TEST_F(AgentTest, LargeFetchAnswersStreamThroughWithoutBeingAssembled) {
  constexpr int kPorts = 28989;
  constexpr int kHttp = 28890;
  constexpr int kRecords = 40000;  // of 1,000 bytes
  const std::string topic = UniqueTopic("big-fetch");
  ASSERT_NO_FATAL_FAILURE(ProduceDirectly(topic, kRecords));
  Child* agent = StartAgent(kPorts, kHttp, E().kafka_bootstrap,
                            {{"GATEWAY_MAX_FRAME_SIZE", "64MiB"}}, "big-fetch-agent");
  const int64_t rss_before = ProcStatus(agent->pid(), "VmRSS:");
  ASSERT_GT(rss_before, 0);
  const std::string config = E().work_dir + "/big-fetch-consumer.properties";
  ASSERT_EQ(Shell(absl::StrCat("echo fetch.max.bytes=33554432 > ", config)).first, 0);
  auto [rc, out] = Shell(absl::StrCat(
      "java -cp '", E().kafka_libs, "/*' org.apache.kafka.tools.ConsumerPerformance",
      " --bootstrap-server 127.0.0.1:", kPorts, " --topic ", topic, " --messages ", kRecords,
      " --fetch-size 33554432 --command-config ", config, " --timeout 60000 2>&1"));
  ASSERT_EQ(rc, 0) << out;
  // The last line: start, end, MB, MB/s, records, records/s, ...
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  std::vector<std::string> fields = absl::StrSplit(lines.back(), ", ");
  ASSERT_GE(fields.size(), 5u) << out;
  EXPECT_EQ(fields[4], absl::StrCat(kRecords)) << out;
  const int64_t peak = ProcStatus(agent->pid(), "VmHWM:");
  std::cout << "agent RSS " << rss_before << " KiB before, peak " << peak
            << " KiB while a consumer read " << kRecords << " KB in 32 MiB fetches" << std::endl;
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer keeps freed memory in quarantine: RSS says nothing here.
  std::cout << "RSS not checked under AddressSanitizer" << std::endl;
#else
  EXPECT_LT(peak - rss_before, 16 * 1024) << "the agent assembled the Fetch answers";
#endif
  EXPECT_GT(MetricValue(kHttp, "kgw_agent_requests_total{api_key=\"1\"}"), 0);
  // The answers are walked (Fetch v16+); their records, most of the 40 MB,
  // passed by splice (the consumer checks each batch's CRC).
  const double spliced =
      MetricValue(kHttp, "kgw_agent_spliced_bytes_total{direction=\"broker_to_client\"}");
  std::cout << "spliced " << spliced << " bytes" << std::endl;
  EXPECT_GT(spliced, kRecords * 1000.0 / 2);
  agent->Signal(SIGTERM);
  EXPECT_EQ(agent->Wait(seconds(30)), std::optional<int>(0)) << agent->Log();
  delete agent;
}

// A consumer that goes away while a large Fetch answer is spliced to it costs
// only its own connection. It shuts its side down (FIN) and closes with
// unread bytes (RST), so the agent's next splice into that socket fails
// with EPIPE, and splice(2) cannot be told not to raise SIGPIPE: before the
// agent ignored that signal, the whole agent died of it, silently, at the
// first such consumer.
TEST_F(AgentTest, AConsumerLeavingMidAnswerCostsOnlyItsConnection) {
  constexpr int kPorts = 28959;
  constexpr int kHttp = 28891;
  constexpr int kRecords = 16000;  // of 1,000 bytes
  const std::string topic = UniqueTopic("half-read");
  ASSERT_NO_FATAL_FAILURE(ProduceDirectly(topic, kRecords));
  // Owned here, so that a failed assertion does not leave the agent running.
  std::unique_ptr<Child> agent(
      StartAgent(kPorts, kHttp, E().kafka_bootstrap, {}, "half-read-agent"));

  // Every partition the topic may have, from the start, up to 16 MiB each:
  // whichever broker leads one answers with megabytes.
  kafka::FetchRequest fetch;
  fetch.max_wait_ms = 500;
  fetch.min_bytes = 1;
  fetch.max_bytes = 64 << 20;
  kafka::FetchRequest::FetchTopic wanted;
  wanted.topic = topic;
  for (int32_t p = 0; p < 6; ++p) {
    kafka::FetchRequest::FetchPartition partition;
    partition.partition = p;
    partition.partition_max_bytes = 16 << 20;
    wanted.partitions.push_back(partition);
  }
  fetch.topics.push_back(wanted);
  kafka::Writer w;
  kafka::EncodeRequestFrame(w, fetch, 11, 1, "half-reader");

  auto agent_state = [agent = agent.get()] {
    const std::optional<int> rc = agent->Wait(milliseconds(200));
    return rc ? absl::StrCat("the agent exited with status ", *rc, " (141: SIGPIPE)\n",
                             agent->Log())
              : std::string("the agent runs");
  };
  int left_mid_answer = 0;
  for (int round = 0; round < 3; ++round) {
    for (int broker = 1; broker <= 3; ++broker) {
      // A small window, so that the agent soon waits for room to write.
      const int fd = ConnectLoopback(kPorts + broker, /*receive_buffer=*/4096);
      ASSERT_GE(fd, 0) << "the agent no longer accepts connections; " << agent_state();
      ASSERT_EQ(write(fd, w.data().data(), w.data().size()),
                static_cast<ssize_t>(w.data().size()));
      uint8_t head[4];
      ASSERT_EQ(read(fd, head, sizeof(head)), 4)
          << "no answer from broker " << broker << ": " << std::strerror(errno) << "; "
          << agent_state();
      const uint32_t size = (uint32_t{head[0]} << 24) | (uint32_t{head[1]} << 16) |
                            (uint32_t{head[2]} << 8) | head[3];
      if (size > (1u << 20)) {
        char chunk[16384];
        for (size_t got = 0; got < 65536;) {
          const ssize_t n = read(fd, chunk, sizeof(chunk));
          ASSERT_GT(n, 0) << agent_state();
          got += static_cast<size_t>(n);
        }
        std::this_thread::sleep_for(milliseconds(100));
        ++left_mid_answer;
      }
      shutdown(fd, SHUT_WR);
      close(fd);
    }
  }
  ASSERT_GT(left_mid_answer, 0) << "no broker answered with more than 1 MiB";
  std::this_thread::sleep_for(milliseconds(500));
  ASSERT_TRUE(agent->running()) << agent_state();
  const double spliced =
      MetricValue(kHttp, "kgw_agent_spliced_bytes_total{direction=\"broker_to_client\"}");
  std::cout << left_mid_answer << " consumers left in the middle of an answer; spliced "
            << spliced << " bytes" << std::endl;
  EXPECT_GT(spliced, 0) << "the answers did not go by splice, the case this test is for";
  // Everyone else is still served.
  auto [rc, out] = Shell(absl::StrCat("kcat -b 127.0.0.1:", kPorts, " -L"));
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(HttpGet(kHttp, "/health/ready").first, 200);
  agent->Signal(SIGTERM);
  EXPECT_EQ(agent->Wait(seconds(30)), std::optional<int>(0)) << agent->Log();
}

// A share group reads every record through the agent, in ShareFetch answers
// of up to 32 MiB, which are streamed through like Fetch answers (their
// NodeEndpoints come last).
TEST_F(AgentTest, JavaShareConsumerReadsEveryRecord) {
  WatchedRun run = RunWatched(
      "java-share",
      Java("ShareConsumeCheck.java",
           absl::StrCat(Bootstrap(), " ", UniqueTopic("share"), " 40000")),
      seconds(180));
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(absl::StrContains(run.output, "PASS")) << run.output;
  EXPECT_TRUE(run.broker_port_connections.empty()) << run.output;
  EXPECT_TRUE(run.used_agent);
}

// Sends `bytes` on a fresh connection and waits until the agent closes it.
bool ClosedByAgentAfter(const std::string& bytes, bool half_close = false) {
  int fd = ConnectLoopback(E().port_start + 1);
  if (fd < 0) return false;
  if (write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) return false;
  if (half_close) shutdown(fd, SHUT_WR);
  char buf[64];
  const ssize_t n = read(fd, buf, sizeof(buf));  // 0: closed; -1 after 10 s: still open
  close(fd);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

TEST_F(AgentTest, BadInputClosesOnlyItsOwnConnection) {
  const std::string topic = UniqueTopic("bad-input");
  // A producer that keeps sending for a few seconds while bad clients come and go.
  Child producer(
      {"/bin/sh", "-c",
       absl::StrCat("for i in $(seq 1 40); do seq 1 100 | sed \"s/^/$i-/\"; sleep 0.1; done | "
                    "exec kcat -b ",
                    Bootstrap(), " -P -t ", topic, " -X acks=all")},
      {}, E().work_dir + "/bad-input-producer.log");
  std::this_thread::sleep_for(milliseconds(500));
  const std::string garbage = std::string("\x00\x00\x00\x03\x01\x02\x03", 7);  // 3-byte request
  const std::string oversized = std::string("\x10\x00\x00\x00", 4) + std::string(64, 'x');
  const std::string negative = std::string("\xff\xff\xff\xf0", 4);
  const std::string half = std::string("\x00\x00\x01\x00", 4) + std::string(10, 'y');
  // The start of a 200,000-byte Produce v7 request (header, no transactional
  // id, acks=-1), then 100 KiB of its body: large enough to be cut through,
  // so the agent forwards it as it comes and must notice it ending early.
  std::string cut = std::string("\x00\x03\x0d\x40", 4) +           // size 200,000
                    std::string("\x00\x00\x00\x07\x00\x00\x00\x05", 8) +  // Produce v7, id 5
                    std::string("\x00\x03" "cut", 5) +                  // client id
                    std::string("\xff\xff\xff\xff", 4);                // no transactional id, acks=-1
  cut += std::string(100 * 1024, 'z');
  EXPECT_TRUE(ClosedByAgentAfter(garbage));
  EXPECT_TRUE(ClosedByAgentAfter(oversized));
  EXPECT_TRUE(ClosedByAgentAfter(negative));
  EXPECT_TRUE(ClosedByAgentAfter(half, /*half_close=*/true));
  EXPECT_TRUE(ClosedByAgentAfter(cut, /*half_close=*/true));
  ASSERT_EQ(producer.Wait(seconds(60)), std::optional<int>(0)) << producer.Log();
  auto [rc, out] =
      Shell(absl::StrCat("kcat -b ", Bootstrap(), " -C -t ", topic, " -o beginning -e -q | wc -l"));
  EXPECT_EQ(absl::StripAsciiWhitespace(out), "4000") << out;

  // One line per bad connection, naming the client, the port and the reason.
  const std::string log = agent_->Log();
  const std::string port = absl::StrCat("on port ", E().port_start + 1);
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, "closing client 127.0.0.1:") && absl::StrContains(line, port) &&
        absl::StrContains(line, "bad ")) {
      ++lines;
    }
  }
  EXPECT_EQ(lines, 5) << log;
  EXPECT_TRUE(absl::StrContains(log, "frame size 268435456 outside [0, 16777216]")) << log;
  EXPECT_TRUE(absl::StrContains(log, "incomplete frame")) << log;
  EXPECT_TRUE(absl::StrContains(
      log, "closed the connection with 97583 bytes of a request still to come"))
      << log;
  EXPECT_TRUE(absl::StrContains(log, "(api key 258)")) << log;
}

TEST_F(AgentTest, MetricsCountTraffic) {
  auto [status, body] = HttpGet(E().http_port, "/metrics");
  ASSERT_EQ(status, 200);
  for (const char* series :
       {"kgw_agent_requests_total{api_key=\"0\"}", "kgw_agent_rewrites_total{api_key=\"3\"}",
        "kgw_agent_bytes_total{broker=\"1\",direction=\"client_to_broker\"}",
        "kgw_agent_closed_for_bad_input_total{reason=\"frame\"}",
        "kgw_agent_response_latency_seconds_bucket{api_key=\"0\""}) {
    EXPECT_TRUE(absl::StrContains(body, series)) << series << "\n" << body;
  }
  EXPECT_EQ(HttpGet(E().http_port, "/health/live").first, 200);
}

// Stops broker 2 in the middle of a run and starts it again: clients keep
// going through the agent and every acknowledged record is read back.
TEST_F(AgentTest, ClientsRideOutABrokerRestart) {
  ASSERT_FALSE(E().kafka_dir.empty()) << "KGW_KAFKA_DIR is not set (it is in cluster.env)";
  const std::string cluster = absl::StrCat(E().source_dir, "/tests/kafka/kafka-cluster.sh");
  const std::string topic = UniqueTopic("restart");
  Child client({"/bin/sh", "-c",
                "exec " + Java("ExactlyOnceCheck.java",
                               absl::StrCat(Bootstrap(), " ", topic, " 300000"))},
               {}, E().work_dir + "/restart-client.log");
  // The client creates its topic with replication factor 3 first, which
  // needs all three brokers: stop one only once the topic exists (a busy
  // machine can take many seconds to start the JVM), and records flow.
  const auto deadline = std::chrono::steady_clock::now() + seconds(120);
  bool created = false;
  while (!created && std::chrono::steady_clock::now() < deadline) {
    auto [rc, out] = Shell(absl::StrCat("kcat -b ", Bootstrap(), " -L"));
    created = rc == 0 && absl::StrContains(out, absl::StrCat("topic \"", topic, "\""));
    if (!created) std::this_thread::sleep_for(milliseconds(500));
  }
  ASSERT_TRUE(created) << "the client never created " << topic << "\n" << client.Log();
  std::this_thread::sleep_for(seconds(3));
  auto [stop_rc, stop_out] =
      Shell(absl::StrCat(cluster, " stop-node 2 --dir ", E().kafka_dir));
  EXPECT_EQ(stop_rc, 0) << stop_out;
  std::this_thread::sleep_for(seconds(3));
  auto [start_rc, start_out] =
      Shell(absl::StrCat(cluster, " start-node 2 --dir ", E().kafka_dir));
  EXPECT_EQ(start_rc, 0) << start_out;
  std::optional<int> rc = client.Wait(seconds(240));
  EXPECT_EQ(rc, std::optional<int>(0)) << client.Log();
}

TEST_F(AgentTest, SigtermDrainsAndExitsCleanly) {
  agent_->Signal(SIGTERM);
  std::optional<int> rc = agent_->Wait(seconds(30));
  EXPECT_EQ(rc, std::optional<int>(0)) << agent_->Log();
  const std::string log = agent_->Log();
  EXPECT_TRUE(absl::StrContains(log, "draining connections broker by broker")) << log;
  EXPECT_NE(HttpGet(E().http_port, "/health/ready").first, 200);
}

}  // namespace
}  // namespace kgw::test
