// compose/docker-compose.yml without a container engine: the kgw services of
// the file run as the built binaries with exactly the environment the file
// gives them, against the Kafka test cluster in place of the file's Kafka
// services (both have brokers 1, 2 and 3 in racks a, b and c). What a
// container does for free is done by hand, and only that:
//   - each service gets its own loopback address (127.0.0.50 on, in file
//     order), and service names in values become those addresses; a Kafka
//     service's host:port becomes the test cluster's broker with that node id;
//   - every port (set in the file or the documented default) moves to
//     22000 + port % 2000, below the kernel's ephemeral range;
//   - an unset or 0.0.0.0 bind host becomes the service's own address, as a
//     container's 0.0.0.0 is its own network only;
//   - the gateway cluster id gets the test's pid appended, so that runs (and
//     the plain and sanitizer builds) never share internal topics.
// Then every node must become ready, the assignment must give each broker the
// agent of its rack, and the client service's bootstrap list must produce and
// consume with every broker address an agent's. With haproxy installed, the
// `haproxy` profile runs too: HAProxy with compose/haproxy/haproxy.cfg
// (addresses and ports moved the same way) in front of its agents, sending
// PROXY v2 headers that reach the agents' audit log.
//
// The tests share the processes and run in order.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/testing/wait_for.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "kgw/v1/assignment.pb.h"
#include "tests/deploy/deploy_model.h"
#include "tests/e2e/process_util.h"

namespace kgw::deploy {
namespace {

using ::kgw::testing::WaitFor;
using std::chrono::seconds;
using test::Child;
using test::EnvOr;
using test::HttpGet;
using test::KcatBrokers;
using test::Shell;
using test::WaitReady;

constexpr int kFirstAddress = 50;  // 127.0.0.50
constexpr int kLastAddress = 69;

int MovePort(int port) { return 22000 + port % 2000; }

// One kgw service of the file, running natively.
struct Node {
  const ComposeService* service = nullptr;
  Executable exe = Executable::kAgent;
  std::string address;
  std::map<std::string, std::string> env;
  int http_port = 0;
  std::unique_ptr<Child> process;
};

struct Suite {
  std::string source_dir = EnvOr("KGW_SOURCE_DIR", ".");
  std::string kafka_bootstrap = EnvOr("KGW_KAFKA_BOOTSTRAP", "");
  std::map<Executable, std::string> binaries = {
      {Executable::kAgent, EnvOr("KGW_AGENT_BIN", "")},
      {Executable::kCoordinator, EnvOr("KGW_COORDINATOR_BIN", "")},
      {Executable::kKgwctl, EnvOr("KGWCTL_BIN", "")}};
  std::string work_dir;
  SettingsDoc doc;
  ComposeFile compose;
  std::map<std::string, std::string> address_of;        // service -> 127.0.0.x
  std::map<std::string, std::string> kafka_address_of;  // Kafka service -> harness broker
  std::map<std::string, std::string> rack_of_broker;    // node id -> rack in the file
  std::vector<std::unique_ptr<Node>> nodes;
};

Suite& S() {
  static Suite* suite = new Suite;
  return *suite;
}

// `value` with service names (alone or in host:port lists) moved.
std::string MapValue(const ComposeService& s, const std::string& value) {
  std::vector<std::string> items = absl::StrSplit(value, ',');
  for (std::string& item : items) {
    const size_t colon = item.rfind(':');
    std::string host = item.substr(0, colon);
    int port = 0;
    const bool has_port =
        colon != std::string::npos && absl::SimpleAtoi(item.substr(colon + 1), &port);
    // In another service's network namespace, localhost is that service.
    if (host == "localhost" && absl::StartsWith(s.network_mode, "service:")) {
      host = s.network_mode.substr(8);
    }
    if (auto k = S().kafka_address_of.find(host); k != S().kafka_address_of.end() && has_port) {
      item = k->second;
    } else if (auto a = S().address_of.find(host); a != S().address_of.end()) {
      item = has_port ? absl::StrCat(a->second, ":", MovePort(port)) : a->second;
    }
  }
  return absl::StrJoin(items, ",");
}

// Settings whose values are host names or host:port lists (not node, rack or
// cluster ids, which may happen to equal a service name).
bool NamesHosts(absl::string_view setting) {
  for (absl::string_view suffix : {"HOST", "SERVERS", "COORDINATORS", "COORDINATOR"}) {
    if (absl::EndsWith(setting, suffix)) return true;
  }
  return false;
}

std::string Effective(const ComposeService& s, const std::string& name) {
  return EffectiveValue(s.environment, name, S().doc);
}

int EffectivePort(const ComposeService& s, const std::string& name) {
  int port = -1;
  EXPECT_TRUE(absl::SimpleAtoi(Effective(s, name), &port)) << s.name << ": " << name;
  return port;
}

// The service's own address: its network namespace's owner's, if shared.
std::string OwnAddress(const ComposeService& s) {
  if (absl::StartsWith(s.network_mode, "service:")) {
    return S().address_of.at(s.network_mode.substr(8));
  }
  return S().address_of.at(s.name);
}

std::unique_ptr<Node> MakeNode(const ComposeService& s) {
  auto node = std::make_unique<Node>();
  node->service = &s;
  node->exe = *s.executable();
  node->address = OwnAddress(s);
  for (const auto& [name, value] : s.environment) {
    node->env[name] = NamesHosts(name) ? MapValue(s, value) : value;
  }
  std::vector<std::string> ports = {"GATEWAY_HTTP_PORT"};
  ports.push_back(node->exe == Executable::kAgent ? "GATEWAY_PORT_START" : "GATEWAY_GRPC_PORT");
  for (const std::string& name : ports) {
    node->env[name] = std::to_string(MovePort(EffectivePort(s, name)));
  }
  const std::string bind =
      node->exe == Executable::kAgent ? "GATEWAY_BIND_HOST" : "GATEWAY_GRPC_BIND_HOST";
  if (const std::string b = Effective(s, bind); b.empty() || b == "0.0.0.0") {
    node->env[bind] = node->address;
  }
  node->env["GATEWAY_CLUSTER_ID"] = absl::StrCat(Effective(s, "GATEWAY_CLUSTER_ID"), "-", getpid());
  node->http_port = MovePort(EffectivePort(s, "GATEWAY_HTTP_PORT"));
  return node;
}

void Start(Node& node) {
  node.process =
      std::make_unique<Child>(std::vector<std::string>{S().binaries.at(node.exe)}, node.env,
                              absl::StrCat(S().work_dir, "/", node.service->name, ".log"));
}

bool WaitReady(Node& node) {
  return WaitReady(*node.process, node.address, node.http_port, seconds(90));
}

// Starts the kgw services of the file in `profile` ("" for those of no
// profile), coordinators first, and waits until each is ready.
void StartServices(const std::string& profile) {
  std::vector<Node*> started;
  for (Executable exe : {Executable::kCoordinator, Executable::kAgent}) {
    for (const ComposeService& s : S().compose.services) {
      if (!s.IsKgw() || s.executable() != exe) continue;
      if (profile.empty() ? !s.profiles.empty() : !s.InProfile(profile)) continue;
      S().nodes.push_back(MakeNode(s));
      Start(*S().nodes.back());
      started.push_back(S().nodes.back().get());
    }
  }
  for (Node* node : started) {
    ASSERT_TRUE(WaitReady(*node)) << node->service->name << " never became ready; environment:\n"
                                  << absl::StrJoin(node->env, "\n", absl::PairFormatter("="))
                                  << "\nlog:\n"
                                  << node->process->Log();
  }
}

// Broker id -> "host:port" as Metadata through `bootstrap` advertises it.
std::map<int, std::string> MetadataThrough(const std::string& bootstrap) {
  auto [rc, out] = Shell(absl::StrCat("kcat -b ", bootstrap, " -L -m 5 -t __none__"));
  return KcatBrokers(out);
}

std::string Describe(const std::map<int, std::string>& m) {
  return absl::StrJoin(m, ", ", absl::PairFormatter("->"));
}

// Produces `n` records to a fresh topic through `bootstrap`, reads them back.
void ProduceAndConsume(const std::string& bootstrap, const std::string& topic, int n) {
  auto [produce_rc, produced] =
      Shell(absl::StrCat("seq 1 ", n, " | kcat -b ", bootstrap, " -P -t ", topic, " -X acks=all"));
  ASSERT_EQ(produce_rc, 0) << produced;
  auto [consume_rc, consumed] =
      Shell(absl::StrCat("kcat -b ", bootstrap, " -C -t ", topic, " -o beginning -e -q | wc -l"));
  ASSERT_EQ(consume_rc, 0) << consumed;
  EXPECT_EQ(absl::StripAsciiWhitespace(consumed), std::to_string(n)) << consumed;
}

// The client service's bootstrap list and topic, moved.
std::pair<std::string, std::string> ClientOf(const std::string& service) {
  const ComposeService* client = S().compose.Find(service);
  EXPECT_NE(client, nullptr) << service;
  if (client == nullptr) return {};
  return {MapValue(*client, client->environment.at("BOOTSTRAP_SERVERS")),
          absl::StrCat(client->environment.at("TOPIC"), "-", getpid())};
}

class ComposeNativeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    for (const auto& [exe, bin] : S().binaries) {
      ASSERT_FALSE(bin.empty()) << ExecutableName(exe) << " binary not set (KGW_*_BIN)";
    }
    ASSERT_FALSE(S().kafka_bootstrap.empty())
        << "KGW_KAFKA_BOOTSTRAP is not set: start tests/kafka/kafka-cluster.sh and source its "
           "cluster.env";
    char dir[] = "/tmp/kgw-compose-native-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    S().work_dir = dir;
    absl::StatusOr<SettingsDoc> doc =
        ParseConfigurationDoc(test::ReadFile(S().source_dir + "/docs/configuration.md"));
    ASSERT_TRUE(doc.ok()) << doc.status();
    S().doc = *doc;
    absl::StatusOr<ComposeFile> compose =
        ParseCompose(test::ReadFile(S().source_dir + "/compose/docker-compose.yml"));
    ASSERT_TRUE(compose.ok()) << compose.status();
    S().compose = *compose;

    const std::vector<std::string> brokers = absl::StrSplit(S().kafka_bootstrap, ',');
    int next = kFirstAddress;
    std::set<int> ports;
    for (const ComposeService& s : S().compose.services) {
      auto node_id = s.environment.find("KAFKA_NODE_ID");
      int id;
      if (node_id != s.environment.end() && absl::SimpleAtoi(node_id->second, &id)) {
        ASSERT_TRUE(id >= 1 && id <= static_cast<int>(brokers.size()))
            << s.name << ": the test cluster has no broker " << id;
        S().kafka_address_of[s.name] = brokers[id - 1];
        S().rack_of_broker[std::to_string(id)] = s.environment.at("KAFKA_BROKER_RACK");
        continue;
      }
      ASSERT_LE(next, kLastAddress) << "more services than loopback addresses set aside";
      S().address_of[s.name] = absl::StrCat("127.0.0.", next++);
      for (int p : ExpandPorts(s.expose)) ports.insert(p);
    }
    // Moving ports must keep distinct ports distinct.
    std::set<int> moved;
    for (int p : ports) moved.insert(MovePort(p));
    ASSERT_EQ(moved.size(), ports.size()) << "two ports of the file move to the same port";
    ASSERT_EQ(S().rack_of_broker.size(), 3u);
    StartServices("");
  }

  static void TearDownTestSuite() {
    // Agents first: a coordinator may lead to the end.
    for (Executable exe : {Executable::kAgent, Executable::kCoordinator}) {
      for (auto& node : S().nodes) {
        if (node->exe != exe || !node->process || !node->process->running()) continue;
        node->process->Signal(SIGTERM);
        EXPECT_EQ(node->process->Wait(seconds(40)), 0)
            << node->service->name << " did not stop cleanly:\n"
            << node->process->Log();
      }
    }
    S().nodes.clear();
  }
};

TEST_F(ComposeNativeTest, EveryKgwServiceOfTheFileRuns) {
  int coordinators = 0, agents = 0;
  for (const auto& node : S().nodes) {
    EXPECT_TRUE(node->process->running()) << node->service->name;
    (node->exe == Executable::kAgent ? agents : coordinators)++;
  }
  EXPECT_EQ(coordinators, 2);
  EXPECT_EQ(agents, 3);
}

TEST_F(ComposeNativeTest, KgwctlShowsEachBrokerAssignedToTheAgentOfItsRack) {
  // The agent serving each rack, as the file configures it.
  std::map<std::string, std::string> agent_of_rack;
  std::map<std::string, std::string> address_of_agent;
  Node* coordinator = nullptr;
  for (const auto& node : S().nodes) {
    if (node->exe == Executable::kCoordinator && coordinator == nullptr) coordinator = node.get();
    if (node->exe != Executable::kAgent) continue;
    const std::string id = Effective(*node->service, "GATEWAY_NODE_ID");
    agent_of_rack[node->env.at("GATEWAY_RACK_ID")] = id;
    address_of_agent[id] = node->address;
  }
  ASSERT_NE(coordinator, nullptr);
  const std::string endpoint =
      absl::StrCat(coordinator->address, ":", coordinator->env.at("GATEWAY_GRPC_PORT"));
  v1::Assignment assignment;
  std::string out;
  const bool rack_aware = WaitFor(
      [&] {
        int rc;
        // (Without the test's own KGWCTL_BIN, which kgwctl would warn about.)
        std::tie(rc, out) =
            Shell(absl::StrCat("env -u KGWCTL_BIN ", S().binaries.at(Executable::kKgwctl),
                               " --coordinator ", endpoint, " --timeout 3s --json assignment"));
        assignment.Clear();
        google::protobuf::util::JsonParseOptions options;
        options.ignore_unknown_fields = true;
        const std::string json = out.substr(0, out.find('\n'));
        if (rc != 0 ||
            !google::protobuf::util::JsonStringToMessage(json, &assignment, options).ok() ||
            assignment.brokers_size() != 3) {
          return false;
        }
        for (const v1::BrokerAssignment& b : assignment.brokers()) {
          const std::string rack = S().rack_of_broker[std::to_string(b.broker_id())];
          if (b.broker_rack() != rack || b.agent_node_ids_size() == 0 ||
              b.agent_node_ids(0) != agent_of_rack[rack]) {
            return false;
          }
        }
        return true;
      },
      seconds(60));
  EXPECT_TRUE(rack_aware) << "kgwctl --json assignment:\n" << out;
  for (const v1::AgentEndpoint& a : assignment.agents()) {
    EXPECT_EQ(a.advertised_host(), address_of_agent[a.node_id()]) << a.node_id();
  }
}

TEST_F(ComposeNativeTest, TheClientProducesAndConsumesThroughTheAgentsOnly) {
  const std::pair<std::string, std::string> client = ClientOf("client");
  const std::string bootstrap = client.first, topic = client.second;
  // Each broker at the agent of its rack, on its port: only agent addresses.
  std::map<int, std::string> expected;
  for (const auto& node : S().nodes) {
    if (node->exe != Executable::kAgent) continue;
    for (const auto& [id, rack] : S().rack_of_broker) {
      if (rack != node->env.at("GATEWAY_RACK_ID")) continue;
      int broker, start;
      ASSERT_TRUE(absl::SimpleAtoi(id, &broker));
      ASSERT_TRUE(absl::SimpleAtoi(node->env.at("GATEWAY_PORT_START"), &start));
      expected[broker] = absl::StrCat(node->address, ":", start + broker);
    }
  }
  ASSERT_EQ(expected.size(), 3u);
  for (const std::string& one : std::vector<std::string>(absl::StrSplit(bootstrap, ','))) {
    std::map<int, std::string> seen;
    EXPECT_TRUE(WaitFor([&] { return (seen = MetadataThrough(one)) == expected; }, seconds(30)))
        << "through " << one << ": " << Describe(seen) << "\nexpected " << Describe(expected);
  }
  ProduceAndConsume(bootstrap, topic, 500);
}

TEST_F(ComposeNativeTest, TheHaproxyProfileServesClientsAndPassesTheirAddressToTheAgents) {
  if (!std::filesystem::exists("/usr/sbin/haproxy")) GTEST_SKIP() << "haproxy is not installed";
  StartServices("haproxy");
  if (HasFatalFailure()) return;
  const ComposeService* haproxy = nullptr;
  for (const ComposeService& s : S().compose.services) {
    if (absl::StartsWith(s.image, "haproxy") && s.InProfile("haproxy")) haproxy = &s;
  }
  ASSERT_NE(haproxy, nullptr);
  const std::string address = S().address_of.at(haproxy->name);
  std::map<std::string, std::string> hosts;
  for (const auto& [name, a] : S().address_of) hosts[name] = a;
  const std::string config = absl::StrCat(S().work_dir, "/haproxy.cfg");
  std::ofstream(config) << RewriteHaproxyConfig(
      test::ReadFile(S().source_dir + "/compose/haproxy/haproxy.cfg"), address, hosts, &MovePort);
  Child process({"/usr/sbin/haproxy", "-db", "-f", config}, {},
                absl::StrCat(S().work_dir, "/haproxy.log"));

  const std::pair<std::string, std::string> client = ClientOf("lb-client");
  const std::string bootstrap = client.first, topic = client.second;
  // Every broker at the balancer, on its port.
  std::map<int, std::string> expected;
  for (const auto& [id, rack] : S().rack_of_broker) {
    int broker;
    ASSERT_TRUE(absl::SimpleAtoi(id, &broker));
    expected[broker] = absl::StrCat(address, ":", MovePort(6969 + broker));
  }
  std::map<int, std::string> seen;
  ASSERT_TRUE(WaitFor([&] { return (seen = MetadataThrough(bootstrap)) == expected; }, seconds(30)))
      << Describe(seen) << "\nexpected " << Describe(expected) << "\nhaproxy:\n"
      << process.Log() << "\nconfiguration:\n"
      << test::ReadFile(config);
  ProduceAndConsume(bootstrap, topic, 300);

  // kcat connects from 127.0.0.1; the agents learn it, and the address the
  // client dialled (the balancer's), from the PROXY header only.
  const std::string source = "\"proxySourceAddress\":\"127.0.0.1:";
  const std::string destination = absl::StrCat("\"proxyDestinationAddress\":\"", address, ":");
  std::string logs;
  EXPECT_TRUE(WaitFor(
      [&] {
        logs.clear();
        for (const auto& node : S().nodes) {
          if (node->service->InProfile("haproxy")) absl::StrAppend(&logs, node->process->Log());
        }
        for (absl::string_view line : absl::StrSplit(logs, '\n')) {
          if (absl::StrContains(line, source) && absl::StrContains(line, destination)) return true;
        }
        return false;
      },
      seconds(20)))
      << "no audit line with " << source << " and " << destination << " in:\n"
      << logs.substr(logs.size() > 20000 ? logs.size() - 20000 : 0);

  for (auto& node : S().nodes) {
    if (!node->service->InProfile("haproxy")) continue;
    node->process->Signal(SIGTERM);
    EXPECT_EQ(node->process->Wait(seconds(40)), 0) << node->service->name;
  }
  process.Signal(SIGTERM);
  process.Wait(seconds(10));
}

}  // namespace
}  // namespace kgw::deploy
