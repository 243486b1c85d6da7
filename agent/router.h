// Where the agent tells each client to find each broker.
//
// With internal load balancing on (the default) and an assignment in force,
// broker b is advertised at the agent that weighted rendezvous hashing picks
// for the client among b's eligible agents (common/control/routing.h), at that
// agent's port for b. Without an assignment, or with internal load balancing
// off, every broker is advertised at this agent's own GATEWAY_ADVERTISED_HOST
// and port(b) (the external load balancer mode).
//
// The assignment comes from the coordinators, else the assignments topic,
// else a local computation; Install keeps whichever is newest. The live
// agent set comes from the gateway group. Thread-safe: sessions on every
// worker read snapshots; the control threads install new ones.
#ifndef KGW_AGENT_ROUTER_H_
#define KGW_AGENT_ROUTER_H_

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "agent/port_map.h"
#include "common/control/routing.h"
#include "kgw/v1/assignment.pb.h"

namespace kgw::agent {

class Router {
 public:
  Router(PortMap ports, bool internal_load_balancing);

  // Installs `a` when it is newer than the assignment in force (or when none
  // is); returns whether it did. `source` names where it came from, for logs.
  // An assignment from the coordinator the gateway group names as leader
  // (`from_leader`) also replaces one computed by any other node, however
  // new that one claims to be: a coordinator that has left, or a forger,
  // cannot pin the agents to its assignment. Implausible ones (an epoch no
  // leader can reach) are refused.
  bool Install(const v1::Assignment& a, std::string_view source, bool from_leader = false);
  // The agents the gateway group has now; routing skips the others. nullopt:
  // not known (the coordinators' assignments are trusted as they are).
  void SetLive(std::optional<absl::flat_hash_set<std::string>> live);
  // Called (on the installing thread) after every installed assignment.
  void OnInstall(std::function<void(const v1::Assignment&)> listener);

  // The routing in force; hold it for the duration of one response.
  std::shared_ptr<const control::RouteIndex> Snapshot() const;
  std::optional<v1::Assignment> Current() const;

  // The address to advertise for `broker` to the client with `client_key`
  // (assignment::ClientKey(client id, client host)); `index` may be null.
  AdvertisedAddress AddressFor(const control::RouteIndex* index, int32_t broker,
                               std::string_view client_key) const;

  bool internal_load_balancing() const { return internal_load_balancing_; }

 private:
  void RebuildLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const PortMap ports_;
  const bool internal_load_balancing_;
  mutable std::mutex mu_;
  std::optional<v1::Assignment> current_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::flat_hash_set<std::string>> live_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const control::RouteIndex> index_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void(const v1::Assignment&)>> listeners_;
};

}  // namespace kgw::agent

#endif  // KGW_AGENT_ROUTER_H_
