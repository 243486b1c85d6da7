#include "coordinator/coordinator_metrics.h"

namespace kgw::coordinator {
namespace {

prometheus::Gauge& Gauge(prometheus::Registry& registry, const std::string& name,
                         const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

}  // namespace

CoordinatorMetrics::CoordinatorMetrics(prometheus::Registry& registry)
    : leader_(Gauge(registry, "kgw_coordinator_leader",
                    "1 while this coordinator leads the gateway cluster")),
      generation_(Gauge(registry, "kgw_coordinator_generation",
                        "Generation of the gateway group this coordinator last saw")),
      agents_(Gauge(registry, "kgw_coordinator_agents",
                    "Agents in the current generation of the gateway group")),
      published_(Gauge(registry, "kgw_coordinator_assignments_published",
                       "Assignments this coordinator wrote to the assignments topic since it "
                       "started")),
      publish_failures_(Gauge(registry, "kgw_coordinator_assignment_publish_failures",
                              "Failed writes of an assignment to the assignments topic since "
                              "start")),
      agent_streams_(Gauge(registry, "kgw_coordinator_agent_streams",
                           "Agents streaming from this coordinator now")),
      assignments_refused_(Gauge(registry, "kgw_coordinator_assignments_refused",
                                 "Records of the assignments topic refused since start: no "
                                 "valid proof of the cluster key")),
      members_refused_(Gauge(registry, "kgw_coordinator_members_refused",
                             "Members of the gateway group's current generation that do not "
                             "count: no valid proof, bad descriptor or a duplicate node id")),
      sidecars_(Gauge(registry, "kgw_coordinator_sidecars",
                      "Sidecar agents registered with this coordinator (streaming to it)")),
      grpc_certificate_expiry_(
          prometheus::BuildGauge()
              .Name("kgw_coordinator_grpc_certificate_expiry_timestamp_seconds")
              .Help("When the gRPC server's certificate (GATEWAY_GRPC_TLS_CERT_FILE) expires, in "
                    "seconds since the Unix epoch")
              .Register(registry)) {}

void CoordinatorMetrics::SetGrpcCertificateExpiry(absl::Time not_after) {
  grpc_certificate_expiry_.Add({}).Set(static_cast<double>(absl::ToUnixSeconds(not_after)));
}

void CoordinatorMetrics::Collect(const ControlState& state, const std::string& node_id) {
  const v1::ClusterStatus s = state.Status();
  leader_.Set(s.leader_node_id() == node_id ? 1 : 0);
  generation_.Set(s.generation_id());
  agents_.Set(s.agents());
  members_refused_.Set(s.refused_members());
  sidecars_.Set(s.sidecars());
  const ControlState::Counters c = state.counters();
  published_.Set(static_cast<double>(c.published));
  publish_failures_.Set(static_cast<double>(c.publish_failures));
  agent_streams_.Set(static_cast<double>(c.agent_streams));
  assignments_refused_.Set(static_cast<double>(c.refused_assignments));
}

}  // namespace kgw::coordinator
