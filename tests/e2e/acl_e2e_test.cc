// Kafka ACLs for the gateway, end to end, against the test cluster started with
// an authorizer (tests/kafka/kafka-cluster.sh --security --authorizer). The
// ACLs docs/security.md gives are created for the harness user alice, standing
// for the gateway's principal, on one gateway cluster's group and internal
// topics; a kgw-coordinator and a kgw-agent authenticating as alice (SASL
// PLAIN) must then form the gateway and route clients, while another
// principal (mallory) is refused both the gateway group and a write to the
// assignments topic. A first test shows mallory getting both on a gateway
// cluster whose resources have no ACLs, so the suite can tell.
//
// Admin, a super user of the test cluster, creates and deletes the ACLs
// through Kafka's admin API (librdkafka). Mallory joins with the requests the
// gateway's own group client sends (FindCoordinator, JoinGroup) and writes
// with the gateway's own TopicWriter.
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/cluster/internal_topics.h"
#include "common/config/settings.h"
#include "common/kafka/blocking_client.h"
#include "common/kafka/errors.h"
#include "common/kafka/messages/find_coordinator.h"
#include "common/kafka/messages/join_group.h"
#include "common/status/status_macros.h"
#include "common/testing/wait_for.h"
#include "gtest/gtest.h"
#include "tests/e2e/process_util.h"

namespace kgw::test {
namespace {

using std::chrono::seconds;
using ::kgw::testing::WaitFor;

// Ports of this suite alone (below 32768: see docs/development.md).
constexpr int kCoordinatorGrpcPort = 22300;
constexpr int kCoordinatorHttpPort = 22301;
constexpr int kAgentPortStart = 22310;  // bootstrap; broker N at 22310 + N
constexpr int kAgentHttpPort = 22320;
constexpr int kSessionTimeoutSeconds = 6;
constexpr char kAdminUser[] = "admin";  // a super user of the test cluster
constexpr char kAdminPassword[] = "admin-secret";
constexpr char kMechanism[] = "PLAIN";  // Debian's librdkafka cannot SCRAM to Kafka 4

struct Env {
  std::string agent_bin = EnvOr("KGW_AGENT_BIN", "");
  std::string coordinator_bin = EnvOr("KGW_COORDINATOR_BIN", "");
  std::string kgwctl_bin = EnvOr("KGWCTL_BIN", "");
  std::string authorizer = EnvOr("KGW_KAFKA_AUTHORIZER", "");
  std::string sasl_bootstrap = EnvOr("KGW_KAFKA_SASL_BOOTSTRAP", "");
  std::string gateway_user = EnvOr("KGW_KAFKA_SASL_USER", "");
  std::string gateway_password = EnvOr("KGW_KAFKA_SASL_PASSWORD", "");
  std::string other_user = EnvOr("KGW_KAFKA_SASL_OTHER_USER", "");
  std::string other_password = EnvOr("KGW_KAFKA_SASL_OTHER_PASSWORD", "");
  std::string work_dir;
};

Env& E() {
  static Env* env = new Env;
  return *env;
}

std::string Group(const std::string& cluster_id) { return absl::StrCat("kgw_", cluster_id); }
std::string TopicPrefix(const std::string& cluster_id) {
  return absl::StrCat("_kgw_", cluster_id, "_");
}
std::string AssignmentsTopic(const std::string& cluster_id) {
  return absl::StrCat(TopicPrefix(cluster_id), "assignments");
}

std::vector<config::HostPort> SaslBootstrap() {
  std::vector<config::HostPort> out;
  for (absl::string_view hp : absl::StrSplit(E().sasl_bootstrap, ',', absl::SkipEmpty())) {
    out.push_back(config::SplitHostPort(hp));
  }
  return out;
}

// ---- ACLs through Kafka's admin API ----

template <auto kDestroy>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    kDestroy(p);
  }
};
using HandlePtr = std::unique_ptr<rd_kafka_t, Deleter<rd_kafka_destroy>>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, Deleter<rd_kafka_queue_destroy>>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, Deleter<rd_kafka_event_destroy>>;
using OptionsPtr = std::unique_ptr<rd_kafka_AdminOptions_t, Deleter<rd_kafka_AdminOptions_destroy>>;
using BindingPtr = std::unique_ptr<rd_kafka_AclBinding_t, Deleter<rd_kafka_AclBinding_destroy>>;

// One resource's ALLOW entries for one principal, from any host.
struct AclEntry {
  rd_kafka_ResourceType_t resource_type;
  std::string resource_name;
  rd_kafka_ResourcePatternType_t pattern_type;
  std::vector<rd_kafka_AclOperation_t> operations;
};

// What docs/security.md ("2. Kafka ACLs") grants the gateway's principal.
std::vector<AclEntry> DocumentedAcls(const std::string& cluster_id) {
  return {{RD_KAFKA_RESOURCE_GROUP,
           Group(cluster_id),
           RD_KAFKA_RESOURCE_PATTERN_LITERAL,
           {RD_KAFKA_ACL_OPERATION_READ, RD_KAFKA_ACL_OPERATION_DESCRIBE}},
          {RD_KAFKA_RESOURCE_TOPIC,
           TopicPrefix(cluster_id),
           RD_KAFKA_RESOURCE_PATTERN_PREFIXED,
           {RD_KAFKA_ACL_OPERATION_READ, RD_KAFKA_ACL_OPERATION_WRITE,
            RD_KAFKA_ACL_OPERATION_DESCRIBE, RD_KAFKA_ACL_OPERATION_CREATE,
            RD_KAFKA_ACL_OPERATION_DESCRIBE_CONFIGS}}};
}

// Kafka's admin API as the cluster's super user, on the SASL listener.
class AclAdmin {
 public:
  AclAdmin() {
    char error[512] = "";
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    const std::map<std::string, std::string> settings = {
        {"bootstrap.servers", E().sasl_bootstrap}, {"client.id", "kgw-e2e-acl-admin"},
        {"security.protocol", "SASL_PLAINTEXT"},   {"sasl.mechanisms", kMechanism},
        {"sasl.username", kAdminUser},             {"sasl.password", kAdminPassword}};
    for (const auto& [k, v] : settings) {
      if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), error, sizeof(error)) !=
          RD_KAFKA_CONF_OK) {
        error_ = absl::StrCat(k, ": ", error);
        rd_kafka_conf_destroy(conf);
        return;
      }
    }
    handle_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error)));
    if (handle_ == nullptr) error_ = error;  // rd_kafka_new has destroyed conf
  }

  // Adds ALLOW entries for `principal` (e.g. "User:alice").
  absl::Status Create(const std::string& principal, const std::vector<AclEntry>& entries) {
    if (handle_ == nullptr) return absl::InternalError(error_);
    char error[512] = "";
    std::vector<BindingPtr> owned;
    std::vector<rd_kafka_AclBinding_t*> bindings;
    for (const AclEntry& e : entries) {
      for (rd_kafka_AclOperation_t op : e.operations) {
        owned.emplace_back(rd_kafka_AclBinding_new(
            e.resource_type, e.resource_name.c_str(), e.pattern_type, principal.c_str(), "*", op,
            RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW, error, sizeof(error)));
        if (owned.back() == nullptr) return absl::InvalidArgumentError(error);
        bindings.push_back(owned.back().get());
      }
    }
    QueuePtr queue(rd_kafka_queue_new(handle_.get()));
    OptionsPtr options(rd_kafka_AdminOptions_new(handle_.get(), RD_KAFKA_ADMIN_OP_CREATEACLS));
    rd_kafka_CreateAcls(handle_.get(), bindings.data(), bindings.size(), options.get(),
                        queue.get());
    absl::StatusOr<EventPtr> event = Result(queue.get(), "CreateAcls");
    if (!event.ok()) return event.status();
    size_t n = 0;
    const rd_kafka_acl_result_t** results =
        rd_kafka_CreateAcls_result_acls(rd_kafka_event_CreateAcls_result(event->get()), &n);
    if (n != bindings.size()) {
      return absl::InternalError(absl::StrCat("CreateAcls answered ", n, " of ", bindings.size()));
    }
    for (size_t i = 0; i < n; ++i) {
      if (const rd_kafka_error_t* e = rd_kafka_acl_result_error(results[i]); e != nullptr) {
        return absl::InternalError(absl::StrCat("CreateAcls: ", rd_kafka_error_string(e)));
      }
    }
    return absl::OkStatus();
  }

  // Removes every entry of `principal` on the resources of `entries`.
  absl::Status Delete(const std::string& principal, const std::vector<AclEntry>& entries) {
    if (handle_ == nullptr) return absl::InternalError(error_);
    char error[512] = "";
    std::vector<BindingPtr> owned;
    std::vector<rd_kafka_AclBindingFilter_t*> filters;
    for (const AclEntry& e : entries) {
      owned.emplace_back(rd_kafka_AclBindingFilter_new(
          e.resource_type, e.resource_name.c_str(), e.pattern_type, principal.c_str(), nullptr,
          RD_KAFKA_ACL_OPERATION_ANY, RD_KAFKA_ACL_PERMISSION_TYPE_ANY, error, sizeof(error)));
      if (owned.back() == nullptr) return absl::InvalidArgumentError(error);
      filters.push_back(owned.back().get());
    }
    QueuePtr queue(rd_kafka_queue_new(handle_.get()));
    OptionsPtr options(rd_kafka_AdminOptions_new(handle_.get(), RD_KAFKA_ADMIN_OP_DELETEACLS));
    rd_kafka_DeleteAcls(handle_.get(), filters.data(), filters.size(), options.get(),
                        queue.get());
    absl::StatusOr<EventPtr> event = Result(queue.get(), "DeleteAcls");
    if (!event.ok()) return event.status();
    size_t n = 0;
    const rd_kafka_DeleteAcls_result_response_t** responses =
        rd_kafka_DeleteAcls_result_responses(rd_kafka_event_DeleteAcls_result(event->get()), &n);
    for (size_t i = 0; i < n; ++i) {
      if (const rd_kafka_error_t* e = rd_kafka_DeleteAcls_result_response_error(responses[i]);
          e != nullptr) {
        return absl::InternalError(absl::StrCat("DeleteAcls: ", rd_kafka_error_string(e)));
      }
    }
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<EventPtr> Result(rd_kafka_queue_t* queue, const char* api) {
    EventPtr event(rd_kafka_queue_poll(queue, 30000));
    if (event == nullptr) return absl::DeadlineExceededError(absl::StrCat(api, ": no answer"));
    if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::InternalError(
          absl::StrCat(api, ": ", rd_kafka_event_error_string(event.get())));
    }
    return event;
  }

  HandlePtr handle_;
  std::string error_;
};

// ---- What another principal tries ----

// A connection authenticated as `user` (SASL PLAIN) to `to`.
absl::StatusOr<kafka::BlockingConnection> ConnectAs(const config::HostPort& to,
                                                    const std::string& user,
                                                    const std::string& password) {
  KGW_ASSIGN_OR_RETURN(kafka::BlockingConnection c,
                       kafka::BlockingConnection::Connect(to.host, to.port, absl::Seconds(10),
                                                          "kgw-e2e-acl"));
  KGW_RETURN_IF_ERROR(c.FetchApiVersions("e2e"));
  KGW_RETURN_IF_ERROR(c.Authenticate({kMechanism, user, password}));
  return c;
}

struct FoundCoordinator {
  int16_t error_code = 0;
  config::HostPort address;
};

// FindCoordinator for `group` as `user`, as the gateway's group client asks
// it; asked again while the group's coordinator is still being set up (the
// first group of a fresh cluster creates the offsets topic).
absl::StatusOr<FoundCoordinator> FindGroupCoordinator(const std::string& group,
                                                      const std::string& user,
                                                      const std::string& password) {
  KGW_ASSIGN_OR_RETURN(kafka::BlockingConnection c,
                       ConnectAs(SaslBootstrap().front(), user, password));
  KGW_ASSIGN_OR_RETURN(int16_t version, c.PickVersion<kafka::FindCoordinatorRequest>(4));
  kafka::FindCoordinatorRequest request;
  request.key_type = 0;  // a group
  request.coordinator_keys = {group};
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (true) {
    kafka::FindCoordinatorResponse response;
    KGW_RETURN_IF_ERROR(c.Call(request, version, &response));
    if (response.coordinators.size() != 1) {
      return absl::DataLossError(absl::StrCat(response.coordinators.size(), " coordinators"));
    }
    const auto& found = response.coordinators[0];
    const std::string_view error = kafka::ErrorName(found.error_code);
    if ((error != "COORDINATOR_NOT_AVAILABLE" && error != "COORDINATOR_LOAD_IN_PROGRESS") ||
        absl::Now() > give_up) {
      return FoundCoordinator{found.error_code, {found.host, found.port}};
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
}

// JoinGroup as a kgw member would send it (protocol type "kgw"), as `user`,
// at the group's coordinator; the error code of the last answer, after the
// MEMBER_ID_REQUIRED round a new member goes through.
absl::StatusOr<int16_t> JoinGroupAs(const config::HostPort& coordinator, const std::string& group,
                                    const std::string& user, const std::string& password) {
  KGW_ASSIGN_OR_RETURN(kafka::BlockingConnection c, ConnectAs(coordinator, user, password));
  KGW_ASSIGN_OR_RETURN(int16_t version, c.PickVersion<kafka::JoinGroupRequest>(4));
  c.set_timeout(absl::Seconds(2 * kSessionTimeoutSeconds + 10));
  kafka::JoinGroupRequest join;
  join.group_id = group;
  join.session_timeout_ms = kSessionTimeoutSeconds * 1000;
  join.rebalance_timeout_ms = kSessionTimeoutSeconds * 1000;
  join.protocol_type = "kgw";
  join.protocols.push_back({.name = "v1", .metadata = {'m', 'a', 'l', 'l', 'o', 'r', 'y'}});
  kafka::JoinGroupResponse joined;
  for (int round = 0; round < 2; ++round) {
    KGW_RETURN_IF_ERROR(c.Call(join, version, &joined));
    if (kafka::ErrorName(joined.error_code) != "MEMBER_ID_REQUIRED") break;
    join.member_id = joined.member_id;
  }
  return joined.error_code;
}

cluster::KafkaConnection SaslConnection(const std::string& user, const std::string& password) {
  cluster::KafkaConnection c;
  c.bootstrap_servers = absl::StrSplit(E().sasl_bootstrap, ',', absl::SkipEmpty());
  c.client.security_protocol = "SASL_PLAINTEXT";
  c.client.sasl = true;
  c.client.sasl_mechanism = kMechanism;
  c.client.sasl_username = user;
  c.client.sasl_password = password;
  c.client_id = absl::StrCat("kgw-e2e-acl-", user);
  return c;
}

constexpr char kForgedRecord[] = "a record the gateway did not write";

// Writes a record to the assignments topic of `cluster_id` as `user` with the
// gateway's own writer (the key its leader uses).
absl::Status WriteAssignmentAs(const std::string& cluster_id, const std::string& user,
                               const std::string& password) {
  KGW_ASSIGN_OR_RETURN(std::unique_ptr<cluster::TopicWriter> writer,
                       cluster::TopicWriter::Create(SaslConnection(user, password),
                                                    AssignmentsTopic(cluster_id)));
  return writer->Write("assignment", kForgedRecord, absl::Seconds(20));
}

// ---- The gateway ----

std::map<std::string, std::string> NodeEnv(const std::string& cluster_id) {
  return {{"KAFKA_BOOTSTRAP_SERVERS", E().sasl_bootstrap},
          {"KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"},
          {"KAFKA_SASL_MECHANISM", kMechanism},
          {"KAFKA_SASL_USERNAME", E().gateway_user},
          {"KAFKA_SASL_PASSWORD", E().gateway_password},
          {"GATEWAY_CLUSTER_ID", cluster_id},
          {"GATEWAY_GROUP_SESSION_TIMEOUT", absl::StrCat(kSessionTimeoutSeconds, "s")},
          {"GATEWAY_GROUP_HEARTBEAT_INTERVAL", "500ms"}};
}

std::unique_ptr<Child> StartCoordinator(const std::string& cluster_id, int run) {
  std::map<std::string, std::string> env = NodeEnv(cluster_id);
  env.insert({{"GATEWAY_NODE_ID", "coord-acl"},
              {"GATEWAY_ADVERTISED_HOST", "127.0.0.1"},
              {"GATEWAY_GRPC_BIND_HOST", "127.0.0.1"},
              {"GATEWAY_GRPC_PORT", std::to_string(kCoordinatorGrpcPort)},
              {"GATEWAY_HTTP_PORT", std::to_string(kCoordinatorHttpPort)}});
  return std::make_unique<Child>(std::vector<std::string>{E().coordinator_bin}, env,
                                 absl::StrCat(E().work_dir, "/coord-acl-", run, ".log"));
}

std::unique_ptr<Child> StartAgent(const std::string& cluster_id) {
  std::map<std::string, std::string> env = NodeEnv(cluster_id);
  env.insert({{"GATEWAY_NODE_ID", "agent-acl"},
              {"GATEWAY_RACK_ID", "a"},
              {"GATEWAY_SECURITY_PROTOCOL", "SASL_PLAINTEXT"},
              {"GATEWAY_BIND_HOST", "127.0.0.1"},
              {"GATEWAY_ADVERTISED_HOST", "127.0.0.1"},
              {"GATEWAY_PORT_START", std::to_string(kAgentPortStart)},
              {"GATEWAY_HTTP_PORT", std::to_string(kAgentHttpPort)},
              {"GATEWAY_SHUTDOWN_DELAY_BETWEEN_BROKERS_MS", "100"}});
  return std::make_unique<Child>(std::vector<std::string>{E().agent_bin}, env,
                                 absl::StrCat(E().work_dir, "/agent-acl.log"));
}

std::string Kgwctl(const std::string& args) {
  auto [rc, out] = Shell(absl::StrCat(E().kgwctl_bin, " --coordinator 127.0.0.1:",
                                      kCoordinatorGrpcPort, " --timeout 3s ", args, " 2>&1"));
  return out;
}

// The value after `label` in `kgwctl status`, e.g. "Leader:".
std::string StatusField(absl::string_view label) {
  for (absl::string_view line : absl::StrSplit(Kgwctl("status"), '\n')) {
    if (absl::ConsumePrefix(&line, label)) return std::string(absl::StripAsciiWhitespace(line));
  }
  return "";
}

// The brokers a client authenticating as the gateway's principal learns
// through the agent (SASL passes through it to the brokers).
std::map<int, std::string> MetadataThroughAgent() {
  auto [rc, out] = Shell(absl::StrCat(
      "kcat -b 127.0.0.1:", kAgentPortStart, " -X security.protocol=SASL_PLAINTEXT",
      " -X sasl.mechanism=PLAIN -X sasl.username=", E().gateway_user,
      " -X sasl.password=", E().gateway_password, " -L -m 5 2>&1"));
  return KcatBrokers(out);
}

std::map<int, std::string> AgentAddresses() {
  std::map<int, std::string> m;
  for (int b = 1; b <= 3; ++b) m[b] = absl::StrCat("127.0.0.1:", kAgentPortStart + b);
  return m;
}

class AclTest : public ::testing::Test {
 protected:
  static bool ClusterEnforcesAcls() {
    return E().authorizer == "1" && !E().sasl_bootstrap.empty() && !E().other_user.empty();
  }
  // (A skip in SetUpTestSuite would not stop the tests in this gtest.)
  void SetUp() override {
    if (!ClusterEnforcesAcls()) {
      GTEST_SKIP() << "needs the test cluster started with --security --authorizer "
                      "(KGW_KAFKA_AUTHORIZER=1, KGW_KAFKA_SASL_BOOTSTRAP and "
                      "KGW_KAFKA_SASL_OTHER_USER from its cluster.env)";
    }
    ASSERT_FALSE(E().agent_bin.empty()) << "KGW_AGENT_BIN is not set";
    ASSERT_FALSE(E().coordinator_bin.empty()) << "KGW_COORDINATOR_BIN is not set";
    ASSERT_FALSE(E().kgwctl_bin.empty()) << "KGWCTL_BIN is not set";
    ASSERT_FALSE(E().gateway_user.empty()) << "KGW_KAFKA_SASL_USER is not set";
    if (E().work_dir.empty()) {
      char dir[] = "/tmp/kgw-acl-e2e-XXXXXX";
      ASSERT_NE(mkdtemp(dir), nullptr);
      E().work_dir = dir;
    }
  }
};

// The control: on a gateway cluster whose group and topics have no ACLs,
// every resource is open (allow.everyone.if.no.acl.found), so mallory joins
// the group and writes the assignments topic, exactly what the ACLs stop.
TEST_F(AclTest, WithoutAclsAnotherPrincipalJoinsTheGroupAndWritesTheTopic) {
  const std::string open_cluster = absl::StrCat("e2e-acl-open-", getpid());

  absl::StatusOr<FoundCoordinator> found =
      FindGroupCoordinator(Group(open_cluster), E().other_user, E().other_password);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(kafka::ErrorName(found->error_code), "NONE");
  absl::StatusOr<int16_t> joined =
      JoinGroupAs(found->address, Group(open_cluster), E().other_user, E().other_password);
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_EQ(kafka::ErrorName(*joined), "NONE") << "mallory could not join an open group";

  const cluster::KafkaConnection mallory = SaslConnection(E().other_user, E().other_password);
  const absl::Status created =
      cluster::EnsureTopic(mallory, {.name = AssignmentsTopic(open_cluster)}, absl::Seconds(30));
  ASSERT_TRUE(created.ok()) << created;
  const absl::Status written =
      WriteAssignmentAs(open_cluster, E().other_user, E().other_password);
  EXPECT_TRUE(written.ok()) << written;
}

// The documented ACLs for alice: the gateway works as alice, and mallory is
// refused the group (GROUP_AUTHORIZATION_FAILED, at FindCoordinator and at
// JoinGroup) and the assignments topic (TOPIC_AUTHORIZATION_FAILED), after
// which the gateway still works and its assignment is still the latest record.
TEST_F(AclTest, WithTheDocumentedAclsOnlyTheGatewaysPrincipalGetsIn) {
  const std::string cluster_id = absl::StrCat("e2e-acl-", getpid());
  const std::string principal = absl::StrCat("User:", E().gateway_user);
  const std::vector<AclEntry> acls = DocumentedAcls(cluster_id);
  AclAdmin admin;
  const absl::Status created = admin.Create(principal, acls);
  ASSERT_TRUE(created.ok()) << created;
  absl::Cleanup delete_acls = [&] {
    if (absl::Status s = admin.Delete(principal, acls); !s.ok()) {
      std::cout << "could not delete the ACLs: " << s << std::endl;
    }
  };

  std::unique_ptr<Child> coordinator = StartCoordinator(cluster_id, 1);
  ASSERT_TRUE(WaitReady(*coordinator, "127.0.0.1", kCoordinatorHttpPort, seconds(60)))
      << "the coordinator never became ready:\n" << coordinator->Log();
  std::unique_ptr<Child> agent = StartAgent(cluster_id);
  ASSERT_TRUE(WaitReady(*agent, "127.0.0.1", kAgentHttpPort, seconds(60)))
      << "the agent never became ready:\n" << agent->Log();
  const auto stop = [](std::unique_ptr<Child>& process, const char* name) {
    if (!process->running()) return;
    process->Signal(SIGTERM);
    EXPECT_EQ(process->Wait(seconds(30)), 0) << name << " did not stop cleanly";
  };
  absl::Cleanup stop_gateway = [&] {
    stop(agent, "kgw-agent");
    stop(coordinator, "kgw-coordinator");
  };

  // The control plane works as alice: the coordinator leads, publishes the
  // assignment to the topic, and the agent serves every broker with it.
  ASSERT_TRUE(WaitFor([] { return StatusField("Leader:") == "coord-acl"; }, seconds(60)))
      << Kgwctl("status") << coordinator->Log();
  ASSERT_TRUE(WaitFor([] { return absl::StrContains(Kgwctl("assignment"), "agent-acl"); },
                      seconds(60)))
      << Kgwctl("assignment") << coordinator->Log();
  std::map<int, std::string> seen;
  ASSERT_TRUE(WaitFor([&] { return (seen = MetadataThroughAgent()) == AgentAddresses(); },
                      seconds(60)))
      << "clients never saw the agent's addresses:\n" << agent->Log();
  const cluster::KafkaConnection alice = SaslConnection(E().gateway_user, E().gateway_password);
  absl::StatusOr<std::optional<std::string>> published =
      cluster::ReadLatest(alice, AssignmentsTopic(cluster_id), absl::Seconds(20));
  ASSERT_TRUE(published.ok()) << published.status();
  ASSERT_TRUE(published->has_value()) << "the leader wrote no assignment";

  // Mallory is refused the group: FindCoordinator needs DESCRIBE on it, and
  // a JoinGroup sent straight to the group's coordinator needs READ.
  absl::StatusOr<FoundCoordinator> found =
      FindGroupCoordinator(Group(cluster_id), E().other_user, E().other_password);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(kafka::ErrorName(found->error_code), "GROUP_AUTHORIZATION_FAILED");
  absl::StatusOr<FoundCoordinator> real =
      FindGroupCoordinator(Group(cluster_id), E().gateway_user, E().gateway_password);
  ASSERT_TRUE(real.ok()) << real.status();
  ASSERT_EQ(kafka::ErrorName(real->error_code), "NONE");
  absl::StatusOr<int16_t> joined =
      JoinGroupAs(real->address, Group(cluster_id), E().other_user, E().other_password);
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_EQ(kafka::ErrorName(*joined), "GROUP_AUTHORIZATION_FAILED");
  std::cout << "mallory's FindCoordinator: " << kafka::DescribeError(found->error_code)
            << "; JoinGroup: " << kafka::DescribeError(*joined) << std::endl;

  // ... and a write to the assignments topic.
  const absl::Status written = WriteAssignmentAs(cluster_id, E().other_user, E().other_password);
  EXPECT_EQ(written.code(), absl::StatusCode::kPermissionDenied) << written;
  EXPECT_TRUE(absl::StrContains(absl::AsciiStrToLower(written.message()),
                                "topic authorization failed"))
      << written;
  std::cout << "mallory's write: " << written << std::endl;

  // The gateway carries on: same leader, same routing, and the latest record
  // is still the leader's.
  EXPECT_EQ(StatusField("Leader:"), "coord-acl");
  EXPECT_EQ(MetadataThroughAgent(), AgentAddresses());
  absl::StatusOr<std::optional<std::string>> latest =
      cluster::ReadLatest(alice, AssignmentsTopic(cluster_id), absl::Seconds(20));
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_NE(latest->value_or(""), kForgedRecord);

  // A coordinator restarting finds the topic there: it checks its
  // configuration (DescribeConfigs) and starts from the stored assignment.
  const std::string first_log = coordinator->Log();
  stop(coordinator, "kgw-coordinator");
  coordinator = StartCoordinator(cluster_id, 2);
  ASSERT_TRUE(WaitReady(*coordinator, "127.0.0.1", kCoordinatorHttpPort, seconds(60)))
      << "the coordinator never became ready again:\n" << coordinator->Log();
  EXPECT_TRUE(WaitFor(
      [] {
        return StatusField("Leader:") == "coord-acl" &&
               absl::StrContains(Kgwctl("assignment"), "agent-acl");
      },
      seconds(60)))
      << Kgwctl("status") << coordinator->Log();
  EXPECT_EQ(MetadataThroughAgent(), AgentAddresses());

  // Nothing the gateway asked for was refused: the documented ACLs suffice.
  for (const std::string& log : {first_log, coordinator->Log(), agent->Log()}) {
    EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(log), "authoriz")) << log;
  }
}

}  // namespace
}  // namespace kgw::test
