#include "agent/agent.h"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config/program.h"
#include "common/http/metrics.h"
#include "glog/logging.h"

namespace kgw::agent {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kShutdownPoll = std::chrono::milliseconds(100);
// How long a stop waits, once the connections are drained, for the calls to
// Kafka still under way (leaving the group, reading the stored assignment):
// with the cluster unreachable they would run to their own timeouts.
constexpr auto kKafkaStopBound = std::chrono::seconds(2);

MetadataRefresher::Options RefresherOptions(const AgentConfig& config,
                                            const absl::StatusOr<cluster::OwnKafka>& kafka) {
  MetadataRefresher::Options o;
  // A TLS context that could not be made is reported by PrepareSecurity
  // before the refresher starts.
  if (kafka.ok()) o.kafka = *kafka;
  o.interval = config.metadata_refresh_interval;
  o.timeout = config.upstream_connect_timeout;
  o.client_id = absl::StrCat("kgw-agent-", config.node.cluster_id);
  return o;
}

PortMap MakePorts(const AgentConfig& config) {
  PortMap ports{config.port_start, config.min_broker_id, config.node.advertised_host};
  if (config.routing == RoutingMechanism::kHost) {
    ports.sni = std::make_shared<SniRoute>(config.sni.broker_host_pattern,
                                           config.sni.bootstrap_host);
  }
  return ports;
}

// How often certificate files are checked for changes.
constexpr auto kCertificateCheckInterval = std::chrono::seconds(10);
// How often log lines held back by the limiter are summed up.
constexpr auto kLogSummaryInterval = std::chrono::seconds(10);

}  // namespace

Agent::Agent(AgentConfig config)
    : config_(std::move(config)),
      ports_(MakePorts(config_)),
      // Host routing gives every broker one name that reaches any agent: the
      // assignment cannot be expressed in it.
      router_(ports_, config_.internal_load_balancing && config_.routing == RoutingMechanism::kPort),
      registry_(std::make_shared<prometheus::Registry>()),
      metrics_(*registry_),
      kafka_(cluster::MakeOwnKafka(config_.node, config_.kafka)),
      refresher_(directory_, RefresherOptions(config_, kafka_)),
      request_budget_(config_.max_buffered_request_bytes, Pipe::kInitialBuffer),
      connections_({.max_connections = config_.max_connections,
                    .max_per_address = config_.max_connections_per_address,
                    .max_new_per_second = static_cast<double>(config_.max_connection_rate)}),
      http_(main_),
      signals_(main_, SIGTERM, SIGINT),
      shutdown_timer_(main_),
      maintenance_timer_(main_),
      certificate_timer_(main_),
      log_timer_(main_),
      sighup_(main_, SIGHUP) {
  env_.config = &config_;
  env_.sni = ports_.sni.get();
  env_.ports = &ports_;
  env_.router = &router_;
  env_.directory = &directory_;
  env_.metrics = &metrics_;
  env_.request_budget = &request_budget_;
  env_.log_limiter = &log_limiter_;
  env_.broker_health = &broker_health_;
  if (config_.answer_api_versions) env_.api_versions = &api_versions_;
  env_.broker_unreachable = [this] { refresher_.RefreshSoon(); };
  env_.brokers_seen = [this](const std::vector<BrokerEndpoint>& seen) {
    if (directory_.Get()->Lacks(seen)) refresher_.RefreshSoon();
  };
}

Agent::~Agent() {
  if (control_stopper_.joinable()) control_stopper_.join();
  if (control_) control_->Stop();
  refresher_.Stop();
  for (auto& w : workers_) {
    w->io.stop();
    if (w->thread.joinable()) w->thread.join();
  }
}

int Agent::Run() {
  asio::error_code ec;
  bind_address_ = asio::ip::make_address(config_.bind_host, ec);
  if (ec) {
    asio::ip::tcp::resolver resolver(main_);
    auto results = resolver.resolve(config_.bind_host, "", ec);
    if (ec || results.empty()) {
      LOG(ERROR) << "cannot resolve GATEWAY_BIND_HOST=" << config_.bind_host << ": "
                 << ec.message();
      return config::kExitFailure;
    }
    bind_address_ = results.begin()->endpoint().address();
  }
  if (absl::Status s = PrepareSecurity(); !s.ok()) {
    std::cerr << "kgw-agent: " << s.message() << std::endl;
    return config::kExitBadConfig;
  }
  metrics_.request_buffer_limit().Set(static_cast<double>(request_budget_.limit()));
  http::AddHealthAndMetrics(http_, registry_, [this] { return ready_.load(); }, [this] {
    metrics_.request_buffer_bytes().Set(static_cast<double>(request_budget_.used()));
    const double waits = static_cast<double>(request_budget_.refusals());
    prometheus::Counter& counter = metrics_.request_buffer_waits();
    if (waits > counter.Value()) counter.Increment(waits - counter.Value());
    if (tls_server_) {
      metrics_.SetCertificateExpiry(
          static_cast<double>(absl::ToUnixSeconds(tls_server_->NotAfter())));
    }
  });
  if (absl::Status s = http_.Listen(bind_address_.to_string(), config_.node.http_port); !s.ok()) {
    LOG(ERROR) << "cannot serve GATEWAY_HTTP_PORT: " << s.message();
    return config::kExitFailure;
  }
  for (int i = 0; i < config_.worker_threads; ++i) {
    auto w = std::make_unique<Worker>();
    Worker* raw = w.get();
    w->thread = std::thread([raw] {
      auto guard = asio::make_work_guard(raw->io);
      raw->io.run();
    });
    workers_.push_back(std::move(w));
  }
  // PrepareSecurity has checked kafka_.
  control_ = std::make_unique<AgentControl>(config_, router_, directory_, metrics_, cluster_key_,
                                            *kafka_, [this](bool draining) {
                                              asio::post(main_, [this, draining] {
                                                OnDrain(draining);
                                              });
                                            });
  directory_.OnChange([this](const ClusterSnapshot& cluster) {
    control_->OnBrokersChanged();
    asio::post(main_, [this, cluster] { OnBrokersChanged(cluster); });
  });
  signals_.async_wait([this](const asio::error_code& e, int signal_number) {
    if (!e) BeginShutdown(signal_number);
  });
  refresher_.Start();
  control_->Start();
  WatchCertificates();
  SumUpHeldBackLogs();
  WaitForSighup();
  LOG(INFO) << "kgw-agent " << config_.node.node_id
            << (config_.role == AgentRole::kSidecar ? " (a sidecar)" : "")
            << " started: reading the cluster's brokers from "
            << absl::StrJoin(config_.node.bootstrap_servers, ",") << "; operations endpoint on "
            << bind_address_.to_string() << ":" << http_.port();
  main_.run();
  if (control_stopper_.joinable()) {
    std::unique_lock<std::mutex> lock(control_stop_mu_);
    if (!control_stop_cv_.wait_for(lock, kKafkaStopBound, [this] { return control_stopped_; })) {
      LOG(WARNING) << "still stopping " << kKafkaStopBound.count()
                   << "s after the drain: Kafka has not answered; exiting without waiting for it";
      // The workers have stopped, so nothing records any more: the audit
      // trail is written out (its own wait for Kafka is bounded) first.
      audit_.reset();
      std::_Exit(exit_code_);
    }
  }
  return exit_code_;
}

absl::Status Agent::PrepareSecurity() {
  absl::StatusOr<std::shared_ptr<control::ClusterKey>> key = control::LoadClusterKey(config_.node);
  if (!key.ok()) return key.status();
  cluster_key_ = *std::move(key);
  if (config_.client_tls()) {
    absl::StatusOr<std::unique_ptr<TlsServer>> server = TlsServer::Create(config_.tls);
    if (!server.ok()) return server.status();
    tls_server_ = *std::move(server);
    env_.tls_server = tls_server_.get();
    LOG(INFO) << "serving clients over TLS with the certificate " << tls_server_->Describe()
              << (config_.tls.client_auth == ClientAuth::kRequire    ? "; client certificates required"
                  : config_.tls.client_auth == ClientAuth::kOptional ? "; client certificates verified when sent"
                                                                     : "");
  }
  // One TLS context serves the clients' broker connections and the agent's own.
  if (!kafka_.ok()) return kafka_.status();
  if (kafka_->tls) {
    env_.upstream_tls = kafka_->tls->context.get();
    env_.upstream_verify_hostname = kafka_->tls->verify_hostname;
  }
  if (!config_.audit.sinks.empty()) {
    audit::AuditLogOptions options;
    options.sinks = config_.audit.sinks;
    options.file_path = config_.audit.file;
    options.queue_capacity = static_cast<size_t>(config_.audit.queue_size);
    options.kafka = cluster::TopicConnection(
        *kafka_, absl::StrCat("kgw-agent-audit-", config_.node.cluster_id));
    options.topic = config::InternalTopic(config_.node, "auditlogs");
    options.retention_ms = absl::ToInt64Milliseconds(config_.audit.retention);
    absl::StatusOr<std::unique_ptr<audit::AuditLog>> log =
        audit::AuditLog::Start(std::move(options), registry_.get());
    if (!log.ok()) return log.status();
    audit_ = *std::move(log);
    env_.audit = audit_.get();
  }
  return absl::OkStatus();
}

void Agent::WatchCertificates() {
  if (tls_server_ == nullptr) return;
  certificate_timer_.expires_after(kCertificateCheckInterval);
  certificate_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || shutting_down_) return;
    if (std::optional<absl::Status> reloaded = tls_server_->ReloadIfChanged()) {
      if (reloaded->ok()) {
        LOG(INFO) << "reloaded the TLS certificate: " << tls_server_->Describe()
                  << "; new connections use it";
        metrics_.CertificateReloads("ok").Increment();
      } else {
        LOG(ERROR) << "keeping the previous TLS certificate: " << reloaded->message();
        metrics_.CertificateReloads("failed").Increment();
      }
    }
    WatchCertificates();
  });
}

void Agent::SumUpHeldBackLogs() {
  log_timer_.expires_after(kLogSummaryInterval);
  log_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    for (const auto& [kind, count] : log_limiter_.TakeEnded(absl::Now())) {
      LOG(WARNING) << LogLimiter::HeldBackLine(kind, count);
    }
    SumUpHeldBackLogs();
  });
}

void Agent::WaitForSighup() {
  sighup_.async_wait([this](const asio::error_code& ec, int) {
    if (ec) return;
    if (audit_ != nullptr) {
      audit_->ReopenFile();
      LOG(INFO) << "SIGHUP: reopened the audit log file";
    }
    WaitForSighup();
  });
}

void Agent::OnBrokersChanged(const ClusterSnapshot& cluster) {
  if (shutting_down_) return;
  if (!EnsureListeners(cluster) && !ready_) {
    // The first set of ports could not be opened: nothing can be served.
    exit_code_ = config::kExitFailure;
    Finish();
    return;
  }
  ready_ = true;
}

bool Agent::EnsureListeners(const ClusterSnapshot& cluster) {
  if (cluster.brokers.empty()) return false;
  const int32_t max_id = cluster.brokers.back().node_id;
  // Host routing serves every broker on the first port.
  const int64_t count = ports_.sni ? 1 : ports_.PortCount(config_.port_count, max_id);
  bool ok = true;
  for (int64_t i = 0; i < count; ++i) {
    const int port = static_cast<int>(config_.port_start + i);
    if (acceptors_.count(port) != 0) continue;
    if (absl::Status s = Listen(port); !s.ok()) {
      LOG(ERROR) << s.message();
      ok = false;
    }
  }
  metrics_.listening_ports().Set(static_cast<double>(acceptors_.size()));
  for (const BrokerEndpoint& b : cluster.brokers) {
    if (ports_.sni) break;
    const int64_t port = ports_.PortFor(b.node_id);
    const bool served = b.node_id >= config_.min_broker_id && acceptors_.count(port) != 0;
    if (!served && misplaced_brokers_.insert(b.node_id).second) {
      LOG(ERROR) << "broker " << b.node_id << " would need port " << port
                 << ", which this agent does not serve (GATEWAY_PORT_START="
                 << config_.port_start << ", GATEWAY_MIN_BROKERID=" << config_.min_broker_id
                 << (config_.port_count ? absl::StrCat(", GATEWAY_PORT_COUNT=", *config_.port_count)
                                        : "")
                 << "); clients cannot reach that broker through this agent";
    } else if (served) {
      misplaced_brokers_.erase(b.node_id);
    }
  }
  return ok;
}

absl::Status Agent::Listen(int port) {
  const asio::ip::tcp::endpoint endpoint(bind_address_, static_cast<uint16_t>(port));
  auto failed = [&](const asio::error_code& ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", bind_address_.to_string(),
                                               ":", port, ": ", ec.message()));
  };
  // Opens and binds `acceptor` to the port (SO_REUSEADDR, and SO_REUSEPORT
  // when asked).
  auto bind = [&endpoint](asio::ip::tcp::acceptor& acceptor, bool reuse_port) {
    using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
    asio::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
    if (!ec && reuse_port) acceptor.set_option(ReusePort(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    return ec;
  };
  {
    // SO_REUSEPORT would let the sockets join another process's listener on
    // this port (another agent started with the same ports, say) instead of
    // failing: bind once without it first, so such a port is refused.
    asio::ip::tcp::acceptor probe(main_);
    if (const asio::error_code ec = bind(probe, /*reuse_port=*/false)) return failed(ec);
  }
  std::vector<std::shared_ptr<asio::ip::tcp::acceptor>> listeners;
  for (auto& worker : workers_) {
    auto acceptor = std::make_shared<asio::ip::tcp::acceptor>(worker->io);
    asio::error_code ec = bind(*acceptor, /*reuse_port=*/true);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return failed(ec);  // the ones opened close with `listeners`
    listeners.push_back(std::move(acceptor));
  }
  if (ports_.sni) {
    LOG(INFO) << "listening on " << bind_address_.to_string() << ":" << port
              << " for every broker, told apart by the TLS server name: broker b is "
              << ports_.sni->pattern() << " with {{nodeId}} = b, any broker is "
              << config_.sni.bootstrap_host;
  } else {
    LOG(INFO) << "listening on " << bind_address_.to_string() << ":" << port << " for broker "
              << ports_.BrokerFor(port) << " (any broker while it does not exist), advertised as "
              << ports_.advertised_host << ":" << port;
  }
  for (size_t i = 0; i < listeners.size(); ++i) {
    Worker& worker = *workers_[i];
    asio::post(worker.io, [this, acceptor = listeners[i], &worker, port] {
      Accept(acceptor, worker, port);
    });
  }
  acceptors_.emplace(port, std::move(listeners));
  return absl::OkStatus();
}

void Agent::Refuse(asio::ip::tcp::socket& socket, const asio::ip::tcp::endpoint& peer, int port,
                   ConnectionLimiter::Refusal why) {
  metrics_.ConnectionsRefused(ConnectionLimiter::Name(why)).Increment();
  log_limiter_.Warning(
      "refused",
      absl::StrCat("refusing client ", peer.address().to_string(), " on port ", port, ": ",
                   why == ConnectionLimiter::Refusal::kRate
                       ? absl::StrCat("more than GATEWAY_MAX_CONNECTION_RATE (",
                                      config_.max_connection_rate, ") new connections a second")
                       : absl::StrCat("GATEWAY_MAX_CONNECTIONS (", config_.max_connections,
                                      ") connections are open")));
  asio::error_code ignored;
  socket.close(ignored);
}

void Agent::Accept(const std::shared_ptr<asio::ip::tcp::acceptor>& acceptor, Worker& worker,
                   int port) {
  // accept(2) reports the peer's address: no getpeername per connection.
  auto peer = std::make_shared<asio::ip::tcp::endpoint>();
  acceptor->async_accept(
      *peer, [this, acceptor, &worker, port, peer](const asio::error_code& ec,
                                                   asio::ip::tcp::socket socket) {
        if (ec == asio::error::operation_aborted || shutting_down_) return;
        if (ec) {
          // Out of file descriptors, typically: wait a moment instead of spinning.
          LOG(WARNING) << "accepting on port " << port << " failed: " << ec.message();
          auto retry =
              std::make_shared<asio::steady_timer>(worker.io, std::chrono::milliseconds(100));
          retry->async_wait([this, retry, acceptor, &worker, port](const asio::error_code& e) {
            if (!e && !shutting_down_) Accept(acceptor, worker, port);
          });
          return;
        }
        metrics_.connections_total().Increment();
        ConnectionLimiter::Admission admission = connections_.Accept(absl::Now());
        if (admission.refused) {
          Refuse(socket, *peer, port, *admission.refused);
        } else {
          // Served on the thread that accepted it: no hand-over between threads.
          auto session = std::make_shared<Session>(std::move(socket), *peer, port, env_,
                                                   worker.sessions, std::move(admission.ticket));
          worker.sessions.insert(session);
          session->Start();
        }
        Accept(acceptor, worker, port);
      });
}

void Agent::CloseListeners() {
  // Each socket is closed by the worker whose loop uses it.
  for (auto& [port, listeners] : acceptors_) {
    for (size_t i = 0; i < listeners.size() && i < workers_.size(); ++i) {
      asio::post(workers_[i]->io, [acceptor = listeners[i]] {
        asio::error_code ignored;
        acceptor->close(ignored);
      });
    }
  }
}

void Agent::DrainSessions(Worker& worker, Clock::time_point deadline,
                          std::optional<int32_t> broker) {
  // Drain may close a session, which removes it from the set: iterate a copy.
  std::vector<std::shared_ptr<Session>> all(worker.sessions.begin(), worker.sessions.end());
  for (auto& s : all) {
    if (!broker || s->broker() == *broker) s->Drain(deadline);
  }
}

void Agent::OnDrain(bool draining) {
  maintenance_drain_ = draining;
  maintenance_timer_.cancel();
  if (!draining || shutting_down_) return;
  std::vector<int32_t> brokers;
  for (const BrokerEndpoint& b : directory_.Get()->brokers) brokers.push_back(b.node_id);
  // Give clients a moment to see the new assignment in their own metadata.
  maintenance_timer_.expires_after(
      absl::ToChronoMilliseconds(config_.shutdown_delay_between_brokers));
  maintenance_timer_.async_wait([this, brokers](const asio::error_code& ec) {
    if (ec || !maintenance_drain_ || shutting_down_) return;
    LOG(INFO) << "drained: closing this agent's client connections gracefully, broker by broker";
    DrainBrokers(maintenance_timer_, 0, brokers,
                 [this] { return maintenance_drain_ && !shutting_down_; }, nullptr);
  });
}

void Agent::BeginShutdown(int signal_number) {
  if (shutting_down_) return;
  shutting_down_ = true;
  ready_ = false;
  maintenance_timer_.cancel();
  // Tell the coordinator first, so it moves this agent's brokers to others
  // while the connections drain; the agent keeps its place in the group, so
  // a restart costs no rebalance. Off the main loop: it waits for the stream.
  control_stopper_ = std::thread([this] {
    control_->Depart(absl::Seconds(1));
    control_->Stop();
    std::lock_guard<std::mutex> lock(control_stop_mu_);
    control_stopped_ = true;
    control_stop_cv_.notify_all();
  });
  LOG(INFO) << "received signal " << signal_number << ": no longer accepting connections; "
            << "draining connections broker by broker";
  CloseListeners();
  std::vector<int32_t> brokers;
  for (const BrokerEndpoint& b : directory_.Get()->brokers) brokers.push_back(b.node_id);
  DrainBrokers(shutdown_timer_, 0, std::move(brokers), [] { return true; },
               [this](Clock::time_point deadline) {
                 // Whatever is left (sessions to brokers that left the cluster meanwhile).
                 for (auto& w : workers_) {
                   asio::post(w->io,
                              [worker = w.get(), deadline] { DrainSessions(*worker, deadline); });
                 }
                 WaitForSessions(deadline + std::chrono::seconds(1));
               });
}

void Agent::DrainBrokers(asio::steady_timer& timer, size_t index, std::vector<int32_t> brokers,
                         std::function<bool()> go_on,
                         std::function<void(Clock::time_point)> after_last) {
  if (!go_on()) return;
  const Clock::time_point deadline =
      Clock::now() + absl::ToChronoMilliseconds(config_.shutdown_drain_timeout);
  if (index >= brokers.size()) {
    if (after_last) after_last(deadline);
    return;
  }
  const int32_t broker = brokers[index];
  for (auto& w : workers_) {
    asio::post(w->io, [worker = w.get(), broker, deadline] {
      DrainSessions(*worker, deadline, broker);
    });
  }
  timer.expires_after(absl::ToChronoMilliseconds(config_.shutdown_delay_between_brokers));
  timer.async_wait([this, &timer, index, brokers = std::move(brokers), go_on = std::move(go_on),
                    after_last = std::move(after_last)](const asio::error_code& ec) mutable {
    if (!ec) DrainBrokers(timer, index + 1, std::move(brokers), std::move(go_on),
                          std::move(after_last));
  });
}

void Agent::WaitForSessions(Clock::time_point give_up) {
  size_t open = 0;
  for (auto& w : workers_) {
    open += w->open_sessions.load();
    asio::post(w->io, [worker = w.get()] { worker->open_sessions = worker->sessions.size(); });
  }
  // open_sessions is refreshed one poll later: the first answer is stale.
  if ((open == 0 && ++shutdown_polls_ > 1) || Clock::now() >= give_up) {
    if (open > 0) LOG(WARNING) << open << " connections still open at the end of the drain";
    Finish();
    return;
  }
  shutdown_timer_.expires_after(kShutdownPoll);
  shutdown_timer_.async_wait([this, give_up](const asio::error_code& ec) {
    if (!ec) WaitForSessions(give_up);
  });
}

void Agent::Finish() {
  LOG(INFO) << "kgw-agent stopping";
  refresher_.Stop();
  for (auto& w : workers_) {
    asio::post(w->io, [worker = w.get()] {
      DrainSessions(*worker, Clock::now());  // a past deadline closes at once
      worker->io.stop();
    });
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  http_.Stop();
  // The workers have stopped: nothing else uses the listening sockets now.
  for (auto& [port, listeners] : acceptors_) {
    for (auto& acceptor : listeners) {
      asio::error_code ignored;
      acceptor->close(ignored);
    }
  }
  signals_.cancel();
  sighup_.cancel();
  certificate_timer_.cancel();
  log_timer_.cancel();
  main_.stop();
}

}  // namespace kgw::agent
