// kgw-agent against hostile clients, in front of the real test cluster: each
// attack is run while a real client works through the same agent, and each
// test shows the bound that holds (memory, time, size before
// authentication, the shared request budget).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/kafka/header.h"
#include "common/kafka/messages/api_versions.h"
#include "common/kafka/wire/writer.h"
#include "gtest/gtest.h"
#include "tests/e2e/kafka_test_connection.h"
#include "tests/e2e/process_util.h"

namespace kgw::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

// Ports of this suite alone (below 32768: see docs/development.md).
constexpr int kAgentPorts = 32100;  // plain listener; brokers 1-3 at 32101-32103
constexpr int kAgentHttp = 32190;
constexpr int kSaslPorts = 32110;
constexpr int kSaslHttp = 32191;
constexpr int kBudgetPorts = 32120;
constexpr int kBudgetHttp = 32192;
constexpr int kLimitPorts = 32130;
constexpr int kLimitHttp = 32193;
constexpr int kDownPorts = 32140;
constexpr int kDownHttp = 32194;

struct Env {
  std::string agent_bin = EnvOr("KGW_AGENT_BIN", "");
  std::string kafka_bootstrap = EnvOr("KGW_KAFKA_BOOTSTRAP", "");
  std::string sasl_bootstrap = EnvOr("KGW_KAFKA_SASL_BOOTSTRAP", "");
  std::string kafka_dir = EnvOr("KGW_KAFKA_DIR", "");
  std::string source_dir = EnvOr("KGW_SOURCE_DIR", ".");
  std::string work_dir;
};

Env& E() {
  static Env* env = new Env;
  return *env;
}

std::unique_ptr<Child> StartAgent(int port_start, int http_port, const std::string& bootstrap,
                                  std::map<std::string, std::string> extra,
                                  const std::string& name) {
  if (E().work_dir.empty()) {
    char dir[] = "/tmp/kgw-hostile-e2e-XXXXXX";
    EXPECT_NE(mkdtemp(dir), nullptr);
    E().work_dir = dir;
  }
  std::map<std::string, std::string> env = {
      {"KAFKA_BOOTSTRAP_SERVERS", bootstrap},
      {"GATEWAY_BIND_HOST", "127.0.0.1"},
      {"GATEWAY_ADVERTISED_HOST", "127.0.0.1"},
      {"GATEWAY_PORT_START", std::to_string(port_start)},
      {"GATEWAY_HTTP_PORT", std::to_string(http_port)},
      {"GATEWAY_WORKER_THREADS", "2"}};
  for (auto& [k, v] : extra) env[k] = v;
  auto agent = std::make_unique<Child>(std::vector<std::string>{E().agent_bin}, env,
                                       absl::StrCat(E().work_dir, "/", name, ".log"));
  EXPECT_TRUE(WaitReady(*agent, "127.0.0.1", http_port, seconds(30))) << agent->Log();
  return agent;
}

void Stop(std::unique_ptr<Child>& agent) {
  agent->Signal(SIGTERM);
  EXPECT_EQ(agent->Wait(seconds(30)), std::optional<int>(0)) << agent->Log();
}

// Resident memory of a process, in MiB.
double RssMib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view v = line;
    if (absl::ConsumePrefix(&v, "VmRSS:")) {
      double kib = 0;
      absl::SimpleAtod(absl::StripSuffix(absl::StripAsciiWhitespace(v), " kB"), &kib);
      return kib / 1024;
    }
  }
  return 0;
}

int CountLines(const std::string& log, absl::string_view needle) {
  int n = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n')) n += absl::StrContains(line, needle);
  return n;
}

// Waits until the agent closes `fd` (read returns 0 or a reset); false when
// it is still open at `deadline`.
bool ClosedBy(int fd, Clock::time_point deadline) {
  char buf[256];
  while (true) {
    const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

// The TCP connections `pid` holds to the brokers of `bootstrap`
// ("host:port,..."), from /proc: its socket inodes, matched against the
// kernel's tables by remote port.
int BrokerConnections(pid_t pid, const std::string& bootstrap) {
  std::set<int> ports;
  for (absl::string_view broker : absl::StrSplit(bootstrap, ',')) {
    int port = 0;
    if (absl::SimpleAtoi(broker.substr(broker.rfind(':') + 1), &port)) ports.insert(port);
  }
  std::set<std::string> inodes;
  const std::string fds = absl::StrCat("/proc/", pid, "/fd");
  std::error_code ec;  // descriptors come and go while this reads
  for (std::filesystem::directory_iterator it(fds, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code unreadable;
    const std::string target = std::filesystem::read_symlink(it->path(), unreadable).string();
    absl::string_view inode = target;
    if (!unreadable && absl::ConsumePrefix(&inode, "socket:[") &&
        absl::ConsumeSuffix(&inode, "]")) {
      inodes.insert(std::string(inode));
    }
  }
  int n = 0;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the column names
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (f.size() < 10 || f[3] != "01" || !inodes.contains(f[9])) continue;  // 01: established
      int port = 0;
      if (absl::SimpleHexAtoi(absl::string_view(f[2]).substr(f[2].rfind(':') + 1), &port) &&
          ports.contains(port)) {
        ++n;
      }
    }
  }
  return n;
}

std::string Kcat(int port, const std::string& extra = "") {
  return absl::StrCat("kcat -b 127.0.0.1:", port, " ", extra);
}

std::string UniqueTopic(const std::string& base) {
  return absl::StrCat(base, "-", getpid(), "-", Clock::now().time_since_epoch().count() % 1000000);
}

class HostileClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_FALSE(E().agent_bin.empty()) << "KGW_AGENT_BIN is not set";
    ASSERT_FALSE(E().kafka_bootstrap.empty()) << "KGW_KAFKA_BOOTSTRAP is not set";
  }
};

// Six bytes announcing a 100 MiB request used to make the agent
// allocate (and zero) the whole 100 MiB at once. Now buffers follow the bytes
// that arrive, and the unfinished frame is closed after GATEWAY_FRAME_TIMEOUT.
TEST_F(HostileClientTest, AnnouncedHugeFramesCostNoMemoryAndTimeOut) {
  auto agent = StartAgent(kAgentPorts, kAgentHttp, E().kafka_bootstrap,
                          {{"GATEWAY_MAX_FRAME_SIZE", "100MiB"},
                           {"GATEWAY_FRAME_TIMEOUT", "3s"}},
                          "amplification");
  constexpr int kAttackers = 20;
  const double before = RssMib(agent->pid());
  const int brokers_before = BrokerConnections(agent->pid(), E().kafka_bootstrap);
  // 104,857,600 bytes of ApiVersions (api key 18).
  const uint8_t header[6] = {0x06, 0x40, 0x00, 0x00, 0x00, 0x12};
  std::vector<int> fds;
  for (int i = 0; i < kAttackers; ++i) {
    const int fd = ConnectLoopback(kAgentPorts + 1 + i % 3);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, header, sizeof(header)), 6);
    fds.push_back(fd);
  }
  const Clock::time_point sent = Clock::now();
  std::this_thread::sleep_for(seconds(1));
  const double during = RssMib(agent->pid());
  std::cout << "agent RSS " << before << " MiB before, " << during << " MiB with " << kAttackers
            << " connections that announced 100 MiB each" << std::endl;
  EXPECT_LT(during - before, 64) << "the agent allocated what the frames announced";
  // Nor did they reach a broker: only a whole first request opens a broker
  // connection. (The agent's own metadata connections may come and go.)
  const int brokers_during = BrokerConnections(agent->pid(), E().kafka_bootstrap);
  std::cout << "agent's broker connections: " << brokers_before << " before, "
            << brokers_during << " with the attackers" << std::endl;
  EXPECT_LT(brokers_during - brokers_before, 4);

  // A real client is served meanwhile.
  auto [rc, listing] = Shell(Kcat(kAgentPorts, "-L -m 10"));
  EXPECT_EQ(rc, 0) << listing;

  for (int fd : fds) {
    EXPECT_TRUE(ClosedBy(fd, sent + seconds(10))) << "an unfinished frame was never timed out";
    close(fd);
  }
  EXPECT_GE(Clock::now() - sent, milliseconds(2500)) << "closed before GATEWAY_FRAME_TIMEOUT";
  EXPECT_GE(MetricValue(kAgentHttp, "kgw_agent_closed_for_bad_input_total{reason=\"slow\"}"),
            kAttackers);
  // Bad input is logged in full only for the first few of a kind.
  const int logged = CountLines(agent->Log(), "GATEWAY_FRAME_TIMEOUT");
  EXPECT_GE(logged, 1);
  EXPECT_LE(logged, 10) << agent->Log();
  Stop(agent);
}

// Slowloris: every connection sends a valid request one byte at a time,
// too slowly to finish within GATEWAY_FRAME_TIMEOUT; a connection that sends
// nothing at all is closed after GATEWAY_FIRST_REQUEST_TIMEOUT. Real clients
// carry on throughout.
TEST_F(HostileClientTest, SlowAndSilentConnectionsAreClosedInTime) {
  auto agent = StartAgent(kAgentPorts, kAgentHttp, E().kafka_bootstrap,
                          {{"GATEWAY_FRAME_TIMEOUT", "2s"},
                           {"GATEWAY_FIRST_REQUEST_TIMEOUT", "4s"}},
                          "slowloris");
  kafka::Writer w;
  kafka::EncodeRequestFrame(w, kafka::ApiVersionsRequest{}, 3, 1, "slow-client-with-a-long-id");
  const std::vector<uint8_t> request = w.Release();
  constexpr int kSlow = 40;
  const int brokers_before = BrokerConnections(agent->pid(), E().kafka_bootstrap);
  std::vector<int> slow;
  for (int i = 0; i < kSlow; ++i) {
    const int fd = ConnectLoopback(kAgentPorts + 1 + i % 3);
    ASSERT_GE(fd, 0);
    slow.push_back(fd);
  }
  const int silent = ConnectLoopback(kAgentPorts + 1);
  ASSERT_GE(silent, 0);
  // The agent shows them as connections awaiting their first request.
  const char* kAwaiting = "kgw_agent_connections_awaiting_request";
  EXPECT_TRUE(::kgw::testing::WaitFor(
      [&] { return MetricValue(kAgentHttp, kAwaiting) == kSlow + 1; }, seconds(2)))
      << MetricValue(kAgentHttp, kAwaiting);
  int brokers_most = brokers_before;
  const Clock::time_point start = Clock::now();
  // One byte per connection every 300 ms: the request needs ~10 s.
  std::vector<bool> open(kSlow, true);
  int closed = 0;
  size_t at = 0;
  while (closed < kSlow && at < request.size() && Clock::now() < start + seconds(15)) {
    for (int i = 0; i < kSlow; ++i) {
      if (!open[i]) continue;
      if (send(slow[i], &request[at], 1, MSG_NOSIGNAL) != 1 || ClosedBy(slow[i], Clock::now())) {
        open[i] = false;
        ++closed;
      }
    }
    ++at;
    brokers_most = std::max(brokers_most, BrokerConnections(agent->pid(), E().kafka_bootstrap));
    std::this_thread::sleep_for(milliseconds(300));
  }
  const auto slow_closed_after = Clock::now() - start;
  // Neither the slow nor the silent connections reached a broker.
  std::cout << "agent's broker connections: " << brokers_before << " before, at most "
            << brokers_most << " during the attack" << std::endl;
  EXPECT_LT(brokers_most - brokers_before, 4);
  EXPECT_EQ(closed, kSlow) << "slow connections survived " << at << " bytes";
  EXPECT_LT(slow_closed_after, seconds(8));
  auto [rc, listing] = Shell(Kcat(kAgentPorts, "-L -m 10"));
  EXPECT_EQ(rc, 0) << listing;
  EXPECT_TRUE(ClosedBy(silent, start + seconds(8))) << "a silent connection stayed open";
  EXPECT_GE(Clock::now() - start, milliseconds(3500));
  for (int fd : slow) close(fd);
  close(silent);
  EXPECT_TRUE(::kgw::testing::WaitFor([&] { return MetricValue(kAgentHttp, kAwaiting) == 0; },
                                      seconds(5)))
      << MetricValue(kAgentHttp, kAwaiting);
  EXPECT_GE(MetricValue(kAgentHttp, "kgw_agent_closed_for_bad_input_total{reason=\"slow\"}"),
            kSlow);
  EXPECT_EQ(MetricValue(kAgentHttp, "kgw_agent_closed_for_bad_input_total{reason=\"silent\"}"),
            1);
  Stop(agent);
}

// On a SASL listener, a frame larger than GATEWAY_SASL_MAX_RECEIVE_SIZE
// before authentication closes the connection at once; after it, clients
// send frames of any allowed size.
TEST_F(HostileClientTest, SaslListenerKeepsUnauthenticatedFramesSmall) {
  ASSERT_FALSE(E().sasl_bootstrap.empty())
      << "KGW_KAFKA_SASL_BOOTSTRAP is not set: start the cluster with --security";
  auto agent = StartAgent(kSaslPorts, kSaslHttp, E().sasl_bootstrap,
                          {{"GATEWAY_SECURITY_PROTOCOL", "SASL_PLAINTEXT"},
                           {"GATEWAY_MAX_FRAME_SIZE", "16MiB"},
                           {"KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"},
                           {"KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"},
                           {"KAFKA_SASL_USERNAME", "admin"},
                           {"KAFKA_SASL_PASSWORD", "admin-secret"}},
                          "sasl-size");
  // 600 KiB announced for a SaslAuthenticate: above the 512 KiB default.
  const uint8_t header[6] = {0x00, 0x09, 0x60, 0x00, 0x00, 0x24};
  const int fd = ConnectLoopback(kSaslPorts + 1);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, header, sizeof(header)), 6);
  EXPECT_TRUE(ClosedBy(fd, Clock::now() + seconds(3)))
      << "an oversized unauthenticated frame was awaited";
  close(fd);
  EXPECT_TRUE(absl::StrContains(agent->Log(), "before authentication")) << agent->Log();

  // Authenticated, a client sends records of 700 KB (frames above 512 KiB).
  const std::string kcat = Kcat(kSaslPorts,
                                "-X security.protocol=SASL_PLAINTEXT -X sasl.mechanism=PLAIN "
                                "-X sasl.username=alice -X sasl.password=alice-secret");
  const std::string topic = UniqueTopic("sasl-large");
  auto [produce_rc, produce] = Shell(absl::StrCat(
      "for i in 1 2 3 4 5; do head -c 700000 /dev/zero | tr '\\0' x; echo; done | ", kcat,
      " -P -t ", topic, " -X acks=all -X message.max.bytes=1000000"));
  ASSERT_EQ(produce_rc, 0) << produce;
  auto [consume_rc, sizes] = Shell(
      absl::StrCat(kcat, " -C -t ", topic, " -o beginning -e -q -f '%S\\n' | sort | uniq -c"));
  ASSERT_EQ(consume_rc, 0) << sizes;
  EXPECT_EQ(absl::StripAsciiWhitespace(sizes), "5 700000");
  Stop(agent);
}

// Many producers of large records through an agent whose request budget is
// far below what they send at once: the agent holds them back (reads pause,
// counted as waits) and every record arrives, none twice. The records of a
// large Produce are spliced past the agent's buffers (GATEWAY_ZERO_COPY), so
// the budget binds where they are copied: TLS, or zero copy off, as here.
TEST_F(HostileClientTest, RequestBudgetHoldsProducersBackWithoutLoss) {
  auto agent = StartAgent(kBudgetPorts, kBudgetHttp, E().kafka_bootstrap,
                          {{"GATEWAY_MAX_BUFFERED_REQUEST_BYTES", "1MiB"},
                           {"GATEWAY_MAX_FRAME_SIZE", "1MiB"},
                           {"GATEWAY_ZERO_COPY", "false"}},
                          "budget");
  constexpr int kProducers = 6;
  constexpr int kRecords = 60;
  const std::string topic = UniqueTopic("budget");
  std::vector<std::unique_ptr<Child>> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.push_back(std::make_unique<Child>(
        std::vector<std::string>{
            "/bin/sh", "-c",
            absl::StrCat("for i in $(seq 1 ", kRecords, "); do printf '", p,
                         "-%04d-' $i; head -c 99993 /dev/zero | tr '\\0' x; echo; done | exec ",
                         Kcat(kBudgetPorts), " -P -t ", topic,
                         " -X acks=all -X linger.ms=20 -X batch.size=900000")},
        std::map<std::string, std::string>{},
        absl::StrCat(E().work_dir, "/producer-", p, ".log")));
  }
  double peak = 0;
  bool done = false;
  const Clock::time_point give_up = Clock::now() + seconds(120);
  while (!done && Clock::now() < give_up) {
    peak = std::max(peak, MetricValue(kBudgetHttp, "kgw_agent_request_buffer_bytes"));
    done = std::none_of(producers.begin(), producers.end(), [](auto& c) { return c->running(); });
    std::this_thread::sleep_for(milliseconds(50));
  }
  for (auto& p : producers) EXPECT_EQ(p->Wait(seconds(1)), std::optional<int>(0)) << p->Log();
  const double waits = MetricValue(kBudgetHttp, "kgw_agent_request_buffer_waits_total");
  std::cout << "request buffers peaked at " << peak / 1024 << " KiB (budget 1024 KiB); reads "
            << "held back " << waits << " times" << std::endl;
  EXPECT_GT(waits, 0) << "the budget never held a client back";
  auto [rc, records] = Shell(absl::StrCat(
      "kcat -b ", E().kafka_bootstrap, " -C -t ", topic,
      " -o beginning -e -q -f '%S %s\\n' | cut -c1-14 | sort | uniq -c | awk '{print $1, $2}' | "
      "sort | uniq -c"));
  ASSERT_EQ(rc, 0) << records;
  // Every record ("<producer>-<number>-") exactly once, at its full size:
  // one line "N 1 100000", N records seen once each, all 100,000 bytes.
  EXPECT_EQ(absl::StripAsciiWhitespace(records), "360 1 100000") << records;
  EXPECT_FALSE(absl::StrContains(agent->Log(), "closing client")) << agent->Log();
  Stop(agent);
}

// A TCP connection from loopback address `source` to the agent's `port`.
int ConnectFrom(const char* source, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, source, &local.sin_addr);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof(remote)) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

// Whether the agent answers an ApiVersions request on `fd`.
bool Served(int fd) {
  kafka::Writer w;
  kafka::EncodeRequestFrame(w, kafka::ApiVersionsRequest{}, 3, 1, "limits");
  if (send(fd, w.data().data(), w.data().size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(w.data().size())) {
    return false;
  }
  char buf[64];
  return recv(fd, buf, sizeof(buf), 0) > 0;
}

// The connection limits: one address may hold only
// GATEWAY_MAX_CONNECTIONS_PER_ADDRESS connections and the agent only
// GATEWAY_MAX_CONNECTIONS; connections beyond are closed at once, counted,
// and the places come back when connections end.
TEST_F(HostileClientTest, ConnectionLimitsPerAddressAndInTotal) {
  auto agent = StartAgent(kLimitPorts, kLimitHttp, E().kafka_bootstrap,
                          {{"GATEWAY_MAX_CONNECTIONS_PER_ADDRESS", "4"},
                           {"GATEWAY_MAX_CONNECTIONS", "6"},
                           {"GATEWAY_FIRST_REQUEST_TIMEOUT", "60s"}},
                          "limits");
  std::vector<int> first;
  for (int i = 0; i < 4; ++i) {
    first.push_back(ConnectFrom("127.0.0.1", kLimitPorts + 1));
    ASSERT_GE(first.back(), 0);
    EXPECT_TRUE(Served(first.back())) << "connection " << i << " from 127.0.0.1";
  }
  const int fifth = ConnectFrom("127.0.0.1", kLimitPorts + 1);
  ASSERT_GE(fifth, 0);
  EXPECT_TRUE(ClosedBy(fifth, Clock::now() + seconds(3))) << "a fifth from one address stayed";
  close(fifth);
  // Another address has places of its own, up to the total of six.
  std::vector<int> second;
  for (int i = 0; i < 2; ++i) {
    second.push_back(ConnectFrom("127.0.0.2", kLimitPorts + 2));
    ASSERT_GE(second.back(), 0);
    EXPECT_TRUE(Served(second.back())) << "connection " << i << " from 127.0.0.2";
  }
  const int seventh = ConnectFrom("127.0.0.3", kLimitPorts + 3);
  ASSERT_GE(seventh, 0);
  EXPECT_TRUE(ClosedBy(seventh, Clock::now() + seconds(3))) << "a seventh connection stayed";
  close(seventh);
  EXPECT_GE(MetricValue(kLimitHttp, "kgw_agent_connections_refused_total{reason=\"per_address\"}"),
            1);
  EXPECT_GE(
      MetricValue(kLimitHttp, "kgw_agent_connections_refused_total{reason=\"max_connections\"}"),
      1);
  // Places come back: once 127.0.0.1 closes two, it is served again.
  close(first[0]);
  close(first[1]);
  first.erase(first.begin(), first.begin() + 2);
  EXPECT_TRUE(::kgw::testing::WaitFor(
      [] {
        const int fd = ConnectFrom("127.0.0.1", kLimitPorts + 1);
        const bool served = fd >= 0 && Served(fd);
        if (fd >= 0) close(fd);
        return served;
      },
      seconds(5)));
  for (int fd : first) close(fd);
  for (int fd : second) close(fd);
  auto [rc, listing] = Shell(Kcat(kLimitPorts, "-L -m 10"));
  EXPECT_EQ(rc, 0) << listing;
  Stop(agent);
}

// A broker stops. Every new connection to the bootstrap port is served on
// its first try (a broker that cannot be reached is marked down and another
// one taken), and the stopped broker's own port refuses at once.
TEST_F(HostileClientTest, BootstrapConnectionsAvoidAStoppedBroker) {
  ASSERT_FALSE(E().kafka_dir.empty()) << "KGW_KAFKA_DIR is not set (it is in cluster.env)";
  const std::string cluster = absl::StrCat(E().source_dir, "/tests/kafka/kafka-cluster.sh");
  auto agent = StartAgent(kDownPorts, kDownHttp, E().kafka_bootstrap,
                          {{"GATEWAY_METADATA_REFRESH_INTERVAL", "1h"}}, "broker-down");
  auto [stop_rc, stop_out] = Shell(absl::StrCat(cluster, " stop-node 3 --dir ", E().kafka_dir));
  // Whatever happens below, the suites that follow need the cluster whole.
  absl::Cleanup restart = [&cluster] {
    auto [start_rc, start_out] =
        Shell(absl::StrCat(cluster, " start-node 3 --dir ", E().kafka_dir));
    EXPECT_EQ(start_rc, 0) << start_out;
    EXPECT_TRUE(::kgw::testing::WaitFor(
        [] {
          auto [rc, out] = Shell(absl::StrCat("kcat -b ", E().kafka_bootstrap, " -L -m 5"));
          return rc == 0 && absl::StrContains(out, "3 brokers");
        },
        seconds(60)));
  };
  ASSERT_EQ(stop_rc, 0) << stop_out;
  constexpr int kClients = 30;
  int served = 0;
  for (int i = 0; i < kClients; ++i) {
    const int fd = ConnectLoopback(kDownPorts);  // broker 0 does not exist: a bootstrap port
    ASSERT_GE(fd, 0);
    served += Served(fd);
    close(fd);
  }
  EXPECT_EQ(served, kClients) << agent->Log();
  // Broker 3's own port: refused at once while it is down (the agent closes
  // the connection, or no longer listens once a refresh dropped broker 3),
  // or served by another broker.
  const Clock::time_point asked = Clock::now();
  const int fd = ConnectLoopback(kDownPorts + 3);
  const bool answered = fd >= 0 && Served(fd);
  if (fd >= 0) close(fd);
  EXPECT_LT(Clock::now() - asked, seconds(2));
  std::cout << "broker 3's port after it stopped: "
            << (answered ? "served" : fd >= 0 ? "refused" : "not listening") << std::endl;
  EXPECT_LE(CountLines(agent->Log(), "cannot connect to broker 3"), 10) << agent->Log();
  Stop(agent);
}

}  // namespace
}  // namespace kgw::test
