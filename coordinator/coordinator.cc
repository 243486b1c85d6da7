#include "coordinator/coordinator.h"

#include <signal.h>

#include <asio.hpp>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/cluster/broker_directory.h"
#include "common/cluster/internal_topics.h"
#include "common/control/cluster_key.h"
#include "common/control/routing.h"
#include "common/config/program.h"
#include "common/http/http_server.h"
#include "common/http/metrics.h"
#include "common/membership/group_member.h"
#include "common/version/version.h"
#include "coordinator/control_state.h"
#include "coordinator/services.h"
#include "glog/logging.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace kgw::coordinator {
namespace {

constexpr absl::Duration kTopicTimeout = absl::Seconds(15);
constexpr int kMaxSyncThreads = 16;

// Writes assignments to the compacted topic, creating the topic first when
// it is missing. Called from ControlState's computing thread only.
class AssignmentPublisher {
 public:
  AssignmentPublisher(cluster::KafkaConnection kafka, std::string topic)
      : kafka_(std::move(kafka)), topic_(std::move(topic)) {}

  absl::Status Publish(const v1::Assignment& a) {
    if (!writer_) {
      absl::Status ensured = cluster::EnsureTopic(kafka_, {.name = topic_, .compacted = true},
                                                  kTopicTimeout);
      if (absl::IsFailedPrecondition(ensured)) {
        // Wrong configuration: said once, clearly; the topic still works for now.
        if (!misconfigured_reported_) LOG(ERROR) << ensured.message();
        misconfigured_reported_ = true;
      } else if (!ensured.ok()) {
        return ensured;
      }
      absl::StatusOr<std::unique_ptr<cluster::TopicWriter>> w =
          cluster::TopicWriter::Create(kafka_, topic_);
      if (!w.ok()) return w.status();
      writer_ = *std::move(w);
    }
    return writer_->Write("assignment", a.SerializeAsString(), kTopicTimeout);
  }

 private:
  const cluster::KafkaConnection kafka_;
  const std::string topic_;
  std::unique_ptr<cluster::TopicWriter> writer_;
  bool misconfigured_reported_ = false;
};

// The gRPC server's credentials: plaintext, or TLS with this coordinator's
// certificate, asking clients for theirs as GATEWAY_GRPC_TLS_CLIENT_AUTH says.
std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const config::GrpcTlsConfig& tls) {
  if (!tls.enabled) return grpc::InsecureServerCredentials();
  grpc_ssl_client_certificate_request_type request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  switch (tls.client_auth) {
    case config::GrpcClientAuth::kNone: break;
    case config::GrpcClientAuth::kOptional:
      request = GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
      break;
    case config::GrpcClientAuth::kRequire:
      request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
      break;
  }
  grpc::SslServerCredentialsOptions ssl(request);
  ssl.pem_root_certs = tls.ca_pem;
  ssl.pem_key_cert_pairs.push_back({.private_key = tls.key_pem, .cert_chain = tls.cert_pem});
  return grpc::SslServerCredentials(ssl);
}

// A follower's credentials towards the leader: TLS verified against the CA
// file (or the system's roots), presenting this coordinator's certificate.
std::shared_ptr<grpc::ChannelCredentials> ForwardCredentials(const config::GrpcTlsConfig& tls) {
  if (!tls.enabled) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = tls.ca_pem;
  ssl.pem_private_key = tls.key_pem;
  ssl.pem_cert_chain = tls.cert_pem;
  return grpc::SslCredentials(ssl);
}

}  // namespace

int RunCoordinator(const CoordinatorConfig& config) {
  // KAFKA_SSL_*: one TLS context for the metadata and group connections.
  absl::StatusOr<std::optional<kafka::ConnectionTls>> kafka_tls = cluster::OwnTls(config.kafka);
  if (!kafka_tls.ok()) {
    LOG(ERROR) << kafka_tls.status().message();
    return config::kExitBadConfig;
  }
  absl::StatusOr<std::shared_ptr<control::ClusterKey>> key = control::LoadClusterKey(config.node);
  if (!key.ok()) {
    LOG(ERROR) << key.status().message();
    return config::kExitBadConfig;
  }
  const std::string grpc_endpoint = absl::StrCat(config.node.advertised_host, ":", config.grpc_port);
  const std::string topic = config::InternalTopic(config.node, "assignments");
  const cluster::KafkaConnection kafka{.bootstrap_servers = config.node.bootstrap_servers,
                                       .client = config.kafka,
                                       .client_id = "kgw-coordinator"};

  AssignmentPublisher publisher(kafka, topic);
  ControlState state({.node_id = config.node.node_id,
                      .cluster_id = config.node.cluster_id,
                      .group_id = config.node.group_id,
                      .version = kgw::kVersion,
                      .view_catch_up = config.node.group_session_timeout,
                      .sign = [&key](v1::Assignment& a) { (*key)->SignAssignment(a); }},
                     [&publisher](const v1::Assignment& a) { return publisher.Publish(a); });
  std::thread computing([&state] { state.Run(); });

  // Metrics and health.
  auto registry = std::make_shared<prometheus::Registry>();
  auto& leader_gauge = prometheus::BuildGauge()
                           .Name("kgw_coordinator_leader")
                           .Help("1 while this coordinator leads the gateway cluster")
                           .Register(*registry)
                           .Add({});
  auto& generation_gauge = prometheus::BuildGauge()
                               .Name("kgw_coordinator_generation")
                               .Help("Generation of the gateway group this coordinator last saw")
                               .Register(*registry)
                               .Add({});
  auto& agents_gauge = prometheus::BuildGauge()
                           .Name("kgw_coordinator_agents")
                           .Help("Agents in the current generation of the gateway group")
                           .Register(*registry)
                           .Add({});
  auto& published_gauge =
      prometheus::BuildGauge()
          .Name("kgw_coordinator_assignments_published")
          .Help("Assignments this coordinator wrote to the assignments topic since it started")
          .Register(*registry)
          .Add({});
  auto& failures_gauge =
      prometheus::BuildGauge()
          .Name("kgw_coordinator_assignment_publish_failures")
          .Help("Failed writes of an assignment to the assignments topic since start")
          .Register(*registry)
          .Add({});
  asio::io_context io{1};
  http::HttpServer http_server(io);
  auto& streams_gauge = prometheus::BuildGauge()
                            .Name("kgw_coordinator_agent_streams")
                            .Help("Agents streaming from this coordinator now")
                            .Register(*registry)
                            .Add({});
  auto& refused_gauge =
      prometheus::BuildGauge()
          .Name("kgw_coordinator_assignments_refused")
          .Help("Records of the assignments topic refused since start: no valid proof of the "
                "cluster key")
          .Register(*registry)
          .Add({});
  // Gauges are brought up to date at each scrape.
  const auto collect = [&] {
    const v1::ClusterStatus s = state.Status();
    leader_gauge.Set(s.leader_node_id() == config.node.node_id ? 1 : 0);
    generation_gauge.Set(s.generation_id());
    agents_gauge.Set(s.agents());
    const ControlState::Counters c = state.counters();
    published_gauge.Set(static_cast<double>(c.published));
    failures_gauge.Set(static_cast<double>(c.publish_failures));
    streams_gauge.Set(c.agent_streams);
    refused_gauge.Set(static_cast<double>(c.refused_assignments));
  };
  http::AddHealthAndMetrics(
      http_server, registry, [&state] { return state.Ready(); }, collect);
  if (absl::Status s = http_server.Listen(config.grpc_bind_host, config.node.http_port); !s.ok()) {
    LOG(ERROR) << "cannot serve health and metrics: " << s.message();
    state.Stop();
    computing.join();
    return config::kExitFailure;
  }
  std::thread http_thread([&io] { io.run(); });

  // gRPC: agent streams, admin, health, reflection.
  AgentServiceImpl agent_service(state, config.max_agent_streams, *key);
  agent_service.Start();
  AdminServiceImpl admin_service(state, config.admin_token, ForwardCredentials(config.grpc_tls));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(absl::StrCat(config.grpc_bind_host, ":", config.grpc_port),
                           ServerCredentials(config.grpc_tls), &bound_port);
  builder.RegisterService(&agent_service);
  // Agents stream on the callback API and take no thread; the synchronous
  // admin calls (a watch holds one for its life) get a bounded pool.
  grpc::ResourceQuota quota("kgw-coordinator");
  quota.SetMaxThreads(kMaxSyncThreads);
  builder.SetResourceQuota(quota);
  builder.RegisterService(&admin_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  const auto stop_http = [&] {
    io.stop();
    http_thread.join();
    http_server.Stop();
  };
  if (!server || bound_port == 0) {
    LOG(ERROR) << "cannot serve gRPC on " << config.grpc_bind_host << ":" << config.grpc_port;
    state.Stop();
    computing.join();
    stop_http();
    return config::kExitFailure;
  }
  LOG(INFO) << "kgw-coordinator " << config.node.node_id << " serving gRPC"
            << (config.grpc_tls.enabled
                    ? absl::StrCat(" over TLS (client certificates: ",
                                   config::GrpcClientAuthName(config.grpc_tls.client_auth), ")")
                    : std::string(" in plaintext"))
            << " on " << config.grpc_bind_host << ":" << bound_port << " (advertised "
            << grpc_endpoint << "), HTTP on port " << http_server.port();

  // The brokers and their racks.
  cluster::BrokerDirectory directory;
  directory.OnChange([&state](const cluster::ClusterSnapshot& snapshot) {
    state.OnBrokers(snapshot.brokers);
  });
  cluster::MetadataRefresher refresher(directory,
                                       {.bootstrap = cluster::BootstrapAddresses(config.node),
                                        .interval = config.metadata_refresh_interval,
                                        .client_id = "kgw-coordinator",
                                        .sasl = cluster::OwnSasl(config.kafka),
                                        .tls = *kafka_tls});
  refresher.Start();

  // The assignments topic: what the leader published, for followers and for
  // a leader that takes over. First the newest record (a leader computes
  // nothing before it has seen it), then every new one.
  // A record of the topic as an assignment, when it is one that holds up;
  // refusals are logged and counted.
  const auto genuine = [&state, &key, &topic](std::string_view value)
      -> std::optional<v1::Assignment> {
    v1::Assignment a;
    if (!a.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      LOG_EVERY_N(WARNING, 10) << "ignoring a record of " << topic << " that is not an assignment";
      return std::nullopt;
    }
    if (absl::Status s = (*key)->VerifyAssignment(a); !s.ok()) {
      state.OnRefusedAssignment();
      LOG_EVERY_N(ERROR, 10) << "ignoring a record of " << topic << ": " << s.message()
                             << " (written by something that is not a coordinator of this "
                             << "gateway cluster?)";
      return std::nullopt;
    }
    return a;
  };
  const auto on_record = [&state, &genuine](const std::string& value) {
    if (std::optional<v1::Assignment> a = genuine(value)) state.OnStoredAssignment(*a);
  };
  std::atomic<bool> stopping{false};
  std::unique_ptr<cluster::TopicTail> tail;
  std::thread tail_starter([&] {
    const auto pause = [&](absl::Duration d) {
      for (absl::Duration waited; waited < d && !stopping; waited += absl::Milliseconds(100)) {
        absl::SleepFor(absl::Milliseconds(100));
      }
    };
    absl::Duration retry = absl::Milliseconds(500);
    while (!stopping) {
      // The newest record that holds up: a forged one written after it must
      // not hide the drains and the epoch of the genuine one.
      absl::StatusOr<std::optional<std::string>> latest = cluster::ReadLatest(
          kafka, topic, kTopicTimeout, [&genuine](std::string_view value) {
            std::optional<v1::Assignment> a = genuine(value);
            return a.has_value() && control::Plausible(*a);
          });
      if (latest.ok() || absl::IsNotFound(latest.status())) {
        if (latest.ok() && latest->has_value()) {
          v1::Assignment a;
          a.ParseFromString(**latest);  // parsed and verified by the predicate
          state.OnStoredAssignment(a);
        }
        state.OnStoredAssignmentLoaded();
        break;
      }
      LOG_EVERY_N(WARNING, 10) << "cannot read " << topic << " yet: "
                               << latest.status().message();
      pause(retry);
      retry = std::min(retry * 2, absl::Seconds(10));
    }
    retry = absl::Milliseconds(500);
    while (!stopping) {
      absl::StatusOr<std::unique_ptr<cluster::TopicTail>> t =
          cluster::TopicTail::Start(kafka, topic, on_record, kTopicTimeout);
      if (t.ok()) {
        tail = *std::move(t);
        return;
      }
      // A missing topic is normal until the first leader publishes.
      if (!absl::IsNotFound(t.status())) {
        LOG_EVERY_N(WARNING, 10) << "cannot follow " << topic << " yet: " << t.status().message();
      }
      pause(retry);
      retry = std::min(retry * 2, absl::Seconds(5));
    }
  });

  // Membership.
  v1::NodeDescriptor self;
  self.set_node_id(config.node.node_id);
  self.set_role(v1::NodeDescriptor::ROLE_COORDINATOR);
  self.set_advertised_host(config.node.advertised_host);
  self.set_rack(config.node.rack_id);
  self.set_grpc_endpoint(grpc_endpoint);
  self.set_version(kgw::kVersion);
  (*key)->SignDescriptor(self);
  membership::GroupMember member(
      {.bootstrap = cluster::BootstrapAddresses(config.node),
       .sasl = cluster::OwnSasl(config.kafka),
       .tls = *kafka_tls,
       .group_id = config.node.group_id,
       .session_timeout = config.node.group_session_timeout,
       .rebalance_timeout = config.node.group_session_timeout,
       .heartbeat_interval = config.node.group_heartbeat_interval,
       .client_id = "kgw-coordinator",
       .software_version = kgw::kVersion,
       .group_instance_id = config.node.node_id,
       // Leaving at once hands leadership on without a session timeout.
       .leave_on_stop = true,
       .full_view = true,
       .verify = [&key](const v1::NodeDescriptor& d) { return (*key)->VerifyDescriptor(d); }},
      self, [&state](const std::optional<membership::View>& view) { state.OnView(view); });
  member.Start();

  // Until SIGTERM or SIGINT (blocked in every thread by main).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  LOG(INFO) << "signal " << signal_number << ": leaving the gateway group and stopping";

  // Leave first, so another coordinator takes over at once.
  member.Stop();
  stopping = true;
  state.Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  agent_service.Stop();
  computing.join();
  tail_starter.join();
  if (tail) tail->Stop();
  refresher.Stop();
  stop_http();
  LOG(INFO) << "stopped";
  return config::kExitOk;
}

}  // namespace kgw::coordinator
