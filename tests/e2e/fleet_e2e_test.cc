// The control plane with a hundred agents, against the real test cluster: two
// kgw-coordinators (gRPC 21901/21902 on 127.0.0.1) and 100 simulated agents in
// this process (tools/fleet_sim: each agent's real GroupMember and
// CoordinatorClient, without a data path) form one gateway cluster, session
// timeout 6 s. In order:
//
// (a) every agent holds an assignment of the leading coordinator naming all
//     100 agents, and `kgwctl status` counts 100 agents;
// (b) the leader serves the 100 streams with at most 64 threads;
// (c) an agent that shuts down cleanly (draining descriptor) is gone from
//     every other agent's assignment within 5 s, without a rebalance, and
//     the streams carried it as deltas, not as whole assignments;
// (d) when the group drops that agent, the coordinators tell every agent
//     on its stream to heartbeat now;
// (e) after SIGKILL of the leader, every remaining agent holds an assignment
//     of the other coordinator, of a higher epoch, naming exactly the live
//     agents, within session timeout + 30 s.
//
// The tests share the processes and the fleet and run in order; each prints
// what it measured.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/testing/wait_for.h"
#include "glog/logging.h"
#include "gtest/gtest.h"
#include "tests/e2e/process_util.h"
#include "tools/fleet_sim/fleet_sim.h"

namespace kgw::test {
namespace {

using ::kgw::fleet_sim::AgentReport;
using ::kgw::fleet_sim::EveryRunningAgentHolds;
using ::kgw::fleet_sim::Fleet;
using ::kgw::fleet_sim::HeldAssignment;
using ::kgw::fleet_sim::RunningNodeIds;
using ::kgw::fleet_sim::StopMode;
using ::kgw::testing::WaitFor;
using std::chrono::seconds;

// Six seconds is the brokers' smallest allowed group session timeout.
constexpr int kSessionTimeoutSeconds = 6;
constexpr int kAgents = 100;
constexpr int kMaxLeaderThreads = 64;
constexpr int kLeavingAgent = 42;
constexpr char kLeader[] = "fleet-coord-1";
constexpr char kFollower[] = "fleet-coord-2";

struct Env {
  std::string coordinator_bin = EnvOr("KGW_COORDINATOR_BIN", "");
  std::string kgwctl_bin = EnvOr("KGWCTL_BIN", "");
  std::string kafka_bootstrap = EnvOr("KGW_KAFKA_BOOTSTRAP", "");
  // One gateway cluster per run: its own group and assignments topic.
  std::string cluster_id = absl::StrCat("fleet-e2e-", getpid());
  std::string work_dir;
};

Env& E() {
  static Env* env = new Env;
  return *env;
}

struct Coordinator {
  std::string node_id;
  int grpc_port = 0;
  int http_port = 0;
  std::unique_ptr<Child> process;
  std::string endpoint() const { return absl::StrCat("127.0.0.1:", grpc_port); }
};

void StartCoordinator(Coordinator& c) {
  const std::map<std::string, std::string> env = {
      {"KAFKA_BOOTSTRAP_SERVERS", E().kafka_bootstrap},
      {"GATEWAY_CLUSTER_ID", E().cluster_id},
      {"GATEWAY_NODE_ID", c.node_id},
      {"GATEWAY_ADVERTISED_HOST", "127.0.0.1"},
      {"GATEWAY_GRPC_BIND_HOST", "127.0.0.1"},
      {"GATEWAY_GRPC_PORT", std::to_string(c.grpc_port)},
      {"GATEWAY_HTTP_PORT", std::to_string(c.http_port)},
      {"GATEWAY_GROUP_SESSION_TIMEOUT", absl::StrCat(kSessionTimeoutSeconds, "s")},
      {"GATEWAY_GROUP_HEARTBEAT_INTERVAL", "500ms"}};
  c.process = std::make_unique<Child>(std::vector<std::string>{E().coordinator_bin}, env,
                                      absl::StrCat(E().work_dir, "/", c.node_id, ".log"));
  ASSERT_TRUE(WaitReady(*c.process, "127.0.0.1", c.http_port, seconds(60)))
      << c.node_id << " never became ready:\n" << c.process->Log();
}

// The value after "<key>:" in `kgwctl status`; empty when there is none.
std::string KgwctlStatus(const Coordinator& c, absl::string_view key) {
  auto [rc, out] = Shell(absl::StrCat(E().kgwctl_bin, " --coordinator ", c.endpoint(),
                                      " --timeout 3s status"));
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    line = absl::StripLeadingAsciiWhitespace(line);
    if (absl::ConsumePrefix(&line, key) && absl::ConsumePrefix(&line, ":")) {
      return std::string(absl::StripAsciiWhitespace(line));
    }
  }
  return "";
}

// Threads and VmRSS (kB) from /proc/<pid>/status.
std::pair<int, int64_t> ThreadsAndRss(pid_t pid) {
  int threads = 0;
  int64_t rss = 0;
  for (absl::string_view line :
       absl::StrSplit(ReadFile(absl::StrCat("/proc/", pid, "/status")), '\n')) {
    if (absl::ConsumePrefix(&line, "Threads:")) {
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &threads);
    } else if (absl::ConsumePrefix(&line, "VmRSS:")) {
      line = absl::StripAsciiWhitespace(line);
      (void)absl::SimpleAtoi(line.substr(0, line.find(' ')), &rss);
    }
  }
  return {threads, rss};
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// What the running agents hold, for failure messages: each distinct
// assignment with how many agents hold it.
std::string Holdings(const std::vector<AgentReport>& reports) {
  std::map<std::string, int> seen;
  for (const AgentReport& r : reports) {
    if (!r.running) continue;
    const HeldAssignment* a = r.assignment.get();
    ++seen[a == nullptr ? std::string("nothing")
                        : absl::StrCat("epoch ", a->epoch, " generation ", a->generation_id,
                                       " revision ", a->revision, " by ", a->leader_node_id,
                                       " naming ", a->agents.size(), " agents")];
  }
  return absl::StrJoin(seen, "; ", [](std::string* out, const auto& e) {
    absl::StrAppend(out, e.second, " agents hold ", e.first);
  });
}

class FleetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_FALSE(E().coordinator_bin.empty()) << "KGW_COORDINATOR_BIN is not set";
    ASSERT_FALSE(E().kgwctl_bin.empty()) << "KGWCTL_BIN is not set";
    ASSERT_FALSE(E().kafka_bootstrap.empty())
        << "KGW_KAFKA_BOOTSTRAP is not set: start tests/kafka/kafka-cluster.sh and source its "
           "cluster.env";
    // A hundred agents log every generation and stream at INFO.
    FLAGS_minloglevel = google::GLOG_WARNING;
    char dir[] = "/tmp/kgw-fleet-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    E().work_dir = dir;
    coordinators_ = new std::vector<Coordinator>(2);
    coordinator(0) = {kLeader, 21901, 21811, nullptr};
    coordinator(1) = {kFollower, 21902, 21812, nullptr};
    for (Coordinator& c : *coordinators_) StartCoordinator(c);

    fleet_sim::FleetOptions options{
        .group_id = absl::StrCat("kgw_", E().cluster_id),
        .node_id_prefix = "fleet-agent-",
        .session_timeout = absl::Seconds(kSessionTimeoutSeconds),
        .heartbeat_interval = absl::Milliseconds(500),
        .report_interval = absl::Seconds(1)};
    for (absl::string_view hp : absl::StrSplit(E().kafka_bootstrap, ',', absl::SkipEmpty())) {
      options.bootstrap.push_back(config::SplitHostPort(hp));
    }
    fleet_ = new Fleet(std::move(options), kAgents);
  }

  static void TearDownTestSuite() {
    // The fleet first, so no agent streams while the coordinators stop.
    delete fleet_;
    fleet_ = nullptr;
    if (coordinators_ == nullptr) return;
    for (Coordinator& c : *coordinators_) {
      if (c.process && c.process->running()) {
        c.process->Signal(SIGTERM);
        EXPECT_EQ(c.process->Wait(seconds(30)), 0) << c.node_id << " did not stop cleanly";
      }
    }
    delete coordinators_;
    coordinators_ = nullptr;
  }

  static Coordinator& coordinator(int i) { return (*coordinators_)[i]; }

  static std::vector<Coordinator>* coordinators_;
  static Fleet* fleet_;
  // Set by each step that passed; the next one needs it.
  static bool converged_;
  static bool left_;
};

std::vector<Coordinator>* FleetTest::coordinators_ = nullptr;
Fleet* FleetTest::fleet_ = nullptr;
bool FleetTest::converged_ = false;
bool FleetTest::left_ = false;

TEST_F(FleetTest, EveryAgentHoldsTheLeadersAssignmentNamingAllHundredAgents) {
  std::vector<std::string> everyone;
  for (int i = 0; i < kAgents; ++i) everyone.push_back(fleet_->NodeId(i));
  std::sort(everyone.begin(), everyone.end());

  const absl::Time start = absl::Now();
  fleet_->StartAll();
  std::vector<AgentReport> reports;
  std::optional<absl::Duration> all_streaming;
  ASSERT_TRUE(WaitFor(
      [&] {
        reports = fleet_->Reports();
        if (!all_streaming && std::all_of(reports.begin(), reports.end(), [](const auto& r) {
              return !r.streaming_from.empty();
            })) {
          all_streaming = absl::Now() - start;
        }
        return EveryRunningAgentHolds(reports, [&](const HeldAssignment& a) {
          return a.leader_node_id == kLeader && a.agents == everyone;
        });
      },
      seconds(60)))
      << Holdings(reports);
  const absl::Duration converged = absl::Now() - start;
  std::set<int32_t> generations;
  for (const AgentReport& r : reports) {
    generations.insert(r.generations.begin(), r.generations.end());
  }
  std::cout << "every agent streaming after " << (all_streaming ? Ms(*all_streaming) : -1)
            << " ms; every agent holds " << kLeader << "'s assignment naming all " << kAgents
            << " agents after " << Ms(converged) << " ms (" << generations.size()
            << " group generations seen, one assignment is " << reports[0].last_bytes
            << " bytes)" << std::endl;

  std::string agents, leader;
  EXPECT_TRUE(WaitFor(
      [&] {
        agents = KgwctlStatus(coordinator(0), "Agents");
        leader = KgwctlStatus(coordinator(0), "Leader");
        return agents == absl::StrCat(kAgents) && leader == kLeader;
      },
      seconds(20)))
      << "kgwctl status: Agents " << agents << ", Leader " << leader;
  converged_ = !HasFailure();
}

TEST_F(FleetTest, TheLeaderServesAHundredStreamsWithAtMost64Threads) {
  ASSERT_TRUE(converged_) << "needs the converged fleet of the previous test";
  const std::string leader = coordinator(0).endpoint();
  std::vector<AgentReport> reports;
  ASSERT_TRUE(WaitFor(
      [&] {
        reports = fleet_->Reports();
        return std::all_of(reports.begin(), reports.end(),
                           [&](const AgentReport& r) { return r.streaming_from == leader; });
      },
      seconds(30)))
      << "not every agent streams from " << leader;
  int max_threads = 0;
  int64_t max_rss = 0;
  for (int i = 0; i < 10; ++i) {
    const auto [threads, rss] = ThreadsAndRss(coordinator(0).process->pid());
    max_threads = std::max(max_threads, threads);
    max_rss = std::max(max_rss, rss);
    absl::SleepFor(absl::Milliseconds(100));
  }
  int connections = 0;
  for (int port : PeerPortsOf(getpid())) connections += port == coordinator(0).grpc_port;
  std::cout << kLeader << " serves " << kAgents << " agent streams (over " << connections
            << " TCP connections from this process) with " << max_threads << " threads, RSS "
            << max_rss / 1024 << " MiB" << std::endl;
  EXPECT_GT(max_threads, 0);
  EXPECT_LE(max_threads, kMaxLeaderThreads);
}

TEST_F(FleetTest, ACleanlyStoppedAgentLeavesEveryAssignmentWithinFiveSecondsWithoutARebalance) {
  ASSERT_TRUE(converged_) << "needs the converged fleet of the first test";
  const std::string leaving = fleet_->NodeId(kLeavingAgent);
  const std::vector<AgentReport> before = fleet_->Reports();
  ASSERT_TRUE(before[0].assignment);
  const int32_t generation = before[0].assignment->generation_id;
  ASSERT_TRUE(EveryRunningAgentHolds(before, [&](const HeldAssignment& a) {
    return a.generation_id == generation && a.Names(leaving);
  })) << Holdings(before);

  const absl::Time start = absl::Now();
  EXPECT_TRUE(fleet_->Stop(kLeavingAgent, StopMode::kShutdown))
      << "the draining descriptor was not written within 1 s";
  const absl::Duration stopped = absl::Now() - start;
  std::vector<AgentReport> after;
  ASSERT_TRUE(WaitFor(
      [&] {
        after = fleet_->Reports();
        return absl::Now() - start <= absl::Seconds(5) &&
               EveryRunningAgentHolds(after,
                                      [&](const HeldAssignment& a) { return !a.Names(leaving); });
      },
      absl::Seconds(5) - stopped))
      << leaving << " is still named 5 s after its clean shutdown: " << Holdings(after);
  const absl::Duration gone = absl::Now() - start;
  std::cout << leaving << " shut down cleanly (descriptor written after " << Ms(stopped)
            << " ms) and is in no agent's assignment after " << Ms(gone) << " ms" << std::endl;

  // It reached them as deltas: the streams carried a few hundred bytes per
  // agent, not the whole assignment (which names all hundred agents).
  const int64_t streamed = TotalBytes(after) - TotalBytes(before);
  const int64_t whole = before[0].last_bytes;
  std::cout << "the leave cost " << streamed << " bytes on " << kAgents - 1
            << " streams (the whole assignment is " << whole << " bytes)" << std::endl;
  EXPECT_GT(streamed, 0);
  EXPECT_LT(streamed, (kAgents - 1) * whole / 4)
      << "the leave was streamed as whole assignments, not as deltas";

  // No rebalance: the same generation, in the assignments and in every view.
  EXPECT_TRUE(EveryRunningAgentHolds(
      after, [&](const HeldAssignment& a) { return a.generation_id == generation; }))
      << Holdings(after);
  for (size_t i = 0; i < after.size(); ++i) {
    if (!after[i].running) continue;
    EXPECT_EQ(after[i].generations, before[i].generations)
        << after[i].node_id << " saw a new group generation";
  }
  // A rebalance (a LeaveGroup, say) would reach every agent within a few
  // heartbeats; the group may drop the agent only once the session timeout
  // has passed. So no agent may see a new generation until half of it.
  const absl::Time watch_until = start + absl::Seconds(kSessionTimeoutSeconds) / 2;
  std::string changed;
  EXPECT_FALSE(WaitFor(
      [&] {
        for (const AgentReport& r : fleet_->Reports()) {
          if (r.running && r.generations != before[r.index].generations) {
            changed = r.node_id;
            return true;
          }
        }
        return false;
      },
      watch_until - absl::Now()))
      << changed << " saw a new group generation within "
      << absl::FormatDuration(watch_until - start) << " of the clean shutdown";
  std::cout << "no agent saw a new group generation in the "
            << absl::FormatDuration(watch_until - start) << " after the shutdown" << std::endl;
  left_ = !HasFailure();
}

// The group drops the agent stopped above one session timeout after its last
// heartbeat, which is a rebalance. The coordinators, heartbeating four times
// as often as agents, notice it first and tell every agent on its stream to
// heartbeat now, so the rebalance does not wait for each agent's next
// heartbeat.
TEST_F(FleetTest, TheCoordinatorsTellEveryAgentToRejoinWhenTheGroupRebalances) {
  ASSERT_TRUE(converged_ && left_) << "needs the fleet of the previous tests";
  const std::vector<AgentReport> before = fleet_->Reports();
  int32_t generation = -1;
  for (const AgentReport& r : before) {
    if (r.running) generation = std::max(generation, r.generation_id);
  }
  const absl::Time start = absl::Now();
  std::vector<AgentReport> after;
  ASSERT_TRUE(WaitFor(
      [&] {
        after = fleet_->Reports();
        for (const AgentReport& r : after) {
          if (r.running && r.generation_id <= generation) return false;
        }
        return true;
      },
      absl::Seconds(kSessionTimeoutSeconds + 30)))
      << "no new group generation after generation " << generation;
  std::cout << "the group rebalanced (generation " << after[0].generation_id << ") "
            << Ms(absl::Now() - start) << " ms after the previous test ended" << std::endl;
  int told = 0;
  for (const AgentReport& r : after) {
    if (!r.running) continue;
    EXPECT_GT(r.heartbeat_nows, before[r.index].heartbeat_nows)
        << r.node_id << " was not told to heartbeat now";
    told += r.heartbeat_nows > before[r.index].heartbeat_nows ? 1 : 0;
  }
  std::cout << told << " agents were told to heartbeat now" << std::endl;
}

TEST_F(FleetTest, AgentsFollowTheOtherCoordinatorWithinTheSessionTimeoutWhenTheLeaderIsKilled) {
  ASSERT_TRUE(converged_ && left_) << "needs the fleet of the previous tests";
  const std::vector<AgentReport> before = fleet_->Reports();
  int64_t epoch = 0;
  for (const AgentReport& r : before) {
    if (r.running && r.assignment) epoch = std::max(epoch, r.assignment->epoch);
  }
  const std::vector<std::string> live = RunningNodeIds(before);
  ASSERT_EQ(live.size(), static_cast<size_t>(kAgents - 1));

  coordinator(0).process->Signal(SIGKILL);
  const absl::Time start = absl::Now();
  ASSERT_TRUE(coordinator(0).process->Wait(seconds(10)).has_value());
  const std::string follower = coordinator(1).endpoint();
  std::optional<absl::Duration> all_streaming;
  std::vector<AgentReport> reports;
  ASSERT_TRUE(WaitFor(
      [&] {
        reports = fleet_->Reports();
        if (!all_streaming &&
            std::all_of(reports.begin(), reports.end(), [&](const AgentReport& r) {
              return !r.running || r.streaming_from == follower;
            })) {
          all_streaming = absl::Now() - start;
        }
        return EveryRunningAgentHolds(reports, [&](const HeldAssignment& a) {
          return a.leader_node_id == kFollower && a.epoch > epoch && a.agents == live;
        });
      },
      seconds(kSessionTimeoutSeconds + 30)))
      << Holdings(reports);
  const absl::Duration took = absl::Now() - start;
  std::set<int32_t> generations_before, generations_after;
  for (const AgentReport& r : before) {
    generations_before.insert(r.generations.begin(), r.generations.end());
  }
  for (const AgentReport& r : reports) {
    generations_after.insert(r.generations.begin(), r.generations.end());
  }
  std::cout << "after SIGKILL of " << kLeader << ": every agent streams from " << kFollower
            << " after " << (all_streaming ? Ms(*all_streaming) : -1) << " ms and holds its "
            << "assignment (epoch above " << epoch << ", naming the " << live.size()
            << " live agents) after " << Ms(took) << " ms; "
            << generations_after.size() - generations_before.size()
            << " new group generations" << std::endl;
}

}  // namespace
}  // namespace kgw::test
