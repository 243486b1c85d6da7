// The agent's Prometheus metrics. Families are created once; the labelled
// series a connection needs are looked up once (per broker, per api key) and
// then updated lock-free from the worker threads.
#ifndef KGW_AGENT_AGENT_METRICS_H_
#define KGW_AGENT_AGENT_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace kgw::agent {

class AgentMetrics {
 public:
  struct BrokerSeries {
    prometheus::Counter* bytes_client_to_broker;
    prometheus::Counter* bytes_broker_to_client;
    prometheus::Counter* upstream_connect_failures;
    prometheus::Gauge* active_connections;
  };
  struct ApiSeries {
    prometheus::Counter* requests;
    prometheus::Counter* rewrites;
    prometheus::Histogram* latency;
  };

  explicit AgentMetrics(prometheus::Registry& registry);

  prometheus::Counter& connections_total() { return connections_total_; }
  prometheus::Gauge& listening_ports() { return listening_ports_; }
  // Client connections not connected to a broker yet: their first request
  // has not arrived whole, or it was an ApiVersions the agent answered.
  prometheus::Gauge& awaiting_request() { return awaiting_request_; }
  // ApiVersions requests the agent answered itself (GATEWAY_ANSWER_API_VERSIONS).
  prometheus::Counter& api_versions_answered() { return api_versions_answered_; }
  // `broker` is a node id; connections whose port names no broker use the
  // broker they were sent to.
  const BrokerSeries& ForBroker(int32_t broker);
  const ApiSeries& ForApi(int16_t api_key);

  // What the agent carries per broker so far, for its load reports.
  struct BrokerTotals {
    double bytes = 0;  // both directions, since start
    int64_t connections = 0;  // open now
  };
  std::map<int32_t, BrokerTotals> Totals();
  // Connections closed because of bad input, by reason ("frame", "request",
  // "response", "correlation").
  prometheus::Counter& ClosedForBadInput(const std::string& reason);
  prometheus::Counter& CertificateReloads(const std::string& result);
  // When the certificate served to clients expires (Unix seconds); the
  // series exists only once set (agents with TLS towards clients).
  void SetCertificateExpiry(double unix_seconds);
  // Assignments refused for a missing or wrong cluster-key proof, by source.
  prometheus::Counter& AssignmentsRefused(const std::string& source);
  // The request buffer budget; set when metrics are scraped.
  prometheus::Gauge& request_buffer_bytes() { return request_buffer_bytes_; }
  prometheus::Gauge& request_buffer_limit() { return request_buffer_limit_; }
  prometheus::Counter& request_buffer_waits() { return request_buffer_waits_; }
  // Bytes passed from socket to socket by splice (GATEWAY_ZERO_COPY), by
  // direction.
  prometheus::Counter& spliced_bytes_to_broker() { return spliced_to_broker_; }
  prometheus::Counter& spliced_bytes_to_client() { return spliced_to_client_; }
  // Client connections closed by the connection limits, by reason
  // (max_connections, per_address, rate).
  prometheus::Counter& ConnectionsRefused(const std::string& reason);

 private:
  static constexpr int kApiKeys = 128;  // beyond: one "other" series

  prometheus::Family<prometheus::Counter>& connections_total_family_;
  prometheus::Counter& connections_total_;
  prometheus::Gauge& listening_ports_;
  prometheus::Gauge& awaiting_request_;
  prometheus::Counter& api_versions_answered_;
  prometheus::Family<prometheus::Gauge>& active_;
  prometheus::Family<prometheus::Counter>& bytes_;
  prometheus::Family<prometheus::Counter>& connect_failures_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& rewrites_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Counter>& bad_input_;
  prometheus::Family<prometheus::Counter>& certificate_reloads_;
  prometheus::Family<prometheus::Gauge>& certificate_expiry_;
  prometheus::Family<prometheus::Counter>& assignments_refused_;
  prometheus::Gauge& request_buffer_bytes_;
  prometheus::Gauge& request_buffer_limit_;
  prometheus::Counter& request_buffer_waits_;
  prometheus::Family<prometheus::Counter>& spliced_;
  prometheus::Counter& spliced_to_broker_;
  prometheus::Counter& spliced_to_client_;
  prometheus::Family<prometheus::Counter>& connections_refused_;

  std::mutex mu_;
  std::map<int32_t, BrokerSeries> brokers_;
  std::array<std::atomic<const ApiSeries*>, kApiKeys + 1> apis_{};
  std::map<int, ApiSeries> api_storage_;
};

}  // namespace kgw::agent

#endif  // KGW_AGENT_AGENT_METRICS_H_
