// kgw-fleet-sim: many simulated agents against real coordinators and the real
// Kafka group, to measure the control plane at scale (scenarios.h). A
// benchmark tool, not a test: it prints what it measured.
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/control/cluster_key.h"
#include "glog/logging.h"
#include "tools/fleet_sim/scenarios.h"

namespace {

using kgw::fleet_sim::Scenario;
using kgw::fleet_sim::ScenarioOptions;

constexpr char kUsage[] = R"(usage: kgw-fleet-sim SCENARIO --cluster-id ID [options]

Runs simulated agents (each a real GroupMember and CoordinatorClient, without
a data path) in this process against the coordinators of a gateway cluster.

scenarios:
  converge          start N agents; time until every one holds an assignment naming all N
  join-leave        converge, then K times: one more agent starts, then shuts down
                    cleanly; time until every live agent names / no longer names it,
                    and until the group drops it; bytes all agents received per step
  rolling-restart   converge, then every agent in turn shuts down cleanly, stays down
                    for --pause and starts again; rebalances, and how long any live
                    agent held an assignment naming a stopped one

options:
  --bootstrap HOST:PORT[,...]  Kafka (default: $KGW_KAFKA_BOOTSTRAP)
  --cluster-id ID              the gateway cluster (GATEWAY_CLUSTER_ID of the coordinators)
  --group-id G                 the gateway group (default kgw_<cluster id>)
  --agents N                   simulated agents (default 100)
  --sidecars M                 sidecars besides the agents (default 0): no group, a stream
                               to --coordinators each, as GATEWAY_ROLE=sidecar
  --coordinators H:P[,...]     the coordinators' gRPC endpoints (GATEWAY_COORDINATORS of the
                               sidecars; the first is asked for ListNodes)
  --racks a,b,c                agent i is in rack i % count (default a,b,c)
  --prefix P                   node ids P0, P1, ... (default sim-)
  --session-timeout D          GATEWAY_GROUP_SESSION_TIMEOUT of the agents (default 10s)
  --heartbeat-interval D       GATEWAY_GROUP_HEARTBEAT_INTERVAL (default 1s)
  --report-interval D          GATEWAY_LOAD_REPORT_INTERVAL (default 5s)
  --changes K                  join-leave: changes (default 5)
  --pause D                    rolling-restart: time each agent is down (default 1s)
  --timeout D                  bound of every wait (default 5m)
  --hold D                     keep the agents running this long after the scenario, to
                               look at them with kgwctl or the fleet view (default 0s)
  --cluster-key-file F         GATEWAY_CLUSTER_KEY_FILE of the gateway cluster (needs
                               --cluster-id): agents sign and verify as real ones do
  --coordinator-pids P[,P]     sample these processes' threads, RSS and CPU time
  --no-stored-assignment       agents do not read the newest stored assignment when they start
                               (a real agent does, to stream before the group names the
                               coordinators)
  --no-heartbeat-now           agents ignore a coordinator's word that the group is
                               rebalancing and wait for their next heartbeat (as before it)
  --shared-connections         all agents stream on one HTTP/2 connection per coordinator
                               (lighter for both sides) instead of one each, as real agents
  --json                       JSON on stdout (the table goes to stderr)
  --verbose                    the agents' INFO logs too
durations: 500ms, 10s, 5m
)";

struct Flags {
  ScenarioOptions scenario;
  bool json = false;
  bool verbose = false;
};

absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  Flags f;
  ScenarioOptions& o = f.scenario;
  if (argc < 2) return absl::InvalidArgumentError("a scenario is required");
  const std::string scenario = argv[1];
  if (scenario == "converge") {
    o.scenario = Scenario::kConverge;
  } else if (scenario == "join-leave") {
    o.scenario = Scenario::kJoinLeave;
  } else if (scenario == "rolling-restart") {
    o.scenario = Scenario::kRollingRestart;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown scenario \"", scenario, "\""));
  }
  std::string bootstrap;
  if (const char* env = std::getenv("KGW_KAFKA_BOOTSTRAP")) bootstrap = env;
  std::string cluster_id;
  bool no_stored = false;
  std::string key_file;
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--json") {
      f.json = true;
      continue;
    }
    if (flag == "--verbose") {
      f.verbose = true;
      continue;
    }
    if (flag == "--no-stored-assignment") {
      no_stored = true;
      continue;
    }
    if (flag == "--no-heartbeat-now") {
      o.fleet.heartbeat_now = false;
      continue;
    }
    if (flag == "--shared-connections") {
      o.fleet.own_connections = false;
      continue;
    }
    if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat(flag, " needs a value"));
    const std::string value = argv[++i];
    const auto duration = [&](absl::Duration& d) {
      if (!absl::ParseDuration(value, &d) || d <= absl::ZeroDuration()) {
        return absl::InvalidArgumentError(absl::StrCat(flag, ": \"", value,
                                                       "\" is not a positive duration"));
      }
      return absl::OkStatus();
    };
    const auto count = [&](int& n, int min) {
      if (!absl::SimpleAtoi(value, &n) || n < min) {
        return absl::InvalidArgumentError(
            absl::StrCat(flag, ": \"", value, "\" is not a number of at least ", min));
      }
      return absl::OkStatus();
    };
    absl::Status s;
    if (flag == "--bootstrap") {
      bootstrap = value;
    } else if (flag == "--cluster-id") {
      cluster_id = value;
    } else if (flag == "--cluster-key-file") {
      key_file = value;
    } else if (flag == "--group-id") {
      o.fleet.group_id = value;
    } else if (flag == "--agents") {
      s = count(o.agents, 1);
    } else if (flag == "--sidecars") {
      s = count(o.sidecars, 0);
    } else if (flag == "--coordinators") {
      o.fleet.coordinators = absl::StrSplit(value, ',', absl::SkipEmpty());
    } else if (flag == "--racks") {
      o.fleet.racks = absl::StrSplit(value, ',', absl::SkipEmpty());
      if (o.fleet.racks.empty()) s = absl::InvalidArgumentError("--racks: no rack");
    } else if (flag == "--prefix") {
      o.fleet.node_id_prefix = value;
    } else if (flag == "--session-timeout") {
      s = duration(o.fleet.session_timeout);
    } else if (flag == "--heartbeat-interval") {
      s = duration(o.fleet.heartbeat_interval);
    } else if (flag == "--report-interval") {
      s = duration(o.fleet.report_interval);
    } else if (flag == "--changes") {
      s = count(o.changes, 1);
    } else if (flag == "--pause") {
      s = duration(o.pause);
    } else if (flag == "--hold") {
      s = duration(o.hold);
    } else if (flag == "--timeout") {
      s = duration(o.wait_timeout);
    } else if (flag == "--coordinator-pids") {
      for (absl::string_view p : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        int pid;
        if (!absl::SimpleAtoi(p, &pid) || pid <= 0) {
          return absl::InvalidArgumentError(absl::StrCat("--coordinator-pids: \"", p,
                                                         "\" is not a pid"));
        }
        o.coordinator_pids.push_back(pid);
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown option ", flag));
    }
    if (!s.ok()) return s;
  }
  if (bootstrap.empty()) {
    return absl::InvalidArgumentError("--bootstrap (or KGW_KAFKA_BOOTSTRAP) is required");
  }
  for (absl::string_view hp : absl::StrSplit(bootstrap, ',', absl::SkipEmpty())) {
    const size_t colon = hp.rfind(':');
    int port = 0;
    if (colon == absl::string_view::npos || !absl::SimpleAtoi(hp.substr(colon + 1), &port) ||
        port < 1 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("--bootstrap: \"", hp,
                                                     "\" is not host:port"));
    }
    o.fleet.bootstrap.push_back(kgw::config::SplitHostPort(hp));
  }
  if (!key_file.empty()) {
    if (cluster_id.empty()) {
      return absl::InvalidArgumentError("--cluster-key-file needs --cluster-id");
    }
    absl::StatusOr<std::shared_ptr<kgw::control::ClusterKey>> key =
        kgw::control::ClusterKey::FromFile(cluster_id, key_file);
    if (!key.ok()) return key.status();
    o.fleet.key = *std::move(key);
  }
  if (o.sidecars > 0 && o.fleet.coordinators.empty()) {
    return absl::InvalidArgumentError(
        "--sidecars needs --coordinators: sidecars do not read the group to find them");
  }
  if (o.fleet.group_id.empty()) {
    if (cluster_id.empty()) {
      return absl::InvalidArgumentError("--cluster-id or --group-id is required");
    }
    o.fleet.group_id = absl::StrCat("kgw_", cluster_id);
  }
  // As config::InternalTopic names it; without a cluster id agents wait for
  // the group to name the coordinators.
  if (!cluster_id.empty() && !no_stored) {
    o.fleet.assignments_topic = absl::StrCat("_kgw_", cluster_id, "_assignments");
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout << kUsage;
    return 0;
  }
  absl::StatusOr<Flags> flags = ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::cerr << "kgw-fleet-sim: " << flags.status().message() << "\n\n" << kUsage;
    return 2;
  }
  FLAGS_logtostderr = true;
  // A thousand agents say the same thing a thousand times at INFO.
  FLAGS_minloglevel = flags->verbose ? google::GLOG_INFO : google::GLOG_WARNING;
  google::InitGoogleLogging(argv[0]);

  const kgw::fleet_sim::Results results = kgw::fleet_sim::Run(flags->scenario);
  const std::string table = kgw::fleet_sim::FormatTable(results);
  if (flags->json) {
    std::cerr << table;
    std::cout << kgw::fleet_sim::FormatJson(results);
  } else {
    std::cout << table;
  }
  return results.ok() ? 0 : 1;
}
