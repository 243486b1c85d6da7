#include "agent/agent_metrics.h"

namespace kgw::agent {
namespace {

// Response latency buckets in seconds: 100 µs to 10 s (Fetch long-polls land
// near fetch.max.wait.ms, 500 ms by default).
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,    0.5,    1,     2.5,    5,     10};
  return *buckets;
}

}  // namespace

AgentMetrics::AgentMetrics(prometheus::Registry& registry)
    : connections_total_family_(prometheus::BuildCounter()
                                    .Name("kgw_agent_connections_total")
                                    .Help("Client connections accepted")
                                    .Register(registry)),
      connections_total_(connections_total_family_.Add({})),
      listening_ports_(prometheus::BuildGauge()
                           .Name("kgw_agent_listening_ports")
                           .Help("Client ports the agent listens on")
                           .Register(registry)
                           .Add({})),
      awaiting_request_(prometheus::BuildGauge()
                            .Name("kgw_agent_connections_awaiting_request")
                            .Help("Client connections not connected to a broker yet: their "
                                  "first request has not arrived whole, or it was an ApiVersions "
                                  "the agent answered and the next has not")
                            .Register(registry)
                            .Add({})),
      api_versions_answered_(prometheus::BuildCounter()
                                 .Name("kgw_agent_api_versions_answered_total")
                                 .Help("ApiVersions requests the agent answered itself, from "
                                       "the answer their broker gave last, without waiting "
                                       "for a broker connection")
                                 .Register(registry)
                                 .Add({})),
      active_(prometheus::BuildGauge()
                  .Name("kgw_agent_connections_active")
                  .Help("Open client connections, by the broker they are forwarded to")
                  .Register(registry)),
      bytes_(prometheus::BuildCounter()
                 .Name("kgw_agent_bytes_total")
                 .Help("Bytes forwarded, by broker and direction")
                 .Register(registry)),
      connect_failures_(prometheus::BuildCounter()
                            .Name("kgw_agent_upstream_connect_failures_total")
                            .Help("Failed connections from the agent to a broker")
                            .Register(registry)),
      requests_(prometheus::BuildCounter()
                    .Name("kgw_agent_requests_total")
                    .Help("Client requests, by api key")
                    .Register(registry)),
      rewrites_(prometheus::BuildCounter()
                    .Name("kgw_agent_rewrites_total")
                    .Help("Responses rewritten to carry agent addresses, by api key")
                    .Register(registry)),
      latency_(prometheus::BuildHistogram()
                   .Name("kgw_agent_response_latency_seconds")
                   .Help("Time from forwarding a request to receiving its response, by api key")
                   .Register(registry)),
      bad_input_(prometheus::BuildCounter()
                     .Name("kgw_agent_closed_for_bad_input_total")
                     .Help("Connections closed because of malformed or oversized input, by reason")
                     .Register(registry)),
      certificate_reloads_(prometheus::BuildCounter()
                               .Name("kgw_agent_tls_certificate_reloads_total")
                               .Help("Reloads of the TLS certificate after its files changed, "
                                     "by result (ok, failed)")
                               .Register(registry)),
      certificate_expiry_(prometheus::BuildGauge()
                              .Name("kgw_agent_tls_certificate_expiry_timestamp_seconds")
                              .Help("When the certificate served to clients "
                                    "(GATEWAY_SSL_CERT_FILE) expires, in seconds since the "
                                    "Unix epoch")
                              .Register(registry)),
      assignments_refused_(prometheus::BuildCounter()
                               .Name("kgw_agent_assignments_refused_total")
                               .Help("Assignments refused because no holder of the cluster key "
                                     "made them, by source (coordinator, topic)")
                               .Register(registry)),
      request_buffer_bytes_(prometheus::BuildGauge()
                                .Name("kgw_agent_request_buffer_bytes")
                                .Help("Bytes client connections hold for requests now, against "
                                      "GATEWAY_MAX_BUFFERED_REQUEST_BYTES")
                                .Register(registry)
                                .Add({})),
      request_buffer_limit_(prometheus::BuildGauge()
                                .Name("kgw_agent_request_buffer_limit_bytes")
                                .Help("GATEWAY_MAX_BUFFERED_REQUEST_BYTES")
                                .Register(registry)
                                .Add({})),
      request_buffer_waits_(prometheus::BuildCounter()
                                .Name("kgw_agent_request_buffer_waits_total")
                                .Help("Times a client was not read because the request buffer "
                                      "budget was spent")
                                .Register(registry)
                                .Add({})),
      spliced_(prometheus::BuildCounter()
                   .Name("kgw_agent_spliced_bytes_total")
                   .Help("Bytes passed from one socket to the other through a kernel pipe, "
                         "never copied through the agent (GATEWAY_ZERO_COPY), by direction; "
                         "also counted in kgw_agent_bytes_total")
                   .Register(registry)),
      spliced_to_broker_(spliced_.Add({{"direction", "client_to_broker"}})),
      spliced_to_client_(spliced_.Add({{"direction", "broker_to_client"}})),
      connections_refused_(prometheus::BuildCounter()
                               .Name("kgw_agent_connections_refused_total")
                               .Help("Client connections closed by the connection limits, by "
                                     "reason (max_connections, per_address, rate)")
                               .Register(registry)) {}

const AgentMetrics::BrokerSeries& AgentMetrics::ForBroker(int32_t broker) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = brokers_.find(broker);
  if (it != brokers_.end()) return it->second;
  const std::string id = std::to_string(broker);
  BrokerSeries s{
      .bytes_client_to_broker = &bytes_.Add({{"broker", id}, {"direction", "client_to_broker"}}),
      .bytes_broker_to_client = &bytes_.Add({{"broker", id}, {"direction", "broker_to_client"}}),
      .upstream_connect_failures = &connect_failures_.Add({{"broker", id}}),
      .active_connections = &active_.Add({{"broker", id}}),
  };
  return brokers_.emplace(broker, s).first->second;
}

const AgentMetrics::ApiSeries& AgentMetrics::ForApi(int16_t api_key) {
  const int slot = api_key >= 0 && api_key < kApiKeys ? api_key : kApiKeys;
  if (const ApiSeries* s = apis_[slot].load(std::memory_order_acquire)) return *s;
  std::lock_guard<std::mutex> lock(mu_);
  if (const ApiSeries* s = apis_[slot].load(std::memory_order_relaxed)) return *s;
  const std::string label = slot == kApiKeys ? "other" : std::to_string(api_key);
  ApiSeries& s = api_storage_[slot];
  s.requests = &requests_.Add({{"api_key", label}});
  s.rewrites = &rewrites_.Add({{"api_key", label}});
  s.latency = &latency_.Add({{"api_key", label}}, LatencyBuckets());
  apis_[slot].store(&s, std::memory_order_release);
  return s;
}

prometheus::Counter& AgentMetrics::ClosedForBadInput(const std::string& reason) {
  return bad_input_.Add({{"reason", reason}});
}

prometheus::Counter& AgentMetrics::ConnectionsRefused(const std::string& reason) {
  return connections_refused_.Add({{"reason", reason}});
}

prometheus::Counter& AgentMetrics::CertificateReloads(const std::string& result) {
  return certificate_reloads_.Add({{"result", result}});
}

void AgentMetrics::SetCertificateExpiry(double unix_seconds) {
  certificate_expiry_.Add({}).Set(unix_seconds);
}

prometheus::Counter& AgentMetrics::AssignmentsRefused(const std::string& source) {
  return assignments_refused_.Add({{"source", source}});
}

std::map<int32_t, AgentMetrics::BrokerTotals> AgentMetrics::Totals() {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<int32_t, BrokerTotals> out;
  for (const auto& [broker, series] : brokers_) {
    out[broker] = {.bytes = series.bytes_client_to_broker->Value() +
                            series.bytes_broker_to_client->Value(),
                   .connections = static_cast<int64_t>(series.active_connections->Value())};
  }
  return out;
}

}  // namespace kgw::agent
