#include "tools/kgwctl/format.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "kgw/v1/node.pb.h"

namespace kgw::kgwctl {
namespace {

constexpr uint32_t kDefaultWeight = 100;  // what weight 0 means (node.proto)

std::string OrDash(absl::string_view s) { return s.empty() ? "-" : std::string(s); }

std::string OrUnknown(absl::string_view s) { return s.empty() ? "(unknown)" : std::string(s); }

uint32_t EffectiveWeight(uint32_t weight) { return weight == 0 ? kDefaultWeight : weight; }

// "Label:  value" lines with the values aligned.
std::string KeyValues(const std::vector<std::pair<std::string, std::string>>& rows) {
  size_t width = 0;
  for (const auto& [label, value] : rows) width = std::max(width, label.size() + 1);
  std::string out;
  for (const auto& [label, value] : rows) {
    std::string key = absl::StrCat(label, ":");
    absl::StrAppend(&out, key, std::string(width - key.size() + 2, ' '), value, "\n");
  }
  return out;
}

absl::string_view RoleName(v1::NodeDescriptor::Role role) {
  switch (role) {
    case v1::NodeDescriptor::ROLE_AGENT:
      return "agent";
    case v1::NodeDescriptor::ROLE_COORDINATOR:
      return "coordinator";
    case v1::NodeDescriptor::ROLE_SIDECAR:
      return "sidecar";
    default:
      return "unknown";
  }
}

absl::string_view HealthName(const v1::NodeStatus& node) {
  if (node.health() == v1::NodeStatus::HEALTH_DRAINING || node.node().draining()) {
    return "draining";
  }
  if (node.health() == v1::NodeStatus::HEALTH_LIVE) return "live";
  if (node.health() == v1::NodeStatus::HEALTH_REFUSED) return "refused";
  return "unknown";
}

// The host part of a host:port endpoint, brackets removed.
std::string EndpointHost(absl::string_view endpoint) {
  size_t colon = endpoint.rfind(':');
  absl::string_view host = endpoint.substr(0, colon);
  absl::ConsumePrefix(&host, "[");
  absl::ConsumeSuffix(&host, "]");
  return std::string(host);
}

std::string AgentList(const v1::BrokerAssignment& broker) {
  return OrDash(absl::StrJoin(broker.agent_node_ids(), ","));
}

}  // namespace

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(std::max(cells.size(), headers_.size()));
  rows_.push_back(std::move(cells));
}

std::string Table::Render(absl::string_view indent) const {
  std::vector<size_t> widths(headers_.size(), 0);
  for (size_t c = 0; c < headers_.size(); ++c) widths[c] = headers_[c].size();
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      widths[c] = std::max(widths[c], row[c].empty() ? size_t{1} : row[c].size());
    }
  }
  auto line = [&](const std::vector<std::string>& cells, bool dash_empty) {
    std::string out(indent);
    for (size_t c = 0; c < widths.size(); ++c) {
      absl::string_view cell = c < cells.size() ? absl::string_view(cells[c]) : "";
      if (cell.empty() && dash_empty) cell = "-";
      out.append(cell.data(), cell.size());
      if (c + 1 < widths.size()) out.append(widths[c] - cell.size() + 2, ' ');
    }
    absl::StripTrailingAsciiWhitespace(&out);
    return absl::StrCat(out, "\n");
  };
  std::string out = line(headers_, false);
  for (const auto& row : rows_) absl::StrAppend(&out, line(row, true));
  return out;
}

std::string FormatBrokerIds(absl::Span<const int32_t> broker_ids) {
  std::set<int32_t> ids(broker_ids.begin(), broker_ids.end());
  std::vector<std::string> parts;
  for (auto it = ids.begin(); it != ids.end();) {
    int32_t first = *it;
    int32_t last = first;
    for (++it; it != ids.end() && *it == last + 1; ++it) last = *it;
    parts.push_back(first == last ? absl::StrCat(first) : absl::StrCat(first, "-", last));
  }
  return OrDash(absl::StrJoin(parts, ","));
}

std::string FormatBytesPerSecond(double bytes_per_second) {
  if (bytes_per_second < 1024) return absl::StrFormat("%.0f", std::max(bytes_per_second, 0.0));
  double value = bytes_per_second;
  for (absl::string_view unit : {"KiB", "MiB", "GiB"}) {
    value /= 1024;
    if (value < 1024 || unit == "GiB") return absl::StrFormat("%.1f%s", value, unit);
  }
  return absl::StrFormat("%.0f", bytes_per_second);  // not reached
}

std::string FormatUtcMillis(int64_t ms_since_epoch) {
  if (ms_since_epoch == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%E3S UTC", absl::FromUnixMillis(ms_since_epoch),
                          absl::UTCTimeZone());
}

std::string FormatHostPort(absl::string_view host, int32_t port) {
  if (host.empty()) return "-";
  std::string h = absl::StrContains(host, ':') ? absl::StrCat("[", host, "]") : std::string(host);
  return port > 0 ? absl::StrCat(h, ":", port) : h;
}

std::string FormatClusterStatus(const v1::ClusterStatus& status) {
  std::vector<std::string> coordinator_ids;
  Table coordinators({"COORDINATOR", "GRPC ENDPOINT", "RACK", "VERSION"});
  for (const v1::NodeDescriptor& c : status.coordinators()) {
    coordinator_ids.push_back(c.node_id());
    coordinators.AddRow({c.node_id(), c.grpc_endpoint(), c.rack(), c.version()});
  }
  std::vector<std::pair<std::string, std::string>> rows = {
      {"Cluster", OrUnknown(status.cluster_id())},
      {"Group", OrUnknown(status.group_id())},
      {"Generation", absl::StrCat(status.generation_id())},
      {"Leader", OrUnknown(status.leader_node_id())},
      {"Answered by", OrUnknown(status.answered_by())},
      {"Coordinators",
       coordinator_ids.empty()
           ? "none"
           : absl::StrCat(coordinator_ids.size(), " (", absl::StrJoin(coordinator_ids, ", "), ")")},
      {"Agents", absl::StrCat(status.agents())},
      {"Brokers", absl::StrCat(status.brokers())},
      {"Assignment", absl::StrCat("epoch ", status.assignment_epoch(), ", generation ",
                                  status.assignment_generation_id(), ", revision ",
                                  status.assignment_revision())},
      {"Version", OrUnknown(status.version())},
  };
  if (status.sidecars() > 0) {
    rows.push_back({"Sidecars", absl::StrCat(status.sidecars(), " (streaming to ",
                                             OrUnknown(status.answered_by()), ")")});
  }
  if (status.refused_members() > 0) {
    rows.push_back({"Refused members", absl::StrCat(status.refused_members(),
                                                    " (they do not count; see kgwctl nodes)")});
  }
  std::string out = KeyValues(rows);
  if (!coordinator_ids.empty()) absl::StrAppend(&out, "\n", coordinators.Render());
  return out;
}

std::string FormatNodes(const v1::ListNodesResponse& nodes) {
  Table table({"NODE ID", "ROLE", "HOST", "PORT START", "RACK", "WEIGHT", "HEALTH", "CONNECTED",
               "CONNECTIONS", "BYTES/S", "BROKERS", "VERSION"});
  for (const v1::NodeStatus& status : nodes.nodes()) {
    const v1::NodeDescriptor& node = status.node();
    const bool agent = node.role() == v1::NodeDescriptor::ROLE_AGENT ||
                       node.role() == v1::NodeDescriptor::ROLE_SIDECAR;
    std::string host = node.advertised_host().empty() ? EndpointHost(node.grpc_endpoint())
                                                      : node.advertised_host();
    table.AddRow({
        node.node_id(),
        std::string(RoleName(node.role())),
        host,
        node.port_start() > 0 ? absl::StrCat(node.port_start()) : "",
        node.rack(),
        node.role() == v1::NodeDescriptor::ROLE_AGENT ? absl::StrCat(EffectiveWeight(node.weight()))
                                                      : "",
        std::string(HealthName(status)),
        agent ? (status.connected() ? "yes" : "no") : "",
        agent && status.has_load() ? absl::StrCat(status.load().connections()) : "",
        agent && status.has_load() ? FormatBytesPerSecond(status.load().bytes_per_second()) : "",
        FormatBrokerIds(status.broker_ids()),
        node.version(),
    });
  }
  std::string out = table.Render();
  // Why members do not count: too long for a column.
  Table refused({"REFUSED MEMBER", "CLAIMS NODE ID", "HOST", "WHY"});
  bool any = false;
  for (const v1::NodeStatus& status : nodes.nodes()) {
    if (status.health() != v1::NodeStatus::HEALTH_REFUSED) continue;
    any = true;
    refused.AddRow({status.member_id(), status.node().node_id(),
                    status.node().advertised_host(), status.refusal()});
  }
  if (any) absl::StrAppend(&out, "\n", refused.Render());
  return out;
}

std::string FormatBrokers(const v1::ListBrokersResponse& brokers) {
  Table table({"BROKER", "HOST:PORT", "RACK", "AGENTS"});
  for (const v1::BrokerStatus& b : brokers.brokers()) {
    table.AddRow({absl::StrCat(b.broker_id()), FormatHostPort(b.host(), b.port()), b.rack(),
                  absl::StrJoin(b.agent_node_ids(), ",")});
  }
  return table.Render();
}

std::string FormatAssignment(const v1::Assignment& assignment) {
  std::string out = KeyValues({
      {"Generation", absl::StrCat(assignment.generation_id())},
      {"Revision", absl::StrCat(assignment.revision())},
      {"Leader", OrUnknown(assignment.leader_node_id())},
      {"Computed at", FormatUtcMillis(assignment.computed_at_ms())},
  });
  Table table({"BROKER", "RACK", "AGENTS"});
  for (const v1::BrokerAssignment& b : assignment.brokers()) {
    table.AddRow({absl::StrCat(b.broker_id()), b.broker_rack(), AgentList(b)});
  }
  absl::StrAppend(&out, "\n", table.Render(), "\n");
  absl::StrAppend(
      &out,
      KeyValues({{"Drained agents", assignment.draining_node_ids().empty()
                                        ? "none"
                                        : absl::StrJoin(assignment.draining_node_ids(), ", ")}}));
  return out;
}

std::string FormatExplain(const v1::ExplainRouteResponse& route) {
  std::string broker = absl::StrCat(route.broker_id());
  if (!route.broker_rack().empty()) absl::StrAppend(&broker, " (rack ", route.broker_rack(), ")");
  std::string out = KeyValues({
      {"Broker", broker},
      {"Agent", OrUnknown(route.node_id())},
      {"Address", FormatHostPort(route.host(), route.port())},
      {"Reason", OrUnknown(route.reason())},
  });
  Table table({"CANDIDATE", "RACK", "WEIGHT", "SCORE", "CHOSEN"});
  for (const v1::RouteCandidate& c : route.candidates()) {
    table.AddRow({c.node_id(), c.rack(), absl::StrCat(EffectiveWeight(c.weight())),
                  absl::StrFormat("%.6f", c.score()),
                  c.node_id() == route.node_id() ? "yes" : "no"});
  }
  absl::StrAppend(&out, "\n", table.Render());
  return out;
}

std::string FormatDrainResult(const v1::DrainAgentResponse& response, absl::string_view node_id,
                              bool drained) {
  const v1::Assignment& assignment = response.assignment();
  std::string out =
      absl::StrCat(drained ? "Drained " : "Resumed ", node_id, ": assignment generation ",
                   assignment.generation_id(), ", revision ", assignment.revision(), ".\n");
  std::vector<int32_t> serves;
  Table table({"BROKER", "RACK", "AGENTS"});
  for (const v1::BrokerAssignment& b : assignment.brokers()) {
    if (std::find(b.agent_node_ids().begin(), b.agent_node_ids().end(), node_id) ==
        b.agent_node_ids().end()) {
      continue;
    }
    serves.push_back(b.broker_id());
    table.AddRow({absl::StrCat(b.broker_id()), b.broker_rack(), AgentList(b)});
  }
  if (serves.empty()) {
    absl::StrAppend(&out, node_id, " is given no brokers.\n");
  } else {
    absl::StrAppend(&out, node_id, drained ? " is still listed for brokers " : " serves brokers ",
                    FormatBrokerIds(serves), ":\n\n", table.Render());
  }
  absl::StrAppend(
      &out, "\n",
      KeyValues({{"Drained agents", assignment.draining_node_ids().empty()
                                        ? "none"
                                        : absl::StrJoin(assignment.draining_node_ids(), ", ")}}));
  return out;
}

}  // namespace kgw::kgwctl
