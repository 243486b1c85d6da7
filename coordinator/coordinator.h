// kgw-coordinator's process: joins the gateway group, follows the brokers and
// the assignments topic, computes and publishes assignments while it leads,
// and serves agents and operators over gRPC (plus health and metrics over
// HTTP), wired together like the agent (agent/agent.h).
//
// Threads: Run()'s caller runs the "main" io_context: the HTTP endpoint,
// signals and shutdown. ControlState has its computing thread, the group
// member, the metadata refresher and the topic tail one each; one more
// thread finds the newest stored assignment and then starts the tail. gRPC
// serves agent streams on its callback API and admin calls on a bounded pool.
//
// Shutdown (SIGTERM or SIGINT) leaves the group first, so another
// coordinator takes over at once, then stops the rest. It takes at most
// kShutdownBound: a Kafka call still waiting for an unreachable cluster by
// then is abandoned, and the process exits without it.
#ifndef KGW_COORDINATOR_COORDINATOR_H_
#define KGW_COORDINATOR_COORDINATOR_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "asio.hpp"
#include "common/cluster/broker_directory.h"
#include "common/cluster/internal_topics.h"
#include "common/control/cluster_key.h"
#include "common/http/http_server.h"
#include "common/membership/group_member.h"
#include "coordinator/control_state.h"
#include "coordinator/coordinator_config.h"
#include "coordinator/coordinator_metrics.h"
#include "coordinator/fleet_view.h"
#include "coordinator/services.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/registry.h"

namespace kgw::coordinator {

// How long shutdown may take, from the signal to the exit.
inline constexpr absl::Duration kShutdownBound = absl::Seconds(2);

// What each gRPC connection's reads start with (GRPC_ARG_TCP_READ_CHUNK_SIZE):
// an agent's messages (its descriptor, load reports) are a few hundred bytes.
inline constexpr int kGrpcReadChunkBytes = 512;

// gRPC 1.51 reads every connection into 8 KiB slices (its experiment
// "tcp_read_chunks", on by default) and keeps the unused tail of the last one
// for the next read, so each idle agent connection holds about 10 KiB. With the
// experiment off, a connection reads into one slice of kGrpcReadChunkBytes that
// grows only while larger messages arrive. Returns GRPC_EXPERIMENTS as it
// should be given `current` (null: unset): the experiment turned off, unless
// `current` names it already (the operator's choice) or gRPC is not 1.51,
// whose experiments differ. Measured in docs/benchmarks.md (2026-12-05, later).
std::optional<std::string> GrpcExperimentsForCoordinator(const char* current);

class Coordinator {
 public:
  explicit Coordinator(CoordinatorConfig config);
  ~Coordinator();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Serves until SIGTERM or SIGINT has been handled; returns the exit code.
  int Run();

 private:
  class Publisher;

  // Loads the KAFKA_SSL_* files and the cluster key; one line when they
  // cannot be used.
  absl::Status PrepareSecurity();
  absl::Status ServeHttp();
  absl::Status ServeGrpc();
  void FollowBrokers();
  // On its own thread: the newest stored assignment (a leader computes
  // nothing before it has seen it), then every new one.
  void FollowAssignments();
  // A record of the assignments topic as an assignment, when it holds up;
  // refusals are logged and counted.
  std::optional<v1::Assignment> Genuine(std::string_view value);
  void JoinGroup();
  void BeginShutdown(int signal_number);
  // Stops everything but the HTTP endpoint, in order; may block on Kafka.
  void StopServing();

  const CoordinatorConfig config_;
  const std::string grpc_endpoint_;
  const std::string topic_;
  // This coordinator's own connection to Kafka, and the same for librdkafka.
  const absl::StatusOr<cluster::OwnKafka> own_kafka_;
  const cluster::KafkaConnection kafka_;
  std::shared_ptr<control::ClusterKey> key_;
  std::unique_ptr<Publisher> publisher_;
  ControlState state_;
  std::shared_ptr<prometheus::Registry> registry_;
  CoordinatorMetrics metrics_;
  asio::io_context main_{1};
  http::HttpServer http_;
  // Declared after main_: its calls to the leader answer through main_.
  std::unique_ptr<FleetSource> fleet_;
  asio::signal_set signals_;
  asio::steady_timer shutdown_timer_;
  std::unique_ptr<AgentServiceImpl> agent_service_;
  std::unique_ptr<AdminServiceImpl> admin_service_;
  std::unique_ptr<grpc::Server> server_;
  cluster::BrokerDirectory directory_;
  std::unique_ptr<cluster::MetadataRefresher> refresher_;
  std::atomic<bool> stopping_{false};
  std::thread assignments_follower_;
  std::unique_ptr<cluster::TopicTail> tail_;  // set by the follower thread
  std::unique_ptr<membership::GroupMember> member_;
  // Runs StopServing() during shutdown, so main can bound how long it waits.
  std::thread stopper_;
  std::atomic<bool> stopped_{false};
};

}  // namespace kgw::coordinator

#endif  // KGW_COORDINATOR_COORDINATOR_H_
