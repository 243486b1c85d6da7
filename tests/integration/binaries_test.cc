// Runs kgw-agent, kgw-coordinator and kgwctl the way an operator would and
// checks what they print and how they exit. A bad setting must give exactly one
// line naming it and a non-zero exit.
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/process_util.h"

namespace kgw {
namespace {

using ::testing::HasSubstr;
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

// With Kafka unreachable, each call to it waits for its own timeout (reading
// the assignments topic: 15 s); a stop still ends within the 2 s bound and
// says what it gave up on.
TEST(BinariesTest, ACoordinatorStopsWithinTwoSecondsWhenKafkaDoesNotAnswer) {
  const std::string log = ::testing::TempDir() + "/binaries_test_coordinator.log";
  test::Child coordinator({KGW_COORDINATOR_BIN},
                          {{"KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1"},
                           {"GATEWAY_GRPC_BIND_HOST", "127.0.0.1"},
                           {"GATEWAY_GRPC_PORT", "22390"},
                           {"GATEWAY_HTTP_PORT", "22391"}},
                          log);
  ASSERT_TRUE(kgw::testing::WaitFor(
      [&] { return absl::StrContains(coordinator.Log(), "serving gRPC"); },
      std::chrono::seconds(20)))
      << coordinator.Log();
  std::this_thread::sleep_for(std::chrono::seconds(1));  // its Kafka calls are under way
  const auto signalled = std::chrono::steady_clock::now();
  coordinator.Signal(SIGTERM);
  const std::optional<int> code = coordinator.Wait(std::chrono::seconds(20));
  const auto took = std::chrono::steady_clock::now() - signalled;
  ASSERT_TRUE(code.has_value()) << "still running 20 s after SIGTERM";
  EXPECT_EQ(*code, 0) << coordinator.Log();
  // The bound is 2 s; the margin is for a loaded machine, not for Kafka's timeouts.
  EXPECT_LT(took, std::chrono::milliseconds(3500)) << coordinator.Log();
  EXPECT_THAT(coordinator.Log(), HasSubstr("Kafka has not answered; exiting without waiting"));
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
