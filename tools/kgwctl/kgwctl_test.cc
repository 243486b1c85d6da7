// kgwctl against an in-process kgw.v1.Admin server on 127.0.0.1:0 that
// answers with canned messages: what each command prints, JSON output, the
// token, the coordinator's errors, an unreachable coordinator, the watch
// stream, and the built binary's command line end to end.
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/config/program.h"
#include "common/config/settings.h"
#include "common/testing/test_certs.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_context.h"
#include "gtest/gtest.h"
#include "kgw/v1/admin.grpc.pb.h"
#include "tools/kgwctl/channel.h"
#include "tools/kgwctl/commands.h"
#include "tools/kgwctl/format.h"
#include "tools/kgwctl/kgwctl_config.h"

extern char** environ;

namespace kgw::kgwctl {
namespace {

// As kgwctl's main does: gRPC's c-ares resolver leaks on "localhost" in
// Debian 12 (LeakSanitizer reports it), getaddrinfo does not.
const bool kNativeResolver = setenv("GRPC_DNS_RESOLVER", "native", /*overwrite=*/0) == 0;

using ::google::protobuf::util::MessageDifferencer;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

constexpr absl::string_view kAbsent = "<absent>";

// --- Canned answers -------------------------------------------------------

v1::NodeDescriptor Node(std::string id, v1::NodeDescriptor::Role role, std::string host,
                        std::string rack) {
  v1::NodeDescriptor node;
  node.set_node_id(std::move(id));
  node.set_role(role);
  node.set_rack(std::move(rack));
  if (role == v1::NodeDescriptor::ROLE_AGENT) {
    node.set_advertised_host(std::move(host));
    node.set_port_start(6969);
    node.set_min_broker_id(1);
  } else {
    node.set_grpc_endpoint(absl::StrCat(host, ":6900"));
  }
  node.set_version("0.1.0");
  return node;
}

v1::ClusterStatus CannedStatus() {
  v1::ClusterStatus s;
  s.set_cluster_id("payments");
  s.set_group_id("kgw_payments");
  s.set_generation_id(12);
  s.set_leader_node_id("coord-1");
  s.set_answered_by("coord-2");
  *s.add_coordinators() = Node("coord-1", v1::NodeDescriptor::ROLE_COORDINATOR, "10.0.0.1", "a");
  *s.add_coordinators() = Node("coord-2", v1::NodeDescriptor::ROLE_COORDINATOR, "10.0.0.2", "b");
  s.set_agents(3);
  s.set_brokers(3);
  s.set_assignment_generation_id(12);
  s.set_assignment_revision(4);
  s.set_assignment_epoch(3);
  s.set_version("0.1.0");
  return s;
}

v1::ListNodesResponse CannedNodes() {
  v1::ListNodesResponse r;
  r.set_generation_id(12);
  v1::NodeStatus* a1 = r.add_nodes();
  *a1->mutable_node() = Node("agent-1", v1::NodeDescriptor::ROLE_AGENT, "10.0.1.1", "a");
  a1->set_member_id("kgw-1-abc");
  a1->set_health(v1::NodeStatus::HEALTH_LIVE);
  a1->set_connected(true);
  a1->mutable_load()->set_connections(42);
  a1->mutable_load()->set_bytes_per_second(1536);
  for (int b : {1, 2, 3}) a1->add_broker_ids(b);
  v1::NodeStatus* a2 = r.add_nodes();
  *a2->mutable_node() = Node("agent-2", v1::NodeDescriptor::ROLE_AGENT, "10.0.1.2", "b");
  a2->mutable_node()->set_weight(50);
  a2->mutable_node()->set_draining(true);
  a2->set_health(v1::NodeStatus::HEALTH_DRAINING);
  v1::NodeStatus* c1 = r.add_nodes();
  *c1->mutable_node() = Node("coord-1", v1::NodeDescriptor::ROLE_COORDINATOR, "10.0.0.1", "a");
  c1->set_health(v1::NodeStatus::HEALTH_LIVE);
  return r;
}

v1::ListBrokersResponse CannedBrokers() {
  v1::ListBrokersResponse r;
  v1::BrokerStatus* b1 = r.add_brokers();
  b1->set_broker_id(1);
  b1->set_host("kafka-1");
  b1->set_port(9092);
  b1->set_rack("a");
  b1->add_agent_node_ids("agent-1");
  b1->add_agent_node_ids("agent-3");
  v1::BrokerStatus* b2 = r.add_brokers();
  b2->set_broker_id(2);
  b2->set_host("::1");
  b2->set_port(9093);
  return r;
}

v1::BrokerAssignment* AddBroker(v1::Assignment& a, int id, std::string rack,
                                std::vector<std::string> agents) {
  v1::BrokerAssignment* b = a.add_brokers();
  b->set_broker_id(id);
  b->set_broker_rack(std::move(rack));
  for (std::string& agent : agents) b->add_agent_node_ids(std::move(agent));
  return b;
}

// What a coordinator sends: each distinct list of agents once, in agent_sets,
// which brokers name by index. kgwctl shows every broker's agents listed with
// it, as the Canned* assignments below have them.
v1::Assignment Compact(v1::Assignment a) {
  std::map<std::vector<std::string>, int> sets;
  for (v1::BrokerAssignment& b : *a.mutable_brokers()) {
    if (b.agent_node_ids().empty()) continue;
    auto [it, added] = sets.emplace(
        std::vector<std::string>(b.agent_node_ids().begin(), b.agent_node_ids().end()),
        a.agent_sets_size() + 1);
    if (added) *a.add_agent_sets()->mutable_agent_node_ids() = b.agent_node_ids();
    b.set_agent_set(it->second);
    b.clear_agent_node_ids();
  }
  return a;
}

// agent-2 drained: in no broker's list.
v1::Assignment CannedAssignment(int64_t revision = 4) {
  v1::Assignment a;
  a.set_generation_id(12);
  a.set_revision(revision);
  a.set_leader_node_id("coord-1");
  a.set_computed_at_ms(1714564800250);  // 2024-05-01 12:00:00.250 UTC
  AddBroker(a, 1, "a", {"agent-1", "agent-3"});
  AddBroker(a, 2, "b", {"agent-3"});
  AddBroker(a, 3, "a", {});
  v1::AgentEndpoint* e = a.add_agents();
  e->set_node_id("agent-1");
  e->set_advertised_host("10.0.1.1");
  e->set_port_start(6969);
  a.add_draining_node_ids("agent-2");
  return a;
}

// agent-2 resumed: serves brokers 2 and 3.
v1::Assignment ResumedAssignment() {
  v1::Assignment a;
  a.set_generation_id(12);
  a.set_revision(6);
  a.set_leader_node_id("coord-1");
  AddBroker(a, 1, "a", {"agent-1", "agent-3"});
  AddBroker(a, 2, "b", {"agent-2", "agent-3"});
  AddBroker(a, 3, "b", {"agent-2"});
  return a;
}

v1::ExplainRouteResponse CannedRoute(int32_t broker_id) {
  v1::ExplainRouteResponse r;
  r.set_broker_id(broker_id);
  r.set_broker_rack("a");
  r.set_node_id("agent-1");
  r.set_host("10.0.1.1");
  r.set_port(6970);
  r.set_reason("same rack as the broker");
  v1::RouteCandidate* c1 = r.add_candidates();
  c1->set_node_id("agent-1");
  c1->set_rack("a");
  c1->set_score(0.9);
  v1::RouteCandidate* c2 = r.add_candidates();
  c2->set_node_id("agent-3");
  c2->set_rack("a");
  c2->set_weight(200);
  c2->set_score(0.25);
  return r;
}

// --- The in-process coordinator -------------------------------------------

// Answers every Admin call with the canned messages above. Records the
// authorization metadata of each call and the requests it was sent. With a
// required token, drain and resume need it, as real coordinators do.
class FakeAdmin final : public v1::Admin::Service {
 public:
  void FailWith(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    fail_ = std::move(status);
  }
  void RequireToken(std::string token) {
    absl::MutexLock lock(&mu_);
    required_token_ = std::move(token);
  }
  // WatchAssignment sends these, then ends with `end`; silent: sends nothing
  // and waits until the client gives up.
  void SetWatch(std::vector<v1::Assignment> assignments, grpc::Status end, bool silent = false) {
    absl::MutexLock lock(&mu_);
    watch_ = std::move(assignments);
    watch_end_ = std::move(end);
    watch_silent_ = silent;
  }
  // The authorization metadata of each call so far, kAbsent where none.
  std::vector<std::string> authorizations() const {
    absl::MutexLock lock(&mu_);
    return authorizations_;
  }
  std::optional<v1::ExplainRouteRequest> last_explain() const {
    absl::MutexLock lock(&mu_);
    return last_explain_;
  }

  grpc::Status GetStatus(grpc::ServerContext* ctx, const v1::GetStatusRequest*,
                         v1::ClusterStatus* response) override {
    if (auto failure = Begin(ctx)) return *failure;
    *response = CannedStatus();
    return grpc::Status::OK;
  }
  grpc::Status ListNodes(grpc::ServerContext* ctx, const v1::ListNodesRequest*,
                         v1::ListNodesResponse* response) override {
    if (auto failure = Begin(ctx)) return *failure;
    *response = CannedNodes();
    return grpc::Status::OK;
  }
  grpc::Status ListBrokers(grpc::ServerContext* ctx, const v1::ListBrokersRequest*,
                           v1::ListBrokersResponse* response) override {
    if (auto failure = Begin(ctx)) return *failure;
    *response = CannedBrokers();
    return grpc::Status::OK;
  }
  grpc::Status GetAssignment(grpc::ServerContext* ctx, const v1::GetAssignmentRequest*,
                             v1::Assignment* response) override {
    if (auto failure = Begin(ctx)) return *failure;
    *response = Compact(CannedAssignment());
    return grpc::Status::OK;
  }
  grpc::Status WatchAssignment(grpc::ServerContext* ctx, const v1::GetAssignmentRequest*,
                               grpc::ServerWriter<v1::Assignment>* writer) override {
    if (auto failure = Begin(ctx)) return *failure;
    std::vector<v1::Assignment> watch;
    grpc::Status end;
    bool silent = false;
    {
      absl::MutexLock lock(&mu_);
      watch = watch_;
      end = watch_end_;
      silent = watch_silent_;
    }
    if (silent) {
      const absl::Time give_up = absl::Now() + absl::Seconds(20);
      while (!ctx->IsCancelled() && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(5));
      return grpc::Status::CANCELLED;
    }
    for (const v1::Assignment& a : watch) {
      if (!writer->Write(Compact(a))) return grpc::Status::CANCELLED;
    }
    return end;
  }
  grpc::Status ExplainRoute(grpc::ServerContext* ctx, const v1::ExplainRouteRequest* request,
                            v1::ExplainRouteResponse* response) override {
    if (auto failure = Begin(ctx)) return *failure;
    {
      absl::MutexLock lock(&mu_);
      last_explain_ = *request;
    }
    if (request->broker_id() > 3) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("no broker ", request->broker_id()));
    }
    *response = CannedRoute(request->broker_id());
    return grpc::Status::OK;
  }
  grpc::Status DrainAgent(grpc::ServerContext* ctx, const v1::DrainAgentRequest* request,
                          v1::DrainAgentResponse* response) override {
    if (auto failure = BeginMutation(ctx, request->node_id())) return *failure;
    *response->mutable_assignment() = Compact(CannedAssignment(5));
    return grpc::Status::OK;
  }
  grpc::Status ResumeAgent(grpc::ServerContext* ctx, const v1::DrainAgentRequest* request,
                           v1::DrainAgentResponse* response) override {
    if (auto failure = BeginMutation(ctx, request->node_id())) return *failure;
    *response->mutable_assignment() = Compact(ResumedAssignment());
    return grpc::Status::OK;
  }

 private:
  std::optional<grpc::Status> Begin(grpc::ServerContext* ctx) {
    const auto& metadata = ctx->client_metadata();
    auto it = metadata.find("authorization");
    absl::MutexLock lock(&mu_);
    authorizations_.push_back(it == metadata.end()
                                  ? std::string(kAbsent)
                                  : std::string(it->second.data(), it->second.size()));
    return fail_;
  }
  std::optional<grpc::Status> BeginMutation(grpc::ServerContext* ctx, const std::string& node_id) {
    if (auto failure = Begin(ctx)) return failure;
    absl::MutexLock lock(&mu_);
    if (!required_token_.empty()) {
      const std::string& got = authorizations_.back();
      if (got == kAbsent) {
        return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing admin token");
      }
      if (got != "Bearer " + required_token_) {
        return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "admin token refused");
      }
    }
    if (node_id != "agent-1" && node_id != "agent-2" && node_id != "agent-3") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("unknown node ", node_id));
    }
    return std::nullopt;
  }

  mutable absl::Mutex mu_;
  std::optional<grpc::Status> fail_ ABSL_GUARDED_BY(mu_);
  std::string required_token_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::Assignment> watch_ ABSL_GUARDED_BY(mu_);
  grpc::Status watch_end_ ABSL_GUARDED_BY(mu_);
  bool watch_silent_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::string> authorizations_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::ExplainRouteRequest> last_explain_ ABSL_GUARDED_BY(mu_);
};

// A TCP port on 127.0.0.1 that refuses connections: bound (so nobody else
// gets it while the test runs) but not listening.
class ClosedPort {
 public:
  ClosedPort() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t len = sizeof address;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &len);
    port_ = ntohs(address.sin_port);
  }
  ~ClosedPort() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
  std::vector<std::string> ErrLines() const { return absl::StrSplit(err, '\n', absl::SkipEmpty()); }
};

// Table rows of `text`: non-blank lines split on runs of two or more spaces.
std::vector<std::vector<std::string>> Rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    std::vector<std::string> cells;
    for (absl::string_view cell : absl::StrSplit(line, absl::ByString("  "), absl::SkipEmpty())) {
      cells.emplace_back(absl::StripAsciiWhitespace(cell));
    }
    rows.push_back(std::move(cells));
  }
  return rows;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

template <typename Message>
Message FromJson(const std::string& json) {
  Message message;
  auto status = google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return message;
}

class KgwctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&admin_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
    options_.coordinator = absl::StrCat("127.0.0.1:", port_);
    options_.timeout = absl::Seconds(5);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }

  Result Run(std::vector<std::string> args) {
    Options options = options_;
    options.args = std::move(args);
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(options);
    EXPECT_TRUE(channel.ok()) << channel.status();
    if (!channel.ok()) return {};
    std::unique_ptr<v1::Admin::Stub> stub = v1::Admin::NewStub(*channel);
    std::ostringstream out;
    std::ostringstream err;
    Result r;
    r.exit_code = RunCommand(options, *stub, out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  FakeAdmin admin_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  Options options_;
};

// --- Output of each command ----------------------------------------------

TEST_F(KgwctlTest, StatusShowsClusterLeaderCoordinatorsAndCounts) {
  Result r = Run({"status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out,
            "Cluster:       payments\n"
            "Group:         kgw_payments\n"
            "Generation:    12\n"
            "Leader:        coord-1\n"
            "Answered by:   coord-2\n"
            "Coordinators:  2 (coord-1, coord-2)\n"
            "Agents:        3\n"
            "Brokers:       3\n"
            "Assignment:    epoch 3, generation 12, revision 4\n"
            "Version:       0.1.0\n"
            "\n"
            "COORDINATOR  GRPC ENDPOINT  RACK  VERSION\n"
            "coord-1      10.0.0.1:6900  a     0.1.0\n"
            "coord-2      10.0.0.2:6900  b     0.1.0\n");
}

TEST_F(KgwctlTest, NodesPrintsOneRowPerNodeWithLoadAndBrokers) {
  Result r = Run({"nodes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::vector<std::string>> rows = Rows(r.out);
  ASSERT_EQ(rows.size(), 4u) << r.out;
  EXPECT_THAT(rows[0],
              ElementsAre("NODE ID", "ROLE", "HOST", "PORT START", "RACK", "WEIGHT", "HEALTH",
                          "CONNECTED", "CONNECTIONS", "BYTES/S", "BROKERS", "VERSION"));
  EXPECT_THAT(rows[1], ElementsAre("agent-1", "agent", "10.0.1.1", "6969", "a", "100", "live",
                                   "yes", "42", "1.5KiB", "1-3", "0.1.0"));
  EXPECT_THAT(rows[2], ElementsAre("agent-2", "agent", "10.0.1.2", "6969", "b", "50", "draining",
                                   "no", "-", "-", "-", "0.1.0"));
  EXPECT_THAT(rows[3], ElementsAre("coord-1", "coordinator", "10.0.0.1", "-", "a", "-", "live", "-",
                                   "-", "-", "-", "0.1.0"));
}

TEST(KgwctlFormatTest, RefusedMembersAreCountedByStatusAndExplainedByNodes) {
  v1::ClusterStatus status = CannedStatus();
  EXPECT_FALSE(absl::StrContains(FormatClusterStatus(status), "Refused"));
  status.set_refused_members(2);
  EXPECT_THAT(Lines(FormatClusterStatus(status)),
              ::testing::Contains("Refused members:  2 (they do not count; see kgwctl nodes)"));

  v1::ListNodesResponse nodes = CannedNodes();
  v1::NodeStatus* forged = nodes.add_nodes();
  forged->mutable_node()->set_node_id("agent-1");
  forged->mutable_node()->set_advertised_host("/10.9.9.9");
  forged->set_member_id("kgw-9-evil");
  forged->set_health(v1::NodeStatus::HEALTH_REFUSED);
  forged->set_refusal("another member has this node id");
  std::vector<std::vector<std::string>> rows = Rows(FormatNodes(nodes));
  ASSERT_EQ(rows.size(), 7u);
  EXPECT_THAT(rows[4], ElementsAre("agent-1", "unknown", "/10.9.9.9", "-", "-", "-", "refused",
                                   "-", "-", "-", "-", "-"));
  EXPECT_THAT(rows[5], ElementsAre("REFUSED MEMBER", "CLAIMS NODE ID", "HOST", "WHY"));
  EXPECT_THAT(rows[6], ElementsAre("kgw-9-evil", "agent-1", "/10.9.9.9",
                                   "another member has this node id"));
}

TEST(KgwctlFormatTest, SidecarsShowTheirLoadAndVersionButNoWeight) {
  v1::ListNodesResponse nodes;
  v1::NodeStatus* s = nodes.add_nodes();
  *s->mutable_node() = Node("app-7f9c", v1::NodeDescriptor::ROLE_AGENT, "localhost", "b");
  s->mutable_node()->set_role(v1::NodeDescriptor::ROLE_SIDECAR);
  s->set_health(v1::NodeStatus::HEALTH_LIVE);
  s->set_connected(true);
  s->mutable_load()->set_connections(3);
  s->mutable_load()->set_bytes_per_second(2048);
  std::vector<std::vector<std::string>> rows = Rows(FormatNodes(nodes));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_THAT(rows[1], ElementsAre("app-7f9c", "sidecar", "localhost", "6969", "b", "-", "live",
                                   "yes", "3", "2.0KiB", "-", "0.1.0"));
  v1::ClusterStatus status = CannedStatus();
  status.set_sidecars(4);
  EXPECT_THAT(Lines(FormatClusterStatus(status)),
              ::testing::Contains("Sidecars:      4 (streaming to coord-2)"));
}

TEST_F(KgwctlTest, BrokersPrintsAddressRackAndAgents) {
  Result r = Run({"brokers"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(Rows(r.out), ElementsAre(ElementsAre("BROKER", "HOST:PORT", "RACK", "AGENTS"),
                                       ElementsAre("1", "kafka-1:9092", "a", "agent-1,agent-3"),
                                       ElementsAre("2", "[::1]:9093", "-", "-")));
}

TEST_F(KgwctlTest, AssignmentPrintsHeaderBrokersInPreferenceOrderAndDrainedAgents) {
  Result r = Run({"assignment"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "Generation:   12\n"
            "Revision:     4\n"
            "Leader:       coord-1\n"
            "Computed at:  2024-05-01 12:00:00.250 UTC\n"
            "\n"
            "BROKER  RACK  AGENTS\n"
            "1       a     agent-1,agent-3\n"
            "2       b     agent-3\n"
            "3       a     -\n"
            "\n"
            "Drained agents:  agent-2\n");
}

TEST_F(KgwctlTest, ExplainSendsClientAndShowsChosenAgentAndCandidates) {
  options_.client_id = "billing";
  options_.client_host = "10.9.0.7";
  Result r = Run({"explain", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(admin_.last_explain().has_value());
  EXPECT_EQ(admin_.last_explain()->broker_id(), 1);
  EXPECT_EQ(admin_.last_explain()->client_id(), "billing");
  EXPECT_EQ(admin_.last_explain()->client_host(), "10.9.0.7");
  EXPECT_EQ(r.out,
            "Broker:   1 (rack a)\n"
            "Agent:    agent-1\n"
            "Address:  10.0.1.1:6970\n"
            "Reason:   same rack as the broker\n"
            "\n"
            "CANDIDATE  RACK  WEIGHT  SCORE     CHOSEN\n"
            "agent-1    a     100     0.900000  yes\n"
            "agent-3    a     200     0.250000  no\n");
}

TEST_F(KgwctlTest, DrainPrintsNewAssignmentAndThatTheAgentHasNoBrokers) {
  Result r = Run({"drain", "agent-2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "Drained agent-2: assignment generation 12, revision 5.\n"
            "agent-2 is given no brokers.\n"
            "\n"
            "Drained agents:  agent-2\n");
}

TEST_F(KgwctlTest, ResumePrintsTheBrokersTheAgentServesAgain) {
  Result r = Run({"resume", "agent-2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "Resumed agent-2: assignment generation 12, revision 6.\n"
            "agent-2 serves brokers 2-3:\n"
            "\n"
            "BROKER  RACK  AGENTS\n"
            "2       b     agent-2,agent-3\n"
            "3       b     agent-2\n"
            "\n"
            "Drained agents:  none\n");
}

TEST_F(KgwctlTest, VersionNeedsNoCoordinator) {
  options_.coordinator = absl::StrCat("127.0.0.1:", ClosedPort().port());
  Result r = Run({"version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, StartsWith("kgwctl "));
  EXPECT_THAT(admin_.authorizations(), IsEmpty());
}

// --- JSON -----------------------------------------------------------------

TEST_F(KgwctlTest, JsonOutputIsOneObjectPerLineThatParsesBackIntoTheMessage) {
  options_.json = true;
  struct Case {
    std::vector<std::string> args;
    std::function<void(const std::string&)> check;
  };
  const std::vector<Case> cases = {
      {{"status"},
       [](const std::string& j) {
         EXPECT_TRUE(MessageDifferencer::Equals(FromJson<v1::ClusterStatus>(j), CannedStatus()));
       }},
      {{"nodes"},
       [](const std::string& j) {
         EXPECT_TRUE(MessageDifferencer::Equals(FromJson<v1::ListNodesResponse>(j), CannedNodes()));
       }},
      {{"brokers"},
       [](const std::string& j) {
         EXPECT_TRUE(
             MessageDifferencer::Equals(FromJson<v1::ListBrokersResponse>(j), CannedBrokers()));
       }},
      {{"assignment"},
       [](const std::string& j) {
         EXPECT_TRUE(MessageDifferencer::Equals(FromJson<v1::Assignment>(j), CannedAssignment()));
       }},
      {{"explain", "2"},
       [](const std::string& j) {
         EXPECT_TRUE(
             MessageDifferencer::Equals(FromJson<v1::ExplainRouteResponse>(j), CannedRoute(2)));
       }},
      {{"resume", "agent-2"},
       [](const std::string& j) {
         EXPECT_TRUE(MessageDifferencer::Equals(FromJson<v1::DrainAgentResponse>(j).assignment(),
                                                ResumedAssignment()));
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args[0]);
    Result r = Run(c.args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_THAT(r.out, EndsWith("}\n"));
    ASSERT_EQ(Lines(r.out).size(), 1u) << r.out;
    c.check(r.out);
  }
}

TEST_F(KgwctlTest, JsonUsesProtoFieldNamesAndPrintsDefaults) {
  options_.json = true;
  Result r = Run({"nodes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"generation_id\":12"));
  EXPECT_THAT(r.out, HasSubstr("\"connected\":false"));  // agent-2: a default still printed
  EXPECT_THAT(r.out, HasSubstr("\"health\":\"HEALTH_DRAINING\""));
}

// --- Token ----------------------------------------------------------------

TEST_F(KgwctlTest, TokenIsSentAsBearerMetadataOnEveryCallWhenSet) {
  options_.token = "s3cret";
  ASSERT_EQ(Run({"status"}).exit_code, 0);
  ASSERT_EQ(Run({"drain", "agent-2"}).exit_code, 0);
  EXPECT_THAT(admin_.authorizations(), ElementsAre("Bearer s3cret", "Bearer s3cret"));
}

TEST_F(KgwctlTest, NoAuthorizationMetadataWithoutToken) {
  ASSERT_EQ(Run({"status"}).exit_code, 0);
  ASSERT_EQ(Run({"nodes"}).exit_code, 0);
  EXPECT_THAT(admin_.authorizations(), ElementsAre(kAbsent, kAbsent));
}

TEST_F(KgwctlTest, MutationWithoutRequiredTokenSaysATokenIsNeeded) {
  admin_.RequireToken("s3cret");
  Result r = Run({"drain", "agent-2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, absl::StrCat("kgwctl: the coordinator at 127.0.0.1:", port_,
                                " requires an admin token for DrainAgent; set KGWCTL_TOKEN: "
                                "missing admin token (UNAUTHENTICATED)\n"));
}

TEST_F(KgwctlTest, WrongTokenIsReportedAsRefused) {
  admin_.RequireToken("s3cret");
  options_.token = "guess";
  Result r = Run({"resume", "agent-2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, absl::StrCat("kgwctl: the coordinator at 127.0.0.1:", port_,
                                " refused the admin token (KGWCTL_TOKEN) for ResumeAgent: admin "
                                "token refused (PERMISSION_DENIED)\n"));
  options_.token = "s3cret";
  EXPECT_EQ(Run({"resume", "agent-2"}).exit_code, 0);
}

// --- Errors ---------------------------------------------------------------

TEST_F(KgwctlTest, DrainingAnUnknownNodeSaysSo) {
  Result r = Run({"drain", "ghost"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, absl::StrCat("kgwctl: no agent \"ghost\" in the gateway cluster (coordinator "
                                "at 127.0.0.1:",
                                port_, "): unknown node ghost (NOT_FOUND)\n"));
}

TEST_F(KgwctlTest, ExplainingABrokerWithoutRouteSaysSo) {
  Result r = Run({"explain", "99"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, absl::StrCat("kgwctl: no route to broker 99 (coordinator at 127.0.0.1:", port_,
                                "): no broker 99 (NOT_FOUND)\n"));
}

TEST_F(KgwctlTest, OtherErrorsNameTheCallCodeAndMessageOnOneLine) {
  admin_.FailWith(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "no leader\nyet"));
  Result r = Run({"nodes"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, absl::StrCat("kgwctl: ListNodes failed at coordinator at 127.0.0.1:", port_,
                                ": no leader yet (FAILED_PRECONDITION)\n"));
}

TEST_F(KgwctlTest, UnavailableFromAReachedCoordinatorIsNotCalledUnreachable) {
  admin_.FailWith(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "no assignment has been published yet"));
  Result r = Run({"assignment"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, absl::StrCat("kgwctl: the coordinator at 127.0.0.1:", port_,
                                " could not answer GetAssignment: no assignment has been "
                                "published yet (UNAVAILABLE)\n"));
}

TEST_F(KgwctlTest, UnreachableCoordinatorGivesOneLineAndExitOneWithinTheTimeout) {
  ClosedPort closed;
  options_.coordinator = absl::StrCat("127.0.0.1:", closed.port());
  const absl::Time start = absl::Now();
  Result r = Run({"status"});
  EXPECT_LT(absl::Now() - start, options_.timeout);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  ASSERT_EQ(r.ErrLines().size(), 1u) << r.err;
  EXPECT_THAT(r.err, StartsWith(absl::StrCat(
                         "kgwctl: cannot reach coordinator at 127.0.0.1:", closed.port(), ": ")));
  EXPECT_THAT(r.err, EndsWith(" (UNAVAILABLE)\n"));
}

TEST_F(KgwctlTest, UsageErrorsExitTwoWithoutCallingTheCoordinator) {
  const std::string commands =
      "one of: status, nodes, brokers, assignment, watch, explain, drain, resume, version";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "kgwctl: missing command; " + commands},
      {{"frobnicate"}, "kgwctl: unknown command \"frobnicate\"; " + commands},
      {{"explain"},
       "kgwctl: explain needs a broker id; usage: kgwctl explain <broker-id> [--client-id ID] "
       "[--client-host IP]"},
      {{"explain", "kafka-1"},
       "kgwctl: invalid broker id \"kafka-1\": expected an integer >= 0; usage: kgwctl explain "
       "<broker-id> [--client-id ID] [--client-host IP]"},
      {{"explain", "-1"}, "kgwctl: invalid broker id \"-1\""},
      {{"drain"}, "kgwctl: drain needs a node id; usage: kgwctl drain <node-id>"},
      {{"resume", "a", "b"}, "kgwctl: unexpected argument \"b\"; usage: kgwctl resume <node-id>"},
      {{"nodes", "all"}, "kgwctl: unexpected argument \"all\"; usage: kgwctl nodes"},
  };
  for (const auto& [args, expected] : cases) {
    Result r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << expected;
    ASSERT_EQ(r.ErrLines().size(), 1u) << r.err;
    EXPECT_THAT(r.ErrLines()[0], StartsWith(expected));
  }
  EXPECT_THAT(admin_.authorizations(), IsEmpty());
}

// --- watch ----------------------------------------------------------------

TEST_F(KgwctlTest, WatchPrintsEachAssignmentAndReportsThatTheStreamEnded) {
  admin_.SetWatch({CannedAssignment(4), CannedAssignment(5), CannedAssignment(6)},
                  grpc::Status::OK);
  Result r = Run({"watch"});
  EXPECT_EQ(r.exit_code, 1);
  std::vector<std::string> revisions;
  for (const std::string& line : Lines(r.out)) {
    if (absl::StartsWith(line, "Revision:")) revisions.push_back(line);
  }
  EXPECT_THAT(revisions, ElementsAre("Revision:     4", "Revision:     5", "Revision:     6"));
  EXPECT_THAT(r.out, HasSubstr("Drained agents:  agent-2\n\nGeneration:"));  // blocks apart
  EXPECT_EQ(r.err, absl::StrCat("kgwctl: the coordinator at 127.0.0.1:", port_,
                                " closed the watch stream after 3 assignments\n"));
}

TEST_F(KgwctlTest, WatchJsonPrintsOneAssignmentPerLine) {
  admin_.SetWatch({CannedAssignment(4), CannedAssignment(5)}, grpc::Status::OK);
  options_.json = true;
  Result r = Run({"watch"});
  EXPECT_EQ(r.exit_code, 1);
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_TRUE(MessageDifferencer::Equals(FromJson<v1::Assignment>(lines[0]), CannedAssignment(4)));
  EXPECT_TRUE(MessageDifferencer::Equals(FromJson<v1::Assignment>(lines[1]), CannedAssignment(5)));
  EXPECT_THAT(r.err, HasSubstr("closed the watch stream after 2 assignments"));
}

TEST_F(KgwctlTest, WatchReportsAStreamThatFailsAfterAssignments) {
  admin_.SetWatch({CannedAssignment(4)},
                  grpc::Status(grpc::StatusCode::UNAVAILABLE, "coordinator shutting down"));
  Result r = Run({"watch"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("Revision:     4\n"));
  EXPECT_EQ(r.err, absl::StrCat("kgwctl: the watch stream from coordinator at 127.0.0.1:", port_,
                                " failed after 1 assignment: coordinator shutting down "
                                "(UNAVAILABLE)\n"));
}

TEST_F(KgwctlTest, WatchGivesUpWhenNoAssignmentArrivesWithinTheTimeout) {
  admin_.SetWatch({}, grpc::Status::OK, /*silent=*/true);
  options_.timeout = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  Result r = Run({"watch"});
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, absl::StrCat("kgwctl: no assignment from coordinator at 127.0.0.1:", port_,
                                " within 300ms\n"));
}

TEST_F(KgwctlTest, WatchSendsTheToken) {
  admin_.SetWatch({CannedAssignment(4)}, grpc::Status::OK);
  options_.token = "s3cret";
  Run({"watch"});
  EXPECT_THAT(admin_.authorizations(), ElementsAre("Bearer s3cret"));
}

// --- Settings and the command line ----------------------------------------

absl::StatusOr<config::Settings> ParseSettings(const std::vector<std::string>& flags,
                                               const std::map<std::string, std::string>& env = {}) {
  std::vector<config::SettingSpec> specs = KgwctlSettingSpecs();
  return config::Parse(specs, env, flags);
}

TEST(KgwctlConfigTest, DefaultsArePlaintextTextOutputAndNoToken) {
  absl::StatusOr<config::Settings> settings = ParseSettings({});
  ASSERT_TRUE(settings.ok()) << settings.status();
  absl::StatusOr<Options> options = LoadOptions(*settings, {"nodes"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->coordinator, "localhost:6900");
  EXPECT_EQ(options->timeout, absl::Seconds(5));
  EXPECT_FALSE(options->json);
  EXPECT_FALSE(options->tls);
  EXPECT_EQ(options->token, "");
  EXPECT_EQ(options->tls_ca_file, "");
  EXPECT_THAT(options->args, ElementsAre("nodes"));
}

TEST(KgwctlConfigTest, ShortFlagsBooleansAndFlagsAfterTheCommandAreNormalised) {
  std::vector<config::SettingSpec> specs = KgwctlSettingSpecs();
  EXPECT_THAT(NormalizeArguments(specs, {"--coordinator", "h:1", "nodes", "--json"}),
              ElementsAre("--kgwctl-coordinator", "h:1", "--kgwctl-json=true", "nodes"));
  EXPECT_THAT(NormalizeArguments(specs, {"explain", "3", "--client-id", "app", "--client-host=::1",
                                         "--tls", "false"}),
              ElementsAre("--kgwctl-client-id", "app", "--kgwctl-client-host=::1", "--kgwctl-tls",
                          "false", "explain", "3"));
  EXPECT_THAT(NormalizeArguments(specs, {"--kgwctl-timeout=5", "version"}),
              ElementsAre("--kgwctl-timeout=5", "version"));
  EXPECT_THAT(NormalizeArguments(specs, {"-h"}), ElementsAre("--help"));
  EXPECT_THAT(NormalizeArguments(specs, {"status", "--check-config", "--no-such", "x"}),
              ElementsAre("--check-config", "--no-such", "x", "status"));
}

TEST(KgwctlConfigTest, NormalisedFlagsParseIntoOptions) {
  std::vector<config::SettingSpec> specs = KgwctlSettingSpecs();
  std::vector<std::string> args =
      NormalizeArguments(specs, {"--json", "explain", "7", "--client-id", "app", "--client-host",
                                 "10.0.0.9", "--timeout", "1500ms"});
  ASSERT_THAT(args, Contains("explain"));
  auto first_positional = std::find(args.begin(), args.end(), "explain");
  absl::StatusOr<config::Settings> settings =
      ParseSettings(std::vector<std::string>(args.begin(), first_positional));
  ASSERT_TRUE(settings.ok()) << settings.status();
  absl::StatusOr<Options> options =
      LoadOptions(*settings, std::vector<std::string>(first_positional, args.end()));
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->json);
  EXPECT_EQ(options->client_id, "app");
  EXPECT_EQ(options->client_host, "10.0.0.9");
  EXPECT_EQ(options->timeout, absl::Milliseconds(1500));
  EXPECT_THAT(options->args, ElementsAre("explain", "7"));
}

TEST(KgwctlConfigTest, BadValuesAreRefusedWithOneLine) {
  EXPECT_THAT(ParseSettings({"--kgwctl-client-host=my-laptop"}).status().message(),
              HasSubstr("invalid KGWCTL_CLIENT_HOST=\"my-laptop\" (from flag): not an IP address"));
  EXPECT_THAT(ParseSettings({}, {{"KGWCTL_TOKEN", "two words"}}).status().message(),
              HasSubstr("invalid KGWCTL_TOKEN"));
  EXPECT_THAT(ParseSettings({"--kgwctl-tls-ca-file=/no/such/ca.pem"}).status().message(),
              HasSubstr("cannot read the file"));
  EXPECT_THAT(ParseSettings({"--kgwctl-json=maybe"}).status().message(),
              HasSubstr("expected true or false"));
}

TEST(KgwctlConfigTest, CaFileWithoutTlsIsAContradiction) {
  const std::string ca = absl::StrCat(::testing::TempDir(), "kgwctl_test_ca.pem");
  std::ofstream(ca) << "not a certificate\n";
  absl::StatusOr<config::Settings> settings = ParseSettings({"--kgwctl-tls-ca-file=" + ca});
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_THAT(LoadOptions(*settings, {}).status().message(),
              HasSubstr("KGWCTL_TLS_CA_FILE without KGWCTL_TLS=true"));
  Options options;
  options.coordinator = "localhost:6900";
  options.tls = true;
  options.tls_ca_file = ca;
  EXPECT_THAT(MakeChannel(options).status().message(), HasSubstr("no PEM certificate in it"));
  options.tls_ca_file = "";
  EXPECT_TRUE(MakeChannel(options).ok());  // the system's roots
  std::remove(ca.c_str());
}

TEST(KgwctlConfigTest, ClientCertificateNeedsItsKeyAndTls) {
  const std::string cert = absl::StrCat(::testing::TempDir(), "kgwctl_test_client.pem");
  const std::string key = absl::StrCat(::testing::TempDir(), "kgwctl_test_client.key");
  std::ofstream(cert) << "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  std::ofstream(key) << "not a key\n";
  absl::StatusOr<config::Settings> settings =
      ParseSettings({"--kgwctl-tls=true", "--kgwctl-tls-cert-file=" + cert});
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ(LoadOptions(*settings, {}).status().message(),
            "invalid KGWCTL_TLS_CERT_FILE without KGWCTL_TLS_KEY_FILE: give both or neither");
  settings = ParseSettings({"--kgwctl-tls=true", "--kgwctl-tls-key-file=" + key});
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ(LoadOptions(*settings, {}).status().message(),
            "invalid KGWCTL_TLS_KEY_FILE without KGWCTL_TLS_CERT_FILE: give both or neither");
  settings = ParseSettings({"--kgwctl-tls-cert-file=" + cert, "--kgwctl-tls-key-file=" + key});
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_THAT(LoadOptions(*settings, {}).status().message(),
              HasSubstr("KGWCTL_TLS_CERT_FILE without KGWCTL_TLS=true"));
  settings = ParseSettings({"--kgwctl-tls-cert-file=/nonexistent/client.pem"});
  ASSERT_FALSE(settings.ok());
  EXPECT_THAT(settings.status().message(), HasSubstr("invalid KGWCTL_TLS_CERT_FILE"));

  // Read when the channel is made: a key file without a PEM key is refused.
  settings = ParseSettings(
      {"--kgwctl-tls=true", "--kgwctl-tls-cert-file=" + cert, "--kgwctl-tls-key-file=" + key});
  ASSERT_TRUE(settings.ok()) << settings.status();
  absl::StatusOr<Options> options = LoadOptions(*settings, {});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->tls_cert_file, cert);
  EXPECT_EQ(options->tls_key_file, key);
  EXPECT_EQ(MakeChannel(*options).status().message(),
            absl::StrCat("invalid KGWCTL_TLS_KEY_FILE=\"", key, "\": no PEM private key in it"));
  std::remove(cert.c_str());
  std::remove(key.c_str());
}

TEST(KgwctlFormatTest, HelpersShowRangesRatesTimesAndAddresses) {
  EXPECT_EQ(FormatBrokerIds(std::vector<int32_t>{8, 1, 2, 3, 5, 7, 2}), "1-3,5,7-8");
  EXPECT_EQ(FormatBrokerIds({}), "-");
  EXPECT_EQ(FormatBytesPerSecond(0), "0");
  EXPECT_EQ(FormatBytesPerSecond(1023), "1023");
  EXPECT_EQ(FormatBytesPerSecond(12.5 * 1024 * 1024), "12.5MiB");
  EXPECT_EQ(FormatBytesPerSecond(3.0 * 1024 * 1024 * 1024 * 1024), "3072.0GiB");
  EXPECT_EQ(FormatUtcMillis(0), "-");
  EXPECT_EQ(FormatUtcMillis(1714564800250), "2024-05-01 12:00:00.250 UTC");
  EXPECT_EQ(FormatHostPort("fe80::1", 6969), "[fe80::1]:6969");
  EXPECT_EQ(FormatHostPort("", 6969), "-");
  Table table({"A", "LONGER", "C"});
  table.AddRow({"wide cell", "", "x"});
  table.AddRow({"b"});
  EXPECT_EQ(table.Render("  "),
            "  A          LONGER  C\n"
            "  wide cell  -       x\n"
            "  b          -       -\n");
}

TEST(KgwctlHelpTest, ListsEveryCommand) {
  std::string help = CommandHelp();
  for (absl::string_view command :
       {"status", "nodes", "brokers", "assignment", "watch", "explain <broker-id>",
        "drain <node-id>", "resume <node-id>", "version"}) {
    EXPECT_THAT(help, HasSubstr(absl::StrCat("\n  ", command))) << command;
  }
}

// --- TLS ------------------------------------------------------------------

Result RunBinary(const std::vector<std::string>& args, const std::vector<std::string>& env = {});

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

struct KeyAndCert {
  std::string key_pem;
  std::string cert_pem;
  std::string ca_pem;  // the CA that issued cert_pem
};

// A certificate for `dns_names` and `ips` (server and client use) from a CA
// of its own: what a coordinator serves or kgwctl presents, and what
// verifies it.
KeyAndCert IssueCertificate(std::vector<std::string> dns_names = {"localhost"},
                            std::vector<std::string> ips = {"127.0.0.1"}) {
  static int issued = 0;
  const std::string stem =
      absl::StrCat(::testing::TempDir(), "kgwctl_test_pki_", getpid(), "_", issued++);
  absl::StatusOr<kgw::testing::TestCa> ca = kgw::testing::TestCa::Create("kgwctl test CA");
  EXPECT_TRUE(ca.ok()) << ca.status();
  if (!ca.ok()) return {};
  EXPECT_TRUE(ca->WriteCertificate(stem + "_ca.pem").ok());
  EXPECT_TRUE(ca->Issue({.common_name = "kgwctl test coordinator",
                         .dns_names = std::move(dns_names),
                         .ips = std::move(ips),
                         .server = true,
                         .client = true},
                        stem + ".pem", stem + ".key")
                  .ok());
  KeyAndCert out{.key_pem = ReadFile(stem + ".key"),
                 .cert_pem = ReadFile(stem + ".pem"),
                 .ca_pem = ReadFile(stem + "_ca.pem")};
  for (const char* suffix : {".key", ".pem", "_ca.pem"}) std::remove((stem + suffix).c_str());
  return out;
}

TEST(KgwctlTlsTest, TlsChannelVerifiesTheCoordinatorAgainstTheCaFile) {
  KeyAndCert pki = IssueCertificate();
  ASSERT_THAT(pki.cert_pem, StartsWith("-----BEGIN CERTIFICATE-----"));
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({pki.key_pem, pki.cert_pem});
  FakeAdmin admin;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &port);
  builder.RegisterService(&admin);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  const std::string ca =
      absl::StrCat(::testing::TempDir(), "kgwctl_test_tls_ca_", getpid(), ".pem");
  std::ofstream(ca) << pki.ca_pem;

  auto run = [&](bool tls, const std::string& ca_file) {
    Options options;
    options.coordinator = absl::StrCat("127.0.0.1:", port);
    options.timeout = absl::Seconds(5);
    options.tls = tls;
    options.tls_ca_file = ca_file;
    options.token = "s3cret";
    options.args = {"status"};
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(options);
    EXPECT_TRUE(channel.ok()) << channel.status();
    std::unique_ptr<v1::Admin::Stub> stub = v1::Admin::NewStub(*channel);
    std::ostringstream out;
    std::ostringstream err;
    Result r;
    r.exit_code = RunCommand(options, *stub, out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
  };
  Result verified = run(true, ca);
  EXPECT_EQ(verified.exit_code, 0) << verified.err;
  EXPECT_THAT(verified.out, HasSubstr("Cluster:       payments\n"));
  EXPECT_THAT(admin.authorizations(), ElementsAre("Bearer s3cret"));

  Result untrusted = run(true, "");  // the system's roots do not know the test CA
  EXPECT_EQ(untrusted.exit_code, 1);
  EXPECT_THAT(untrusted.err, StartsWith("kgwctl: cannot reach coordinator at 127.0.0.1:"));
  Result plaintext = run(false, "");
  EXPECT_EQ(plaintext.exit_code, 1);
  EXPECT_THAT(plaintext.err, StartsWith("kgwctl: cannot reach coordinator at 127.0.0.1:"));
  EXPECT_EQ(admin.authorizations().size(), 1u);  // neither reached the service
  EXPECT_THAT(untrusted.err, HasSubstr("certificate verify failed"));

  // The binary says so on one line: gRPC's own log of the handshake stays quiet.
  Result binary = RunBinary({"--tls", "--coordinator", absl::StrCat("127.0.0.1:", port), "status"});
  EXPECT_EQ(binary.exit_code, 1);
  EXPECT_THAT(binary.ErrLines(), ElementsAre(HasSubstr("certificate verify failed")));
  binary = RunBinary(
      {"--tls", "--tls-ca-file", ca, "--coordinator", absl::StrCat("127.0.0.1:", port), "status"});
  EXPECT_EQ(binary.exit_code, 0) << binary.err;

  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  std::remove(ca.c_str());
}

TEST(KgwctlTlsTest, ClientCertificateIsPresentedAndItsAbsenceIsOneClearLine) {
  // One CA issued the coordinator's certificate and verifies clients; the
  // same certificate is the one kgwctl presents. The stranger's CA is unknown.
  KeyAndCert pki = IssueCertificate();
  KeyAndCert stranger = IssueCertificate();
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = pki.ca_pem;
  ssl.pem_key_cert_pairs.push_back({pki.key_pem, pki.cert_pem});
  FakeAdmin admin;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &port);
  builder.RegisterService(&admin);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  const std::string stem = absl::StrCat(::testing::TempDir(), "kgwctl_test_mtls_", getpid());
  const std::string ca = stem + "_ca.pem";
  const std::string cert = stem + "_client.pem";
  const std::string key = stem + "_client.key";
  const std::string stranger_cert = stem + "_stranger.pem";
  const std::string stranger_key = stem + "_stranger.key";
  std::ofstream(ca) << pki.ca_pem;
  std::ofstream(cert) << pki.cert_pem;
  std::ofstream(key) << pki.key_pem;
  std::ofstream(stranger_cert) << stranger.cert_pem;
  std::ofstream(stranger_key) << stranger.key_pem;
  const std::string endpoint = absl::StrCat("127.0.0.1:", port);

  Result with_cert = RunBinary({"--tls", "--tls-ca-file", ca, "--tls-cert-file", cert,
                                "--tls-key-file", key, "--coordinator", endpoint, "status"});
  EXPECT_EQ(with_cert.exit_code, 0) << with_cert.err;
  EXPECT_THAT(with_cert.out, HasSubstr("Cluster:       payments\n"));

  Result without_cert =
      RunBinary({"--tls", "--tls-ca-file", ca, "--coordinator", endpoint, "status"});
  EXPECT_EQ(without_cert.exit_code, 1);
  EXPECT_THAT(without_cert.ErrLines(),
              ElementsAre(AllOf(StartsWith("kgwctl: the coordinator at " + endpoint +
                                           " refused the TLS connection"),
                                HasSubstr("KGWCTL_TLS_CERT_FILE"))))
      << without_cert.err;

  Result unknown_cert =
      RunBinary({"--tls", "--tls-ca-file", ca, "--tls-cert-file", stranger_cert, "--tls-key-file",
                 stranger_key, "--coordinator", endpoint, "status"});
  EXPECT_EQ(unknown_cert.exit_code, 1);
  EXPECT_THAT(unknown_cert.ErrLines(),
              ElementsAre(AllOf(StartsWith("kgwctl: the coordinator at " + endpoint +
                                           " refused the TLS connection"),
                                HasSubstr("KGWCTL_TLS_CERT_FILE"))))
      << unknown_cert.err;
  EXPECT_EQ(admin.authorizations().size(), 1u);  // only the first call got through
  // Plaintext against the TLS port: the coordinator closes the connection.
  Result plaintext = RunBinary({"--coordinator", endpoint, "status"});
  EXPECT_EQ(plaintext.exit_code, 1);
  EXPECT_THAT(plaintext.ErrLines(),
              ElementsAre(AllOf(StartsWith("kgwctl: cannot reach coordinator at " + endpoint),
                                EndsWith("if the coordinator serves TLS "
                                         "(GATEWAY_GRPC_TLS=true), add --tls"))))
      << plaintext.err;

  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  for (const std::string& path : {ca, cert, key, stranger_cert, stranger_key}) {
    std::remove(path.c_str());
  }
}

TEST(KgwctlTlsTest, TlsAgainstAPlaintextPortOrTheWrongHostNameSaysWhatToChange) {
  FakeAdmin admin;
  int plain_port = 0;
  grpc::ServerBuilder plain_builder;
  plain_builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &plain_port);
  plain_builder.RegisterService(&admin);
  std::unique_ptr<grpc::Server> plain = plain_builder.BuildAndStart();
  ASSERT_NE(plain, nullptr);

  // A certificate for another name than the one kgwctl dials.
  KeyAndCert pki = IssueCertificate({"coordinator.example"}, {});
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({pki.key_pem, pki.cert_pem});
  int tls_port = 0;
  grpc::ServerBuilder tls_builder;
  tls_builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &tls_port);
  tls_builder.RegisterService(&admin);
  std::unique_ptr<grpc::Server> tls = tls_builder.BuildAndStart();
  ASSERT_NE(tls, nullptr);
  const std::string ca = absl::StrCat(::testing::TempDir(), "kgwctl_test_names_", getpid(), ".pem");
  std::ofstream(ca) << pki.ca_pem;

  Result tls_to_plain =
      RunBinary({"--tls", "--coordinator", absl::StrCat("127.0.0.1:", plain_port), "status"});
  EXPECT_EQ(tls_to_plain.exit_code, 1);
  EXPECT_THAT(tls_to_plain.ErrLines(),
              ElementsAre(AllOf(StartsWith("kgwctl: cannot reach coordinator at 127.0.0.1:"),
                                EndsWith("the coordinator does not serve TLS on this port: "
                                         "drop --tls"))))
      << tls_to_plain.err;

  Result wrong_name = RunBinary({"--tls", "--tls-ca-file", ca, "--coordinator",
                                 absl::StrCat("127.0.0.1:", tls_port), "status"});
  EXPECT_EQ(wrong_name.exit_code, 1);
  EXPECT_THAT(wrong_name.ErrLines(),
              ElementsAre(AllOf(StartsWith("kgwctl: cannot reach coordinator at 127.0.0.1:"),
                                EndsWith("the coordinator's certificate does not name the host "
                                         "in KGWCTL_COORDINATOR"))))
      << wrong_name.err;
  EXPECT_THAT(admin.authorizations(), IsEmpty());

  plain->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  tls->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  std::remove(ca.c_str());
}

// --- The built binary -----------------------------------------------------

// Runs the built kgwctl with `args` and an environment of PATH, the
// sanitizers' options and `env`; stdout and stderr through temp files.
Result RunBinary(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  static int counter = 0;
  const std::string stem =
      absl::StrCat(::testing::TempDir(), "kgwctl_test_", getpid(), "_", counter++);
  const std::string out_path = stem + ".out";
  const std::string err_path = stem + ".err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  std::vector<std::string> argv_strings = {KGWCTL_BIN};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<std::string> env_strings = {"PATH=/usr/bin:/bin"};
  for (char** e = environ; *e != nullptr; ++e) {
    absl::string_view entry(*e);
    if (absl::StartsWith(entry, "ASAN_") || absl::StartsWith(entry, "UBSAN_") ||
        absl::StartsWith(entry, "LSAN_")) {
      env_strings.emplace_back(entry);
    }
  }
  env_strings.insert(env_strings.end(), env.begin(), env.end());
  auto pointers = [](std::vector<std::string>& strings) {
    std::vector<char*> p;
    for (std::string& s : strings) p.push_back(s.data());
    p.push_back(nullptr);
    return p;
  };
  std::vector<char*> argv = pointers(argv_strings);
  std::vector<char*> envp = pointers(env_strings);
  Result r;
  pid_t pid = 0;
  if (posix_spawn(&pid, KGWCTL_BIN, &actions, nullptr, argv.data(), envp.data()) == 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  posix_spawn_file_actions_destroy(&actions);
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::remove(path.c_str());
    return ss.str();
  };
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  return r;
}

TEST_F(KgwctlTest, BinaryListsNodesFromTheCoordinatorGivenByFlag) {
  Result r = RunBinary({"--coordinator", absl::StrCat("127.0.0.1:", port_), "nodes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(Rows(r.out), Contains(ElementsAre("agent-1", "agent", "10.0.1.1", "6969", "a", "100",
                                                "live", "yes", "42", "1.5KiB", "1-3", "0.1.0")));
}

TEST_F(KgwctlTest, BinaryTakesCommandFlagsAfterTheCommandAndTokenFromTheEnvironment) {
  Result r = RunBinary({"explain", "2", "--client-id", "billing", "--client-host", "10.9.0.7",
                        "--json", "--kgwctl-coordinator", absl::StrCat("127.0.0.1:", port_)},
                       {"KGWCTL_TOKEN=s3cret"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(
      MessageDifferencer::Equals(FromJson<v1::ExplainRouteResponse>(r.out), CannedRoute(2)));
  ASSERT_TRUE(admin_.last_explain().has_value());
  EXPECT_EQ(admin_.last_explain()->client_id(), "billing");
  EXPECT_EQ(admin_.last_explain()->client_host(), "10.9.0.7");
  EXPECT_THAT(admin_.authorizations(), ElementsAre("Bearer s3cret"));
}

TEST_F(KgwctlTest, BinaryReportsAnUnreachableCoordinatorOnOneLine) {
  ClosedPort closed;
  for (absl::string_view host : {"127.0.0.1", "localhost"}) {
    const std::string coordinator = absl::StrCat(host, ":", closed.port());
    Result r = RunBinary({"--coordinator", coordinator, "status"});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(r.out, "");
    ASSERT_EQ(r.ErrLines().size(), 1u) << r.err;
    EXPECT_THAT(r.ErrLines()[0], StartsWith(absl::StrCat("kgwctl: cannot reach coordinator at ",
                                                         coordinator, ": ")));
  }
}

TEST_F(KgwctlTest, BinaryResolvesTheCoordinatorsHostName) {
  Result r = RunBinary({"--coordinator", absl::StrCat("localhost:", port_), "brokers"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("kafka-1:9092"));
}

TEST_F(KgwctlTest, BinaryUsageErrorsAndHelp) {
  Result r = RunBinary({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.ErrLines(),
              ElementsAre(HasSubstr("unknown command \"frobnicate\"; one of: status")));
  r = RunBinary({"explain", "--coordinator", absl::StrCat("127.0.0.1:", port_)});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.ErrLines(), ElementsAre(HasSubstr("explain needs a broker id")));
  r = RunBinary({"--json=perhaps", "nodes"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.ErrLines(), ElementsAre(StartsWith("kgwctl: invalid KGWCTL_JSON=\"perhaps\"")));
  r = RunBinary({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("Usage: kgwctl <command> [args]"));
  EXPECT_THAT(r.out, HasSubstr("  explain <broker-id> [--client-id ID] [--client-host IP]\n"));
  EXPECT_THAT(r.out, HasSubstr("KGWCTL_TLS_CA_FILE  --kgwctl-tls-ca-file="));
  EXPECT_THAT(admin_.authorizations(), IsEmpty());
}

TEST_F(KgwctlTest, BinaryCheckConfigMasksTheToken) {
  Result r = RunBinary({"--check-config", "--json"}, {"KGWCTL_TOKEN=s3cret"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("KGWCTL_TOKEN=****** (environment)\n"));
  EXPECT_THAT(r.out, HasSubstr("KGWCTL_JSON=true (flag)\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("s3cret")));
}

}  // namespace
}  // namespace kgw::kgwctl
