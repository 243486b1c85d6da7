// Control-plane integrity end to end, against the real test cluster: a
// gateway cluster whose nodes hold the cluster key (GATEWAY_CLUSTER_KEY_FILE),
// two kgw-coordinators and three kgw-agents on 127.0.0.2/.3/.4 in racks a/b/c,
// attacked the way someone who can reach Kafka or a coordinator's port would:
// a forged agent, a member claiming a live node id, a forged coordinator, a
// poisoned and a replayed record in the assignments topic, two thousand forged
// agent streams, and the gateway group deleted and created again. Each attack
// must change nothing clients see. A first test shows the forged agent
// succeeding against a gateway cluster without a key, so the suite can tell.
//
// The tests share the processes and run in order.
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/config/settings.h"
#include "common/membership/group_member.h"
#include "common/testing/wait_for.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "kgw/v1/assignment.grpc.pb.h"
#include "tests/e2e/process_util.h"

namespace kgw::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::kgw::testing::WaitFor;

constexpr int kSessionTimeoutSeconds = 6;
// Ports of this suite alone (below 32768: see docs/development.md).
constexpr int kPortStart = 23969;
constexpr int kAgentHttpPort = 23888;
constexpr char kEvilHost[] = "127.0.0.9";
// The sidecar's own ports, on 127.0.0.1 beside its application.
constexpr int kSidecarPortStart = 23930;
constexpr int kSidecarHttpPort = 23889;

struct Env {
  std::string agent_bin = EnvOr("KGW_AGENT_BIN", "");
  std::string coordinator_bin = EnvOr("KGW_COORDINATOR_BIN", "");
  std::string kgwctl_bin = EnvOr("KGWCTL_BIN", "");
  std::string kafka_bootstrap = EnvOr("KGW_KAFKA_BOOTSTRAP", "");
  std::string kafka_libs = EnvOr("KGW_KAFKA_LIBS", "");
  std::string cluster_id = absl::StrCat("e2e-integrity-", getpid());
  std::string work_dir;
  std::string key_file;
  std::string group() const { return absl::StrCat("kgw_", cluster_id); }
  std::string topic() const { return absl::StrCat("_kgw_", cluster_id, "_assignments"); }
};

Env& E() {
  static Env* env = new Env;
  return *env;
}

struct Agent {
  std::string node_id;
  std::string host;
  std::string rack;
  std::unique_ptr<Child> process;
};

struct Coordinator {
  std::string node_id;
  int grpc_port = 0;
  int http_port = 0;
  std::unique_ptr<Child> process;
  std::string endpoint() const { return absl::StrCat("127.0.0.1:", grpc_port); }
};

std::map<std::string, std::string> NodeEnv(const std::string& cluster_id, bool with_key) {
  std::map<std::string, std::string> env = {
      {"KAFKA_BOOTSTRAP_SERVERS", E().kafka_bootstrap},
      {"GATEWAY_CLUSTER_ID", cluster_id},
      {"GATEWAY_GROUP_SESSION_TIMEOUT", absl::StrCat(kSessionTimeoutSeconds, "s")},
      {"GATEWAY_GROUP_HEARTBEAT_INTERVAL", "500ms"}};
  if (with_key) env["GATEWAY_CLUSTER_KEY_FILE"] = E().key_file;
  return env;
}

void StartCoordinator(Coordinator& c, int run, const std::string& cluster_id = E().cluster_id,
                      bool with_key = true) {
  std::map<std::string, std::string> env = NodeEnv(cluster_id, with_key);
  env.insert({{"GATEWAY_NODE_ID", c.node_id},
              {"GATEWAY_ADVERTISED_HOST", "127.0.0.1"},
              {"GATEWAY_GRPC_BIND_HOST", "127.0.0.1"},
              {"GATEWAY_GRPC_PORT", std::to_string(c.grpc_port)},
              {"GATEWAY_HTTP_PORT", std::to_string(c.http_port)},
              // A vanished sidecar is dropped within seconds (one test waits for it).
              {"GATEWAY_AGENT_KEEPALIVE_INTERVAL", "3s"}});
  c.process = std::make_unique<Child>(std::vector<std::string>{E().coordinator_bin}, env,
                                      absl::StrCat(E().work_dir, "/", c.node_id, "-", run, ".log"));
  ASSERT_TRUE(WaitReady(*c.process, "127.0.0.1", c.http_port, seconds(60)))
      << c.node_id << " never became ready:\n" << c.process->Log();
}

void StartAgent(Agent& a, int run) {
  std::map<std::string, std::string> env = NodeEnv(E().cluster_id, true);
  env.insert({{"GATEWAY_NODE_ID", a.node_id},
              {"GATEWAY_RACK_ID", a.rack},
              {"GATEWAY_BIND_HOST", a.host},
              {"GATEWAY_ADVERTISED_HOST", a.host},
              {"GATEWAY_PORT_START", std::to_string(kPortStart)},
              {"GATEWAY_HTTP_PORT", std::to_string(kAgentHttpPort)},
              {"GATEWAY_LOAD_REPORT_INTERVAL", "1s"},
              {"GATEWAY_SHUTDOWN_DELAY_BETWEEN_BROKERS_MS", "100"}});
  a.process = std::make_unique<Child>(std::vector<std::string>{E().agent_bin}, env,
                                      absl::StrCat(E().work_dir, "/", a.node_id, "-", run, ".log"));
  ASSERT_TRUE(WaitReady(*a.process, a.host, kAgentHttpPort, seconds(60)))
      << a.node_id << " never became ready:\n" << a.process->Log();
}

std::map<int, std::string> MetadataThrough(const std::string& bootstrap,
                                           const std::string& client_id = "kgw-e2e") {
  auto [rc, out] = Shell(absl::StrCat("kcat -b ", bootstrap, " -X client.id=", client_id,
                                      " -L -m 5 -t __none__ 2>&1"));
  return KcatBrokers(out);
}

std::string Kgwctl(const std::string& coordinator, const std::string& args) {
  auto [rc, out] = Shell(absl::StrCat(E().kgwctl_bin, " --coordinator ", coordinator,
                                      " --timeout 3s ", args, " 2>&1"));
  return out;
}

// The value after `label` in `kgwctl status`, e.g. "Leader:".
std::string StatusField(const std::string& coordinator, absl::string_view label) {
  for (absl::string_view line : absl::StrSplit(Kgwctl(coordinator, "status"), '\n')) {
    if (absl::ConsumePrefix(&line, label)) return std::string(absl::StripAsciiWhitespace(line));
  }
  return "";
}

std::vector<config::HostPort> Bootstrap() {
  std::vector<config::HostPort> out;
  for (absl::string_view hp : absl::StrSplit(E().kafka_bootstrap, ',', absl::SkipEmpty())) {
    out.push_back(config::SplitHostPort(hp));
  }
  return out;
}

// A member of the gateway group that holds no key: what any Kafka client
// allowed to join the group can be.
std::unique_ptr<membership::GroupMember> Impostor(const std::string& cluster_id,
                                                  v1::NodeDescriptor self, bool static_member) {
  membership::GroupMember::Options o;
  o.kafka.bootstrap = Bootstrap();
  o.group_id = absl::StrCat("kgw_", cluster_id);
  o.session_timeout = absl::Seconds(kSessionTimeoutSeconds);
  o.rebalance_timeout = absl::Seconds(kSessionTimeoutSeconds);
  o.heartbeat_interval = absl::Milliseconds(500);
  o.software_version = "impostor";
  if (static_member) o.group_instance_id = self.node_id();
  auto member = std::make_unique<membership::GroupMember>(
      o, std::move(self), [](const std::optional<membership::View>&) {});
  member->Start();
  return member;
}

v1::NodeDescriptor ForgedAgent(const std::string& node_id) {
  v1::NodeDescriptor d;
  d.set_node_id(node_id);
  d.set_role(v1::NodeDescriptor::ROLE_AGENT);
  d.set_advertised_host(kEvilHost);
  d.set_port_start(kPortStart);
  d.set_rack("a");
  d.set_weight(10000);
  d.set_version("0.1.0");
  return d;
}

// The cells of each row `kgwctl nodes` shows for `node_id` (NODE ID, ROLE,
// HOST, PORT START, RACK, WEIGHT, HEALTH, ..., VERSION).
std::vector<std::vector<std::string>> NodeRows(const std::string& coordinator,
                                               absl::string_view node_id) {
  std::vector<std::vector<std::string>> rows;
  for (absl::string_view line : absl::StrSplit(Kgwctl(coordinator, "nodes"), '\n')) {
    if (line.empty()) break;  // the node table ends; refused members' reasons follow
    std::vector<std::string> cells;
    for (absl::string_view cell :
         absl::StrSplit(line, absl::ByString("  "), absl::SkipWhitespace())) {
      cells.emplace_back(absl::StripAsciiWhitespace(cell));
    }
    if (!cells.empty() && cells[0] == node_id) rows.push_back(std::move(cells));
  }
  return rows;
}

// The HEALTH column of each row `kgwctl nodes` shows for `node_id`.
std::vector<std::string> HealthOf(const std::string& coordinator, absl::string_view node_id) {
  std::vector<std::string> health;
  for (const std::vector<std::string>& cells : NodeRows(coordinator, node_id)) {
    if (cells.size() > 6) health.push_back(cells[6]);
  }
  return health;
}

// Writes `value` to the assignments topic with the key the leader uses.
bool ProduceToAssignments(const std::string& value) {
  const std::string file = absl::StrCat(E().work_dir, "/record-", absl::Uniform<uint32_t>(
                                                                        absl::BitGen()));
  std::ofstream(file, std::ios::binary) << value;
  auto [rc, out] = Shell(absl::StrCat("kcat -P -b ", E().kafka_bootstrap, " -t ", E().topic(),
                                      " -k assignment ", file, " 2>&1"));
  EXPECT_EQ(rc, 0) << out;
  return rc == 0;
}

class IntegrityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_FALSE(E().agent_bin.empty()) << "KGW_AGENT_BIN is not set";
    ASSERT_FALSE(E().coordinator_bin.empty()) << "KGW_COORDINATOR_BIN is not set";
    ASSERT_FALSE(E().kgwctl_bin.empty()) << "KGWCTL_BIN is not set";
    ASSERT_FALSE(E().kafka_bootstrap.empty())
        << "KGW_KAFKA_BOOTSTRAP is not set: start tests/kafka/kafka-cluster.sh and source its "
           "cluster.env";
    char dir[] = "/tmp/kgw-integrity-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    E().work_dir = dir;
    E().key_file = absl::StrCat(dir, "/cluster.keys");
    std::ofstream(E().key_file) << "# the gateway cluster's key\n"
                                << absl::StrCat("e2e-key-", getpid(),
                                                "-0123456789abcdefghijklmnopqrstuvwxyz")
                                << "\n";
    coordinators_ = new std::vector<Coordinator>(2);
    coordinator(0) = {"coord-1", 23901, 23811, nullptr};
    coordinator(1) = {"coord-2", 23902, 23812, nullptr};
    agents_ = new std::vector<Agent>(3);
    agent(0) = {"agent-a", "127.0.0.2", "a", nullptr};
    agent(1) = {"agent-b", "127.0.0.3", "b", nullptr};
    agent(2) = {"agent-c", "127.0.0.4", "c", nullptr};
    for (Coordinator& c : *coordinators_) StartCoordinator(c, 1);
    for (Agent& a : *agents_) StartAgent(a, 1);
    std::map<int, std::string> seen;
    ASSERT_TRUE(WaitFor([&] { return (seen = MetadataThrough(Bootstrap(agent(0)))) == RackLocal(); },
                        seconds(60)))
        << "the gateway cluster never routed rack-locally";
  }
  static void TearDownTestSuite() {
    if (agents_ == nullptr || coordinators_ == nullptr) return;
    for (Agent& a : *agents_) {
      if (a.process && a.process->running()) {
        a.process->Signal(SIGTERM);
        EXPECT_EQ(a.process->Wait(seconds(30)), 0) << a.node_id << " did not stop cleanly";
      }
    }
    for (Coordinator& c : *coordinators_) {
      if (c.process && c.process->running()) {
        c.process->Signal(SIGTERM);
        EXPECT_EQ(c.process->Wait(seconds(30)), 0) << c.node_id << " did not stop cleanly";
      }
    }
    delete agents_;
    delete coordinators_;
    agents_ = nullptr;
    coordinators_ = nullptr;
  }

  static Agent& agent(int i) { return (*agents_)[i]; }
  static Coordinator& coordinator(int i) { return (*coordinators_)[i]; }
  static std::string Bootstrap(const Agent& a) { return absl::StrCat(a.host, ":", kPortStart); }
  static std::string Address(const Agent& a, int broker) {
    return absl::StrCat(a.host, ":", kPortStart + broker);
  }
  static std::map<int, std::string> RackLocal() {
    return {{1, Address(agent(0), 1)}, {2, Address(agent(1), 2)}, {3, Address(agent(2), 3)}};
  }
  // True when no client id among `clients` is sent to the evil host, and
  // every one sees the rack-local map.
  static bool EveryClientRoutedRackLocally(int clients) {
    for (int i = 0; i < clients; ++i) {
      const std::map<int, std::string> seen =
          MetadataThrough(Bootstrap(agent(i % 3)), absl::StrCat("client-", i));
      if (seen != RackLocal()) {
        ADD_FAILURE() << "client-" << i << " sees " << seen.size() << " brokers, broker 1 at "
                      << (seen.count(1) ? seen.at(1) : "none");
        return false;
      }
    }
    return true;
  }
  static std::string AllLogs() {
    std::string logs;
    for (Coordinator& c : *coordinators_) absl::StrAppend(&logs, c.process->Log());
    for (Agent& a : *agents_) absl::StrAppend(&logs, a.process->Log());
    return logs;
  }

  static std::vector<Coordinator>* coordinators_;
  static std::vector<Agent>* agents_;
};

std::vector<Coordinator>* IntegrityTest::coordinators_ = nullptr;
std::vector<Agent>* IntegrityTest::agents_ = nullptr;

// The control: without a key, a plain group member posing as an agent is
// counted and assigned brokers, exactly the attack the key stops.
TEST_F(IntegrityTest, WithoutAKeyAForgedAgentIsCounted) {
  const std::string open_cluster = absl::StrCat(E().cluster_id, "-open");
  Coordinator open{"coord-open", 23903, 23813, nullptr};
  StartCoordinator(open, 1, open_cluster, /*with_key=*/false);
  auto impostor = Impostor(open_cluster, ForgedAgent("agent-evil"), true);

  EXPECT_TRUE(WaitFor(
      [&] { return absl::StrContains(Kgwctl(open.endpoint(), "assignment"), "agent-evil"); },
      seconds(30)))
      << Kgwctl(open.endpoint(), "assignment");
  impostor->Stop();
  open.process->Signal(SIGTERM);
  EXPECT_EQ(open.process->Wait(seconds(30)), 0);
}

TEST_F(IntegrityTest, AForgedAgentIsNeverCountedAssignedOrAdvertised) {
  auto impostor = Impostor(E().cluster_id, ForgedAgent("agent-evil"), true);
  // It is in the group, and the coordinators said no.
  ASSERT_TRUE(WaitFor([&] { return impostor->view().has_value(); }, seconds(30)));
  EXPECT_TRUE(WaitFor([] { return absl::StrContains(coordinator(0).process->Log(),
                                                    "claiming node id \"agent-evil\""); },
                      seconds(15)))
      << coordinator(0).process->Log();

  EXPECT_TRUE(EveryClientRoutedRackLocally(30));
  EXPECT_FALSE(absl::StrContains(Kgwctl(coordinator(1).endpoint(), "assignment"), "agent-evil"));
  EXPECT_EQ(StatusField(coordinator(1).endpoint(), "Agents:"), "3");
  // Operators see it, as refused and why, and can alert on it.
  EXPECT_TRUE(WaitFor([] { return HealthOf(coordinator(0).endpoint(), "agent-evil") ==
                                  std::vector<std::string>{"refused"}; },
                      seconds(15)))
      << Kgwctl(coordinator(0).endpoint(), "nodes");
  EXPECT_TRUE(absl::StrContains(Kgwctl(coordinator(0).endpoint(), "nodes"), "cluster key"))
      << Kgwctl(coordinator(0).endpoint(), "nodes");
  EXPECT_EQ(StatusField(coordinator(1).endpoint(), "Refused members:"),
            "1 (they do not count; see kgwctl nodes)");
  EXPECT_EQ(MetricValue(coordinator(1).http_port, "kgw_coordinator_members_refused"), 1);
  impostor->Stop();
}

// A dynamic member (no instance id) claiming agent-a's node id, pointing at
// another host: it neither replaces agent-a nor shows anywhere.
TEST_F(IntegrityTest, AMemberClaimingALiveNodeIdDoesNotTakeItsPlace) {
  auto impostor = Impostor(E().cluster_id, ForgedAgent("agent-a"), /*static_member=*/false);
  ASSERT_TRUE(WaitFor([&] { return impostor->view().has_value(); }, seconds(30)));
  EXPECT_TRUE(WaitFor([] { return absl::StrContains(coordinator(0).process->Log(),
                                                    "claiming node id \"agent-a\""); },
                      seconds(15)));

  EXPECT_TRUE(EveryClientRoutedRackLocally(12));
  EXPECT_FALSE(absl::StrContains(Kgwctl(coordinator(0).endpoint(), "nodes"), kEvilHost));
  // Shown, and counted, as a refused second agent-a (for its missing proof:
  // that comes before the duplicate check).
  EXPECT_TRUE(WaitFor([] { return HealthOf(coordinator(0).endpoint(), "agent-a") ==
                                  std::vector<std::string>{"live", "refused"}; },
                      seconds(15)))
      << Kgwctl(coordinator(0).endpoint(), "nodes");
  EXPECT_EQ(MetricValue(coordinator(0).http_port, "kgw_coordinator_members_refused"), 1);
  impostor->Stop();
}

// A sidecar agent registers over its stream alone: configured with a
// follower, it follows the follower's hint to the leader, shows in `kgwctl
// nodes` with its role, version and load, is drained and resumed like an
// agent, is dropped when it falls silent, and is never a group member nor
// advertised to any other client.
TEST_F(IntegrityTest, ASidecarRegistersWithoutJoiningAndIsNeverAdvertisedToOthers) {
  const std::string leader = StatusField(coordinator(0).endpoint(), "Leader:");
  ASSERT_TRUE(leader == "coord-1" || leader == "coord-2") << leader;
  const Coordinator& leading = coordinator(leader == "coord-1" ? 0 : 1);
  const Coordinator& follower = coordinator(leader == "coord-1" ? 1 : 0);
  std::map<std::string, std::string> env = NodeEnv(E().cluster_id, true);
  env.insert({{"GATEWAY_AGENT_ROLE", "sidecar"},
              {"GATEWAY_NODE_ID", "app-sidecar"},
              {"GATEWAY_RACK_ID", "a"},
              {"GATEWAY_BIND_HOST", "127.0.0.1"},
              {"GATEWAY_PORT_START", std::to_string(kSidecarPortStart)},
              {"GATEWAY_HTTP_PORT", std::to_string(kSidecarHttpPort)},
              {"GATEWAY_COORDINATORS", follower.endpoint()},
              {"GATEWAY_LOAD_REPORT_INTERVAL", "1s"}});
  Child sidecar({E().agent_bin}, env, absl::StrCat(E().work_dir, "/app-sidecar.log"));
  ASSERT_TRUE(WaitReady(sidecar, "127.0.0.1", kSidecarHttpPort, seconds(60))) << sidecar.Log();

  // Its application learns every broker at the sidecar, on localhost.
  std::map<int, std::string> own;
  for (int b = 1; b <= 3; ++b) own[b] = absl::StrCat("localhost:", kSidecarPortStart + b);
  EXPECT_EQ(MetadataThrough(absl::StrCat("127.0.0.1:", kSidecarPortStart)), own);

  // Registered with the leader, which it found through the follower.
  ASSERT_TRUE(WaitFor([&] { return HealthOf(leading.endpoint(), "app-sidecar") ==
                                   std::vector<std::string>{"live"}; },
                      seconds(30)))
      << Kgwctl(leading.endpoint(), "nodes") << sidecar.Log();
  EXPECT_TRUE(absl::StrContains(sidecar.Log(), "for the new leading coordinator")) << sidecar.Log();
  EXPECT_EQ(StatusField(leading.endpoint(), "Sidecars:"),
            absl::StrCat("1 (streaming to ", leader, ")"));
  const std::vector<std::vector<std::string>> rows = NodeRows(leading.endpoint(), "app-sidecar");
  ASSERT_EQ(rows.size(), 1u) << Kgwctl(leading.endpoint(), "nodes");
  const std::vector<std::string>& cells = rows[0];
  const std::string row = absl::StrJoin(cells, " | ");
  ASSERT_EQ(cells.size(), 12u) << row;
  EXPECT_EQ(cells[1], "sidecar");
  EXPECT_EQ(cells[2], "localhost");
  EXPECT_NE(cells[8], "-") << "no load report: " << row;  // CONNECTIONS
  EXPECT_NE(cells[11], "-") << "no version: " << row;

  // Neither a member nor anyone else's route.
  EXPECT_EQ(StatusField(leading.endpoint(), "Agents:"), "3");
  EXPECT_FALSE(absl::StrContains(Kgwctl(leading.endpoint(), "assignment"), "app-sidecar"));
  EXPECT_TRUE(EveryClientRoutedRackLocally(12));

  // Drained and resumed by node id, like an agent.
  Kgwctl(leading.endpoint(), "drain app-sidecar");
  EXPECT_TRUE(WaitFor([&] { return absl::StrContains(sidecar.Log(), "drained this sidecar"); },
                      seconds(15)))
      << sidecar.Log();
  EXPECT_EQ(HealthOf(leading.endpoint(), "app-sidecar"), std::vector<std::string>{"draining"});
  Kgwctl(leading.endpoint(), "resume app-sidecar");
  EXPECT_TRUE(WaitFor([&] { return absl::StrContains(sidecar.Log(), "resumed this sidecar"); },
                      seconds(15)))
      << sidecar.Log();
  EXPECT_TRUE(EveryClientRoutedRackLocally(6));

  // Dropped when it vanishes without closing its connection, as a host that
  // loses power does: a stopped process answers no ping. Back when it is.
  sidecar.Signal(SIGSTOP);
  const auto stopped = std::chrono::steady_clock::now();
  EXPECT_TRUE(WaitFor([&] { return HealthOf(leading.endpoint(), "app-sidecar").empty(); },
                      seconds(30)))
      << "a silent sidecar is still listed: " << Kgwctl(leading.endpoint(), "nodes");
  std::cout << "a stopped sidecar was dropped after "
            << std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() -
                                                        stopped).count()
            << " ms (pings every 3 s)" << std::endl;
  sidecar.Signal(SIGCONT);
  EXPECT_TRUE(WaitFor([&] { return HealthOf(leading.endpoint(), "app-sidecar") ==
                                   std::vector<std::string>{"live"}; },
                      seconds(30)))
      << Kgwctl(leading.endpoint(), "nodes") << sidecar.Log();

  // Forgotten once it stops.
  sidecar.Signal(SIGTERM);
  EXPECT_EQ(sidecar.Wait(seconds(30)), 0) << sidecar.Log();
  EXPECT_TRUE(WaitFor([&] { return HealthOf(leading.endpoint(), "app-sidecar").empty(); },
                      seconds(15)))
      << Kgwctl(leading.endpoint(), "nodes");
}

// A member posing as a coordinator with the smallest node id: it never leads,
// no agent streams from it, and the group leader's list of coordinators (the
// impostor may be Kafka's group leader) never names it to agents.
TEST_F(IntegrityTest, AForgedCoordinatorNeverLeadsNorIsStreamedFrom) {
  v1::NodeDescriptor evil;
  evil.set_node_id("0-evil");
  evil.set_role(v1::NodeDescriptor::ROLE_COORDINATOR);
  evil.set_advertised_host(kEvilHost);
  evil.set_grpc_endpoint(absl::StrCat(kEvilHost, ":23999"));
  auto impostor = Impostor(E().cluster_id, evil, true);
  ASSERT_TRUE(WaitFor([&] { return impostor->view().has_value(); }, seconds(30)));
  EXPECT_TRUE(WaitFor([] { return absl::StrContains(coordinator(0).process->Log(),
                                                    "claiming node id \"0-evil\""); },
                      seconds(15)));

  EXPECT_EQ(StatusField(coordinator(1).endpoint(), "Leader:"), "coord-1");
  EXPECT_TRUE(EveryClientRoutedRackLocally(6));
  EXPECT_FALSE(absl::StrContains(AllLogs(), absl::StrCat("coordinator ", kEvilHost, ":23999")));
  impostor->Stop();
}

// A record nobody with the key wrote, with the highest epoch and generation
// there are, sending every broker to the evil host: ignored by coordinators
// and by an agent that cold-starts from the topic.
TEST_F(IntegrityTest, APoisonedRecordInTheAssignmentsTopicIsIgnored) {
  const std::string in_force = StatusField(coordinator(0).endpoint(), "Assignment:");
  v1::Assignment poison;
  poison.set_epoch(int64_t{1} << 61);
  poison.set_generation_id(2147483647);
  poison.set_revision(1);
  poison.set_leader_node_id("0-evil");
  for (int b = 1; b <= 3; ++b) {
    v1::BrokerAssignment* ba = poison.add_brokers();
    ba->set_broker_id(b);
    ba->add_agent_node_ids("agent-evil");
  }
  v1::AgentEndpoint* e = poison.add_agents();
  e->set_node_id("agent-evil");
  e->set_advertised_host(kEvilHost);
  e->set_port_start(kPortStart);
  ASSERT_TRUE(ProduceToAssignments(poison.SerializeAsString()));

  EXPECT_TRUE(WaitFor([] { return absl::StrContains(coordinator(1).process->Log(),
                                                    "ignoring a record of"); },
                      seconds(15)))
      << coordinator(1).process->Log();
  // The leader's epoch still rules. The generation may have moved on with a
  // genuine rebalance (the previous test's impostor leaving the group), but
  // never to the poison's.
  const std::string epoch = in_force.substr(0, in_force.find(','));
  for (int i = 0; i < 2; ++i) {
    const std::string now = StatusField(coordinator(i).endpoint(), "Assignment:");
    EXPECT_EQ(now.substr(0, now.find(',')), epoch) << now;
    EXPECT_FALSE(absl::StrContains(now, "2147483647")) << now;
  }
  EXPECT_TRUE(EveryClientRoutedRackLocally(6));

  // With the coordinators stopped nothing can publish after the poison: an
  // agent starting cold reads past it to the genuine assignment, and
  // coordinators starting again take their epoch and drains from that one.
  for (Coordinator& c : *coordinators_) c.process->Signal(SIGTERM);
  for (Coordinator& c : *coordinators_) ASSERT_EQ(c.process->Wait(seconds(30)), 0);
  auto [rc, size] = Shell(absl::StrCat("kcat -C -q -b ", E().kafka_bootstrap, " -t ", E().topic(),
                                       " -o -1 -c 1 -f '%S'"));
  if (size != absl::StrCat(poison.ByteSizeLong())) {
    ASSERT_TRUE(ProduceToAssignments(poison.SerializeAsString()));
  }
  agent(2).process->Signal(SIGTERM);
  ASSERT_EQ(agent(2).process->Wait(seconds(30)), 0);
  StartAgent(agent(2), 2);
  EXPECT_TRUE(WaitFor([] { return absl::StrContains(agent(2).process->Log(),
                                                    "refusing an assignment from topic"); },
                      seconds(15)))
      << agent(2).process->Log();
  // It installs the genuine assignment before the poison.
  std::map<int, std::string> cold;
  EXPECT_TRUE(WaitFor([&] { return (cold = MetadataThrough(Bootstrap(agent(2)))) == RackLocal(); },
                      seconds(15)))
      << agent(2).process->Log();
  EXPECT_FALSE(absl::StrContains(agent(2).process->Log(), "assignment epoch 2305843009213693952"));

  for (Coordinator& c : *coordinators_) StartCoordinator(c, 2);
  std::string now;
  EXPECT_TRUE(WaitFor(
      [&] {
        now = StatusField(coordinator(1).endpoint(), "Assignment:");
        return absl::StartsWith(now, "epoch ") && !absl::StartsWith(now, "epoch 2305843009213693952");
      },
      seconds(30)))
      << now;
  std::map<int, std::string> seen;
  EXPECT_TRUE(WaitFor([&] { return (seen = MetadataThrough(Bootstrap(agent(0)))) == RackLocal(); },
                      seconds(30)));
  EXPECT_TRUE(EveryClientRoutedRackLocally(6));
}

// A genuine but older assignment written again: older than the one in force,
// so nobody takes it.
TEST_F(IntegrityTest, AReplayedOlderAssignmentChangesNothing) {
  // A drain and a resume publish two newer assignments, so that the first
  // record is older than the one in force whatever ran before.
  const std::string drained = Kgwctl(coordinator(1).endpoint(), "drain agent-c");
  ASSERT_TRUE(absl::StrContains(drained, "Drained agent-c")) << drained;
  const std::string resumed = Kgwctl(coordinator(1).endpoint(), "resume agent-c");
  ASSERT_TRUE(absl::StrContains(resumed, "Resumed agent-c")) << resumed;
  ASSERT_TRUE(WaitFor([] { return StatusField(coordinator(0).endpoint(), "Assignment:") ==
                                  StatusField(coordinator(1).endpoint(), "Assignment:"); },
                      seconds(10)));
  const std::string file = absl::StrCat(E().work_dir, "/first-record");
  auto [rc, out] = Shell(absl::StrCat("kcat -C -q -b ", E().kafka_bootstrap, " -t ", E().topic(),
                                      " -o beginning -c 1 -f '%s' > ", file));
  ASSERT_EQ(rc, 0) << out;
  const std::string first = ReadFile(file);
  v1::Assignment old;
  ASSERT_TRUE(old.ParseFromString(first));
  ASSERT_FALSE(old.proof().empty()) << "the leader signs what it stores";
  const std::string in_force = StatusField(coordinator(0).endpoint(), "Assignment:");
  ASSERT_NE(in_force, absl::StrCat("epoch ", old.epoch(), ", generation ", old.generation_id(),
                                   ", revision ", old.revision()));

  ASSERT_TRUE(ProduceToAssignments(first));

  // Once the coordinators have read past it, nothing has moved.
  absl::SleepFor(absl::Seconds(2));
  EXPECT_EQ(StatusField(coordinator(0).endpoint(), "Assignment:"), in_force);
  EXPECT_EQ(StatusField(coordinator(1).endpoint(), "Assignment:"), in_force);
  EXPECT_TRUE(EveryClientRoutedRackLocally(6));
}

// Streams without the key are refused at their first message, however many:
// no thread, memory or node entry is left behind, and a forged load report
// for a real agent never shows.
TEST_F(IntegrityTest, TwoThousandForgedAgentStreamsAreRefusedAndLeaveNothingBehind) {
  const pid_t pid = coordinator(0).process->pid();
  const int64_t rss_before = ProcStatus(pid, "VmRSS:");
  auto stub = v1::AgentService::NewStub(
      grpc::CreateChannel(coordinator(0).endpoint(), grpc::InsecureChannelCredentials()));
  int refused = 0;
  int64_t max_threads = 0;
  for (int i = 0; i < 2000; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(5));
    auto stream = stub->Connect(&context);
    v1::AgentMessage hello;
    hello.mutable_node()->CopyFrom(ForgedAgent(i == 0 ? "agent-a" : absl::StrCat("forged-", i)));
    hello.mutable_load()->set_bytes_per_second(1e12);
    stream->Write(hello);
    v1::AgentDirective directive;
    if (stream->Read(&directive)) {
      ADD_FAILURE() << "forged stream " << i << " was served an assignment";
      context.TryCancel();
      stream->Finish();
      break;
    }
    refused += stream->Finish().error_code() == grpc::StatusCode::UNAUTHENTICATED;
    if (i % 200 == 0) max_threads = std::max(max_threads, ProcStatus(pid, "Threads:"));
  }
  const int64_t rss_after = ProcStatus(pid, "VmRSS:");
  std::cout << "2000 forged streams: " << refused << " refused; coordinator RSS " << rss_before
            << " -> " << rss_after << " kB, at most " << max_threads << " threads" << std::endl;

  EXPECT_EQ(refused, 2000);
  EXPECT_LE(max_threads, 64);
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer keeps freed memory in quarantine: RSS says nothing here.
  std::cout << "RSS not checked under AddressSanitizer" << std::endl;
#else
  EXPECT_LT(rss_after - rss_before, 20 * 1024);
#endif
  const std::string nodes = Kgwctl(coordinator(0).endpoint(), "nodes");
  EXPECT_FALSE(absl::StrContains(nodes, "forged-")) << nodes;
  EXPECT_TRUE(EveryClientRoutedRackLocally(3));
}

// Every gateway node stops; the empty group is deleted; the new group's
// generations start again from 1, usually below the stored assignment's (the
// new leader then waits one session timeout for its view to catch up, says
// so, and takes over). Either way it publishes with a higher epoch: routing
// and drains work again.
// An agent whose stream carries a proven descriptor is assigned before the
// group lists it, so a join need not wait for the group's rebalance; but
// only for twice the session timeout from its stream's start, after which
// the group alone counts. This agent can never join (the brokers refuse its
// 5 s session timeout, below their 6 s minimum), so all it gets comes from
// its stream, to the leader it found in the newest stored assignment, as
// every starting agent does.
TEST_F(IntegrityTest, AnAgentIsAssignedFromItsProvenStreamOnlyUntilTheGroupMustListIt) {
  const std::string leader = StatusField(coordinator(0).endpoint(), "Leader:");
  ASSERT_TRUE(leader == "coord-1" || leader == "coord-2") << leader;
  const Coordinator& leading = coordinator(leader == "coord-1" ? 0 : 1);
  const auto named = [&] {
    return absl::StrContains(Kgwctl(leading.endpoint(), "assignment"), "agent-early");
  };
  std::map<std::string, std::string> env = NodeEnv(E().cluster_id, true);
  env["GATEWAY_GROUP_SESSION_TIMEOUT"] = "5s";
  env.insert({{"GATEWAY_NODE_ID", "agent-early"},
              {"GATEWAY_RACK_ID", "a"},
              {"GATEWAY_BIND_HOST", "127.0.0.5"},
              {"GATEWAY_ADVERTISED_HOST", "127.0.0.5"},
              {"GATEWAY_PORT_START", std::to_string(kPortStart)},
              {"GATEWAY_HTTP_PORT", std::to_string(kAgentHttpPort)}});
  const absl::Time started = absl::Now();
  Child early({E().agent_bin}, env, absl::StrCat(E().work_dir, "/agent-early.log"));
  ASSERT_TRUE(WaitFor(named, seconds(2 * kSessionTimeoutSeconds)))
      << Kgwctl(leading.endpoint(), "assignment") << early.Log();
  const absl::Duration assigned_after = absl::Now() - started;
  EXPECT_EQ(StatusField(leading.endpoint(), "Agents:"), "3") << "the group lists it";
  EXPECT_TRUE(absl::StrContains(early.Log(), "INVALID_SESSION_TIMEOUT")) << early.Log();

  ASSERT_TRUE(WaitFor([&] { return !named(); }, seconds(2 * kSessionTimeoutSeconds + 20)))
      << Kgwctl(leading.endpoint(), "assignment");
  const absl::Duration dropped_after = absl::Now() - started;
  std::cout << "agent-early was assigned " << assigned_after << " after it started, and dropped "
            << dropped_after << " after" << std::endl;
  EXPECT_GE(dropped_after, absl::Seconds(2 * kSessionTimeoutSeconds));
  early.Signal(SIGTERM);
  EXPECT_EQ(early.Wait(seconds(30)), 0) << early.Log();
}

TEST_F(IntegrityTest, ALeaderTakesOverAfterTheGroupWasDeletedAndCreatedAgain) {
  const std::string before = StatusField(coordinator(0).endpoint(), "Assignment:");
  for (Agent& a : *agents_) a.process->Signal(SIGTERM);
  for (Coordinator& c : *coordinators_) c.process->Signal(SIGTERM);
  for (Agent& a : *agents_) ASSERT_EQ(a.process->Wait(seconds(30)), 0);
  for (Coordinator& c : *coordinators_) ASSERT_EQ(c.process->Wait(seconds(30)), 0);
  // Agents keep their place for a session timeout (static membership); once
  // it has passed the group is empty and can be deleted.
  std::string out;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto [rc, o] = Shell(absl::StrCat(
            "java -cp '", E().kafka_libs, "/*' "
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server ",
            E().kafka_bootstrap, " --delete --group ", E().group(), " 2>&1"));
        out = o;
        return rc == 0 && absl::StrContains(o, "successful");
      },
      absl::Seconds(60), absl::Seconds(2)))
      << out;

  for (Coordinator& c : *coordinators_) StartCoordinator(c, 3);
  for (Agent& a : *agents_) StartAgent(a, 3);

  // "epoch E, generation G, revision R"
  const auto epoch_of = [](absl::string_view assignment) {
    int64_t epoch = -1;
    if (absl::ConsumePrefix(&assignment, "epoch ")) {
      (void)absl::SimpleAtoi(assignment.substr(0, assignment.find(',')), &epoch);
    }
    return epoch;
  };
  ASSERT_GT(epoch_of(before), 0) << before;
  std::string after;
  EXPECT_TRUE(WaitFor(
      [&] {
        after = StatusField(coordinator(1).endpoint(), "Assignment:");
        return epoch_of(after) > epoch_of(before) &&
               StatusField(coordinator(1).endpoint(), "Leader:") == "coord-1";
      },
      seconds(kSessionTimeoutSeconds + 40)))
      << "before: " << before << ", after: " << after << "\n" << coordinator(0).process->Log();
  std::map<int, std::string> seen;
  EXPECT_TRUE(WaitFor([&] { return (seen = MetadataThrough(Bootstrap(agent(0)))) == RackLocal(); },
                      seconds(20)));
  EXPECT_TRUE(WaitFor([] { return StatusField(coordinator(1).endpoint(), "Agents:") == "3"; },
                      seconds(30)));
  const std::string drained = Kgwctl(coordinator(1).endpoint(), "drain agent-c");
  EXPECT_TRUE(absl::StrContains(drained, "Drained agent-c")) << drained;
  const std::string resumed = Kgwctl(coordinator(1).endpoint(), "resume agent-c");
  EXPECT_TRUE(absl::StrContains(resumed, "Resumed agent-c")) << resumed;
}

}  // namespace
}  // namespace kgw::test
