// The coordinator's Prometheus metrics. They are gauges read from
// ControlState and the group member: Collect() brings them up to date, and
// the HTTP endpoint calls it at each scrape.
#ifndef KGW_COORDINATOR_COORDINATOR_METRICS_H_
#define KGW_COORDINATOR_COORDINATOR_METRICS_H_

#include <string>

#include "absl/time/time.h"
#include "coordinator/control_state.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace kgw::coordinator {

class CoordinatorMetrics {
 public:
  explicit CoordinatorMetrics(prometheus::Registry& registry);

  // `node_id` is this coordinator's.
  void Collect(const ControlState& state, const std::string& node_id);
  // When the gRPC server's certificate expires; the series exists only once
  // set (coordinators serving TLS).
  void SetGrpcCertificateExpiry(absl::Time not_after);

 private:
  prometheus::Gauge& leader_;
  prometheus::Gauge& generation_;
  prometheus::Gauge& agents_;
  prometheus::Gauge& published_;
  prometheus::Gauge& publish_failures_;
  prometheus::Gauge& agent_streams_;
  prometheus::Gauge& assignments_refused_;
  prometheus::Gauge& members_refused_;
  prometheus::Gauge& sidecars_;
  prometheus::Family<prometheus::Gauge>& grpc_certificate_expiry_;
};

}  // namespace kgw::coordinator

#endif  // KGW_COORDINATOR_COORDINATOR_METRICS_H_
