// The coordinators' gRPC port over TLS end to end, against the real test
// cluster started with --security (its tls/ directory holds the CA, a
// server-and-client certificate for 127.0.0.1 and a client certificate):
// two kgw-coordinators require client certificates
// (GATEWAY_GRPC_TLS_CLIENT_AUTH=REQUIRE) and an admin token; an agent with a
// client certificate streams its assignment from the leader; kgwctl is
// refused without a client certificate, in plaintext, and with a CA that
// did not sign the coordinators' certificate; a follower forwards a drain to
// the leader over mutual TLS; an agent whose CA does not verify the
// coordinators, and one without a client certificate, never stream from them
// and say why; a coordinator with contradictory TLS settings exits 2.
//
// The tests share the processes and run in order.
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/testing/wait_for.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/fleet_page.h"
#include "tests/e2e/process_util.h"

namespace kgw::test {
namespace {

using ::kgw::testing::WaitFor;
using std::chrono::seconds;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Key;
using ::testing::Not;

constexpr int kSessionTimeoutSeconds = 6;
constexpr char kAgentHost[] = "127.0.0.12";
constexpr int kAgentPortStart = 24969;
constexpr int kAgentHttpPort = 24888;
constexpr char kAdminToken[] = "gtls-admin-token";

struct Env {
  std::string agent_bin = EnvOr("KGW_AGENT_BIN", "");
  std::string coordinator_bin = EnvOr("KGW_COORDINATOR_BIN", "");
  std::string kgwctl_bin = EnvOr("KGWCTL_BIN", "");
  std::string kafka_bootstrap = EnvOr("KGW_KAFKA_BOOTSTRAP", "");
  std::string ca_file = EnvOr("KGW_KAFKA_CA_FILE", "");
  std::string tls_dir;  // the harness's tls/: ca.pem, broker.pem/key, client.pem/key
  std::string cluster_id = absl::StrCat("gtls-", getpid());
  std::string work_dir;
  std::string other_ca;  // a CA that signed none of the harness's certificates

  std::string Tls(const std::string& name) const { return absl::StrCat(tls_dir, "/", name); }
};

Env& E() {
  static Env* env = new Env;
  return *env;
}

struct Coordinator {
  std::string node_id;
  int grpc_port = 0;
  int http_port = 0;
  std::unique_ptr<Child> process;
  std::string endpoint() const { return absl::StrCat("127.0.0.1:", grpc_port); }
};

// The environment of a TLS coordinator that requires client certificates.
std::map<std::string, std::string> CoordinatorEnv(const Coordinator& c) {
  return {{"KAFKA_BOOTSTRAP_SERVERS", E().kafka_bootstrap},
          {"GATEWAY_CLUSTER_ID", E().cluster_id},
          {"GATEWAY_NODE_ID", c.node_id},
          {"GATEWAY_ADVERTISED_HOST", "127.0.0.1"},
          {"GATEWAY_GRPC_BIND_HOST", "127.0.0.1"},
          {"GATEWAY_GRPC_PORT", std::to_string(c.grpc_port)},
          {"GATEWAY_HTTP_PORT", std::to_string(c.http_port)},
          {"GATEWAY_GROUP_SESSION_TIMEOUT", absl::StrCat(kSessionTimeoutSeconds, "s")},
          {"GATEWAY_GROUP_HEARTBEAT_INTERVAL", "500ms"},
          {"GATEWAY_ADMIN_TOKEN", kAdminToken},
          {"GATEWAY_GRPC_TLS", "true"},
          {"GATEWAY_GRPC_TLS_CERT_FILE", E().Tls("broker.pem")},
          {"GATEWAY_GRPC_TLS_KEY_FILE", E().Tls("broker.key")},
          {"GATEWAY_GRPC_TLS_CA_FILE", E().Tls("ca.pem")},
          {"GATEWAY_GRPC_TLS_CLIENT_AUTH", "REQUIRE"}};
}

void StartCoordinator(Coordinator& c) {
  c.process =
      std::make_unique<Child>(std::vector<std::string>{E().coordinator_bin}, CoordinatorEnv(c),
                              absl::StrCat(E().work_dir, "/", c.node_id, ".log"));
  ASSERT_TRUE(WaitReady(*c.process, "127.0.0.1", c.http_port, seconds(60)))
      << c.node_id << " never became ready:\n"
      << c.process->Log();
}

// An agent dialling the coordinators it finds in the group over TLS,
// verifying them against `ca_file` and presenting the harness's client
// certificate unless told not to.
std::unique_ptr<Child> StartAgent(const std::string& node_id, const std::string& ca_file,
                                  bool client_certificate = true) {
  std::map<std::string, std::string> env = {
      {"KAFKA_BOOTSTRAP_SERVERS", E().kafka_bootstrap},
      {"GATEWAY_CLUSTER_ID", E().cluster_id},
      {"GATEWAY_NODE_ID", node_id},
      {"GATEWAY_BIND_HOST", kAgentHost},
      {"GATEWAY_ADVERTISED_HOST", kAgentHost},
      {"GATEWAY_PORT_START", std::to_string(kAgentPortStart)},
      {"GATEWAY_HTTP_PORT", std::to_string(kAgentHttpPort)},
      {"GATEWAY_GROUP_SESSION_TIMEOUT", absl::StrCat(kSessionTimeoutSeconds, "s")},
      {"GATEWAY_GROUP_HEARTBEAT_INTERVAL", "500ms"},
      {"GATEWAY_LOAD_REPORT_INTERVAL", "1s"},
      {"GATEWAY_SHUTDOWN_DELAY_BETWEEN_BROKERS_MS", "100"},
      {"GATEWAY_SHUTDOWN_DRAIN_TIMEOUT", "2s"},
      {"GATEWAY_GRPC_TLS", "true"},
      {"GATEWAY_GRPC_TLS_CA_FILE", ca_file},
      {"GATEWAY_GRPC_TLS_CERT_FILE", E().Tls("client.pem")},
      {"GATEWAY_GRPC_TLS_KEY_FILE", E().Tls("client.key")}};
  if (!client_certificate) {
    env.erase("GATEWAY_GRPC_TLS_CERT_FILE");
    env.erase("GATEWAY_GRPC_TLS_KEY_FILE");
  }
  auto process = std::make_unique<Child>(std::vector<std::string>{E().agent_bin}, env,
                                         absl::StrCat(E().work_dir, "/", node_id, ".log"));
  EXPECT_TRUE(WaitReady(*process, kAgentHost, kAgentHttpPort, seconds(60)))
      << node_id << " never became ready:\n"
      << process->Log();
  return process;
}

struct KgwctlRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
  std::vector<std::string> Lines() const { return absl::StrSplit(output, '\n', absl::SkipEmpty()); }
};

// kgwctl against `coordinator` with `flags` (TLS, files, token) and `command`.
KgwctlRun Kgwctl(const std::string& coordinator, const std::string& flags,
                 const std::string& command) {
  // Without the test's own KGWCTL_BIN, which kgwctl would warn about.
  auto [rc, out] = Shell(absl::StrCat("env -u KGWCTL_BIN ", E().kgwctl_bin, " --coordinator ",
                                      coordinator, " --timeout 5s ", flags, " ", command));
  return {rc, out};
}

// kgwctl with the CA and the harness's client certificate: what an operator runs.
std::string MutualTls() {
  return absl::StrCat("--tls --tls-ca-file ", E().Tls("ca.pem"), " --tls-cert-file ",
                      E().Tls("client.pem"), " --tls-key-file ", E().Tls("client.key"));
}

class GrpcTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_FALSE(E().agent_bin.empty()) << "KGW_AGENT_BIN is not set";
    ASSERT_FALSE(E().coordinator_bin.empty()) << "KGW_COORDINATOR_BIN is not set";
    ASSERT_FALSE(E().kgwctl_bin.empty()) << "KGWCTL_BIN is not set";
    ASSERT_FALSE(E().kafka_bootstrap.empty())
        << "KGW_KAFKA_BOOTSTRAP is not set: start tests/kafka/kafka-cluster.sh --security and "
           "source its cluster.env";
    ASSERT_FALSE(E().ca_file.empty())
        << "KGW_KAFKA_CA_FILE is not set: start tests/kafka/kafka-cluster.sh with --security";
    E().tls_dir = E().ca_file.substr(0, E().ca_file.rfind('/'));
    char dir[] = "/tmp/kgw-gtls-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    E().work_dir = dir;
    E().other_ca = absl::StrCat(E().work_dir, "/other-ca.pem");
    auto [rc, out] = Shell(absl::StrCat(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "
        "/CN=kgw-other-ca -keyout ",
        E().work_dir, "/other-ca.key -out ", E().other_ca));
    ASSERT_EQ(rc, 0) << out;

    coordinators_ = new std::vector<Coordinator>(2);
    (*coordinators_)[0] = {"gtls-coord-1", 24901, 24811, nullptr};
    (*coordinators_)[1] = {"gtls-coord-2", 24902, 24812, nullptr};
    for (Coordinator& c : *coordinators_) {
      StartCoordinator(c);
      if (::testing::Test::HasFatalFailure()) return;
    }
    agent_ = StartAgent("gtls-agent", E().Tls("ca.pem")).release();
  }
  static void TearDownTestSuite() {
    StopFirstAgent();
    delete agent_;
    agent_ = nullptr;
    if (coordinators_ == nullptr) return;
    for (Coordinator& c : *coordinators_) {
      if (c.process && c.process->running()) {
        c.process->Signal(SIGTERM);
        EXPECT_EQ(c.process->Wait(seconds(30)), 0) << c.node_id << " did not stop cleanly";
      }
    }
    delete coordinators_;
    coordinators_ = nullptr;
  }

  // The agents of the last tests reuse the first agent's address and ports.
  static void StopFirstAgent() {
    if (agent_ == nullptr || !agent_->running()) return;
    agent_->Signal(SIGTERM);
    EXPECT_EQ(agent_->Wait(seconds(30)), 0) << "the agent did not stop cleanly";
  }

  static Coordinator& leader() { return (*coordinators_)[0]; }  // the smallest node id
  static Coordinator& follower() { return (*coordinators_)[1]; }

  static std::vector<Coordinator>* coordinators_;
  static Child* agent_;
};

std::vector<Coordinator>* GrpcTlsTest::coordinators_ = nullptr;
Child* GrpcTlsTest::agent_ = nullptr;

TEST_F(GrpcTlsTest, AgentWithAClientCertificateStreamsItsAssignmentOverMutualTls) {
  ASSERT_NE(agent_, nullptr);
  KgwctlRun nodes;
  EXPECT_TRUE(WaitFor(
      [&] {
        nodes = Kgwctl(leader().endpoint(), MutualTls(), "nodes --json");
        for (const std::string& line : nodes.Lines()) {
          if (absl::StrContains(line, "\"node_id\":\"gtls-agent\"") &&
              absl::StrContains(line, "\"connected\":true")) {
            return true;
          }
        }
        return false;
      },
      seconds(60)))
      << "the leader never saw the agent's stream: " << nodes.output << "\nagent log:\n"
      << agent_->Log();
  EXPECT_EQ(nodes.exit_code, 0);
  EXPECT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(agent_->Log(), absl::StrCat("streaming assignments from "
                                                             "coordinator ",
                                                             leader().endpoint()));
      },
      seconds(30)))
      << agent_->Log();

  KgwctlRun assignment;
  EXPECT_TRUE(WaitFor(
      [&] {
        assignment = Kgwctl(leader().endpoint(), MutualTls(), "assignment");
        return assignment.exit_code == 0 && absl::StrContains(assignment.output, "gtls-agent");
      },
      seconds(30)))
      << assignment.output;
  // The certificate's expiry is exported, for alerts: openssl reads the same.
  auto [rc, end] = Shell(absl::StrCat("openssl x509 -noout -enddate -dateopt iso_8601 -in ",
                                      E().Tls("broker.pem")));
  ASSERT_EQ(rc, 0) << end;
  absl::Time not_after;
  std::string error;
  ASSERT_TRUE(absl::ParseTime("notAfter=%Y-%m-%d %H:%M:%SZ",
                              std::string(absl::StripAsciiWhitespace(end)), &not_after, &error))
      << end << ": " << error;
  EXPECT_EQ(
      MetricValue(leader().http_port, "kgw_coordinator_grpc_certificate_expiry_timestamp_seconds"),
      static_cast<double>(absl::ToUnixSeconds(not_after)));
  // Through the follower too, which asks the leader for the nodes over mutual TLS.
  KgwctlRun via_follower = Kgwctl(follower().endpoint(), MutualTls(), "nodes");
  EXPECT_EQ(via_follower.exit_code, 0) << via_follower.output;
  EXPECT_THAT(via_follower.output, HasSubstr("gtls-agent"));
}

// With an admin token set, the fleet view's data needs it: the page asks for
// it and draws nothing before; with the token (in the fragment, as a link
// from an operator's tooling would carry it) it draws the agent, live, from
// the leader's nodes that the follower fetched over mutual TLS.
TEST_F(GrpcTlsTest, TheFleetViewNeedsTheAdminTokenAndDrawsTheFleetWithIt) {
  ASSERT_TRUE(HaveChromium()) << "no " << ChromiumBinary() << ": run scripts/install-deps.sh";
  const std::string url = absl::StrCat("http://127.0.0.1:", follower().http_port, "/fleet");
  auto [status, body] = HttpGet(follower().http_port, "/fleet.json");
  EXPECT_EQ(status, 401);
  EXPECT_THAT(body, Not(HasSubstr("gtls-agent")));

  DrawnFleet without = LoadFleetPage(url, E().work_dir);
  EXPECT_EQ(without.state, "login") << without.dom.substr(0, 3000);
  EXPECT_THAT(without.agents, IsEmpty());
  DrawnFleet wrong = LoadFleetPage(url + "#token=not-the-token", E().work_dir);
  EXPECT_EQ(wrong.state, "login");
  EXPECT_THAT(wrong.dom, HasSubstr("was not accepted"));

  DrawnFleet with = LoadFleetPage(absl::StrCat(url, "#token=", kAdminToken), E().work_dir);
  ASSERT_EQ(with.state, "drawn") << with.dom.substr(0, 3000);
  EXPECT_THAT(with.agents, Contains(Key("gtls-agent")));
  bool live = false;
  for (const std::string& tag : TagsWith(with.dom, "data-agent=\"gtls-agent\"")) {
    live = live || TagAttribute(tag, "data-health") == "live";
  }
  EXPECT_TRUE(live) << "the follower did not show the leader's view of the agent's stream";
}

TEST_F(GrpcTlsTest, KgwctlWithoutAClientCertificateIsRefusedWithOneClearLine) {
  KgwctlRun r = Kgwctl(leader().endpoint(), absl::StrCat("--tls --tls-ca-file ", E().Tls("ca.pem")),
                       "status");
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_EQ(r.Lines().size(), 1u) << r.output;
  EXPECT_THAT(r.Lines()[0],
              HasSubstr(absl::StrCat("kgwctl: the coordinator at ", leader().endpoint(),
                                     " refused the TLS connection")));
  EXPECT_THAT(r.Lines()[0], HasSubstr("KGWCTL_TLS_CERT_FILE"));
}

TEST_F(GrpcTlsTest, KgwctlInPlaintextAgainstTheTlsPortFailsWithOneClearLine) {
  KgwctlRun r = Kgwctl(leader().endpoint(), "", "status");
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_EQ(r.Lines().size(), 1u) << r.output;
  EXPECT_THAT(r.Lines()[0],
              HasSubstr(absl::StrCat("kgwctl: cannot reach coordinator at ", leader().endpoint())));
  EXPECT_THAT(r.Lines()[0], HasSubstr("--tls"));
}

TEST_F(GrpcTlsTest, KgwctlWithACaThatDidNotSignTheCoordinatorFailsVerification) {
  KgwctlRun r =
      Kgwctl(leader().endpoint(),
             absl::StrCat("--tls --tls-ca-file ", E().other_ca, " --tls-cert-file ",
                          E().Tls("client.pem"), " --tls-key-file ", E().Tls("client.key")),
             "status");
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_EQ(r.Lines().size(), 1u) << r.output;
  EXPECT_THAT(r.Lines()[0],
              HasSubstr(absl::StrCat("kgwctl: cannot reach coordinator at ", leader().endpoint())));
  EXPECT_THAT(r.Lines()[0], HasSubstr("certificate verif"));
}

TEST_F(GrpcTlsTest, FollowerForwardsADrainToTheLeaderOverMutualTls) {
  KgwctlRun status;
  ASSERT_TRUE(WaitFor(
      [&] {
        status = Kgwctl(follower().endpoint(), MutualTls(), "status");
        return absl::StrContains(status.output, "Leader:") &&
               absl::StrContains(status.output, leader().node_id);
      },
      seconds(30)))
      << status.output;

  // The token is still required, over TLS as in plaintext.
  KgwctlRun refused = Kgwctl(follower().endpoint(), MutualTls(), "drain gtls-agent");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.output, HasSubstr("requires an admin token")) << refused.output;

  const std::string with_token = absl::StrCat(MutualTls(), " --token ", kAdminToken);
  KgwctlRun drained = Kgwctl(follower().endpoint(), with_token, "drain gtls-agent");
  EXPECT_EQ(drained.exit_code, 0) << drained.output << "\nfollower log:\n"
                                  << follower().process->Log();
  EXPECT_THAT(drained.output, HasSubstr("Drained gtls-agent"));
  EXPECT_THAT(Kgwctl(leader().endpoint(), MutualTls(), "assignment --json").output,
              HasSubstr("\"draining_node_ids\":[\"gtls-agent\"]"));

  KgwctlRun resumed = Kgwctl(follower().endpoint(), with_token, "resume gtls-agent");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_THAT(resumed.output, HasSubstr("Resumed gtls-agent"));
}

// Starts agent `node_id` (on the first agent's address and ports), waits
// until its log has a line naming each coordinator that contains every one of
// `reasons`, and checks that it never streamed: the leader lists it as a
// member without a stream.
void ExpectRefusedByBothCoordinators(const std::string& node_id, const std::string& ca_file,
                                     bool client_certificate,
                                     const std::vector<std::string>& reasons,
                                     const Coordinator& leader, const Coordinator& follower) {
  std::unique_ptr<Child> agent = StartAgent(node_id, ca_file, client_certificate);
  ASSERT_TRUE(agent->running());
  const auto refused_by = [&](const Coordinator& c) {
    for (absl::string_view line : absl::StrSplit(agent->Log(), '\n')) {
      bool all = absl::StrContains(
          line, absl::StrCat("cannot stream from coordinator ", c.endpoint(), ": "));
      for (const std::string& reason : reasons) all = all && absl::StrContains(line, reason);
      if (all) return true;
    }
    return false;
  };
  EXPECT_TRUE(WaitFor([&] { return refused_by(leader) && refused_by(follower); }, seconds(60)))
      << agent->Log();
  KgwctlRun nodes;
  bool listed = false;
  EXPECT_TRUE(WaitFor(
      [&] {
        nodes = Kgwctl(leader.endpoint(), MutualTls(), "nodes --json");
        listed = false;
        for (const std::string& line : nodes.Lines()) {
          if (absl::StrContains(line, absl::StrCat("\"node_id\":\"", node_id, "\""))) {
            listed = absl::StrContains(line, "\"connected\":false");
          }
        }
        return listed;
      },
      seconds(30)))
      << nodes.output;
  EXPECT_THAT(agent->Log(), ::testing::Not(HasSubstr("streaming assignments from")));

  agent->Signal(SIGTERM);
  EXPECT_EQ(agent->Wait(seconds(30)), 0) << node_id << " did not stop cleanly";
}

TEST_F(GrpcTlsTest, AgentWhoseCaDoesNotVerifyTheCoordinatorsNeverStreamsFromThem) {
  StopFirstAgent();
  ExpectRefusedByBothCoordinators(
      "gtls-stranger", E().other_ca, /*client_certificate=*/true,
      {"certificate verify failed",
       "TLS: the coordinator's certificate is not signed by a CA in GATEWAY_GRPC_TLS_CA_FILE"},
      leader(), follower());
}

TEST_F(GrpcTlsTest, AgentWithoutAClientCertificateIsRefusedByTheCoordinators) {
  StopFirstAgent();
  ExpectRefusedByBothCoordinators("gtls-anonymous", E().Tls("ca.pem"), /*client_certificate=*/false,
                                  {"TLS: the coordinator closed the connection after the handshake",
                                   "GATEWAY_GRPC_TLS_CERT_FILE"},
                                  leader(), follower());
}

TEST_F(GrpcTlsTest, CoordinatorRefusesContradictoryTlsSettingsAtStartUp) {
  Coordinator probe{"gtls-probe", 24901, 24811, nullptr};
  std::map<std::string, std::string> env = CoordinatorEnv(probe);
  env.erase("GATEWAY_GRPC_TLS_CERT_FILE");
  env.erase("GATEWAY_GRPC_TLS_KEY_FILE");
  Child no_certificate({E().coordinator_bin, "--check-config"}, env,
                       absl::StrCat(E().work_dir, "/probe-1.log"));
  EXPECT_EQ(no_certificate.Wait(seconds(30)), 2);
  EXPECT_THAT(no_certificate.Log(), HasSubstr("GATEWAY_GRPC_TLS_CERT_FILE"));

  env = CoordinatorEnv(probe);
  env["GATEWAY_GRPC_TLS_CA_FILE"] = absl::StrCat(E().work_dir, "/missing-ca.pem");
  Child missing_ca({E().coordinator_bin, "--check-config"}, env,
                   absl::StrCat(E().work_dir, "/probe-2.log"));
  EXPECT_EQ(missing_ca.Wait(seconds(30)), 2);
  EXPECT_THAT(missing_ca.Log(), HasSubstr("invalid GATEWAY_GRPC_TLS_CA_FILE"));
}

}  // namespace
}  // namespace kgw::test
