// The scenarios kgw-fleet-sim measures, and their results as a table or JSON.
//
// Every scenario starts with `converge`: N simulated agents start at once,
// and the clock runs until every one holds an assignment that names all N.
// Then:
//
// - join-leave: K times, one more agent (a new node id each time) starts, and
//   the clock runs until every live agent holds an assignment naming it; it
//   shuts down cleanly (draining descriptor), and the clock runs until no live
//   agent's assignment names it; then the group drops it after the session
//   timeout, and the next change starts on a quiet group. Bytes are what all
//   agents received on their streams for each step, counted until the
//   streams have been quiet for a second.
// - rolling-restart: every agent in turn shuts down cleanly, stays down for
//   `pause`, starts again, and the next one goes once every live agent names
//   it again. Rebalances are the group generations the agents saw during the
//   restarts; meanwhile the assignments are sampled and no live agent may hold
//   one naming a stopped agent for longer than the session timeout.
//
// With sidecars (`sidecars` > 0, which needs `fleet.coordinators`), they
// start with the agents, and converge also times until the leading
// coordinator lists every one (admin ListNodes, asked through the first
// coordinator, as `kgwctl nodes` does). join-leave then adds K sidecar
// changes: one more sidecar starts and the clock runs until the leader lists
// it; it shuts down (closes its stream) and the clock runs until the leader
// no longer lists it; bytes are what the agents received meanwhile (a
// sidecar changes nobody's assignment, so none are expected).
//
// With coordinator pids given, their threads, resident memory and CPU time
// are sampled from /proc throughout, and the simulator's own as well.
//
// Every wait is bounded by `wait_timeout`; a scenario whose wait runs out
// reports it and fails.
#ifndef KGW_TOOLS_FLEET_SIM_SCENARIOS_H_
#define KGW_TOOLS_FLEET_SIM_SCENARIOS_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tools/fleet_sim/fleet_sim.h"

namespace kgw::fleet_sim {

enum class Scenario { kConverge, kJoinLeave, kRollingRestart };

struct ScenarioOptions {
  Scenario scenario = Scenario::kConverge;
  FleetOptions fleet;
  int agents = 100;
  int sidecars = 0;
  int changes = 5;                    // join-leave
  absl::Duration pause = absl::Seconds(1);  // rolling-restart: time each agent is down
  absl::Duration wait_timeout = absl::Minutes(5);
  // After the scenario, the agents keep running this long (to be looked at
  // with kgwctl or the fleet view) before they stop.
  absl::Duration hold = absl::ZeroDuration();
  std::vector<pid_t> coordinator_pids;
};

// Threads, resident memory and CPU time of one process over a scenario.
struct ProcessUsage {
  pid_t pid = 0;
  std::string role;  // "coordinator" or "simulator"
  int max_threads = 0;
  int64_t max_rss_kb = 0;
  double cpu_seconds = 0;  // user + system, over the whole run
  bool gone = false;       // it ended during the run
};

struct ConvergeResult {
  std::optional<absl::Duration> all_streaming;  // every agent (sidecars aside) streams
  std::optional<absl::Duration> all_named;      // every agent names all N
  int generations = 0;                          // distinct generations the agents saw
  int64_t assignments = 0;
  int64_t bytes = 0;
  int64_t last_assignment_bytes = 0;  // largest among the agents' last ones
  std::string leader;
  std::optional<absl::Duration> sidecars_listed;  // the leader lists every sidecar
};

// One step of a change (a join, a leave, the group dropping the left agent).
struct StepResult {
  std::optional<absl::Duration> took;  // until every live agent agreed; nullopt: timed out
  int64_t bytes = 0;        // received by all agents
  int64_t assignments = 0;  // received by all agents
  // Exchanged by all agents' group members with the brokers: joining,
  // syncing and the like, and heartbeats (which go on whatever changes).
  int64_t kafka_bytes = 0;
  int64_t kafka_heartbeat_bytes = 0;
  bool new_generation = false;  // a rebalance happened during it
};

struct ChangeResult {
  std::string node_id;
  StepResult join;
  StepResult leave;
  StepResult expiry;  // agents only: a sidecar is not in the group
};

struct RollingResult {
  int restarted = 0;
  int rebalances = 0;           // generations seen during the restarts
  absl::Duration longest_stale;  // a live agent naming a stopped one, longest stretch
  int stale_over_session = 0;   // stretches longer than the session timeout
  std::optional<absl::Duration> slowest_rejoin;  // start until every agent names it again
  absl::Duration total;
  int64_t bytes = 0;
  int64_t kafka_bytes = 0;  // as StepResult::kafka_bytes, over all the restarts
};

struct Results {
  ScenarioOptions options;
  ConvergeResult converge;
  std::vector<ChangeResult> changes;
  std::vector<ChangeResult> sidecar_changes;  // join-leave with sidecars
  std::optional<RollingResult> rolling;
  std::vector<ProcessUsage> processes;
  int64_t refused = 0;  // assignments the agents refused (no valid proof of the key)
  int64_t fenced = 0;   // times an agent's group place was taken by another node
  std::vector<std::string> failures;  // empty: the scenario held throughout
  bool ok() const { return failures.empty(); }
};

// Runs the scenario against the group and coordinators that `options.fleet`
// names; progress goes to stderr. Stops every agent before it returns.
Results Run(const ScenarioOptions& options);

std::string FormatTable(const Results& results);
std::string FormatJson(const Results& results);

absl::string_view ScenarioName(Scenario s);

}  // namespace kgw::fleet_sim

#endif  // KGW_TOOLS_FLEET_SIM_SCENARIOS_H_
