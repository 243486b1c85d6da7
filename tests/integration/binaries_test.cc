// Runs kgw-agent, kgw-coordinator and kgwctl the way an operator would and
// checks what they print and how they exit. A bad setting must give exactly one
// line naming it and a non-zero exit.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/process_util.h"

namespace kgw {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
  std::vector<std::string> ErrLines() const {
    return absl::StrSplit(err, '\n', absl::SkipEmpty());
  }
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ShellQuote(absl::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Runs `binary` with a clean environment holding only `env` (and PATH).
Result RunProgram(const std::string& binary, const std::vector<std::string>& args,
           const std::vector<std::string>& env = {}) {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = tmp ? tmp : "/tmp";
  std::string stem = absl::StrCat(dir, "/kgw_binaries_test_", getpid());
  std::vector<std::string> parts = {"env", "-i", "PATH=/usr/bin:/bin"};
  for (const std::string& e : env) parts.push_back(ShellQuote(e));
  parts.push_back(ShellQuote(binary));
  for (const std::string& a : args) parts.push_back(ShellQuote(a));
  std::string cmd = absl::StrCat(absl::StrJoin(parts, " "), " >", stem, ".out 2>", stem, ".err");
  int status = std::system(cmd.c_str());
  Result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFile(stem + ".out");
  r.err = ReadFile(stem + ".err");
  std::remove((stem + ".out").c_str());
  std::remove((stem + ".err").c_str());
  return r;
}

const std::vector<std::string> kBootstrap = {"KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19091"};

TEST(BinariesTest, VersionPrintsNameVersionAndCommit) {
  for (const char* bin : {KGW_AGENT_BIN, KGW_COORDINATOR_BIN, KGWCTL_BIN}) {
    Result r = RunProgram(bin, {"--version"});
    EXPECT_EQ(r.exit_code, 0) << bin;
    EXPECT_THAT(r.out,
                ::testing::MatchesRegex("kgw(-agent|-coordinator|ctl) [0-9]+\\.[0-9]+\\.[0-9]+ "
                                        "\\(commit [0-9a-z]+\\)\n"))
        << bin;
  }
}

// The servers allocate with jemalloc, set to hand freed pages back within
// seconds (common/memory/malloc_conf.cc): its statistics at exit show the
// settings in force.
TEST(BinariesTest, ServersRunOnJemallocThatReturnsFreedMemory) {
  if (!KGW_SERVERS_ON_JEMALLOC) GTEST_SKIP() << "the sanitizer runtime's allocator in this build";
  for (const char* bin : {KGW_AGENT_BIN, KGW_COORDINATOR_BIN}) {
    Result r = RunProgram(bin, {"--version"}, {"MALLOC_CONF=stats_print:true"});
    EXPECT_EQ(r.exit_code, 0) << bin;
    const std::string stats = r.out + r.err;
    EXPECT_THAT(stats, HasSubstr("jemalloc statistics")) << bin;
    EXPECT_THAT(stats, HasSubstr("opt.background_thread: true")) << bin;
    EXPECT_THAT(stats, ::testing::ContainsRegex("opt.dirty_decay_ms: 1000")) << bin;
    EXPECT_THAT(stats, ::testing::ContainsRegex("opt.muzzy_decay_ms: 0")) << bin;
  }
}

TEST(BinariesTest, HelpListsSettingsAndExitsZero) {
  Result agent = RunProgram(KGW_AGENT_BIN, {"--help"});
  EXPECT_EQ(agent.exit_code, 0);
  EXPECT_THAT(agent.out, HasSubstr("GATEWAY_PORT_START  --gateway-port-start=<integer [1, 65535]>"));
  EXPECT_THAT(agent.out, HasSubstr("KAFKA_BOOTSTRAP_SERVERS"));
  Result coordinator = RunProgram(KGW_COORDINATOR_BIN, {"--help"});
  EXPECT_EQ(coordinator.exit_code, 0);
  EXPECT_THAT(coordinator.out, HasSubstr("GATEWAY_GRPC_PORT"));
  Result ctl = RunProgram(KGWCTL_BIN, {"--help"});
  EXPECT_EQ(ctl.exit_code, 0);
  EXPECT_THAT(ctl.out, HasSubstr("Usage: kgwctl <command>"));
  EXPECT_THAT(ctl.out, HasSubstr("KGWCTL_COORDINATOR"));
}

TEST(BinariesTest, BadEnvironmentValueGivesOneLineNamingItAndExitsTwo) {
  Result r = RunProgram(KGW_AGENT_BIN, {},
                 {"KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19091", "GATEWAY_PORT_START=http"});
  EXPECT_EQ(r.exit_code, 2);
  ASSERT_EQ(r.ErrLines().size(), 1u) << r.err;
  EXPECT_EQ(r.ErrLines()[0],
            "kgw-agent: invalid GATEWAY_PORT_START=\"http\" (from environment): expected an "
            "integer in [1, 65535]");
  EXPECT_EQ(r.out, "");
}

TEST(BinariesTest, EachExecutableRejectsBadConfigurationWithOneLine) {
  struct Case {
    const char* bin;
    std::vector<std::string> args;
    std::vector<std::string> env;
    const char* expected_prefix;
  };
  const std::vector<Case> cases = {
      {KGW_AGENT_BIN, {}, {}, "kgw-agent: missing required setting KAFKA_BOOTSTRAP_SERVERS"},
      {KGW_AGENT_BIN, {"--gateway-routing-mechanism=sni"}, kBootstrap,
       "kgw-agent: invalid GATEWAY_ROUTING_MECHANISM=\"sni\" (from flag)"},
      {KGW_AGENT_BIN, {"--gateway-routing-mechanism=host"}, kBootstrap,
       "kgw-agent: invalid GATEWAY_ROUTING_MECHANISM=host with GATEWAY_SECURITY_PROTOCOL"},
      {KGW_AGENT_BIN, {}, {"KAFKA_BOOTSTRAP_SERVERS=broker-without-port"},
       "kgw-agent: invalid KAFKA_BOOTSTRAP_SERVERS=\"broker-without-port\""},
      {KGW_AGENT_BIN, {"--no-such-flag=1"}, kBootstrap, "kgw-agent: unknown flag --no-such-flag"},
      {KGW_COORDINATOR_BIN, {"--gateway-grpc-port=8888"}, kBootstrap,
       "kgw-coordinator: invalid GATEWAY_GRPC_PORT=8888"},
      {KGW_COORDINATOR_BIN, {}, {"KAFKA_BOOTSTRAP_SERVERS=k:1", "GATEWAY_CLUSTER_ID=a/b"},
       "kgw-coordinator: invalid GATEWAY_CLUSTER_ID=\"a/b\""},
      {KGWCTL_BIN, {"--kgwctl-timeout=5", "version"}, {},
       "kgwctl: invalid KGWCTL_TIMEOUT=\"5\" (from flag): a duration needs a unit"},
      {KGWCTL_BIN, {"frobnicate"}, {}, "kgwctl: unknown command \"frobnicate\""},
      {KGWCTL_BIN, {}, {}, "kgwctl: missing command"},
      {KGW_COORDINATOR_BIN, {}, kBootstrap,
       "kgw-coordinator: refusing to serve the admin API on 0.0.0.0:6900 without "
       "authentication: anyone who reaches it could drain agents. Set GATEWAY_ADMIN_TOKEN"},
  };
  for (const Case& c : cases) {
    Result r = RunProgram(c.bin, c.args, c.env);
    EXPECT_EQ(r.exit_code, 2) << c.expected_prefix << "\n" << r.err;
    ASSERT_EQ(r.ErrLines().size(), 1u) << c.expected_prefix << "\n" << r.err;
    EXPECT_THAT(r.ErrLines()[0], StartsWith(c.expected_prefix));
  }
}

TEST(BinariesTest, CheckConfigPrintsEffectiveConfigurationWithSources) {
  Result r = RunProgram(KGW_AGENT_BIN, {"--check-config", "--gateway-cluster-id=payments"},
                 {"KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19091", "GATEWAY_RACK_ID=b"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19091 (environment)\n"));
  EXPECT_THAT(r.out, HasSubstr("GATEWAY_CLUSTER_ID=payments (flag)\n"));
  EXPECT_THAT(r.out, HasSubstr("GATEWAY_GROUP_ID=kgw_payments (default)\n"));
  EXPECT_THAT(r.out, HasSubstr("GATEWAY_RACK_ID=b (environment)\n"));
  EXPECT_THAT(r.out, HasSubstr("GATEWAY_PORT_START=6969 (default)\n"));
}

// The admin API beyond loopback needs a token, client certificates or an
// explicit choice to leave it open.
TEST(BinariesTest, ACoordinatorReachableFromOtherHostsStartsOnlyWithAdminProtection) {
  const std::vector<std::vector<std::string>> accepted = {
      {"GATEWAY_GRPC_BIND_HOST=127.0.0.2"},
      {"GATEWAY_GRPC_BIND_HOST=::1"},
      {"GATEWAY_ADMIN_TOKEN=s3cret-token"},
      {"GATEWAY_ADMIN_ALLOW_UNAUTHENTICATED=true"},
  };
  for (const std::vector<std::string>& extra : accepted) {
    std::vector<std::string> env = kBootstrap;
    env.insert(env.end(), extra.begin(), extra.end());
    Result r = RunProgram(KGW_COORDINATOR_BIN, {"--check-config"}, env);
    EXPECT_EQ(r.exit_code, 0) << extra[0] << ": " << r.err;
  }
  std::vector<std::string> env = kBootstrap;
  env.push_back("GATEWAY_GRPC_BIND_HOST=10.1.2.3");
  Result r = RunProgram(KGW_COORDINATOR_BIN, {"--check-config"}, env);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("refusing to serve the admin API on 10.1.2.3:6900"));
}

// With Kafka unreachable, each call to it waits for its own timeout (the
// coordinator reading the assignments topic: 15 s; the agent reading the
// stored assignment or leaving the group: 10 s); a stop still ends within the
// 2 s bound (the agent's counts from the end of its drain, here with no
// connections a poll or two) and says what it gave up on.
TEST(BinariesTest, ANodeStopsWithinTwoSecondsWhenKafkaDoesNotAnswer) {
  struct Node {
    std::string binary;
    std::map<std::string, std::string> env;
    std::string ready;
  };
  const std::vector<Node> nodes = {
      {KGW_COORDINATOR_BIN,
       {{"GATEWAY_GRPC_BIND_HOST", "127.0.0.1"},
        {"GATEWAY_GRPC_PORT", "22390"},
        {"GATEWAY_HTTP_PORT", "22391"}},
       "serving gRPC"},
      {KGW_AGENT_BIN,
       {{"GATEWAY_BIND_HOST", "127.0.0.1"},
        {"GATEWAY_PORT_START", "22380"},
        {"GATEWAY_HTTP_PORT", "22389"}},
       " started: "},
  };
  for (const Node& node : nodes) {
    SCOPED_TRACE(node.binary);
    std::map<std::string, std::string> env = node.env;
    env["KAFKA_BOOTSTRAP_SERVERS"] = "127.0.0.1:1";
    const std::string log = ::testing::TempDir() + "/binaries_test_stop.log";
    test::Child child({node.binary}, env, log);
    ASSERT_TRUE(kgw::testing::WaitFor(
        [&] { return absl::StrContains(child.Log(), node.ready); }, std::chrono::seconds(20)))
        << child.Log();
    std::this_thread::sleep_for(std::chrono::seconds(1));  // its Kafka calls are under way
    const auto signalled = std::chrono::steady_clock::now();
    child.Signal(SIGTERM);
    const std::optional<int> code = child.Wait(std::chrono::seconds(20));
    const auto took = std::chrono::steady_clock::now() - signalled;
    ASSERT_TRUE(code.has_value()) << "still running 20 s after SIGTERM";
    EXPECT_EQ(*code, 0) << child.Log();
    // The bound is 2 s; the margin is for a loaded machine, not for Kafka's timeouts.
    EXPECT_LT(took, std::chrono::milliseconds(3500)) << child.Log();
    EXPECT_THAT(child.Log(), HasSubstr("Kafka has not answered; exiting without waiting"));
  }
}

// A coordinator whose host vanishes never closes its streams. A sidecar, which
// no group tells of another coordinator, must notice by itself: here it runs in
// a network namespace of its own, joined to the coordinator's by a veth pair,
// and the pair goes down under its stream. gRPC's TCP_USER_TIMEOUT (20 s) ends
// the stream once a load report stays unacknowledged; without it the kernel
// retransmits for about a quarter of an hour. Needs root and iproute2.
TEST(BinariesTest, ASidecarLeavesACoordinatorWhoseHostVanished) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for a network namespace";
  const std::string veth = "kgwtest0";
  const std::string host_ip = "10.213.77.1";
  test::Shell(absl::StrCat("ip link del ", veth));  // left by an aborted run
  test::Child netns({"/usr/bin/unshare", "-n", "sleep", "300"}, {},
                    ::testing::TempDir() + "/binaries_test_netns.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::string ns = std::to_string(netns.pid());
  for (const std::string& command :
       {absl::StrCat("ip link add ", veth, " type veth peer name kgwtest1 netns ", ns),
        absl::StrCat("ip addr add ", host_ip, "/30 dev ", veth),
        absl::StrCat("ip link set ", veth, " up"),
        absl::StrCat("nsenter -t ", ns, " -n sh -c 'ip addr add 10.213.77.2/30 dev kgwtest1 && ",
                     "ip link set kgwtest1 up && ip link set lo up'")}) {
    const auto [code, output] = test::Shell(command);
    ASSERT_EQ(code, 0) << command << ": " << output;
  }
  const std::string log = ::testing::TempDir() + "/binaries_test_vanish";
  test::Child coordinator({KGW_COORDINATOR_BIN},
                          {{"KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1"},
                           {"GATEWAY_GRPC_BIND_HOST", host_ip},
                           {"GATEWAY_GRPC_PORT", "22376"},
                           {"GATEWAY_HTTP_PORT", "22377"},
                           {"GATEWAY_ADMIN_ALLOW_UNAUTHENTICATED", "true"}},
                          log + "_coordinator.log");
  const std::string endpoint = absl::StrCat(host_ip, ":22376");
  ASSERT_TRUE(kgw::testing::WaitFor(
      [&] { return absl::StrContains(coordinator.Log(), "serving gRPC"); },
      std::chrono::seconds(20)))
      << coordinator.Log();
  test::Child sidecar({"/usr/bin/nsenter", "-t", ns, "-n", KGW_AGENT_BIN},
                      {{"GATEWAY_AGENT_ROLE", "sidecar"},
                       {"GATEWAY_COORDINATORS", endpoint},
                       {"KAFKA_BOOTSTRAP_SERVERS", absl::StrCat(host_ip, ":1")},
                       {"GATEWAY_BIND_HOST", "127.0.0.1"},
                       {"GATEWAY_PORT_START", "22380"},
                       {"GATEWAY_HTTP_PORT", "22389"},
                       {"GATEWAY_LOAD_REPORT_INTERVAL", "1s"}},
                      log + "_sidecar.log");
  ASSERT_TRUE(kgw::testing::WaitFor(
      [&] {
        return test::MetricValue(22377, "kgw_coordinator_sidecars", host_ip.c_str()) == 1;
      },
      std::chrono::seconds(20)))
      << coordinator.Log() << sidecar.Log();
  // A coordinator greets a sidecar even with nothing published, so the
  // sidecar knows its stream is established ...
  const std::string streaming = "streaming assignments from coordinator " + endpoint;
  ASSERT_TRUE(kgw::testing::WaitFor(
      [&] { return sidecar.Log().find(streaming) != std::string::npos; },
      std::chrono::seconds(10)))
      << sidecar.Log();
  // ... and reports its end as the loss of a stream, with the cause.
  const std::string ended = "lost the stream from coordinator " + endpoint;
  auto ends = [&] {
    const std::string log = sidecar.Log();
    size_t n = 0;
    for (size_t at = log.find(ended); at != std::string::npos; at = log.find(ended, at + 1)) ++n;
    return n;
  };
  const size_t ends_before = ends();

  ASSERT_EQ(test::Shell(absl::StrCat("ip link set ", veth, " down")).first, 0);
  const auto cut = std::chrono::steady_clock::now();
  const bool left =
      kgw::testing::WaitFor([&] { return ends() > ends_before; }, std::chrono::seconds(45));
  test::Shell(absl::StrCat("ip link del ", veth));
  ASSERT_TRUE(left) << "still on the vanished coordinator's stream: " << sidecar.Log();
  const std::string out = sidecar.Log();
  const size_t at = out.rfind(ended);
  const std::string line = out.substr(at, out.find('\n', at) - at);
  // The agent's own cancel used to replace the cause with CANCELLED.
  EXPECT_THAT(line, Not(HasSubstr("CANCELLED"))) << line;
  std::cout << "the sidecar left the vanished coordinator after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - cut)
                   .count()
            << " ms" << std::endl;
}

// A crash leaves its signal and a stack trace in the log, not silence.
TEST(BinariesTest, ACrashIsLoggedWithItsSignal) {
  const std::string log = ::testing::TempDir() + "/binaries_test_crash.log";
  test::Child agent({KGW_AGENT_BIN},
                    {{"KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1"},
                     {"GATEWAY_BIND_HOST", "127.0.0.1"},
                     {"GATEWAY_PORT_START", "22392"},
                     {"GATEWAY_HTTP_PORT", "22399"}},
                    log);
  ASSERT_TRUE(kgw::testing::WaitFor(
      [&] { return absl::StrContains(agent.Log(), "open files"); }, std::chrono::seconds(20)))
      << agent.Log();
  agent.Signal(SIGSEGV);
  const std::optional<int> code = agent.Wait(std::chrono::seconds(20));
  ASSERT_TRUE(code.has_value()) << "still running 20 s after SIGSEGV";
  EXPECT_NE(*code, 0);
  // glog's handler, or the sanitizer's report in a sanitizer build.
  EXPECT_THAT(agent.Log(), HasSubstr("SEGV")) << agent.Log();
}

// Started as `kgw-... 2>&1 | tee log`, a node outlives the reader of its log:
// once `tee` is gone, its next log line fails with EPIPE instead of ending it
// with SIGPIPE. Here its output goes into a FIFO whose reader goes before
// SIGTERM, whose stop logs.
TEST(BinariesTest, ANodeOutlivesTheReaderOfItsLog) {
  struct Node {
    std::string binary;
    std::map<std::string, std::string> env;
    std::string ready;
  };
  const std::vector<Node> nodes = {
      {KGW_COORDINATOR_BIN,
       {{"GATEWAY_GRPC_BIND_HOST", "127.0.0.1"},
        {"GATEWAY_GRPC_PORT", "22370"},
        {"GATEWAY_HTTP_PORT", "22371"}},
       "serving gRPC"},
      {KGW_AGENT_BIN,
       {{"GATEWAY_BIND_HOST", "127.0.0.1"},
        {"GATEWAY_PORT_START", "22372"},
        {"GATEWAY_HTTP_PORT", "22379"}},
       "open files"},
  };
  const std::string fifo = ::testing::TempDir() + "/binaries_test_log_pipe";
  for (const Node& node : nodes) {
    SCOPED_TRACE(node.binary);
    std::remove(fifo.c_str());
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    // Open for reading first, so that the child's opening for writing does not block.
    const int reader = open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    ASSERT_GE(reader, 0);
    std::map<std::string, std::string> env = node.env;
    env["KAFKA_BOOTSTRAP_SERVERS"] = "127.0.0.1:1";
    test::Child child({node.binary}, env, fifo);
    // Read the log until the node is up, then stop reading and close the pipe.
    std::string seen;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!absl::StrContains(seen, node.ready) && std::chrono::steady_clock::now() < deadline) {
      pollfd p{reader, POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      char buf[4096];
      const ssize_t n = read(reader, buf, sizeof buf);
      if (n <= 0) break;
      seen.append(buf, static_cast<size_t>(n));
    }
    close(reader);
    ASSERT_THAT(seen, HasSubstr(node.ready));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    child.Signal(SIGTERM);
    const std::optional<int> code = child.Wait(std::chrono::seconds(20));
    ASSERT_TRUE(code.has_value()) << "still running 20 s after SIGTERM";
    EXPECT_EQ(*code, 0) << "128 + 13 is SIGPIPE";
  }
  std::remove(fifo.c_str());
}

TEST(BinariesTest, UnknownGatewayVariablesAreWarnedAbout) {
  Result r = RunProgram(KGW_AGENT_BIN, {"--check-config"},
                 {"KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19091", "GATEWAY_PORT_STRAT=7000"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("ignoring unknown environment variable GATEWAY_PORT_STRAT"));
}

TEST(BinariesTest, UnusableCertificatesStopStartUpWithOneLine) {
  // Readable files that hold no certificate: the settings accept them, loading does not.
  const std::string junk = ::testing::TempDir() + "/binaries_test_junk.pem";
  std::ofstream(junk) << "not a certificate\n";
  std::vector<std::string> tls = kBootstrap;
  tls.push_back("GATEWAY_SECURITY_PROTOCOL=SSL");
  tls.push_back("GATEWAY_SSL_CERT_FILE=" + junk);
  tls.push_back("GATEWAY_SSL_KEY_FILE=" + junk);
  Result agent = RunProgram(KGW_AGENT_BIN, {}, tls);
  EXPECT_EQ(agent.exit_code, 2) << agent.err;
  EXPECT_THAT(agent.err, HasSubstr("kgw-agent: cannot load GATEWAY_SSL_CERT_FILE=" + junk));
  std::vector<std::string> broker_tls = kBootstrap;
  broker_tls.push_back("KAFKA_SECURITY_PROTOCOL=SSL");
  broker_tls.push_back("KAFKA_SSL_CA_FILE=" + junk);
  broker_tls.push_back("GATEWAY_GRPC_BIND_HOST=127.0.0.1");
  for (const char* bin : {KGW_AGENT_BIN, KGW_COORDINATOR_BIN}) {
    Result r = RunProgram(bin, {}, broker_tls);
    EXPECT_EQ(r.exit_code, 2) << bin << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("cannot load CA file " + junk)) << bin;
  }
}

TEST(BinariesTest, KgwctlVersionCommandWorks) {
  Result r = RunProgram(KGWCTL_BIN, {"--kgwctl-coordinator", "127.0.0.1:6900", "version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("kgwctl "));
}

}  // namespace
}  // namespace kgw
