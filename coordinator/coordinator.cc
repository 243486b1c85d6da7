#include "coordinator/coordinator.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/cluster/broker_directory.h"
#include "common/cluster/internal_topics.h"
#include "common/control/cluster_key.h"
#include "common/control/routing.h"
#include "common/config/grpc_credentials.h"
#include "common/config/program.h"
#include "common/http/http_server.h"
#include "common/http/metrics.h"
#include "common/membership/group_member.h"
#include "common/tls/tls_context.h"
#include "common/version/version.h"
#include "coordinator/control_state.h"
#include "coordinator/services.h"
#include "glog/logging.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/version_info.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace kgw::coordinator {
namespace {

constexpr absl::Duration kTopicTimeout = absl::Seconds(15);
constexpr int kMaxSyncThreads = 16;

}  // namespace

std::optional<std::string> GrpcExperimentsForCoordinator(const char* current) {
  const std::string was = current != nullptr ? current : "";
#if GRPC_CPP_VERSION_MAJOR == 1 && GRPC_CPP_VERSION_MINOR == 51
  if (absl::StrContains(was, "tcp_read_chunks")) return std::nullopt;
  return was.empty() ? "-tcp_read_chunks" : absl::StrCat(was, ",-tcp_read_chunks");
#else
  return std::nullopt;
#endif
}

// Writes assignments to the compacted topic, creating the topic first when
// it is missing. Called from ControlState's computing thread only.
class Coordinator::Publisher {
 public:
  Publisher(cluster::KafkaConnection kafka, std::string topic)
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

Coordinator::Coordinator(CoordinatorConfig config)
    : config_(std::move(config)),
      grpc_endpoint_(absl::StrCat(config_.node.advertised_host, ":", config_.grpc_port)),
      topic_(config::InternalTopic(config_.node, "assignments")),
      own_kafka_(cluster::MakeOwnKafka(config_.node, config_.kafka)),
      // Unusable settings stop the start in PrepareSecurity, before any use.
      kafka_(own_kafka_.ok() ? cluster::TopicConnection(*own_kafka_, "kgw-coordinator")
                             : cluster::KafkaConnection{}),
      publisher_(std::make_unique<Publisher>(kafka_, topic_)),
      state_({.node_id = config_.node.node_id,
              .cluster_id = config_.node.cluster_id,
              .group_id = config_.node.group_id,
              .version = kgw::kVersion,
              .view_catch_up = config_.node.group_session_timeout,
              .sign = [this](v1::Assignment& a) { key_->SignAssignment(a); },
              .grpc_endpoint = grpc_endpoint_,
              // Until the agent's own join has had its session and
              // rebalance timeouts (the agents' rebalance timeout is the
              // session timeout) to complete.
              .admit_streaming_for = 2 * config_.node.group_session_timeout,
              .streams_proven = [this] { return key_ && key_->enabled(); }},
             [this](const v1::Assignment& a) { return publisher_->Publish(a); }),
      registry_(std::make_shared<prometheus::Registry>()),
      metrics_(*registry_),
      http_(main_),
      signals_(main_, SIGTERM, SIGINT),
      shutdown_timer_(main_) {}

Coordinator::~Coordinator() {
  if (stopper_.joinable()) stopper_.join();
  StopServing();
  http_.Stop();
}

int Coordinator::Run() {
  if (absl::Status s = PrepareSecurity(); !s.ok()) {
    std::cerr << "kgw-coordinator: " << s.message() << std::endl;
    return config::kExitBadConfig;
  }
  state_.Start();
  if (absl::Status s = ServeHttp(); !s.ok()) {
    LOG(ERROR) << "cannot serve health and metrics: " << s.message();
    return config::kExitFailure;
  }
  if (absl::Status s = ServeGrpc(); !s.ok()) {
    LOG(ERROR) << s.message();
    return config::kExitFailure;
  }
  LOG(INFO) << "kgw-coordinator " << config_.node.node_id << " serving gRPC"
            << (config_.grpc_tls.enabled
                    ? absl::StrCat(" over TLS (client certificates: ",
                                   config::GrpcClientAuthName(config_.grpc_tls.client_auth), ")")
                    : std::string(" in plaintext"))
            << " on " << config_.grpc_bind_host << ":" << config_.grpc_port << " (advertised "
            << grpc_endpoint_ << "), HTTP on port " << http_.port();
  FollowBrokers();
  assignments_follower_ = std::thread([this] { FollowAssignments(); });
  JoinGroup();
  signals_.async_wait([this](const asio::error_code& e, int signal_number) {
    if (!e) BeginShutdown(signal_number);
  });
  main_.run();
  LOG(INFO) << "stopped";
  return config::kExitOk;
}

absl::Status Coordinator::PrepareSecurity() {
  // KAFKA_SSL_*: one TLS context for the metadata and group connections.
  if (!own_kafka_.ok()) return own_kafka_.status();
  absl::StatusOr<std::shared_ptr<control::ClusterKey>> key = control::LoadClusterKey(config_.node);
  if (!key.ok()) return key.status();
  key_ = *std::move(key);
  if (config_.grpc_tls.enabled) {
    absl::StatusOr<absl::Time> not_after = tls::PemCertificateNotAfter(config_.grpc_tls.cert_pem);
    if (!not_after.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("GATEWAY_GRPC_TLS_CERT_FILE=",
                                                     config_.grpc_tls.cert_file, ": ",
                                                     not_after.status().message()));
    }
    metrics_.SetGrpcCertificateExpiry(*not_after);
  }
  return absl::OkStatus();
}

absl::Status Coordinator::ServeHttp() {
  http::AddHealthAndMetrics(
      http_, registry_, [this] { return state_.Ready(); },
      [this] { metrics_.Collect(state_, config_.node.node_id); });
  fleet_ = std::make_unique<FleetSource>(state_, config::GrpcChannelCredentials(config_.grpc_tls));
  const FleetAccess access = FleetAccessFor(config_);
  AddFleetView(http_, access, config_.admin_token, *fleet_);
  if (absl::Status s = http_.Listen(config_.grpc_bind_host, config_.node.http_port); !s.ok()) {
    return s;
  }
  switch (access) {
    case FleetAccess::kOpen:
      LOG(INFO) << "fleet view: /fleet on the HTTP port, open to anyone who reaches the port";
      break;
    case FleetAccess::kToken:
      LOG(INFO) << "fleet view: /fleet on the HTTP port; its data needs the admin token";
      break;
    case FleetAccess::kDisabled:
      LOG(INFO) << "fleet view: off, since the admin API takes only client certificates, which "
                   "plain HTTP cannot check; set GATEWAY_ADMIN_TOKEN to turn it on";
      break;
  }
  return absl::OkStatus();
}

// Agent streams, admin, health and reflection.
absl::Status Coordinator::ServeGrpc() {
  agent_service_ = std::make_unique<AgentServiceImpl>(state_, config_.max_agent_streams, key_);
  agent_service_->Start();
  admin_service_ = std::make_unique<AdminServiceImpl>(state_, config_.admin_token,
                                                      config::GrpcChannelCredentials(config_.grpc_tls));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(absl::StrCat(config_.grpc_bind_host, ":", config_.grpc_port),
                           config::GrpcServerCredentials(config_.grpc_tls), &bound_port);
  builder.RegisterService(agent_service_.get());
  // A connection whose peer vanished without closing it (a host that lost
  // power, a partition) would hold its agent's stream and state for the
  // server default of two hours: pings find it. gRPC would stop pinging a
  // connection that carries no data after two pings, hence the last
  // argument. Agents need nothing for this; clients answer pings as they come.
  const int keepalive_ms = static_cast<int>(absl::ToInt64Milliseconds(config_.agent_keepalive));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, keepalive_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // The first read of each connection into a slice this small; a reader of
  // larger messages gets larger slices as they come. What an agent sends fits.
  builder.AddChannelArgument(GRPC_ARG_TCP_READ_CHUNK_SIZE, kGrpcReadChunkBytes);
  // Agents stream on the callback API and take no thread; the synchronous
  // admin calls (a watch holds one for its life) get a bounded pool.
  grpc::ResourceQuota quota("kgw-coordinator");
  quota.SetMaxThreads(kMaxSyncThreads);
  builder.SetResourceQuota(quota);
  builder.RegisterService(admin_service_.get());
  server_ = builder.BuildAndStart();
  if (!server_ || bound_port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot serve gRPC on ", config_.grpc_bind_host,
                                               ":", config_.grpc_port));
  }
  return absl::OkStatus();
}

// The brokers and their racks.
void Coordinator::FollowBrokers() {
  directory_.OnChange(
      [this](const cluster::ClusterSnapshot& snapshot) { state_.OnBrokers(snapshot.brokers); });
  refresher_ = std::make_unique<cluster::MetadataRefresher>(
      directory_, cluster::MetadataRefresher::Options{
                      .kafka = *own_kafka_,
                      .interval = config_.metadata_refresh_interval,
                      .client_id = "kgw-coordinator"});
  refresher_->Start();
}

std::optional<v1::Assignment> Coordinator::Genuine(std::string_view value) {
  v1::Assignment a;
  if (!a.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    LOG_EVERY_N(WARNING, 10) << "ignoring a record of " << topic_ << " that is not an assignment";
    return std::nullopt;
  }
  if (absl::Status s = key_->VerifyAssignment(a); !s.ok()) {
    state_.OnRefusedAssignment();
    LOG_EVERY_N(ERROR, 10) << "ignoring a record of " << topic_ << ": " << s.message()
                           << " (written by something that is not a coordinator of this "
                           << "gateway cluster?)";
    return std::nullopt;
  }
  return a;
}

void Coordinator::FollowAssignments() {
  const auto pause = [this](absl::Duration d) {
    for (absl::Duration waited; waited < d && !stopping_; waited += absl::Milliseconds(100)) {
      absl::SleepFor(absl::Milliseconds(100));
    }
  };
  absl::Duration retry = absl::Milliseconds(500);
  while (!stopping_) {
    // The newest record that holds up: a forged one written after it must
    // not hide the drains and the epoch of the genuine one.
    absl::StatusOr<std::optional<std::string>> latest =
        cluster::ReadLatest(kafka_, topic_, kTopicTimeout, [this](std::string_view value) {
          std::optional<v1::Assignment> a = Genuine(value);
          return a.has_value() && control::Plausible(*a);
        });
    if (latest.ok() || absl::IsNotFound(latest.status())) {
      if (latest.ok() && latest->has_value()) {
        v1::Assignment a;
        a.ParseFromString(**latest);  // parsed and verified by the predicate
        state_.OnStoredAssignment(a);
      }
      state_.OnStoredAssignmentLoaded();
      break;
    }
    LOG_EVERY_N(WARNING, 10) << "cannot read " << topic_ << " yet: " << latest.status().message();
    pause(retry);
    retry = std::min(retry * 2, absl::Seconds(10));
  }
  const auto on_record = [this](const std::string& value) {
    if (std::optional<v1::Assignment> a = Genuine(value)) state_.OnStoredAssignment(*a);
  };
  retry = absl::Milliseconds(500);
  while (!stopping_) {
    absl::StatusOr<std::unique_ptr<cluster::TopicTail>> t =
        cluster::TopicTail::Start(kafka_, topic_, on_record, kTopicTimeout);
    if (t.ok()) {
      tail_ = *std::move(t);
      return;
    }
    // A missing topic is normal until the first leader publishes.
    if (!absl::IsNotFound(t.status())) {
      LOG_EVERY_N(WARNING, 10) << "cannot follow " << topic_ << " yet: " << t.status().message();
    }
    pause(retry);
    retry = std::min(retry * 2, absl::Seconds(5));
  }
}

void Coordinator::JoinGroup() {
  v1::NodeDescriptor self;
  self.set_node_id(config_.node.node_id);
  self.set_role(v1::NodeDescriptor::ROLE_COORDINATOR);
  self.set_advertised_host(config_.node.advertised_host);
  self.set_rack(config_.node.rack_id);
  self.set_grpc_endpoint(grpc_endpoint_);
  self.set_version(kgw::kVersion);
  key_->SignDescriptor(self);
  member_ = std::make_unique<membership::GroupMember>(
      membership::GroupMember::Options{
          .kafka = *own_kafka_,
          .group_id = config_.node.group_id,
          .session_timeout = config_.node.group_session_timeout,
          .rebalance_timeout = config_.node.group_session_timeout,
          // A coordinator heartbeats four times as often as agents (at
          // least every 100 ms), so it notices a rebalance first and tells
          // its agents to rejoin at once: a rebalance then waits for one
          // coordinator's heartbeat rather than for every agent's.
          .heartbeat_interval = std::min(config_.node.group_heartbeat_interval,
                                         std::max(config_.node.group_heartbeat_interval / 4,
                                                  absl::Milliseconds(100))),
          .client_id = "kgw-coordinator",
          .software_version = kgw::kVersion,
          .group_instance_id = config_.node.node_id,
          // Leaving at once hands leadership on without a session timeout.
          .leave_on_stop = true,
          .full_view = true,
          .verify = [this](const v1::NodeDescriptor& d) { return key_->VerifyDescriptor(d); },
          .on_rebalance = [this] { agent_service_->NudgeAgents(); }},
      self, [this](const std::optional<membership::View>& view) { state_.OnView(view); });
  member_->Start();
}

void Coordinator::BeginShutdown(int signal_number) {
  LOG(INFO) << "signal " << signal_number << ": leaving the gateway group and stopping";
  stopper_ = std::thread([this] {
    StopServing();
    stopped_ = true;
    asio::post(main_, [this] { main_.stop(); });
  });
  shutdown_timer_.expires_after(absl::ToChronoMilliseconds(kShutdownBound));
  shutdown_timer_.async_wait([this](const asio::error_code& e) {
    if (e || stopped_) return;
    // Only calls to Kafka wait this long (leaving the group, reading the
    // assignments topic): with the cluster unreachable they would run to
    // their own timeouts, and nothing they could still do matters now.
    LOG(WARNING) << "still stopping after " << kShutdownBound
                 << ": Kafka has not answered; exiting without waiting for it";
    std::_Exit(config::kExitOk);
  });
}

void Coordinator::StopServing() {
  // Leave first, so another coordinator takes over at once.
  if (member_) member_->Stop();
  stopping_ = true;
  state_.Stop();
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_.reset();
  }
  if (agent_service_) agent_service_->Stop();
  state_.Join();
  if (assignments_follower_.joinable()) assignments_follower_.join();
  if (tail_) tail_->Stop();
  if (refresher_) refresher_->Stop();
}

}  // namespace kgw::coordinator
