#include "tools/fleet_sim/scenarios.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "kgw/v1/admin.grpc.pb.h"

namespace kgw::fleet_sim {
namespace {

constexpr absl::Duration kPoll = absl::Milliseconds(50);
constexpr absl::Duration kSamplePeriod = absl::Milliseconds(250);
constexpr absl::Duration kStaleSample = absl::Milliseconds(100);
// Bytes of a step are counted until no agent has received anything for this long.
constexpr absl::Duration kQuiet = absl::Seconds(1);
constexpr absl::Duration kMaxQuietWait = absl::Seconds(15);
// Asking the leader which sidecars it lists (a whole ListNodes each time).
constexpr absl::Duration kListPoll = absl::Milliseconds(100);
constexpr absl::Duration kListDeadline = absl::Seconds(2);

// ---------------------------------------------------------------- /proc ---

struct ProcSample {
  int threads = 0;
  int64_t rss_kb = 0;
  int64_t cpu_ticks = 0;
};

// Threads and VmRSS from /proc/<pid>/status, utime + stime from
// /proc/<pid>/stat; nullopt once the process is gone.
std::optional<ProcSample> SampleProcess(pid_t pid) {
  ProcSample s;
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  if (!status) return std::nullopt;
  for (std::string line; std::getline(status, line);) {
    absl::string_view v = line;
    if (absl::ConsumePrefix(&v, "Threads:")) {
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(v), &s.threads);
    } else if (absl::ConsumePrefix(&v, "VmRSS:")) {
      v = absl::StripAsciiWhitespace(v);
      (void)absl::SimpleAtoi(v.substr(0, v.find(' ')), &s.rss_kb);
    }
  }
  std::ifstream stat_file(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat;
  if (!std::getline(stat_file, stat)) return std::nullopt;
  // The command name may hold spaces; the fields after it do not.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(close + 1), ' ', absl::SkipEmpty());
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  int64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return std::nullopt;
  }
  s.cpu_ticks = utime + stime;
  return s;
}

// Samples processes on a thread of its own until Finish.
class ProcSampler {
 public:
  explicit ProcSampler(std::vector<ProcessUsage> processes) : usage_(std::move(processes)) {
    first_ticks_.resize(usage_.size(), -1);
    last_ticks_.resize(usage_.size(), -1);
    SampleAll();
    thread_ = std::thread([this] {
      while (!stop_) {
        for (absl::Duration slept; slept < kSamplePeriod && !stop_; slept += kPoll) {
          absl::SleepFor(kPoll);
        }
        SampleAll();
      }
    });
  }
  ~ProcSampler() { Finish(); }

  std::vector<ProcessUsage> Finish() {
    if (thread_.joinable()) {
      stop_ = true;
      thread_.join();
      SampleAll();
      const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
      for (size_t i = 0; i < usage_.size(); ++i) {
        if (first_ticks_[i] >= 0) {
          usage_[i].cpu_seconds = static_cast<double>(last_ticks_[i] - first_ticks_[i]) / hz;
        }
      }
    }
    return usage_;
  }

 private:
  void SampleAll() {
    for (size_t i = 0; i < usage_.size(); ++i) {
      if (usage_[i].gone) continue;
      std::optional<ProcSample> s = SampleProcess(usage_[i].pid);
      if (!s) {
        usage_[i].gone = true;
        continue;
      }
      usage_[i].max_threads = std::max(usage_[i].max_threads, s->threads);
      usage_[i].max_rss_kb = std::max(usage_[i].max_rss_kb, s->rss_kb);
      if (first_ticks_[i] < 0) first_ticks_[i] = s->cpu_ticks;
      last_ticks_[i] = s->cpu_ticks;
    }
  }

  std::vector<ProcessUsage> usage_;
  std::vector<int64_t> first_ticks_;
  std::vector<int64_t> last_ticks_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// ------------------------------------------------------------- waiting ---

using Pred = std::function<bool(const std::vector<AgentReport>&)>;

// Polls the fleet until `pred` holds; the time since `since`, or nullopt
// when `timeout` ran out first.
std::optional<absl::Duration> WaitUntil(const Fleet& fleet, absl::Time since,
                                        absl::Duration timeout, const Pred& pred) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (pred(fleet.Reports())) return absl::Now() - since;
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(kPoll);
  }
}

int64_t TotalAssignments(const std::vector<AgentReport>& reports) {
  int64_t total = 0;
  for (const AgentReport& r : reports) total += r.assignments;
  return total;
}

std::set<int32_t> Generations(const std::vector<AgentReport>& reports) {
  std::set<int32_t> all;
  for (const AgentReport& r : reports) all.insert(r.generations.begin(), r.generations.end());
  return all;
}

int32_t NewestGeneration(const std::vector<AgentReport>& reports) {
  int32_t newest = -1;
  for (const AgentReport& r : reports) newest = std::max(newest, r.generation_id);
  return newest;
}

// Waits until no agent has received an assignment for kQuiet (at most
// kMaxQuietWait) and returns the reports then.
std::vector<AgentReport> WaitQuiet(const Fleet& fleet) {
  const absl::Time give_up = absl::Now() + kMaxQuietWait;
  std::vector<AgentReport> reports = fleet.Reports();
  int64_t seen = TotalAssignments(reports);
  absl::Time last_change = absl::Now();
  while (absl::Now() < give_up && absl::Now() - last_change < kQuiet) {
    absl::SleepFor(kPoll);
    reports = fleet.Reports();
    if (const int64_t n = TotalAssignments(reports); n != seen) {
      seen = n;
      last_change = absl::Now();
    }
  }
  return reports;
}

// A step's totals: what the agents received between two sets of reports.
void Account(const std::vector<AgentReport>& before, const std::vector<AgentReport>& after,
             StepResult& step) {
  step.bytes = TotalBytes(after) - TotalBytes(before);
  step.assignments = TotalAssignments(after) - TotalAssignments(before);
  step.kafka_bytes = TotalKafkaMembershipBytes(after) - TotalKafkaMembershipBytes(before);
  step.kafka_heartbeat_bytes =
      TotalKafkaHeartbeatBytes(after) - TotalKafkaHeartbeatBytes(before);
  step.new_generation = Generations(after) != Generations(before);
}

void Progress(const std::string& line) { std::cerr << line << std::endl; }

std::string Ms(const std::optional<absl::Duration>& d) {
  return d ? absl::StrFormat("%.0f", absl::ToDoubleMilliseconds(*d)) : std::string("timeout");
}

// The sidecars the leading coordinator lists, asked as `kgwctl nodes` asks:
// ListNodes on a coordinator, which forwards to the leader.
class SidecarListing {
 public:
  explicit SidecarListing(const std::string& endpoint)
      : stub_(v1::Admin::NewStub(
            grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()))) {}

  // Node ids of the listed sidecars; nullopt (and `error` set) when the
  // coordinator did not answer.
  std::optional<std::set<std::string>> Sidecars() {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kListDeadline));
    v1::ListNodesResponse response;
    const grpc::Status status = stub_->ListNodes(&context, v1::ListNodesRequest(), &response);
    if (!status.ok()) {
      error = absl::StrCat(" (ListNodes: ", status.error_message(), ")");
      return std::nullopt;
    }
    std::set<std::string> ids;
    for (const v1::NodeStatus& n : response.nodes()) {
      if (n.node().role() == v1::NodeDescriptor::ROLE_SIDECAR) ids.insert(n.node().node_id());
    }
    error.clear();
    return ids;
  }

  // Polls until `pred` holds for the listed sidecars; the time since
  // `since`, or nullopt when `timeout` ran out first.
  std::optional<absl::Duration> WaitUntil(absl::Time since, absl::Duration timeout,
                                          const std::function<bool(const std::set<std::string>&)>&
                                              pred) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      if (std::optional<std::set<std::string>> ids = Sidecars(); ids && pred(*ids)) {
        return absl::Now() - since;
      }
      if (absl::Now() >= deadline) return std::nullopt;
      absl::SleepFor(kListPoll);
    }
  }

  // Why the last ListNodes failed, as " (...)"; empty when it answered.
  std::string error;

 private:
  std::unique_ptr<v1::Admin::Stub> stub_;
};

// ----------------------------------------------------------- scenarios ---

void Converge(const ScenarioOptions& o, Fleet& fleet, Results& results) {
  std::vector<std::string> everyone;
  for (int i = 0; i < o.agents; ++i) everyone.push_back(fleet.NodeId(i));
  std::sort(everyone.begin(), everyone.end());
  Progress(absl::StrCat("starting ", o.agents, " agents"));
  ConvergeResult& c = results.converge;
  const absl::Time start = absl::Now();
  fleet.StartAll();
  const absl::Time deadline = start + o.wait_timeout;
  std::vector<AgentReport> reports;
  while (true) {
    reports = fleet.Reports();
    const absl::Duration elapsed = absl::Now() - start;
    if (!c.all_streaming &&
        std::all_of(reports.begin(), reports.end(),
                    [](const AgentReport& r) { return r.sidecar || !r.streaming_from.empty(); })) {
      c.all_streaming = elapsed;
    }
    if (EveryRunningAgentHolds(reports, [&](const HeldAssignment& a) {
          return std::includes(a.agents.begin(), a.agents.end(), everyone.begin(),
                               everyone.end());
        })) {
      c.all_named = elapsed;
      break;
    }
    if (absl::Now() >= deadline) break;
    absl::SleepFor(kPoll);
  }
  if (!c.all_named) {
    int holding = 0;
    for (const AgentReport& r : reports) {
      holding += r.assignment && std::includes(r.assignment->agents.begin(),
                                               r.assignment->agents.end(), everyone.begin(),
                                               everyone.end());
    }
    results.failures.push_back(absl::StrCat(
        "converge: after ", absl::FormatDuration(o.wait_timeout), " only ", holding, " of ",
        o.agents, " agents held an assignment naming all of them"));
    return;
  }
  reports = WaitQuiet(fleet);
  c.generations = static_cast<int>(Generations(reports).size());
  c.assignments = TotalAssignments(reports);
  c.bytes = TotalBytes(reports);
  for (const AgentReport& r : reports) {
    c.last_assignment_bytes = std::max(c.last_assignment_bytes, r.last_bytes);
    if (r.assignment) c.leader = r.assignment->leader_node_id;
  }
  Progress(absl::StrCat("converged: every agent names all ", o.agents, " after ",
                        Ms(c.all_named), " ms (", c.generations, " generations seen)"));
  if (o.sidecars == 0) return;
  std::set<std::string> sidecars;
  for (const AgentReport& r : reports) {
    if (r.sidecar) sidecars.insert(r.node_id);
  }
  SidecarListing listing(o.fleet.coordinators.front());
  c.sidecars_listed = listing.WaitUntil(start, o.wait_timeout, [&](const auto& listed) {
    return std::includes(listed.begin(), listed.end(), sidecars.begin(), sidecars.end());
  });
  if (!c.sidecars_listed) {
    results.failures.push_back(absl::StrCat("converge: the leading coordinator did not list all ",
                                            o.sidecars, " sidecars", listing.error));
    return;
  }
  Progress(absl::StrCat("the leading coordinator lists all ", o.sidecars, " sidecars after ",
                        Ms(c.sidecars_listed), " ms"));
}

// One step from quiet streams: does `act`, times `wait` from then, and
// accounts what the agents received until their streams were quiet again.
void TimeStep(const Fleet& fleet, StepResult& step, const std::function<void()>& act,
              const std::function<std::optional<absl::Duration>(absl::Time)>& wait) {
  const std::vector<AgentReport> before = WaitQuiet(fleet);
  const absl::Time start = absl::Now();
  act();
  step.took = wait(start);
  Account(before, WaitQuiet(fleet), step);
}

// A sidecar joins and leaves K times; the leader must list it, then not.
void SidecarJoinLeave(const ScenarioOptions& o, Fleet& fleet, Results& results) {
  SidecarListing listing(o.fleet.coordinators.front());
  const auto listed_when = [&](bool listed, const std::string& id) {
    return [&listing, &o, listed, id](absl::Time start) {
      return listing.WaitUntil(start, o.wait_timeout,
                               [&](const auto& ids) { return ids.contains(id) == listed; });
    };
  };
  for (int k = 0; k < o.changes; ++k) {
    ChangeResult& change = results.sidecar_changes.emplace_back();
    const int index = fleet.AddSidecar();
    change.node_id = fleet.NodeId(index);
    const std::string id = change.node_id;
    TimeStep(fleet, change.join, [&] { fleet.Start(index); }, listed_when(true, id));
    if (!change.join.took) {
      results.failures.push_back(
          absl::StrCat("sidecar ", id, ": the leader did not list it", listing.error));
      return;
    }
    TimeStep(fleet, change.leave, [&] { fleet.Stop(index, StopMode::kShutdown); },
             listed_when(false, id));
    if (!change.leave.took) {
      results.failures.push_back(absl::StrCat("sidecar ", id, ": still listed after it stopped"));
      return;
    }
    Progress(absl::StrCat("sidecar change ", k + 1, "/", o.changes, " (", id, "): listed after ",
                          Ms(change.join.took), " ms, gone after ", Ms(change.leave.took),
                          " ms; the agents received ", change.join.bytes + change.leave.bytes,
                          " bytes"));
  }
}

void JoinLeave(const ScenarioOptions& o, Fleet& fleet, Results& results) {
  for (int k = 0; k < o.changes; ++k) {
    ChangeResult& change = results.changes.emplace_back();
    const int index = fleet.Add();
    change.node_id = fleet.NodeId(index);
    const std::string& id = change.node_id;

    std::vector<AgentReport> before = WaitQuiet(fleet);
    absl::Time start = absl::Now();
    fleet.Start(index);
    change.join.took = WaitUntil(fleet, start, o.wait_timeout, [&](const auto& reports) {
      return EveryRunningAgentHolds(reports, [&](const HeldAssignment& a) { return a.Names(id); });
    });
    std::vector<AgentReport> after = WaitQuiet(fleet);
    Account(before, after, change.join);
    if (!change.join.took) {
      results.failures.push_back(absl::StrCat("join of ", id, ": not every agent named it"));
      return;
    }

    before = after;
    const int32_t generation_at_leave = NewestGeneration(before);
    start = absl::Now();
    if (!fleet.Stop(index, StopMode::kShutdown)) {
      results.failures.push_back(
          absl::StrCat("leave of ", id, ": the draining descriptor was not written within 1 s"));
    }
    change.leave.took = WaitUntil(fleet, start, o.wait_timeout, [&](const auto& reports) {
      return EveryRunningAgentHolds(reports,
                                    [&](const HeldAssignment& a) { return !a.Names(id); });
    });
    after = WaitQuiet(fleet);
    Account(before, after, change.leave);
    if (!change.leave.took) {
      results.failures.push_back(absl::StrCat("leave of ", id, ": still named"));
      return;
    }

    // The group drops it after the session timeout: a rebalance, and an
    // assignment of the new generation. Measured from the shutdown.
    before = after;
    change.expiry.took = WaitUntil(
        fleet, start, o.fleet.session_timeout + o.wait_timeout, [&](const auto& reports) {
          return EveryRunningAgentHolds(reports, [&](const HeldAssignment& a) {
            return a.generation_id > generation_at_leave;
          });
        });
    after = WaitQuiet(fleet);
    Account(before, after, change.expiry);
    if (!change.expiry.took) {
      results.failures.push_back(
          absl::StrCat("expiry of ", id, ": no assignment of a newer generation arrived"));
      return;
    }
    Progress(absl::StrCat("change ", k + 1, "/", o.changes, " (", id, "): join ",
                          Ms(change.join.took), " ms, leave ", Ms(change.leave.took),
                          " ms, dropped by the group after ", Ms(change.expiry.took), " ms"));
  }
}

void RollingRestart(const ScenarioOptions& o, Fleet& fleet, Results& results) {
  RollingResult& rolling = results.rolling.emplace();
  const std::vector<AgentReport> initial = WaitQuiet(fleet);
  const std::set<int32_t> generations_before = Generations(initial);

  // Samples, for each live agent, how long it has held an assignment naming
  // a stopped agent without a break.
  std::atomic<bool> sampling{true};
  std::mutex stale_mu;
  absl::Duration longest;
  int over = 0;
  std::thread sampler([&] {
    std::map<int, absl::Time> stale_since;
    std::set<int> counted;  // stretches already counted as too long
    while (sampling) {
      const std::vector<AgentReport> reports = fleet.Reports();
      std::vector<std::string> stopped;
      for (int i = 0; i < o.agents && i < static_cast<int>(reports.size()); ++i) {
        if (!reports[i].running) stopped.push_back(reports[i].node_id);
      }
      const absl::Time now = absl::Now();
      std::lock_guard<std::mutex> lock(stale_mu);
      for (const AgentReport& r : reports) {
        bool stale = false;
        if (r.running && r.assignment) {
          for (const std::string& s : stopped) stale |= r.assignment->Names(s);
        }
        if (!stale) {
          stale_since.erase(r.index);
          counted.erase(r.index);
          continue;
        }
        const absl::Time since = stale_since.emplace(r.index, now).first->second;
        longest = std::max(longest, now - since);
        if (now - since > o.fleet.session_timeout && counted.insert(r.index).second) ++over;
      }
      absl::SleepFor(kStaleSample);
    }
  });

  const absl::Time start = absl::Now();
  for (int i = 0; i < o.agents; ++i) {
    const std::string id = fleet.NodeId(i);
    if (!fleet.Stop(i, StopMode::kShutdown)) {
      results.failures.push_back(
          absl::StrCat("restart of ", id, ": the draining descriptor was not written within 1 s"));
    }
    absl::SleepFor(o.pause);
    const absl::Time started = absl::Now();
    fleet.Start(i);
    std::optional<absl::Duration> rejoined =
        WaitUntil(fleet, started, o.wait_timeout, [&](const auto& reports) {
          return EveryRunningAgentHolds(reports,
                                        [&](const HeldAssignment& a) { return a.Names(id); });
        });
    if (!rejoined) {
      results.failures.push_back(absl::StrCat("restart of ", id, ": not named again"));
      break;
    }
    ++rolling.restarted;
    if (!rolling.slowest_rejoin || *rejoined > *rolling.slowest_rejoin) {
      rolling.slowest_rejoin = rejoined;
    }
    if ((i + 1) % 10 == 0 || i + 1 == o.agents) {
      Progress(absl::StrCat("restarted ", i + 1, "/", o.agents));
    }
  }
  rolling.total = absl::Now() - start;
  sampling = false;
  sampler.join();
  const std::vector<AgentReport> final_reports = WaitQuiet(fleet);
  std::set<int32_t> generations_after = Generations(final_reports);
  for (int32_t g : generations_before) generations_after.erase(g);
  rolling.rebalances = static_cast<int>(generations_after.size());
  rolling.bytes = TotalBytes(final_reports) - TotalBytes(initial);
  rolling.kafka_bytes =
      TotalKafkaMembershipBytes(final_reports) - TotalKafkaMembershipBytes(initial);
  rolling.longest_stale = longest;
  rolling.stale_over_session = over;
  if (over > 0) {
    results.failures.push_back(absl::StrCat(
        "rolling restart: ", over, " times a live agent held an assignment naming a stopped "
        "agent for longer than the session timeout (longest ",
        absl::FormatDuration(longest), ")"));
  }
}

// ---------------------------------------------------------- formatting ---

template <typename T>
T Percentile(std::vector<T> values, double p) {
  std::sort(values.begin(), values.end());
  const size_t i = static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(i, values.size() - 1)];
}

struct StepSummary {
  int measured = 0;
  double p50_ms = 0;
  double max_ms = 0;
  double mean_bytes = 0;
  double mean_kafka_bytes = 0;
  int rebalances = 0;
};

StepSummary Summarize(const std::vector<ChangeResult>& changes, StepResult ChangeResult::*step) {
  StepSummary s;
  std::vector<double> ms;
  double bytes = 0;
  double kafka_bytes = 0;
  for (const ChangeResult& c : changes) {
    const StepResult& r = c.*step;
    if (!r.took) continue;
    ms.push_back(absl::ToDoubleMilliseconds(*r.took));
    bytes += static_cast<double>(r.bytes);
    kafka_bytes += static_cast<double>(r.kafka_bytes);
    s.rebalances += r.new_generation ? 1 : 0;
  }
  s.measured = static_cast<int>(ms.size());
  if (ms.empty()) return s;
  s.p50_ms = Percentile(ms, 0.5);
  s.max_ms = *std::max_element(ms.begin(), ms.end());
  s.mean_bytes = bytes / static_cast<double>(ms.size());
  s.mean_kafka_bytes = kafka_bytes / static_cast<double>(ms.size());
  return s;
}

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string JsonMs(const std::optional<absl::Duration>& d) {
  return d ? absl::StrFormat("%.1f", absl::ToDoubleMilliseconds(*d)) : std::string("null");
}

std::string StepJson(const StepResult& s) {
  return absl::StrCat("{\"ms\":", JsonMs(s.took), ",\"bytes\":", s.bytes,
                      ",\"assignments\":", s.assignments, ",\"kafka_bytes\":", s.kafka_bytes,
                      ",\"kafka_heartbeat_bytes\":", s.kafka_heartbeat_bytes,
                      ",\"new_generation\":", s.new_generation ? "true" : "false", "}");
}

std::string SummaryJson(const StepSummary& s) {
  return absl::StrFormat(
      "{\"measured\":%d,\"p50_ms\":%.1f,\"max_ms\":%.1f,\"mean_bytes\":%.0f,"
      "\"mean_kafka_bytes\":%.0f,\"rebalances\":%d}",
      s.measured, s.p50_ms, s.max_ms, s.mean_bytes, s.mean_kafka_bytes, s.rebalances);
}

}  // namespace

absl::string_view ScenarioName(Scenario s) {
  switch (s) {
    case Scenario::kConverge: return "converge";
    case Scenario::kJoinLeave: return "join-leave";
    case Scenario::kRollingRestart: return "rolling-restart";
  }
  return "?";
}

Results Run(const ScenarioOptions& o) {
  Results results;
  results.options = o;
  std::vector<ProcessUsage> watched;
  for (pid_t pid : o.coordinator_pids) watched.push_back({.pid = pid, .role = "coordinator"});
  watched.push_back({.pid = getpid(), .role = "simulator"});
  ProcSampler sampler(std::move(watched));

  Fleet fleet(o.fleet, o.agents);
  for (int i = 0; i < o.sidecars; ++i) fleet.AddSidecar();
  Converge(o, fleet, results);
  if (results.ok()) {
    switch (o.scenario) {
      case Scenario::kConverge: break;
      case Scenario::kJoinLeave:
        JoinLeave(o, fleet, results);
        if (results.ok() && o.sidecars > 0) SidecarJoinLeave(o, fleet, results);
        break;
      case Scenario::kRollingRestart: RollingRestart(o, fleet, results); break;
    }
  }
  if (o.hold > absl::ZeroDuration()) {
    Progress(absl::StrCat("holding the agents for ", absl::FormatDuration(o.hold)));
    absl::SleepFor(o.hold);
  }
  Progress("stopping the agents");
  fleet.StopAll(StopMode::kCrash);
  results.processes = sampler.Finish();
  for (const AgentReport& r : fleet.Reports()) {
    results.refused += r.refused;
    results.fenced += r.fenced;
  }
  if (results.refused > 0) {
    results.failures.push_back(absl::StrCat(results.refused, " assignments were refused for "
                                            "want of a valid proof of the cluster key"));
  }
  if (results.fenced > 0) {
    results.failures.push_back(absl::StrCat(results.fenced, " times another node took an "
                                            "agent's place in the group (duplicate node ids?)"));
  }
  return results;
}

std::string FormatTable(const Results& r) {
  const ScenarioOptions& o = r.options;
  std::ostringstream out;
  out << "kgw-fleet-sim " << ScenarioName(o.scenario) << ": " << o.agents << " agents, "
      << o.sidecars << " sidecars, racks "
      << absl::StrJoin(o.fleet.racks, ",") << ", group " << o.fleet.group_id << ", session "
      << absl::FormatDuration(o.fleet.session_timeout) << ", heartbeat "
      << absl::FormatDuration(o.fleet.heartbeat_interval)
      << (o.fleet.heartbeat_now ? "" : " (heartbeat_now ignored)") << ", load reports every "
      << absl::FormatDuration(o.fleet.report_interval) << "\n\n";
  const ConvergeResult& c = r.converge;
  out << absl::StrFormat("converge\n");
  out << absl::StrFormat("  every agent streaming          %s ms\n", Ms(c.all_streaming));
  out << absl::StrFormat("  every agent names all %-6d   %s ms\n", o.agents, Ms(c.all_named));
  out << absl::StrFormat("  group generations seen         %d\n", c.generations);
  out << absl::StrFormat("  assignments received           %d (%.1f per agent), %d bytes\n",
                         c.assignments,
                         static_cast<double>(c.assignments) / std::max(1, o.agents), c.bytes);
  out << absl::StrFormat("  one assignment                 %d bytes (leader %s)\n",
                         c.last_assignment_bytes, c.leader);
  if (o.sidecars > 0) {
    out << absl::StrFormat("  %-30s %s ms\n",
                           absl::StrCat("leader lists all ", o.sidecars, " sidecars"),
                           Ms(c.sidecars_listed));
  }
  if (!r.changes.empty()) {
    out << "\njoin-leave (bytes: received by all agents for the step)\n";
    out << absl::StrFormat("  %-14s %9s %11s %4s %9s %11s %4s %10s %11s\n", "agent", "join ms",
                           "join bytes", "reb", "leave ms", "leave bytes", "reb", "expiry ms",
                           "expiry bytes");
    for (const ChangeResult& ch : r.changes) {
      out << absl::StrFormat("  %-14s %9s %11d %4s %9s %11d %4s %10s %11d\n", ch.node_id,
                             Ms(ch.join.took), ch.join.bytes, ch.join.new_generation ? "yes" : "no",
                             Ms(ch.leave.took), ch.leave.bytes,
                             ch.leave.new_generation ? "yes" : "no", Ms(ch.expiry.took),
                             ch.expiry.bytes);
    }
    const StepSummary join = Summarize(r.changes, &ChangeResult::join);
    const StepSummary leave = Summarize(r.changes, &ChangeResult::leave);
    const StepSummary expiry = Summarize(r.changes, &ChangeResult::expiry);
    const auto ms_row = [&](const char* name, double j, double l, double e) {
      out << absl::StrFormat("  %-14s %9.0f %11s %4s %9.0f %11s %4s %10.0f\n", name, j, "", "", l,
                             "", "", e);
    };
    ms_row("p50", join.p50_ms, leave.p50_ms, expiry.p50_ms);
    ms_row("max", join.max_ms, leave.max_ms, expiry.max_ms);
    out << absl::StrFormat("  %-14s %9s %11.0f %4d %9s %11.0f %4d %10s %11.0f\n", "mean / count",
                           "", join.mean_bytes, join.rebalances, "", leave.mean_bytes,
                           leave.rebalances, "", expiry.mean_bytes);
    out << absl::StrFormat("  %-14s %9s %11.0f %4s %9s %11.0f %4s %10s %11.0f\n",
                           "Kafka (mean)", "", join.mean_kafka_bytes, "", "",
                           leave.mean_kafka_bytes, "", "", expiry.mean_kafka_bytes);
    out << "  (Kafka: bytes all agents' group members exchanged with the brokers for the step, "
           "heartbeats aside)\n";
  }
  if (!r.sidecar_changes.empty()) {
    out << "\nsidecar join-leave (ms: until the leader lists it / no longer lists it; bytes: "
           "received by all agents)\n";
    out << absl::StrFormat("  %-22s %9s %11s %9s %11s\n", "sidecar", "join ms", "join bytes",
                           "leave ms", "leave bytes");
    for (const ChangeResult& ch : r.sidecar_changes) {
      out << absl::StrFormat("  %-22s %9s %11d %9s %11d\n", ch.node_id, Ms(ch.join.took),
                             ch.join.bytes, Ms(ch.leave.took), ch.leave.bytes);
    }
    const StepSummary join = Summarize(r.sidecar_changes, &ChangeResult::join);
    const StepSummary leave = Summarize(r.sidecar_changes, &ChangeResult::leave);
    out << absl::StrFormat("  %-22s %9.0f %11s %9.0f\n", "p50", join.p50_ms, "", leave.p50_ms);
    out << absl::StrFormat("  %-22s %9.0f %11s %9.0f\n", "max", join.max_ms, "", leave.max_ms);
  }
  if (r.rolling) {
    const RollingResult& ro = *r.rolling;
    out << "\nrolling-restart (clean shutdown, " << absl::FormatDuration(o.pause)
        << " down, next once every agent names it again)\n";
    out << absl::StrFormat("  agents restarted               %d in %.1f s\n", ro.restarted,
                           absl::ToDoubleSeconds(ro.total));
    out << absl::StrFormat("  rebalances (new generations)   %d\n", ro.rebalances);
    out << absl::StrFormat("  slowest: named again after     %s ms\n", Ms(ro.slowest_rejoin));
    out << absl::StrFormat("  longest a live agent named a stopped one  %.0f ms (%d over the "
                           "session timeout)\n",
                           absl::ToDoubleMilliseconds(ro.longest_stale), ro.stale_over_session);
    out << absl::StrFormat("  bytes received by all agents   %d\n", ro.bytes);
    out << absl::StrFormat("  Kafka bytes, heartbeats aside  %d\n", ro.kafka_bytes);
  }
  out << "\nprocesses (sampled every " << absl::FormatDuration(kSamplePeriod) << ")\n";
  out << absl::StrFormat("  %-12s %8s %12s %12s %10s\n", "role", "pid", "max threads",
                         "max RSS MiB", "CPU s");
  for (const ProcessUsage& p : r.processes) {
    out << absl::StrFormat("  %-12s %8d %12d %12.1f %10.2f%s\n", p.role, p.pid, p.max_threads,
                           static_cast<double>(p.max_rss_kb) / 1024, p.cpu_seconds,
                           p.gone ? " (ended)" : "");
  }
  out << "\n" << (r.ok() ? "OK" : "FAILED") << "\n";
  for (const std::string& f : r.failures) out << "  " << f << "\n";
  return out.str();
}

std::string FormatJson(const Results& r) {
  const ScenarioOptions& o = r.options;
  const ConvergeResult& c = r.converge;
  std::string out = absl::StrCat(
      "{\"scenario\":", JsonString(ScenarioName(o.scenario)), ",\"agents\":", o.agents,
      ",\"sidecars\":", o.sidecars,
      ",\"racks\":[",
      absl::StrJoin(o.fleet.racks, ",",
                    [](std::string* s, const std::string& rack) { s->append(JsonString(rack)); }),
      "],\"group_id\":", JsonString(o.fleet.group_id),
      ",\"session_timeout_ms\":", absl::ToInt64Milliseconds(o.fleet.session_timeout),
      ",\"heartbeat_interval_ms\":", absl::ToInt64Milliseconds(o.fleet.heartbeat_interval),
      ",\"heartbeat_now\":", o.fleet.heartbeat_now ? "true" : "false",
      ",\"report_interval_ms\":", absl::ToInt64Milliseconds(o.fleet.report_interval),
      ",\"converge\":{\"all_streaming_ms\":", JsonMs(c.all_streaming),
      ",\"all_named_ms\":", JsonMs(c.all_named), ",\"generations\":", c.generations,
      ",\"assignments\":", c.assignments, ",\"bytes\":", c.bytes,
      ",\"assignment_bytes\":", c.last_assignment_bytes, ",\"leader\":", JsonString(c.leader),
      ",\"sidecars_listed_ms\":", JsonMs(c.sidecars_listed), "}");
  if (o.scenario == Scenario::kJoinLeave) {
    absl::StrAppend(&out, ",\"changes\":[");
    for (size_t i = 0; i < r.changes.size(); ++i) {
      const ChangeResult& ch = r.changes[i];
      absl::StrAppend(&out, i ? "," : "", "{\"node_id\":", JsonString(ch.node_id),
                      ",\"join\":", StepJson(ch.join), ",\"leave\":", StepJson(ch.leave),
                      ",\"expiry\":", StepJson(ch.expiry), "}");
    }
    absl::StrAppend(&out, "],\"join\":", SummaryJson(Summarize(r.changes, &ChangeResult::join)),
                    ",\"leave\":", SummaryJson(Summarize(r.changes, &ChangeResult::leave)),
                    ",\"expiry\":", SummaryJson(Summarize(r.changes, &ChangeResult::expiry)));
    absl::StrAppend(&out, ",\"sidecar_changes\":[");
    for (size_t i = 0; i < r.sidecar_changes.size(); ++i) {
      const ChangeResult& ch = r.sidecar_changes[i];
      absl::StrAppend(&out, i ? "," : "", "{\"node_id\":", JsonString(ch.node_id),
                      ",\"join\":", StepJson(ch.join), ",\"leave\":", StepJson(ch.leave), "}");
    }
    absl::StrAppend(
        &out, "],\"sidecar_join\":", SummaryJson(Summarize(r.sidecar_changes, &ChangeResult::join)),
        ",\"sidecar_leave\":", SummaryJson(Summarize(r.sidecar_changes, &ChangeResult::leave)));
  }
  if (r.rolling) {
    const RollingResult& ro = *r.rolling;
    absl::StrAppend(&out, ",\"rolling_restart\":{\"pause_ms\":", absl::ToInt64Milliseconds(o.pause),
                    ",\"restarted\":", ro.restarted, ",\"rebalances\":", ro.rebalances,
                    ",\"slowest_rejoin_ms\":", JsonMs(ro.slowest_rejoin),
                    ",\"longest_stale_ms\":", JsonMs(ro.longest_stale),
                    ",\"stale_over_session_timeout\":", ro.stale_over_session,
                    ",\"total_ms\":", JsonMs(ro.total), ",\"bytes\":", ro.bytes,
                    ",\"kafka_bytes\":", ro.kafka_bytes, "}");
  }
  absl::StrAppend(&out, ",\"processes\":[");
  for (size_t i = 0; i < r.processes.size(); ++i) {
    const ProcessUsage& p = r.processes[i];
    absl::StrAppendFormat(&out,
                          "%s{\"role\":%s,\"pid\":%d,\"max_threads\":%d,\"max_rss_kb\":%d,"
                          "\"cpu_seconds\":%.2f,\"ended\":%s}",
                          i ? "," : "", JsonString(p.role), p.pid, p.max_threads, p.max_rss_kb,
                          p.cpu_seconds, p.gone ? "true" : "false");
  }
  absl::StrAppend(&out, "],\"refused\":", r.refused, ",\"fenced\":", r.fenced,
                  ",\"ok\":", r.ok() ? "true" : "false", ",\"failures\":[",
                  absl::StrJoin(r.failures, ",",
                                [](std::string* s, const std::string& f) {
                                  s->append(JsonString(f));
                                }),
                  "]}\n");
  return out;
}

}  // namespace kgw::fleet_sim
