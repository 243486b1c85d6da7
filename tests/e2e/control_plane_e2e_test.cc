// The control plane end to end, against the real test cluster (brokers 1, 2
// and 3 in racks a, b and c): two kgw-coordinators and three kgw-agents on
// 127.0.0.2/.3/.4 in racks a/b/c form one gateway cluster through a Kafka
// group. A Java producer and consumer group run through the agents while
// agents and coordinators are killed, restarted, added and drained; at the
// end every acknowledged record must have been consumed, none twice, and no
// send may have failed. Then three more agents run in the external load
// balancer mode behind HAProxy.
//
// The tests share the processes and run in order.
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/testing/wait_for.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/fleet_page.h"
#include "tests/e2e/process_util.h"

namespace kgw::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

// Six seconds is the brokers' smallest allowed group session timeout.
constexpr int kSessionTimeoutSeconds = 6;
constexpr int kPortStart = 31969;
constexpr int kAgentHttpPort = 31888;
constexpr int kLbPortStart = 30969;
constexpr int kLbHttpPort = 30888;
constexpr char kLbHost[] = "127.0.0.6";

struct Env {
  std::string agent_bin = EnvOr("KGW_AGENT_BIN", "");
  std::string coordinator_bin = EnvOr("KGW_COORDINATOR_BIN", "");
  std::string kgwctl_bin = EnvOr("KGWCTL_BIN", "");
  std::string source_dir = EnvOr("KGW_SOURCE_DIR", ".");
  std::string kafka_bootstrap = EnvOr("KGW_KAFKA_BOOTSTRAP", "");
  std::string kafka_libs = EnvOr("KGW_KAFKA_LIBS", "");
  // One gateway cluster per run: the plain and the sanitizer builds share
  // the Kafka cluster but not their internal topics and group.
  std::string cluster_id = absl::StrCat("e2e-", getpid());
  std::string work_dir;
};

Env& E() {
  static Env* env = new Env;
  return *env;
}

struct Agent {
  std::string node_id;
  std::string host;  // also its advertised host
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

using ::kgw::testing::WaitFor;

void StartCoordinator(Coordinator& c, int run) {
  std::map<std::string, std::string> env = {
      {"KAFKA_BOOTSTRAP_SERVERS", E().kafka_bootstrap},
      {"GATEWAY_CLUSTER_ID", E().cluster_id},
      {"GATEWAY_NODE_ID", c.node_id},
      {"GATEWAY_ADVERTISED_HOST", "127.0.0.1"},
      {"GATEWAY_GRPC_BIND_HOST", "127.0.0.1"},
      {"GATEWAY_GRPC_PORT", std::to_string(c.grpc_port)},
      {"GATEWAY_HTTP_PORT", std::to_string(c.http_port)},
      {"GATEWAY_GROUP_SESSION_TIMEOUT", absl::StrCat(kSessionTimeoutSeconds, "s")},
      {"GATEWAY_GROUP_HEARTBEAT_INTERVAL", "500ms"}};
  c.process = std::make_unique<Child>(
      std::vector<std::string>{E().coordinator_bin}, env,
      absl::StrCat(E().work_dir, "/", c.node_id, "-", run, ".log"));
  ASSERT_TRUE(WaitReady(*c.process, "127.0.0.1", c.http_port, seconds(60)))
      << c.node_id << " never became ready:\n" << c.process->Log();
}

void StartAgent(Agent& a, int run, std::map<std::string, std::string> extra = {},
                int port_start = kPortStart, int http_port = kAgentHttpPort) {
  std::map<std::string, std::string> env = {
      {"KAFKA_BOOTSTRAP_SERVERS", E().kafka_bootstrap},
      {"GATEWAY_CLUSTER_ID", E().cluster_id},
      {"GATEWAY_NODE_ID", a.node_id},
      {"GATEWAY_RACK_ID", a.rack},
      {"GATEWAY_BIND_HOST", a.host},
      {"GATEWAY_ADVERTISED_HOST", a.host},
      {"GATEWAY_PORT_START", std::to_string(port_start)},
      {"GATEWAY_HTTP_PORT", std::to_string(http_port)},
      {"GATEWAY_GROUP_SESSION_TIMEOUT", absl::StrCat(kSessionTimeoutSeconds, "s")},
      {"GATEWAY_GROUP_HEARTBEAT_INTERVAL", "500ms"},
      {"GATEWAY_LOAD_REPORT_INTERVAL", "1s"},
      {"GATEWAY_SHUTDOWN_DELAY_BETWEEN_BROKERS_MS", "200"}};
  for (auto& [k, v] : extra) env[k] = v;
  a.process = std::make_unique<Child>(std::vector<std::string>{E().agent_bin}, env,
                                      absl::StrCat(E().work_dir, "/", a.node_id, "-", run, ".log"));
  ASSERT_TRUE(WaitReady(*a.process, a.host, http_port, seconds(60)))
      << a.node_id << " never became ready:\n" << a.process->Log();
}

// Broker id -> "host:port" as Metadata through `bootstrap` (host:port)
// advertises it to a client with `client_id`.
std::map<int, std::string> MetadataThrough(const std::string& bootstrap,
                                           const std::string& client_id = "kgw-e2e") {
  auto [rc, out] = Shell(absl::StrCat("kcat -b ", bootstrap, " -X client.id=", client_id,
                                      " -L -m 5 -t __none__ 2>&1"));
  return KcatBrokers(out);
}

std::string Describe(const std::map<int, std::string>& m) {
  return absl::StrJoin(m, ", ", [](std::string* out, const auto& e) {
    absl::StrAppend(out, e.first, "->", e.second);
  });
}

std::string Kgwctl(const std::string& coordinator, const std::string& args) {
  auto [rc, out] = Shell(absl::StrCat(E().kgwctl_bin, " --coordinator ", coordinator,
                                      " --timeout 3s ", args));
  return out;
}

// The words of the first line of `text` that starts with `prefix` (after
// leading spaces), without the prefix; empty when there is none.
std::vector<std::string> LineAfter(const std::string& text, absl::string_view prefix) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripLeadingAsciiWhitespace(line);
    if (absl::ConsumePrefix(&line, prefix)) {
      return absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    }
  }
  return {};
}

// The "Leader:" line of `kgwctl status`.
std::string LeaderPerKgwctl(const std::string& coordinator) {
  std::vector<std::string> words = LineAfter(Kgwctl(coordinator, "status"), "Leader:");
  return words.empty() ? "" : words[0];
}

class ControlPlaneTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_FALSE(E().agent_bin.empty()) << "KGW_AGENT_BIN is not set";
    ASSERT_FALSE(E().coordinator_bin.empty()) << "KGW_COORDINATOR_BIN is not set";
    ASSERT_FALSE(E().kgwctl_bin.empty()) << "KGWCTL_BIN is not set";
    ASSERT_FALSE(E().kafka_bootstrap.empty())
        << "KGW_KAFKA_BOOTSTRAP is not set: start tests/kafka/kafka-cluster.sh and source its "
           "cluster.env";
    char dir[] = "/tmp/kgw-control-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    E().work_dir = dir;
    coordinators_ = new std::vector<Coordinator>(2);
    coordinator(0) = {"coord-1", 31901, 31811, nullptr};
    coordinator(1) = {"coord-2", 31902, 31812, nullptr};
    agents_ = new std::vector<Agent>(3);
    agent(0) = {"agent-a", "127.0.0.2", "a", nullptr};
    agent(1) = {"agent-b", "127.0.0.3", "b", nullptr};
    agent(2) = {"agent-c", "127.0.0.4", "c", nullptr};
    for (Coordinator& c : *coordinators_) StartCoordinator(c, 1);
    for (Agent& a : *agents_) StartAgent(a, 1);
  }
  static void TearDownTestSuite() {
    delete traffic_;
    traffic_ = nullptr;
    if (agents_ == nullptr || coordinators_ == nullptr) return;  // set-up failed early
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
    return absl::StrCat(a.host, ":", kPortStart + broker);  // GATEWAY_MIN_BROKERID=0
  }
  // The rack-local map: broker 1 at the rack-a agent, 2 at b, 3 at c.
  static std::map<int, std::string> RackLocal() {
    return {{1, Address(agent(0), 1)}, {2, Address(agent(1), 2)}, {3, Address(agent(2), 3)}};
  }
  static std::string TrafficProgress() {
    if (traffic_ == nullptr) return "";
    const std::string log = traffic_->Log();
    const size_t at = log.rfind("progress ");
    return at == std::string::npos ? "" : log.substr(at, log.find('\n', at) - at);
  }
  static int64_t Acked() {
    for (absl::string_view word : absl::StrSplit(TrafficProgress(), ' ')) {
      int64_t n;
      if (absl::ConsumePrefix(&word, "acked=") && absl::SimpleAtoi(word, &n)) return n;
    }
    return -1;
  }
  // Waits until the producer has had more records acknowledged.
  static bool TrafficFlows(seconds timeout) {
    const int64_t before = Acked();
    return WaitFor([&] { return Acked() > before + 20; }, timeout);
  }

  static std::vector<Coordinator>* coordinators_;
  static std::vector<Agent>* agents_;
  static Child* traffic_;
  static std::string stop_file_;
};

std::vector<Coordinator>* ControlPlaneTest::coordinators_ = nullptr;
std::vector<Agent>* ControlPlaneTest::agents_ = nullptr;
Child* ControlPlaneTest::traffic_ = nullptr;
std::string ControlPlaneTest::stop_file_;

TEST_F(ControlPlaneTest, EveryAgentAdvertisesEachBrokerAtTheAgentInItsRack) {
  for (int i = 0; i < 3; ++i) {
    std::map<int, std::string> seen;
    EXPECT_TRUE(WaitFor([&] { return (seen = MetadataThrough(Bootstrap(agent(i)))) == RackLocal(); },
                        seconds(30)))
        << "through " << agent(i).node_id << ": " << Describe(seen) << "\nexpected "
        << Describe(RackLocal());
  }
  EXPECT_EQ(LeaderPerKgwctl(coordinator(1).endpoint()), "coord-1");
}

// Both checks go through gRPC's generic stub with hand-encoded messages, so
// the test needs no copy of gRPC's own protos.
// The fleet view, in a real browser, draws what kgwctl shows: the racks,
// every agent and broker in its rack's column, and from each broker lines to
// exactly the agents eligible for it. It is loaded from the follower, which
// asks the leader for the nodes. A broker named in the fragment is pinned:
// highlighted with its agents, its details shown.
TEST_F(ControlPlaneTest, TheFleetPageDrawsTheAssignmentKgwctlShows) {
  ASSERT_TRUE(HaveChromium()) << "no " << ChromiumBinary() << ": run scripts/install-deps.sh";
  const std::string url = absl::StrCat("http://127.0.0.1:", coordinator(1).http_port, "/fleet");
  const std::string screenshot = E().work_dir + "/fleet.png";
  v1::Assignment expected;
  DrawnFleet drawn;
  std::string revision;
  // The assignment may move on between the two reads: they must show the same one.
  for (int attempt = 0; attempt < 3 && (drawn.revision.empty() || drawn.revision != revision);
       ++attempt) {
    const std::string json = Kgwctl(coordinator(0).endpoint(), "--json assignment");
    ASSERT_TRUE(ParseAssignmentJson(json, &expected)) << json;
    revision = absl::StrCat(expected.epoch(), " · revision ", expected.revision());
    drawn = LoadFleetPage(url + "#broker=1", E().work_dir, screenshot);
  }
  ASSERT_EQ(drawn.state, "drawn") << drawn.dom.substr(0, 3000);
  EXPECT_EQ(drawn.revision, revision);

  std::set<std::string> racks;
  std::map<std::string, std::string> agents;
  std::map<int, std::string> brokers;
  std::map<int, std::set<std::string>> lines;
  for (const v1::AgentEndpoint& a : expected.agents()) {
    agents[a.node_id()] = a.rack();
    racks.insert(a.rack());
  }
  for (const v1::BrokerAssignment& b : expected.brokers()) {
    brokers[b.broker_id()] = b.broker_rack();
    racks.insert(b.broker_rack());
    lines[b.broker_id()] = {b.agent_node_ids().begin(), b.agent_node_ids().end()};
  }
  EXPECT_EQ(racks, (std::set<std::string>{"a", "b", "c"}));
  EXPECT_EQ(drawn.racks, racks);
  EXPECT_EQ(drawn.agents, agents);
  EXPECT_EQ(drawn.brokers, brokers);
  EXPECT_EQ(drawn.lines, lines);

  std::set<std::string> pinned = {"broker 1"};
  pinned.insert(lines[1].begin(), lines[1].end());
  EXPECT_EQ(drawn.hot, pinned);
  EXPECT_THAT(drawn.detail, ::testing::HasSubstr("Broker 1"));
  const std::string png = ReadFile(screenshot);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  EXPECT_GT(png.size(), 10000u) << "a blank page?";
}

TEST_F(ControlPlaneTest, CoordinatorsServeGrpcHealthChecksAndReflection) {
  auto channel =
      grpc::CreateChannel(coordinator(0).endpoint(), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  const auto deadline = [] { return std::chrono::system_clock::now() + seconds(5); };

  // grpc.health.v1.Health/Check with HealthCheckRequest{service: ""} (the
  // server as a whole; field 1, bytes 0a 00) answers
  // HealthCheckResponse{status: SERVING}, bytes 08 01.
  grpc::CompletionQueue cq;
  grpc::ClientContext health_context;
  health_context.set_deadline(deadline());
  const std::string health_request("\x0a\x00", 2);
  grpc::Slice health_slice(health_request);
  grpc::ByteBuffer health_buffer(&health_slice, 1), health;
  grpc::Status health_status;
  auto call =
      stub.PrepareUnaryCall(&health_context, "/grpc.health.v1.Health/Check", health_buffer, &cq);
  call->StartCall();
  call->Finish(&health, &health_status, reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  ASSERT_TRUE(health_status.ok()) << health_status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(health.Dump(&slices).ok());
  std::string answer;
  for (const grpc::Slice& slice : slices) {
    answer.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  EXPECT_EQ(answer, std::string("\x08\x01", 2));

  // grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo with
  // ServerReflectionRequest{list_services: ""} (field 7, bytes 3a 00) lists
  // the services by name.
  grpc::ClientContext reflection_context;
  reflection_context.set_deadline(deadline());
  auto stream = stub.PrepareCall(&reflection_context,
                                 "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                 &cq);
  const auto step = [&](int n) {
    void* got;
    bool success = false;
    EXPECT_TRUE(cq.Next(&got, &success));
    EXPECT_EQ(got, reinterpret_cast<void*>(n));
    return success;
  };
  stream->StartCall(reinterpret_cast<void*>(2));
  ASSERT_TRUE(step(2));
  const std::string request("\x3a\x00", 2);
  grpc::Slice request_slice(request);
  grpc::ByteBuffer request_buffer(&request_slice, 1);
  stream->Write(request_buffer, reinterpret_cast<void*>(3));
  ASSERT_TRUE(step(3));
  stream->WritesDone(reinterpret_cast<void*>(4));
  ASSERT_TRUE(step(4));
  grpc::ByteBuffer reply;
  stream->Read(&reply, reinterpret_cast<void*>(5));
  ASSERT_TRUE(step(5));
  slices.clear();
  ASSERT_TRUE(reply.Dump(&slices).ok());
  answer.clear();
  for (const grpc::Slice& slice : slices) {
    answer.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  EXPECT_TRUE(absl::StrContains(answer, "kgw.v1.Admin")) << answer;
  EXPECT_TRUE(absl::StrContains(answer, "kgw.v1.AgentService")) << answer;
  EXPECT_TRUE(absl::StrContains(answer, "grpc.health.v1.Health")) << answer;
  grpc::Status finished;
  stream->Finish(&finished, reinterpret_cast<void*>(6));
  step(6);
  EXPECT_TRUE(finished.ok()) << finished.error_message();
}

TEST_F(ControlPlaneTest, ClientsStartProducingAndConsumingThroughTheAgents) {
  stop_file_ = absl::StrCat(E().work_dir, "/stop-traffic");
  const std::string bootstrap = absl::StrCat(Bootstrap(agent(0)), ",", Bootstrap(agent(1)), ",",
                                             Bootstrap(agent(2)));
  traffic_ = new Child({"/bin/sh", "-c",
                        absl::StrCat("exec java -cp '", E().kafka_libs, "/*' '", E().source_dir,
                                     "/tests/e2e/java/ContinuousCheck.java' ", bootstrap, " ",
                                     "kgw-control-e2e-", getpid(), " ", stop_file_, " 20")},
                       {}, absl::StrCat(E().work_dir, "/traffic.log"));
  ASSERT_TRUE(WaitFor([] { return absl::StrContains(TrafficProgress(), "consumed=") &&
                                  !absl::StrContains(TrafficProgress(), "consumed=0 "); },
                      seconds(90)))
      << traffic_->Log();
}

TEST_F(ControlPlaneTest, KilledAgentsBrokerMovesToASurvivorAndReturnsWhenItRestarts) {
  agent(1).process->Signal(SIGKILL);
  agent(1).process->Wait(seconds(10));
  const auto killed_at = Clock::now();
  std::map<int, std::string> seen;
  ASSERT_TRUE(WaitFor(
      [&] {
        seen = MetadataThrough(Bootstrap(agent(0)));
        return seen.count(2) != 0 && !absl::StartsWith(seen[2], agent(1).host + ":");
      },
      seconds(kSessionTimeoutSeconds + 5)))
      << "broker 2 still at the dead agent: " << Describe(seen);
  const auto moved_after =
      std::chrono::duration_cast<milliseconds>(Clock::now() - killed_at).count();
  std::cout << "broker 2 moved to " << seen[2] << " " << moved_after << " ms after the kill"
            << std::endl;
  EXPECT_EQ(MetadataThrough(Bootstrap(agent(2)))[2], seen[2]);
  EXPECT_TRUE(TrafficFlows(seconds(60))) << TrafficProgress();

  StartAgent(agent(1), 2);
  EXPECT_TRUE(WaitFor([&] { return (seen = MetadataThrough(Bootstrap(agent(0)))) == RackLocal(); },
                      seconds(30)))
      << Describe(seen);
  EXPECT_TRUE(TrafficFlows(seconds(60))) << TrafficProgress();
}

TEST_F(ControlPlaneTest, AnotherCoordinatorLeadsWhenTheLeaderIsKilled) {
  ASSERT_EQ(LeaderPerKgwctl(coordinator(1).endpoint()), "coord-1");
  coordinator(0).process->Signal(SIGKILL);
  coordinator(0).process->Wait(seconds(10));
  const auto killed_at = Clock::now();
  EXPECT_TRUE(WaitFor([&] { return LeaderPerKgwctl(coordinator(1).endpoint()) == "coord-2"; },
                      seconds(kSessionTimeoutSeconds + 5)))
      << Kgwctl(coordinator(1).endpoint(), "status");
  std::cout << "coord-2 leads "
            << std::chrono::duration_cast<milliseconds>(Clock::now() - killed_at).count()
            << " ms after the kill" << std::endl;
  // The new leader keeps the assignment as it was.
  EXPECT_EQ(MetadataThrough(Bootstrap(agent(2))), RackLocal());
}

TEST_F(ControlPlaneTest, AgentsServeTheLastAssignmentWithNoCoordinatorAndAfterARestart) {
  coordinator(1).process->Signal(SIGTERM);
  EXPECT_EQ(coordinator(1).process->Wait(seconds(30)), 0) << coordinator(1).process->Log();
  EXPECT_EQ(Kgwctl(coordinator(1).endpoint(), "status").find("Leader"), std::string::npos);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(MetadataThrough(Bootstrap(agent(i))), RackLocal()) << agent(i).node_id;
  }
  EXPECT_TRUE(TrafficFlows(seconds(60))) << TrafficProgress();

  // A restarted agent finds the assignment in the assignments topic.
  agent(2).process->Signal(SIGTERM);
  EXPECT_EQ(agent(2).process->Wait(seconds(30)), 0);
  StartAgent(agent(2), 2);
  std::map<int, std::string> seen;
  EXPECT_TRUE(WaitFor([&] { return (seen = MetadataThrough(Bootstrap(agent(2)))) == RackLocal(); },
                      seconds(20)))
      << Describe(seen) << "\n" << agent(2).process->Log();
  EXPECT_TRUE(absl::StrContains(agent(2).process->Log(), "from topic _kgw_"))
      << agent(2).process->Log();

  for (int i = 0; i < 2; ++i) StartCoordinator(coordinator(i), 2);
  EXPECT_TRUE(WaitFor([&] { return LeaderPerKgwctl(coordinator(1).endpoint()) == "coord-1"; },
                      seconds(30)));
  EXPECT_TRUE(TrafficFlows(seconds(60))) << TrafficProgress();
}

TEST_F(ControlPlaneTest, AFourthAgentInRackAShareRackABrokersAcrossClients) {
  agents_->emplace_back();
  agents_->back() = {"agent-a2", "127.0.0.5", "a", nullptr};
  StartAgent(agents_->back(), 1);
  const Agent& a2 = agents_->back();
  std::string assignment;
  EXPECT_TRUE(WaitFor(
      [&] {
        assignment = Kgwctl(coordinator(0).endpoint(), "assignment");
        // The table row "1  a  agent-a,agent-a2".
        return LineAfter(assignment, "1 ") == std::vector<std::string>{"a", "agent-a,agent-a2"};
      },
      seconds(20)))
      << assignment;
  // Clients spread over both rack-a agents, each keeping its own map whichever agent it asks.
  // The leader shows the assignment before every agent holds it (an agent streaming from a
  // follower has it from the topic a moment later), so wait until the agents agree.
  std::set<std::string> broker1_at;
  std::string disagreement;
  EXPECT_TRUE(WaitFor(
      [&] {
        broker1_at.clear();
        disagreement.clear();
        for (int i = 0; i < 16; ++i) {
          const std::string client = absl::StrCat("client-", i);
          const std::map<int, std::string> seen = MetadataThrough(Bootstrap(agent(2)), client);
          broker1_at.insert(seen.count(1) ? seen.at(1) : "none");
          const std::map<int, std::string> other = MetadataThrough(Bootstrap(agent(1)), client);
          if (other != seen) {
            disagreement = absl::StrCat(client, ": ", Describe(seen), " vs ", Describe(other));
          }
        }
        return disagreement.empty();
      },
      seconds(10)))
      << disagreement;
  EXPECT_EQ(broker1_at, (std::set<std::string>{Address(agent(0), 1), Address(a2, 1)}));
}

TEST_F(ControlPlaneTest, DrainingAnAgentMovesItsBrokersAtOnceWithoutClientErrors) {
  const std::string out = Kgwctl(coordinator(1).endpoint(), "drain agent-a");
  const auto drained_at = Clock::now();
  ASSERT_TRUE(absl::StrContains(out, "Drained agent-a")) << out;
  std::map<int, std::string> seen;
  EXPECT_TRUE(WaitFor(
      [&] {
        for (int i = 0; i < 8; ++i) {
          seen = MetadataThrough(Bootstrap(agent(2)), absl::StrCat("client-", i));
          if (seen[1] != Address(agents_->back(), 1)) return false;
        }
        return true;
      },
      seconds(2)))
      << "broker 1 is still advertised at " << seen[1];
  std::cout << "broker 1 moved "
            << std::chrono::duration_cast<milliseconds>(Clock::now() - drained_at).count()
            << " ms after the drain" << std::endl;
  EXPECT_TRUE(WaitFor([] { return absl::StrContains(agent(0).process->Log(), "drained: closing"); },
                      seconds(10)));
  EXPECT_TRUE(TrafficFlows(seconds(60))) << TrafficProgress();
  EXPECT_TRUE(absl::StrContains(Kgwctl(coordinator(0).endpoint(), "nodes"), "draining"));

  const std::string resumed = Kgwctl(coordinator(0).endpoint(), "resume agent-a");
  EXPECT_TRUE(absl::StrContains(resumed, "Resumed agent-a")) << resumed;
}

TEST_F(ControlPlaneTest, EveryAcknowledgedRecordWasConsumedExactlyOnce) {
  ASSERT_NE(traffic_, nullptr);
  { std::ofstream(stop_file_) << "stop\n"; }
  const std::optional<int> rc = traffic_->Wait(seconds(180));
  const std::string log = traffic_->Log();
  const size_t summary = log.rfind("summary ");
  std::cout << (summary == std::string::npos ? "no summary" : log.substr(summary)) << std::endl;
  EXPECT_EQ(rc, 0) << log.substr(log.size() > 20000 ? log.size() - 20000 : 0);
}

// The external load balancer mode: HAProxy (TCP) in front of three agents
// that advertise every broker at the balancer, port per broker.
TEST_F(ControlPlaneTest, ClientsWorkThroughHaproxyInFrontOfAgentsWithoutInternalBalancing) {
  const std::string config = absl::StrCat(E().work_dir, "/haproxy.cfg");
  {
    std::ofstream cfg(config);
    cfg << "global\n  maxconn 2000\n"
        << "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 120s\n"
        << "  timeout server 120s\n"
        << "frontend kafka\n  bind " << kLbHost << ":" << kLbPortStart << "-" << kLbPortStart + 5
        << "\n  default_backend agents\n"
        << "backend agents\n  balance roundrobin\n"
        // No port: each connection goes to the port the client connected to.
        << "  server lb1 127.0.0.7\n  server lb2 127.0.0.8\n  server lb3 127.0.0.9\n";
  }
  Child haproxy({"/usr/sbin/haproxy", "-db", "-f", config}, {},
                absl::StrCat(E().work_dir, "/haproxy.log"));
  std::vector<Agent> lb(3);
  lb[0] = {"lb-1", "127.0.0.7", "a", nullptr};
  lb[1] = {"lb-2", "127.0.0.8", "b", nullptr};
  lb[2] = {"lb-3", "127.0.0.9", "c", nullptr};
  for (Agent& a : lb) {
    StartAgent(a, 1,
               {{"GATEWAY_CLUSTER_ID", E().cluster_id + "-lb"},
                {"GATEWAY_FEATURE_FLAGS_INTERNAL_LOAD_BALANCING", "false"},
                {"GATEWAY_ADVERTISED_HOST", kLbHost}},
               kLbPortStart, kLbHttpPort);
  }
  const std::string bootstrap = absl::StrCat(kLbHost, ":", kLbPortStart);
  const std::map<int, std::string> expected = {
      {1, absl::StrCat(kLbHost, ":", kLbPortStart + 1)},
      {2, absl::StrCat(kLbHost, ":", kLbPortStart + 2)},
      {3, absl::StrCat(kLbHost, ":", kLbPortStart + 3)}};
  std::map<int, std::string> seen;
  EXPECT_TRUE(WaitFor([&] { return (seen = MetadataThrough(bootstrap)) == expected; }, seconds(20)))
      << Describe(seen) << "\n" << haproxy.Log();
  auto [rc, out] = Shell(absl::StrCat("exec java -cp '", E().kafka_libs, "/*' '", E().source_dir,
                                      "/tests/e2e/java/ExactlyOnceCheck.java' ", bootstrap,
                                      " kgw-lb-e2e-", getpid(), " 2000"));
  EXPECT_EQ(rc, 0) << out;
  for (Agent& a : lb) {
    a.process->Signal(SIGTERM);
    EXPECT_EQ(a.process->Wait(seconds(30)), 0) << a.process->Log();
  }
  haproxy.Signal(SIGTERM);
  haproxy.Wait(seconds(10));
}

}  // namespace
}  // namespace kgw::test
