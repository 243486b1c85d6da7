// kgw-coordinator as a process: joins the gateway group, follows the brokers
// and the assignments topic, computes and publishes assignments while it
// leads, and serves agents and operators over gRPC (plus health and metrics
// over HTTP).
//
// Run() is called once, from main, with SIGTERM and SIGINT blocked in every
// thread (it waits for them with sigwait).
#ifndef KGW_COORDINATOR_COORDINATOR_H_
#define KGW_COORDINATOR_COORDINATOR_H_

#include "coordinator/coordinator_config.h"

namespace kgw::coordinator {

// Serves until SIGTERM or SIGINT; returns the process exit code.
int RunCoordinator(const CoordinatorConfig& config);

}  // namespace kgw::coordinator

#endif  // KGW_COORDINATOR_COORDINATOR_H_
