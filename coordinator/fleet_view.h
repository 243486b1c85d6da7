// The fleet view: a read-only page on the coordinator's HTTP port that draws
// the gateway cluster as this coordinator sees it. Racks are columns; each
// holds its brokers and its agents (health, draining, load), with lines from
// every broker to the agents eligible for it. The page polls /fleet.json and
// redraws when something changed.
//
//   /fleet       the page (HTML), /fleet.css and /fleet.js: static, no data,
//                no external assets, so they are served to anyone
//   /fleet.json  the data: the admin API's GetStatus, ListNodes and
//                GetAssignment answers in one object, as `kgwctl --json`
//                prints them
//
// Who may read /fleet.json follows the admin API (see FleetAccessFor). The
// handlers run on the HTTP server's thread and take ControlState's lock only
// to copy what they print.
#ifndef KGW_COORDINATOR_FLEET_VIEW_H_
#define KGW_COORDINATOR_FLEET_VIEW_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "common/http/http_server.h"
#include "coordinator/control_state.h"
#include "coordinator/coordinator_config.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "kgw/v1/admin.pb.h"
#include "kgw/v1/assignment.pb.h"

namespace kgw::coordinator {

// Who may read /fleet.json.
enum class FleetAccess {
  // No admin token, and the admin API takes calls without one: anyone who
  // reaches the HTTP port.
  kOpen,
  // Callers sending "Authorization: Bearer <GATEWAY_ADMIN_TOKEN>"; the page
  // asks for the token and keeps it for the browser tab.
  kToken,
  // Off: the admin API is protected by client certificates only, which plain
  // HTTP cannot check. Setting GATEWAY_ADMIN_TOKEN turns the view on.
  kDisabled,
};
FleetAccess FleetAccessFor(const CoordinatorConfig& config);

// {"status": ..., "nodes": ..., "assignment": ... or null}, each message as
// `kgwctl --json` prints it (proto field names, defaults included). Left out,
// to keep the answer in proportion to agents + brokers: proofs, each node's
// broker list and per-broker loads. The assignment keeps its compact form:
// a broker names its agent set, or (records of older versions) its agents.
std::string FleetJson(v1::ClusterStatus status, v1::ListNodesResponse nodes,
                      std::optional<v1::Assignment> assignment);

// Makes /fleet.json's body. Only the leader receives the agents' load
// reports, so a follower asks the leader for the nodes (ListNodes, as kgwctl
// does, over a channel with `credentials`) and falls back to its own view
// when the leader does not answer within 2 s. Thread-safe.
class FleetSource {
 public:
  FleetSource(ControlState& state, std::shared_ptr<grpc::ChannelCredentials> credentials);
  // Cancels the calls to the leader still running and waits for their ends.
  ~FleetSource();

  FleetSource(const FleetSource&) = delete;
  FleetSource& operator=(const FleetSource&) = delete;

  // Calls `done` once with the JSON: at once, or later on a gRPC thread.
  void Json(std::function<void(std::string)> done);

 private:
  std::shared_ptr<grpc::Channel> ChannelTo(const std::string& endpoint);

  ControlState& state_;
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  std::mutex mu_;
  std::condition_variable ended_;
  std::string channel_endpoint_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<grpc::Channel> channel_ ABSL_GUARDED_BY(mu_);
  struct Call;
  std::set<Call*> calls_ ABSL_GUARDED_BY(mu_);
};

// Registers /fleet, /fleet.css, /fleet.js and /fleet.json on `server`.
// `source` makes /fleet.json's body and must outlive the server's
// io_context; `token` is GATEWAY_ADMIN_TOKEN.
void AddFleetView(http::HttpServer& server, FleetAccess access, std::string token,
                  FleetSource& source);

}  // namespace kgw::coordinator

#endif  // KGW_COORDINATOR_FLEET_VIEW_H_
