// GroupMember against the real Kafka cluster: members of one group agree on
// each generation's membership, see joins, leaves and descriptor changes,
// and authenticate with SCRAM where the brokers demand it. Also kgw's own
// connections over TLS (BlockingConnection, the metadata refresher, group
// membership) through the harness's SSL, SASL_SSL and MTLS listeners.
#include "common/membership/group_member.h"

#include <atomic>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/cluster/broker_directory.h"
#include "common/kafka/messages/metadata.h"
#include "common/testing/test_certs.h"
#include "common/testing/wait_for.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kgw::membership {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

std::vector<config::HostPort> Bootstrap(const std::string& list) {
  std::vector<config::HostPort> out;
  for (absl::string_view hp : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    out.push_back(config::SplitHostPort(hp));
  }
  return out;
}

// Records every view a member publishes.
class Recorder {
 public:
  void Add(const std::optional<View>& v) {
    std::lock_guard<std::mutex> lock(mu_);
    views_.push_back(v);
  }
  std::optional<View> Last() {
    std::lock_guard<std::mutex> lock(mu_);
    return views_.empty() ? std::nullopt : views_.back();
  }

 private:
  std::mutex mu_;
  std::vector<std::optional<View>> views_;
};

struct Node {
  Recorder recorder;
  std::unique_ptr<GroupMember> member;
};

// How a test node takes part: complete views (as coordinators do) or the
// coordinators alone (agents), and static membership.
struct Part {
  bool full_view = true;
  bool static_member = false;
  bool leave_on_stop = true;
  absl::Duration heartbeat_interval = absl::Milliseconds(500);
  absl::Duration session_timeout = absl::Seconds(6);
  std::function<void()> on_rebalance;
};

std::unique_ptr<Node> StartNode(const std::string& group, const std::string& node_id,
                                v1::NodeDescriptor::Role role, const std::string& bootstrap,
                                std::optional<kafka::SaslCredentials> sasl = std::nullopt,
                                std::optional<kafka::ConnectionTls> tls = std::nullopt,
                                Part part = {}) {
  auto node = std::make_unique<Node>();
  GroupMember::Options o;
  o.full_view = part.full_view;
  o.leave_on_stop = part.leave_on_stop;
  if (part.static_member) o.group_instance_id = node_id;
  o.kafka.bootstrap = Bootstrap(bootstrap);
  o.kafka.sasl = std::move(sasl);
  o.kafka.tls = std::move(tls);
  o.group_id = group;
  o.session_timeout = part.session_timeout;
  o.rebalance_timeout = part.session_timeout;
  o.heartbeat_interval = part.heartbeat_interval;
  o.on_rebalance = part.on_rebalance;
  o.software_version = "test";
  v1::NodeDescriptor self;
  self.set_node_id(node_id);
  self.set_role(role);
  self.set_rack(node_id.substr(node_id.size() - 1));
  if (role == v1::NodeDescriptor::ROLE_AGENT) {
    self.set_advertised_host(node_id + ".test");
    self.set_port_start(9092);
  } else {
    self.set_grpc_endpoint(node_id + ".test:6900");
  }
  Recorder* recorder = &node->recorder;
  node->member = std::make_unique<GroupMember>(
      o, self, [recorder](const std::optional<View>& v) { recorder->Add(v); });
  node->member->Start();
  return node;
}

// Node ids in the last view of `node`, or "" when it has none.
std::string Ids(Node& node) {
  std::optional<View> v = node.recorder.Last();
  if (!v) return "";
  std::string out;
  for (const v1::Member& m : v->members) absl::StrAppend(&out, out.empty() ? "" : ",", m.node().node_id());
  return out;
}

using ::kgw::testing::WaitFor;

std::string FreshGroup() {
  absl::BitGen gen;
  return absl::StrCat("kgw_test_membership_", absl::Uniform<uint64_t>(gen));
}

class GroupMemberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bootstrap_ = Env("KGW_KAFKA_BOOTSTRAP");
    ASSERT_FALSE(bootstrap_.empty()) << "KGW_KAFKA_BOOTSTRAP is not set: start "
                                        "tests/kafka/kafka-cluster.sh and source its cluster.env";
  }
  std::string bootstrap_;
};

TEST_F(GroupMemberTest, MembersAgreeOnEachGenerationsMembership) {
  const std::string group = FreshGroup();
  std::vector<std::unique_ptr<Node>> nodes;
  nodes.push_back(StartNode(group, "agent-a", v1::NodeDescriptor::ROLE_AGENT, bootstrap_));
  nodes.push_back(StartNode(group, "agent-b", v1::NodeDescriptor::ROLE_AGENT, bootstrap_));
  nodes.push_back(StartNode(group, "coord-c", v1::NodeDescriptor::ROLE_COORDINATOR, bootstrap_));
  const auto all_see = [&](const std::string& ids) {
    for (auto& n : nodes) {
      if (Ids(*n) != ids) return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitFor([&] { return all_see("agent-a,agent-b,coord-c"); }, absl::Seconds(30)))
      << Ids(*nodes[0]) << " / " << Ids(*nodes[1]) << " / " << Ids(*nodes[2]);
  // The same generation and leader everywhere; each knows its own member id.
  std::optional<View> v0 = nodes[0]->recorder.Last();
  for (auto& n : nodes) {
    std::optional<View> v = n->recorder.Last();
    EXPECT_EQ(v->generation_id, v0->generation_id);
    EXPECT_EQ(v->leader_member_id, v0->leader_member_id);
    bool found = false;
    for (const v1::Member& m : v->members) found |= m.member_id() == v->member_id;
    EXPECT_TRUE(found);
  }
  EXPECT_EQ(v0->WithRole(v1::NodeDescriptor::ROLE_COORDINATOR).size(), 1u);
  EXPECT_EQ(v0->members[2].node().rack(), "c");

  // A clean leave is seen at once (LeaveGroup), well before a session timeout.
  const absl::Time left_at = absl::Now();
  nodes[1]->member->Stop();
  nodes.erase(nodes.begin() + 1);
  ASSERT_TRUE(WaitFor([&] { return all_see("agent-a,coord-c"); }, absl::Seconds(5)));
  EXPECT_LT(absl::Now() - left_at, absl::Seconds(5));
  EXPECT_GT(nodes[0]->recorder.Last()->generation_id, v0->generation_id);

  // A changed descriptor reaches the others.
  v1::NodeDescriptor changed;
  changed.set_node_id("agent-a");
  changed.set_role(v1::NodeDescriptor::ROLE_AGENT);
  changed.set_advertised_host("agent-a.test");
  changed.set_port_start(9092);
  changed.set_draining(true);
  nodes[0]->member->SetDescriptor(changed);
  ASSERT_TRUE(WaitFor(
      [&] {
        std::optional<View> v = nodes[1]->recorder.Last();
        return v && !v->members.empty() && v->members[0].node().draining();
      },
      absl::Seconds(10)));
}

// Agents learn only the coordinators and the size of the membership; the
// group stores a small assignment per member, not the whole fleet.
TEST_F(GroupMemberTest, AgentsLearnTheCoordinatorsAndTheMemberCountOnly) {
  const std::string group = FreshGroup();
  const Part agent{.full_view = false};
  std::vector<std::unique_ptr<Node>> nodes;
  nodes.push_back(StartNode(group, "agent-a", v1::NodeDescriptor::ROLE_AGENT, bootstrap_,
                            std::nullopt, std::nullopt, agent));
  nodes.push_back(StartNode(group, "agent-b", v1::NodeDescriptor::ROLE_AGENT, bootstrap_,
                            std::nullopt, std::nullopt, agent));
  nodes.push_back(StartNode(group, "coord-c", v1::NodeDescriptor::ROLE_COORDINATOR, bootstrap_));

  ASSERT_TRUE(WaitFor(
      [&] {
        return Ids(*nodes[0]) == "coord-c" && Ids(*nodes[1]) == "coord-c" &&
               Ids(*nodes[2]) == "agent-a,agent-b,coord-c" &&
               nodes[0]->recorder.Last()->member_count == 3 &&
               nodes[0]->recorder.Last()->generation_id ==
                   nodes[2]->recorder.Last()->generation_id;
      },
      absl::Seconds(30)))
      << Ids(*nodes[0]) << " / " << Ids(*nodes[1]) << " / " << Ids(*nodes[2]);
  const View agent_view = *nodes[0]->recorder.Last();
  EXPECT_FALSE(agent_view.complete);
  EXPECT_EQ(agent_view.members[0].node().grpc_endpoint(), "coord-c.test:6900");
  EXPECT_TRUE(nodes[2]->recorder.Last()->complete);
  EXPECT_EQ(nodes[2]->recorder.Last()->members[0].node().advertised_host(), "agent-a.test");

  // An agent can ask for the whole membership (it does with no coordinator).
  nodes[1]->member->SetFullView(true);
  EXPECT_TRUE(WaitFor([&] { return Ids(*nodes[1]) == "agent-a,agent-b,coord-c"; },
                      absl::Seconds(10)));
}

// A static member that stops without leaving and comes back within the
// session timeout takes its place back: no rebalance, the same generation.
TEST_F(GroupMemberTest, AStaticMemberRestartingWithinTheSessionTimeoutCausesNoRebalance) {
  const std::string group = FreshGroup();
  const Part agent{.full_view = false, .static_member = true, .leave_on_stop = false};
  std::vector<std::unique_ptr<Node>> nodes;
  nodes.push_back(StartNode(group, "coord-c", v1::NodeDescriptor::ROLE_COORDINATOR, bootstrap_,
                            std::nullopt, std::nullopt, {.static_member = true}));
  nodes.push_back(StartNode(group, "agent-a", v1::NodeDescriptor::ROLE_AGENT, bootstrap_,
                            std::nullopt, std::nullopt, agent));
  nodes.push_back(StartNode(group, "agent-b", v1::NodeDescriptor::ROLE_AGENT, bootstrap_,
                            std::nullopt, std::nullopt, agent));
  ASSERT_TRUE(WaitFor([&] { return Ids(*nodes[0]) == "agent-a,agent-b,coord-c"; },
                      absl::Seconds(30)));
  // Let the last rebalance settle.
  int32_t generation = -1;
  ASSERT_TRUE(WaitFor(
      [&] {
        const int32_t now = nodes[0]->recorder.Last()->generation_id;
        const bool settled = now == generation;
        generation = now;
        return settled;
      },
      absl::Seconds(20), absl::Seconds(2)));

  nodes[1]->member->Stop();
  nodes[1] = StartNode(group, "agent-a", v1::NodeDescriptor::ROLE_AGENT, bootstrap_, std::nullopt,
                       std::nullopt, agent);

  ASSERT_TRUE(WaitFor([&] { return nodes[1]->recorder.Last().has_value(); }, absl::Seconds(10)));
  EXPECT_EQ(nodes[1]->recorder.Last()->generation_id, generation);
  EXPECT_EQ(nodes[1]->recorder.Last()->member_count, 3);
  // Well past a heartbeat or two: still no rebalance.
  absl::SleepFor(absl::Seconds(2));
  EXPECT_EQ(nodes[0]->recorder.Last()->generation_id, generation);
  EXPECT_EQ(Ids(*nodes[0]), "agent-a,agent-b,coord-c");
}

// Node ids are the group instance ids: a second node with the same id takes
// the first one's place, and the first says so and counts it.
TEST_F(GroupMemberTest, ASecondNodeWithTheSameIdFencesTheFirst) {
  const std::string group = FreshGroup();
  const Part agent{.full_view = false, .static_member = true, .leave_on_stop = false};
  auto coordinator = StartNode(group, "coord-c", v1::NodeDescriptor::ROLE_COORDINATOR, bootstrap_);
  auto first = StartNode(group, "agent-a", v1::NodeDescriptor::ROLE_AGENT, bootstrap_,
                         std::nullopt, std::nullopt, agent);
  ASSERT_TRUE(WaitFor([&] { return Ids(*coordinator) == "agent-a,coord-c"; }, absl::Seconds(30)));

  auto second = StartNode(group, "agent-a", v1::NodeDescriptor::ROLE_AGENT, bootstrap_,
                          std::nullopt, std::nullopt, agent);

  EXPECT_TRUE(WaitFor([&] { return first->member->fenced_count() > 0; }, absl::Seconds(15)));
  EXPECT_FALSE(first->member->view().has_value());
  EXPECT_TRUE(WaitFor([&] { return second->member->view().has_value(); }, absl::Seconds(10)));
  EXPECT_EQ(second->member->fenced_count(), 0);
}

// A hundred and twenty members: with the whole membership in every member's
// assignment the group's stored state (N^2) passed the brokers' record limit
// and the group never formed; with bounded assignments it forms at once.
TEST_F(GroupMemberTest, AHundredAndTwentyMembersFormOneGroup) {
  constexpr int kAgents = 118;
  const std::string group = FreshGroup();
  std::vector<std::unique_ptr<Node>> nodes;
  const absl::Time start = absl::Now();
  for (const char* id : {"coord-1", "coord-2"}) {
    nodes.push_back(StartNode(group, id, v1::NodeDescriptor::ROLE_COORDINATOR, bootstrap_,
                              std::nullopt, std::nullopt, {.static_member = true}));
  }
  for (int i = 0; i < kAgents; ++i) {
    nodes.push_back(StartNode(group, absl::StrCat("agent-", 1000 + i, "-", std::string(1, "abc"[i % 3])),
                              v1::NodeDescriptor::ROLE_AGENT, bootstrap_, std::nullopt,
                              std::nullopt,
                              {.full_view = false, .static_member = true, .leave_on_stop = false}));
  }
  const auto formed = [&] {
    std::optional<View> c = nodes[0]->recorder.Last();
    if (!c || c->members.size() != kAgents + 2) return false;
    for (auto& n : nodes) {
      std::optional<View> v = n->member->view();
      if (!v || v->generation_id != c->generation_id || v->member_count != kAgents + 2) {
        return false;
      }
    }
    return true;
  };
  ASSERT_TRUE(WaitFor(formed, absl::Seconds(120)))
      << "coordinator sees " << (nodes[0]->recorder.Last() ? nodes[0]->recorder.Last()->members.size() : 0)
      << " members";
  std::cout << kAgents + 2 << " members formed one group in " << absl::Now() - start
            << std::endl;
  EXPECT_EQ(Ids(*nodes[1]), Ids(*nodes[0]));
  // Every agent streams from the leader the group names.
  EXPECT_EQ(nodes[5]->recorder.Last()->members[0].node().node_id(), "coord-1");
}

// A member that finds the group rebalancing says so (on_rebalance), and a
// member told to heartbeat now does, and so rejoins at once: a rebalance
// then waits for the one that noticed, not for every member's next
// heartbeat. Here the agent heartbeats every 10 s and the coordinator every
// 200 ms; a node joins just after the agent's heartbeat. Without the word
// the group would wait about 10 s for the agent.
TEST_F(GroupMemberTest, AMemberToldToHeartbeatNowRejoinsARebalanceAtOnce) {
  const std::string group = FreshGroup();
  std::atomic<GroupMember*> agent{nullptr};
  std::atomic<int> rebalances{0};
  std::vector<std::unique_ptr<Node>> nodes;
  nodes.push_back(StartNode(group, "coord-c", v1::NodeDescriptor::ROLE_COORDINATOR, bootstrap_,
                            std::nullopt, std::nullopt,
                            {.static_member = true,
                             .heartbeat_interval = absl::Milliseconds(200),
                             .session_timeout = absl::Seconds(30),
                             .on_rebalance = [&] {
                               ++rebalances;
                               if (GroupMember* a = agent.load()) a->HeartbeatNow();
                             }}));
  const Part slow_agent{.full_view = false,
                        .static_member = true,
                        .leave_on_stop = false,
                        .heartbeat_interval = absl::Seconds(10),
                        .session_timeout = absl::Seconds(30)};
  nodes.push_back(StartNode(group, "agent-a", v1::NodeDescriptor::ROLE_AGENT, bootstrap_,
                            std::nullopt, std::nullopt, slow_agent));
  agent = nodes[1]->member.get();
  // Both hold the generation with both; the agent heartbeats right after its
  // view, so its next regular heartbeat is about 10 s away.
  ASSERT_TRUE(WaitFor(
      [&] {
        std::optional<View> a = nodes[1]->recorder.Last();
        return Ids(*nodes[0]) == "agent-a,coord-c" && a &&
               a->generation_id == nodes[0]->recorder.Last()->generation_id;
      },
      absl::Seconds(40)));
  const int rebalances_before = rebalances.load();
  const absl::Time joined_at = absl::Now();
  nodes.push_back(StartNode(group, "agent-b", v1::NodeDescriptor::ROLE_AGENT, bootstrap_,
                            std::nullopt, std::nullopt, slow_agent));
  ASSERT_TRUE(WaitFor([&] { return Ids(*nodes[0]) == "agent-a,agent-b,coord-c"; },
                      absl::Seconds(30)));
  const absl::Duration took = absl::Now() - joined_at;
  std::cout << "a join with an agent heartbeating every 10 s took " << took << std::endl;
  EXPECT_GT(rebalances.load(), rebalances_before);
  EXPECT_LT(took, absl::Seconds(5));

  // A burst of requests costs one early heartbeat, not one each.
  ASSERT_TRUE(WaitFor([&] { return nodes[1]->recorder.Last()->member_count == 3; },
                      absl::Seconds(10)));
  absl::SleepFor(absl::Milliseconds(300));  // past the gap since the last request
  const int64_t before = nodes[1]->member->heartbeat_bytes();
  nodes[1]->member->HeartbeatNow();
  ASSERT_TRUE(WaitFor([&] { return nodes[1]->member->heartbeat_bytes() > before; },
                      absl::Seconds(2)));
  absl::SleepFor(absl::Milliseconds(200));
  const int64_t one = nodes[1]->member->heartbeat_bytes() - before;
  const int64_t burst_from = nodes[1]->member->heartbeat_bytes();
  for (int i = 0; i < 20; ++i) nodes[1]->member->HeartbeatNow();
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(nodes[1]->member->heartbeat_bytes() - burst_from, one);
}

TEST_F(GroupMemberTest, JoinsThroughScramAuthenticatedBrokers) {
  const std::string sasl_bootstrap = Env("KGW_KAFKA_SASL_BOOTSTRAP");
  ASSERT_FALSE(sasl_bootstrap.empty())
      << "KGW_KAFKA_SASL_BOOTSTRAP is not set: start the cluster with --security";
  const std::string group = FreshGroup();
  kafka::SaslCredentials scram{"SCRAM-SHA-512", "admin", "admin-secret"};
  auto a = StartNode(group, "agent-a", v1::NodeDescriptor::ROLE_AGENT, sasl_bootstrap, scram);
  auto b = StartNode(group, "coord-b", v1::NodeDescriptor::ROLE_COORDINATOR, sasl_bootstrap,
                     scram);
  ASSERT_TRUE(WaitFor([&] { return Ids(*a) == "agent-a,coord-b" && Ids(*b) == Ids(*a); },
                      absl::Seconds(30)));
}

// The harness's TLS settings as a node would read them from KAFKA_SSL_*.
config::KafkaClientConfig HarnessTls(const std::string& protocol = "SSL") {
  config::KafkaClientConfig c;
  c.security_protocol = protocol;
  c.tls = true;
  c.ssl_ca_file = Env("KGW_KAFKA_CA_FILE");
  return c;
}

kafka::ConnectionTls OwnTlsOrDie(const config::KafkaClientConfig& c) {
  absl::StatusOr<std::optional<kafka::ConnectionTls>> tls = cluster::OwnTls(c);
  EXPECT_TRUE(tls.ok()) << tls.status();
  EXPECT_TRUE(tls.ok() && tls->has_value());
  return tls.ok() && tls->has_value() ? **tls : kafka::ConnectionTls{};
}

// Brokers (node id -> port) in a Metadata response read through `connection`.
absl::StatusOr<std::map<int32_t, int32_t>> BrokerPorts(kafka::BlockingConnection& connection) {
  kafka::MetadataRequest request;
  request.allow_auto_topic_creation = false;
  kafka::MetadataResponse response;
  KGW_RETURN_IF_ERROR(connection.Call(request, /*version=*/12, &response));
  std::map<int32_t, int32_t> ports;
  for (const auto& b : response.brokers) ports[b.node_id] = b.port;
  return ports;
}

// The ports of the harness listener whose bootstrap list is `bootstrap`.
std::map<int32_t, int32_t> ListenerPorts(const std::string& bootstrap) {
  std::map<int32_t, int32_t> ports;
  int32_t id = 1;
  for (const config::HostPort& hp : Bootstrap(bootstrap)) ports[id++] = hp.port;
  return ports;
}

// kgw's own connections over the harness's TLS listeners (--security).
class OwnTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Env("KGW_KAFKA_SSL_BOOTSTRAP").empty() || Env("KGW_KAFKA_SASL_SSL_BOOTSTRAP").empty()) {
      GTEST_SKIP() << "the cluster has no TLS listeners: start it with --security";
    }
    ssl_ = Bootstrap(Env("KGW_KAFKA_SSL_BOOTSTRAP")).front();
  }

  absl::StatusOr<kafka::BlockingConnection> Connect(const std::string& host, int port,
                                                    const kafka::ConnectionTls& tls) {
    return kafka::BlockingConnection::Connect(host, port, absl::Seconds(10), "kgw-test", tls);
  }

  config::HostPort ssl_;
};

TEST_F(OwnTlsTest, MetadataOverTlsNamesTheBrokersTlsListeners) {
  const kafka::ConnectionTls tls = OwnTlsOrDie(HarnessTls());
  ASSERT_TRUE(tls.verify_hostname) << "https is the default";

  absl::StatusOr<kafka::BlockingConnection> c = Connect(ssl_.host, ssl_.port, tls);
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<std::map<int32_t, int32_t>> ports = BrokerPorts(*c);

  ASSERT_TRUE(ports.ok()) << ports.status();
  EXPECT_EQ(*ports, ListenerPorts(Env("KGW_KAFKA_SSL_BOOTSTRAP")));
}

// The brokers' certificate names IP:127.0.0.1 and DNS:localhost; with
// verification on, either way of reaching them passes, and checking is
// what makes a name it lacks fail.
TEST_F(OwnTlsTest, HostVerificationAcceptsTheBrokersAddressAndName) {
  const kafka::ConnectionTls tls = OwnTlsOrDie(HarnessTls());

  absl::StatusOr<kafka::BlockingConnection> by_address = Connect("127.0.0.1", ssl_.port, tls);
  absl::StatusOr<kafka::BlockingConnection> by_name = Connect("localhost", ssl_.port, tls);

  ASSERT_TRUE(by_address.ok()) << by_address.status();
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  EXPECT_TRUE(BrokerPorts(*by_address).ok());
  EXPECT_TRUE(BrokerPorts(*by_name).ok());
}

TEST_F(OwnTlsTest, BrokersOfAnotherCaFailTheHandshakeSayingWhy) {
  absl::StatusOr<kgw::testing::TestCa> other = kgw::testing::TestCa::Create("not the brokers' CA");
  ASSERT_TRUE(other.ok()) << other.status();
  const std::string ca_file = ::testing::TempDir() + "/kgw_membership_other_ca.pem";
  ASSERT_TRUE(other->WriteCertificate(ca_file).ok());
  config::KafkaClientConfig wrong = HarnessTls();
  wrong.ssl_ca_file = ca_file;

  absl::StatusOr<kafka::BlockingConnection> c = Connect(ssl_.host, ssl_.port, OwnTlsOrDie(wrong));

  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  // The brokers send their CA along with their certificate; it is not ours.
  EXPECT_EQ(std::string(c.status().message()),
            absl::StrCat(ssl_.host, ":", ssl_.port,
                         ": TLS handshake failed: certificate verify failed (self-signed "
                         "certificate in certificate chain)"));
}

TEST_F(OwnTlsTest, OwnTlsNamesAFileItCannotLoad) {
  config::KafkaClientConfig broken = HarnessTls();
  broken.ssl_ca_file = Env("KGW_KAFKA_CLIENT_KEY_FILE");  // a key, not certificates

  absl::StatusOr<std::optional<kafka::ConnectionTls>> tls = cluster::OwnTls(broken);
  absl::StatusOr<std::optional<kafka::ConnectionTls>> plaintext =
      cluster::OwnTls(config::KafkaClientConfig{.security_protocol = "PLAINTEXT"});

  EXPECT_EQ(tls.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(tls.status().message()),
              ::testing::HasSubstr(absl::StrCat("cannot load CA file ", broken.ssl_ca_file)));
  ASSERT_TRUE(plaintext.ok());
  EXPECT_FALSE(plaintext->has_value());
}

// MTLS demands a client certificate: without one the broker ends the
// session once the client's handshake is done (TLS 1.3), and the first
// call says so.
TEST_F(OwnTlsTest, MutualTlsListenerNeedsTheClientCertificate) {
  const std::string mtls_bootstrap = Env("KGW_KAFKA_MTLS_BOOTSTRAP");
  ASSERT_FALSE(mtls_bootstrap.empty());
  const config::HostPort mtls = Bootstrap(mtls_bootstrap).front();
  config::KafkaClientConfig with_cert = HarnessTls();
  with_cert.ssl_cert_file = Env("KGW_KAFKA_CLIENT_CERT_FILE");
  with_cert.ssl_key_file = Env("KGW_KAFKA_CLIENT_KEY_FILE");

  absl::StatusOr<kafka::BlockingConnection> without =
      Connect(mtls.host, mtls.port, OwnTlsOrDie(HarnessTls()));
  const absl::Status without_call =
      without.ok() ? without->FetchApiVersions("test") : without.status();
  absl::StatusOr<kafka::BlockingConnection> with =
      Connect(mtls.host, mtls.port, OwnTlsOrDie(with_cert));
  ASSERT_TRUE(with.ok()) << with.status();
  const absl::Status with_call = with->FetchApiVersions("test");

  // Kafka answers with alert 42, "bad certificate".
  EXPECT_EQ(without_call.code(), absl::StatusCode::kUnavailable) << without_call;
  EXPECT_THAT(std::string(without_call.message()),
              ::testing::HasSubstr(" ended the TLS session: sslv3 alert bad certificate"));
  EXPECT_THAT(std::string(without_call.message()),
              ::testing::HasSubstr(mtls_bootstrap.substr(0, mtls_bootstrap.find(','))));
  EXPECT_TRUE(with_call.ok()) << with_call;
  absl::StatusOr<std::map<int32_t, int32_t>> ports = BrokerPorts(*with);
  ASSERT_TRUE(ports.ok()) << ports.status();
  EXPECT_EQ(*ports, ListenerPorts(mtls_bootstrap));
}

// The metadata refresher as agents and coordinators run it, over SASL_SSL
// with SCRAM-SHA-512 through kgw's own SASL code.
TEST_F(OwnTlsTest, MetadataRefresherFillsTheDirectoryOverSaslSslWithScram) {
  const std::string bootstrap = Env("KGW_KAFKA_SASL_SSL_BOOTSTRAP");
  cluster::BrokerDirectory directory;
  cluster::MetadataRefresher refresher(
      directory, {.kafka = {.bootstrap = Bootstrap(bootstrap),
                            .sasl = kafka::SaslCredentials{"SCRAM-SHA-512", "admin",
                                                           "admin-secret"},
                            .tls = OwnTlsOrDie(HarnessTls("SASL_SSL"))},
                  .interval = absl::Seconds(30),
                  .timeout = absl::Seconds(10),
                  .client_id = "kgw-test"});

  refresher.Start();

  ASSERT_TRUE(kgw::testing::WaitFor([&] { return directory.Get()->brokers.size() == 3; },
                                    absl::Seconds(30)));
  std::map<int32_t, int32_t> ports;
  for (const cluster::BrokerEndpoint& b : directory.Get()->brokers) ports[b.node_id] = b.port;
  EXPECT_EQ(ports, ListenerPorts(bootstrap));
  refresher.Stop();
}

TEST_F(OwnTlsTest, MembersJoinOverSaslSslWithScram) {
  const std::string bootstrap = Env("KGW_KAFKA_SASL_SSL_BOOTSTRAP");
  const std::string group = FreshGroup();
  const kafka::SaslCredentials scram{"SCRAM-SHA-512", "admin", "admin-secret"};
  const kafka::ConnectionTls tls = OwnTlsOrDie(HarnessTls("SASL_SSL"));

  auto a = StartNode(group, "agent-a", v1::NodeDescriptor::ROLE_AGENT, bootstrap, scram, tls);
  auto b = StartNode(group, "coord-b", v1::NodeDescriptor::ROLE_COORDINATOR, bootstrap, scram, tls);

  ASSERT_TRUE(WaitFor([&] { return Ids(*a) == "agent-a,coord-b" && Ids(*b) == Ids(*a); },
                      absl::Seconds(30)))
      << Ids(*a) << " / " << Ids(*b);
}

TEST_F(OwnTlsTest, MembersJoinOverMutualTls) {
  const std::string bootstrap = Env("KGW_KAFKA_MTLS_BOOTSTRAP");
  ASSERT_FALSE(bootstrap.empty());
  config::KafkaClientConfig with_cert = HarnessTls();
  with_cert.ssl_cert_file = Env("KGW_KAFKA_CLIENT_CERT_FILE");
  with_cert.ssl_key_file = Env("KGW_KAFKA_CLIENT_KEY_FILE");
  const kafka::ConnectionTls tls = OwnTlsOrDie(with_cert);
  const std::string group = FreshGroup();

  auto a =
      StartNode(group, "agent-a", v1::NodeDescriptor::ROLE_AGENT, bootstrap, std::nullopt, tls);

  ASSERT_TRUE(WaitFor([&] { return Ids(*a) == "agent-a"; }, absl::Seconds(30)));
}

}  // namespace
}  // namespace kgw::membership
