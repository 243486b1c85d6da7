// kgw-agent's process: listeners, worker threads, the broker directory, the
// operations endpoint and graceful shutdown, wired together.
//
// Threads: one "main" io_context runs the listeners' accepts, the HTTP
// endpoint, signals and shutdown; GATEWAY_WORKER_THREADS workers each run an
// io_context that owns the sessions handed to it; the metadata refresher has
// its own thread. A directory change is posted to main, which opens any
// ports new brokers need.
#ifndef KGW_AGENT_AGENT_H_
#define KGW_AGENT_AGENT_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent_config.h"
#include "agent/agent_metrics.h"
#include "agent/agent_control.h"
#include "agent/router.h"
#include "common/cluster/broker_directory.h"
#include "agent/port_map.h"
#include "agent/session.h"
#include "agent/sni_route.h"
#include "agent/tls_server.h"
#include "common/audit/audit_log.h"
#include "common/kafka/blocking_client.h"
#include "asio.hpp"
#include "common/http/http_server.h"
#include "prometheus/registry.h"

namespace kgw::agent {

using cluster::BrokerDirectory;
using cluster::ClusterSnapshot;
using cluster::MetadataRefresher;

class Agent {
 public:
  explicit Agent(AgentConfig config);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Serves until SIGTERM or SIGINT has been handled; returns the exit code.
  int Run();

 private:
  struct Worker {
    asio::io_context io{1};
    SessionSet sessions;
    std::atomic<size_t> open_sessions{0};  // refreshed on request during shutdown
    std::thread thread;
  };

  // Loads certificates and starts the audit log; a one-line error when the
  // configuration cannot be served.
  absl::Status PrepareSecurity();
  void WatchCertificates();
  // Now and then, one line per kind of event whose lines were held back.
  void SumUpHeldBackLogs();
  void WaitForSighup();
  void OnBrokersChanged(const ClusterSnapshot& cluster);  // main thread
  // Opens every port the cluster needs; false when one cannot be bound.
  bool EnsureListeners(const ClusterSnapshot& cluster);
  absl::Status Listen(int port);
  // On `worker`'s thread: accepts the next connection on `acceptor` (that
  // worker's socket for `port`) and serves it there.
  void Accept(const std::shared_ptr<asio::ip::tcp::acceptor>& acceptor, Worker& worker, int port);
  void CloseListeners();
  // Closes a connection the limits do not admit, counted and (rate-limited) logged.
  void Refuse(asio::ip::tcp::socket& socket, const asio::ip::tcp::endpoint& peer, int port,
              ConnectionLimiter::Refusal why);
  // On the worker's thread: drains its sessions (those of `broker` when set).
  static void DrainSessions(Worker& worker, std::chrono::steady_clock::time_point deadline,
                            std::optional<int32_t> broker = std::nullopt);
  // An operator drained (or resumed) this agent: close its connections
  // gracefully, broker by broker, as on shutdown but still accepting.
  void OnDrain(bool draining);
  void BeginShutdown(int signal_number);
  // Drains the sessions of brokers[index] on every worker, then (after
  // GATEWAY_SHUTDOWN_DELAY_BETWEEN_BROKERS_MS on `timer`) the next broker's,
  // for as long as `go_on()` holds; `after_last` (if any) runs after the last
  // broker with the deadline its sessions would have had. On SIGTERM and
  // when an operator drains the agent.
  void DrainBrokers(asio::steady_timer& timer, size_t index, std::vector<int32_t> brokers,
                    std::function<bool()> go_on,
                    std::function<void(std::chrono::steady_clock::time_point)> after_last);
  void WaitForSessions(std::chrono::steady_clock::time_point give_up);
  void Finish();

  const AgentConfig config_;
  const PortMap ports_;
  Router router_;
  asio::io_context main_{1};
  asio::ip::address bind_address_;
  std::shared_ptr<prometheus::Registry> registry_;
  AgentMetrics metrics_;
  // Used by sessions on every worker, so they outlive the workers.
  std::unique_ptr<TlsServer> tls_server_;
  // The agent's own connection to Kafka; its TLS context serves the clients'
  // broker connections too.
  const absl::StatusOr<cluster::OwnKafka> kafka_;
  std::unique_ptr<audit::AuditLog> audit_;
  BrokerDirectory directory_;
  MetadataRefresher refresher_;
  // GATEWAY_CLUSTER_KEY_FILE (read by PrepareSecurity); none without it.
  std::shared_ptr<control::ClusterKey> cluster_key_;
  std::unique_ptr<AgentControl> control_;
  std::thread control_stopper_;  // leaves the group during shutdown
  std::mutex control_stop_mu_;
  std::condition_variable control_stop_cv_;
  bool control_stopped_ = false;  // under control_stop_mu_
  // Shared by every session; declared before them so they outlive them.
  BufferBudget request_budget_;
  ConnectionLimiter connections_;
  BrokerHealth broker_health_;
  ApiVersionsCache api_versions_;
  LogLimiter log_limiter_;
  SessionEnv env_;
  http::HttpServer http_;
  asio::signal_set signals_;
  asio::steady_timer shutdown_timer_;
  std::vector<std::unique_ptr<Worker>> workers_;
  // Per port, one listening socket per worker (SO_REUSEPORT): each worker
  // accepts the connections it serves, and the kernel spreads them.
  std::map<int, std::vector<std::shared_ptr<asio::ip::tcp::acceptor>>> acceptors_;
  std::set<int32_t> misplaced_brokers_;  // logged once: their port is not served
  std::atomic<bool> ready_{false};
  std::atomic<bool> shutting_down_{false};  // read by the workers' accept loops
  bool maintenance_drain_ = false;
  asio::steady_timer maintenance_timer_;
  asio::steady_timer certificate_timer_;
  asio::steady_timer log_timer_;  // sums up log lines held back
  asio::signal_set sighup_;
  int shutdown_polls_ = 0;
  int exit_code_ = 0;
};

}  // namespace kgw::agent

#endif  // KGW_AGENT_AGENT_H_
