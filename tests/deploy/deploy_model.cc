#include "tests/deploy/deploy_model.h"

#include <algorithm>
#include <deque>
#include <exception>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status/status_macros.h"

namespace kgw::deploy {
namespace {

std::string Trim(absl::string_view s) { return std::string(absl::StripAsciiWhitespace(s)); }

std::vector<std::string> Words(absl::string_view s) {
  return absl::StrSplit(s, absl::ByAnyChar(" \t"), absl::SkipEmpty());
}

// Cells of a markdown table row; "\|" inside a cell is not a separator.
std::vector<std::string> TableCells(absl::string_view line) {
  std::vector<std::string> cells;
  std::string cell;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
      cell += '|';
      ++i;
    } else if (line[i] == '|') {
      cells.push_back(Trim(cell));
      cell.clear();
    } else {
      cell += line[i];
    }
  }
  cells.push_back(Trim(cell));
  // The text before the first and after the last '|' is not a cell.
  if (!cells.empty()) cells.erase(cells.begin());
  if (!cells.empty()) cells.pop_back();
  return cells;
}

std::string Unquote(absl::string_view cell) {
  std::string out(cell);
  out.erase(std::remove(out.begin(), out.end(), '`'), out.end());
  return out;
}

bool IsSettingName(absl::string_view name) {
  return !name.empty() &&
         name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == absl::string_view::npos;
}

std::string Scalar(const YAML::Node& n) {
  return n && n.IsScalar() ? n.as<std::string>() : std::string();
}

// n[k1][k2]...; an undefined node when a key is missing or a node on the way
// is not a map (yaml-cpp throws when indexing a missing node).
YAML::Node At(const YAML::Node& n, std::initializer_list<const char*> path) {
  YAML::Node cur;
  cur.reset(n);
  for (const char* key : path) {
    if (!cur || !cur.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& parent = cur;
    YAML::Node next = parent[key];
    if (!next) return YAML::Node(YAML::NodeType::Undefined);
    cur.reset(next);
  }
  return cur;
}

std::vector<std::string> StringList(const YAML::Node& n) {
  std::vector<std::string> out;
  if (!n) return out;
  if (n.IsScalar()) {
    out.push_back(n.as<std::string>());
  } else if (n.IsSequence()) {
    for (const auto& item : n) out.push_back(Scalar(item));
  } else if (n.IsMap()) {
    for (const auto& item : n) out.push_back(item.first.as<std::string>());
  }
  return out;
}

}  // namespace

// ---- docs/configuration.md -------------------------------------------------

std::optional<Executable> ExecutableNamed(absl::string_view path_or_name) {
  const size_t slash = path_or_name.rfind('/');
  if (slash != absl::string_view::npos) path_or_name.remove_prefix(slash + 1);
  if (path_or_name == "kgw-agent") return Executable::kAgent;
  if (path_or_name == "kgw-coordinator") return Executable::kCoordinator;
  if (path_or_name == "kgwctl") return Executable::kKgwctl;
  return std::nullopt;
}

absl::string_view ExecutableName(Executable exe) {
  switch (exe) {
    case Executable::kAgent:
      return "kgw-agent";
    case Executable::kCoordinator:
      return "kgw-coordinator";
    case Executable::kKgwctl:
      return "kgwctl";
  }
  return "?";
}

absl::StatusOr<SettingsDoc> ParseConfigurationDoc(absl::string_view markdown) {
  SettingsDoc doc;
  std::set<Executable> section;
  for (absl::string_view line : absl::StrSplit(markdown, '\n')) {
    if (absl::ConsumePrefix(&line, "## ")) {
      section.clear();
      for (Executable exe : {Executable::kAgent, Executable::kCoordinator, Executable::kKgwctl}) {
        // "Shared by kgw-agent and kgw-coordinator" names two; "kgw-agent" one.
        for (absl::string_view word : absl::StrSplit(line, ' ')) {
          if (ExecutableNamed(word) == exe) section.insert(exe);
        }
      }
      continue;
    }
    if (!absl::StartsWith(line, "| `")) continue;
    std::vector<std::string> cells = TableCells(line);
    if (cells.size() < 4) continue;
    const std::string name = Unquote(cells[0]);
    if (!IsSettingName(name) || section.empty()) continue;
    DocumentedSetting& s = doc[name];
    s.name = name;
    s.read_by.insert(section.begin(), section.end());
    s.default_value = Unquote(cells[3]);
  }
  if (doc.empty()) return absl::NotFoundError("no settings table rows in the configuration doc");
  return doc;
}

std::vector<std::string> CheckEnvironmentNames(Executable exe,
                                               const std::vector<std::string>& names,
                                               const SettingsDoc& doc, absl::string_view where) {
  std::vector<std::string> problems;
  for (const std::string& name : names) {
    auto it = doc.find(name);
    if (it == doc.end()) {
      problems.push_back(
          absl::StrCat(where, ": ", name, " is not a setting in docs/configuration.md"));
    } else if (it->second.read_by.count(exe) == 0) {
      problems.push_back(absl::StrCat(where, ": ", name, " is not a setting of ",
                                      ExecutableName(exe), " in docs/configuration.md"));
    }
  }
  return problems;
}

std::string EffectiveValue(const std::map<std::string, std::string>& env, const std::string& name,
                           const SettingsDoc& doc) {
  auto it = env.find(name);
  if (it != env.end() && !it->second.empty()) return it->second;
  auto d = doc.find(name);
  return d == doc.end() ? "" : d->second.default_value;
}

absl::StatusOr<int64_t> ParseDurationMs(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  struct Unit {
    absl::string_view suffix;
    int64_t ms;
  };
  for (const Unit& u : {Unit{"ms", 1}, Unit{"s", 1000}, Unit{"m", 60'000}, Unit{"h", 3'600'000}}) {
    absl::string_view number = text;
    int64_t n;
    if (absl::ConsumeSuffix(&number, u.suffix) && absl::SimpleAtoi(number, &n) && n >= 0) {
      return n * u.ms;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("not a duration: \"", text, "\""));
}

absl::StatusOr<int64_t> AgentShutdownBudgetMs(const std::map<std::string, std::string>& env,
                                              const SettingsDoc& doc, int brokers) {
  int64_t delay_ms;
  const std::string delay = EffectiveValue(env, "GATEWAY_SHUTDOWN_DELAY_BETWEEN_BROKERS_MS", doc);
  if (!absl::SimpleAtoi(delay, &delay_ms)) {
    return absl::InvalidArgumentError(
        absl::StrCat("GATEWAY_SHUTDOWN_DELAY_BETWEEN_BROKERS_MS is not a number: \"", delay, "\""));
  }
  KGW_ASSIGN_OR_RETURN(int64_t drain_ms,
                       ParseDurationMs(EffectiveValue(env, "GATEWAY_SHUTDOWN_DRAIN_TIMEOUT", doc)));
  return brokers * delay_ms + drain_ms;
}

// The rule kgw-coordinator applies at start (coordinator_config.cc): an admin
// API reachable beyond loopback needs a token, required client certificates
// or the explicit opt-out. `token_set` also covers a token from a Secret.
std::optional<std::string> OpenAdminProblem(const std::map<std::string, std::string>& env,
                                            bool token_set, const SettingsDoc& doc) {
  const auto value = [&](const char* name) {
    return absl::AsciiStrToLower(EffectiveValue(env, name, doc));
  };
  const std::string bind = value("GATEWAY_GRPC_BIND_HOST");
  const bool loopback = bind == "localhost" || absl::StartsWith(bind, "127.") || bind == "::1";
  const bool certificates =
      value("GATEWAY_GRPC_TLS") == "true" && value("GATEWAY_GRPC_TLS_CLIENT_AUTH") == "require";
  if (token_set || certificates || loopback ||
      value("GATEWAY_ADMIN_ALLOW_UNAUTHENTICATED") == "true") {
    return std::nullopt;
  }
  return absl::StrCat("its admin API on ", bind,
                      " has no GATEWAY_ADMIN_TOKEN and requires no client certificates; "
                      "kgw-coordinator refuses to start so unless "
                      "GATEWAY_ADMIN_ALLOW_UNAUTHENTICATED=true");
}

// ---- docker compose ----------------------------------------------------------

bool ComposeService::IsKgw() const { return builds_image || absl::StartsWith(image, "kgw"); }

std::optional<Executable> ComposeService::executable() const {
  if (command.empty()) return std::nullopt;
  return ExecutableNamed(command[0]);
}

bool ComposeService::InProfile(absl::string_view profile) const {
  return std::find(profiles.begin(), profiles.end(), profile) != profiles.end();
}

const ComposeService* ComposeFile::Find(absl::string_view name) const {
  for (const ComposeService& s : services) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

absl::StatusOr<ComposeFile> ParseCompose(absl::string_view yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("not YAML: ", e.what()));
  }
  if (!root.IsMap() || !root["services"] || !root["services"].IsMap()) {
    return absl::InvalidArgumentError("no `services` map");
  }
  ComposeFile file;
  try {
    for (const auto& entry : root["services"]) {
      ComposeService s;
      s.name = entry.first.as<std::string>();
      const YAML::Node& n = entry.second;
      s.image = Scalar(n["image"]);
      s.builds_image = static_cast<bool>(n["build"]);
      if (n["command"] && n["command"].IsScalar()) {
        s.command = Words(n["command"].as<std::string>());
      } else {
        s.command = StringList(n["command"]);
      }
      if (const YAML::Node env = n["environment"]; env && env.IsMap()) {
        for (const auto& kv : env) {
          s.environment[kv.first.as<std::string>()] = Scalar(kv.second);
        }
      } else if (env && env.IsSequence()) {
        for (const auto& item : env) {
          const std::string line = Scalar(item);
          const size_t eq = line.find('=');
          s.environment[line.substr(0, eq)] = eq == std::string::npos ? "" : line.substr(eq + 1);
        }
      }
      s.profiles = StringList(n["profiles"]);
      s.network_mode = Scalar(n["network_mode"]);
      s.expose = StringList(n["expose"]);
      for (const std::string& p : StringList(n["ports"])) s.expose.push_back(p);
      s.depends_on = StringList(n["depends_on"]);
      s.stop_grace_period = Scalar(n["stop_grace_period"]);
      s.volumes = StringList(n["volumes"]);
      s.has_healthcheck = static_cast<bool>(n["healthcheck"]);
      file.services.push_back(std::move(s));
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("unexpected structure: ", e.what()));
  }
  return file;
}

std::vector<int> ExpandPorts(const std::vector<std::string>& specs) {
  std::vector<int> ports;
  for (absl::string_view spec : specs) {
    // "8080:6969" publishes container port 6969; "6969/tcp" names a protocol.
    const size_t colon = spec.rfind(':');
    if (colon != absl::string_view::npos) spec.remove_prefix(colon + 1);
    spec = spec.substr(0, spec.find('/'));
    std::vector<absl::string_view> range = absl::StrSplit(spec, '-');
    int first, last;
    if (range.size() == 1 && absl::SimpleAtoi(range[0], &first)) {
      ports.push_back(first);
    } else if (range.size() == 2 && absl::SimpleAtoi(range[0], &first) &&
               absl::SimpleAtoi(range[1], &last) && first <= last && last - first < 1000) {
      for (int p = first; p <= last; ++p) ports.push_back(p);
    }
  }
  return ports;
}

std::vector<std::pair<std::string, int>> ParseHostPortList(absl::string_view list) {
  std::vector<std::pair<std::string, int>> out;
  for (absl::string_view item : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    const size_t colon = item.rfind(':');
    int port;
    if (colon == absl::string_view::npos || !absl::SimpleAtoi(item.substr(colon + 1), &port)) {
      continue;
    }
    out.emplace_back(std::string(item.substr(0, colon)), port);
  }
  return out;
}

namespace {

bool Contains(const std::vector<int>& v, int x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

int IntOr(const std::string& s, int fallback) {
  int v;
  return absl::SimpleAtoi(s, &v) ? v : fallback;
}

}  // namespace

std::vector<std::string> CheckComposeFile(const ComposeFile& file, const SettingsDoc& doc,
                                          absl::string_view file_name) {
  std::vector<std::string> problems;
  auto problem = [&](const ComposeService& s, absl::string_view what) {
    problems.push_back(absl::StrCat(file_name, ": service ", s.name, ": ", what));
  };
  std::set<std::string> kafka_services;
  for (const ComposeService& s : file.services) {
    if (absl::StartsWith(s.image, "apache/kafka") && s.environment.count("KAFKA_NODE_ID") != 0) {
      kafka_services.insert(s.name);
      if (s.image != "apache/kafka:4.1.0") problem(s, "Kafka image is not apache/kafka:4.1.0");
      if (s.environment.count("KAFKA_BROKER_RACK") == 0) problem(s, "broker without a rack");
      if (!absl::StrContains(s.environment.count("KAFKA_PROCESS_ROLES") != 0
                                 ? s.environment.at("KAFKA_PROCESS_ROLES")
                                 : "",
                             "controller")) {
        problem(s, "not a combined broker+controller (KRaft) node");
      }
    }
  }
  for (const ComposeService& s : file.services) {
    if (!s.IsKgw()) continue;
    const std::optional<Executable> exe = s.executable();
    if (!exe) {
      problem(s, "a kgw service must name kgw-agent, kgw-coordinator or kgwctl as its command");
      continue;
    }
    std::vector<std::string> names;
    for (const auto& [k, v] : s.environment) names.push_back(k);
    for (std::string& p :
         CheckEnvironmentNames(*exe, names, doc, absl::StrCat(file_name, ": service ", s.name))) {
      problems.push_back(std::move(p));
    }
    for (const auto& [host, port] :
         ParseHostPortList(EffectiveValue(s.environment, "KAFKA_BOOTSTRAP_SERVERS", doc))) {
      if (file.Find(host) != nullptr && kafka_services.count(host) == 0) {
        problem(s, absl::StrCat("KAFKA_BOOTSTRAP_SERVERS names ", host, ", not a Kafka broker"));
      }
    }
    const std::vector<int> ports = ExpandPorts(s.expose);
    const int http = IntOr(EffectiveValue(s.environment, "GATEWAY_HTTP_PORT", doc), -1);
    // In another service's network namespace the ports belong to that service.
    const bool own_network = !absl::StartsWith(s.network_mode, "service:");
    if (own_network && *exe != Executable::kKgwctl && !Contains(ports, http)) {
      problem(s, absl::StrCat("does not expose its GATEWAY_HTTP_PORT ", http));
    }
    if (*exe == Executable::kCoordinator) {
      const int grpc = IntOr(EffectiveValue(s.environment, "GATEWAY_GRPC_PORT", doc), -1);
      if (!Contains(ports, grpc)) {
        problem(s, absl::StrCat("does not expose its GATEWAY_GRPC_PORT ", grpc));
      }
      const bool token = !EffectiveValue(s.environment, "GATEWAY_ADMIN_TOKEN", doc).empty();
      if (auto open = OpenAdminProblem(s.environment, token, doc)) problem(s, *open);
    }
    if (*exe == Executable::kAgent) {
      const int start = IntOr(EffectiveValue(s.environment, "GATEWAY_PORT_START", doc), -1);
      if (own_network && !Contains(ports, start)) {
        problem(s, absl::StrCat("does not expose its GATEWAY_PORT_START ", start));
      }
      if (s.environment.count("GATEWAY_RACK_ID") == 0) problem(s, "agent without GATEWAY_RACK_ID");
      // Containers' host names are their ids unless set: the advertised host
      // must be a name other containers resolve.
      // A sidecar (GATEWAY_AGENT_ROLE) advertises localhost, with internal
      // load balancing off, unless told otherwise.
      const bool sidecar = EffectiveValue(s.environment, "GATEWAY_AGENT_ROLE", doc) == "sidecar";
      std::string advertised = EffectiveValue(s.environment, "GATEWAY_ADVERTISED_HOST", doc);
      if (sidecar && s.environment.count("GATEWAY_ADVERTISED_HOST") == 0) advertised = "localhost";
      const bool lb = sidecar || EffectiveValue(s.environment,
                                                "GATEWAY_FEATURE_FLAGS_INTERNAL_LOAD_BALANCING",
                                                doc) == "false";
      if (own_network && file.Find(advertised) == nullptr) {
        problem(s, absl::StrCat("GATEWAY_ADVERTISED_HOST \"", advertised,
                                "\" is not a service name clients can resolve"));
      } else if (own_network && !lb && advertised != s.name) {
        problem(s, "with internal load balancing, an agent must advertise its own service name");
      } else if (!own_network && (advertised != "localhost" || !lb)) {
        problem(s, "a sidecar agent advertises localhost with internal load balancing off");
      } else if (!own_network && (!sidecar || s.environment.count("GATEWAY_COORDINATORS") == 0)) {
        problem(s, "an agent beside one application needs GATEWAY_AGENT_ROLE=sidecar and "
                   "GATEWAY_COORDINATORS, to belong to the fleet without serving other clients");
      }
      absl::StatusOr<int64_t> budget = AgentShutdownBudgetMs(s.environment, doc, kBrokersCovered);
      absl::StatusOr<int64_t> grace = ParseDurationMs(s.stop_grace_period);
      if (!budget.ok()) {
        problem(s, budget.status().message());
      } else if (!grace.ok() || *grace <= *budget) {
        problem(s, absl::StrCat("stop_grace_period \"", s.stop_grace_period,
                                "\" does not cover a drain of ", kBrokersCovered, " brokers (",
                                *budget, " ms)"));
      }
    }
    for (const std::string& dep : s.depends_on) {
      if (file.Find(dep) == nullptr && kafka_services.empty()) continue;  // an overlay file
      if (file.Find(dep) == nullptr) problem(s, absl::StrCat("depends on unknown service ", dep));
    }
  }
  return problems;
}

// ---- Kubernetes ----------------------------------------------------------------

namespace {

// The containers of a pod spec, init containers (native sidecars) first.
std::vector<YAML::Node> Containers(const YAML::Node& pod_spec) {
  std::vector<YAML::Node> out;
  for (const char* key : {"initContainers", "containers"}) {
    const YAML::Node list = At(pod_spec, {key});
    if (list && list.IsSequence()) {
      for (const auto& c : list) out.push_back(c);
    }
  }
  return out;
}

bool LabelsMatch(const YAML::Node& selector, const YAML::Node& labels) {
  if (!selector || !selector.IsMap() || selector.size() == 0) return false;
  for (const auto& kv : selector) {
    if (!labels || !labels.IsMap() || !labels[kv.first.as<std::string>()] ||
        Scalar(labels[kv.first.as<std::string>()]) != Scalar(kv.second)) {
      return false;
    }
  }
  return true;
}

// The container port number `port` (a number or a port name) refers to; -1 if none.
int ResolvePort(const YAML::Node& container, const YAML::Node& port) {
  if (!port) return -1;
  const std::string text = Scalar(port);
  int n;
  if (absl::SimpleAtoi(text, &n)) return n;
  if (container["ports"]) {
    for (const auto& p : container["ports"]) {
      if (Scalar(p["name"]) == text) return IntOr(Scalar(p["containerPort"]), -1);
    }
  }
  return -1;
}

std::vector<int> ContainerPorts(const YAML::Node& container) {
  std::vector<int> ports;
  if (container["ports"]) {
    for (const auto& p : container["ports"]) ports.push_back(IntOr(Scalar(p["containerPort"]), -1));
  }
  return ports;
}

}  // namespace

namespace {

std::vector<std::string> CheckKubernetesObjectOrThrow(const YAML::Node& object,
                                                      const std::vector<YAML::Node>& all_docs,
                                                      const SettingsDoc& doc,
                                                      absl::string_view file_name) {
  std::vector<std::string> problems;
  if (!object || !object.IsMap()) return problems;
  const std::string kind = Scalar(object["kind"]);
  const std::string where =
      absl::StrCat(file_name, ": ", kind, " ", Scalar(At(object, {"metadata", "name"})));
  auto problem = [&](absl::string_view what) {
    problems.push_back(absl::StrCat(where, ": ", what));
  };
  if (kind.empty() || Scalar(object["apiVersion"]).empty()) problem("no kind or apiVersion");

  if (kind == "Service") {
    const YAML::Node selector = At(object, {"spec", "selector"});
    bool found = false;
    for (const YAML::Node& other : all_docs) {
      const YAML::Node tmpl = At(other, {"spec", "template"});
      if (!tmpl || !LabelsMatch(selector, At(tmpl, {"metadata", "labels"}))) continue;
      found = true;
      const YAML::Node service_ports = At(object, {"spec", "ports"});
      if (!service_ports || !service_ports.IsSequence()) continue;
      for (const auto& port : service_ports) {
        bool target_found = false;
        for (const YAML::Node& c : Containers(At(tmpl, {"spec"}))) {
          const YAML::Node target = port["targetPort"] ? port["targetPort"] : port["port"];
          if (Contains(ContainerPorts(c), ResolvePort(c, target))) target_found = true;
        }
        if (!target_found) {
          problem(
              absl::StrCat("port ", Scalar(port["name"]), " targets no port of the selected pods"));
        }
      }
    }
    if (!found) problem("its selector matches no pod template in the file");
    return problems;
  }
  if (kind == "PodDisruptionBudget") {
    const YAML::Node selector = At(object, {"spec", "selector", "matchLabels"});
    const bool found = std::any_of(all_docs.begin(), all_docs.end(), [&](const YAML::Node& other) {
      return LabelsMatch(selector, At(other, {"spec", "template", "metadata", "labels"}));
    });
    if (!found) problem("its selector matches no pod template in the file: it protects nothing");
    return problems;
  }
  if (kind != "Deployment" && kind != "DaemonSet" && kind != "StatefulSet") return problems;

  const YAML::Node tmpl = At(object, {"spec", "template"});
  if (!LabelsMatch(At(object, {"spec", "selector", "matchLabels"}),
                   At(tmpl, {"metadata", "labels"}))) {
    problem("spec.selector.matchLabels does not match the pod template's labels");
  }
  const YAML::Node pod = At(tmpl, {"spec"});
  for (const YAML::Node& c : Containers(pod)) {
    if (!absl::StrContains(Scalar(c["image"]), "kgw")) continue;
    const std::string cwhere = absl::StrCat(where, ": container ", Scalar(c["name"]));
    auto cproblem = [&](absl::string_view what) {
      problems.push_back(absl::StrCat(cwhere, ": ", what));
    };
    const std::vector<std::string> command = StringList(c["command"]);
    const std::optional<Executable> exe =
        command.empty() ? std::optional<Executable>(Executable::kAgent)  // the image's CMD
                        : ExecutableNamed(command[0]);
    if (!exe) {
      cproblem("command is not kgw-agent, kgw-coordinator or kgwctl");
      continue;
    }
    std::map<std::string, std::string> env;
    std::map<std::string, std::string> env_field_refs;
    std::vector<std::string> names;
    if (c["env"]) {
      for (const auto& e : c["env"]) {
        const std::string name = Scalar(e["name"]);
        if (std::find(names.begin(), names.end(), name) != names.end()) {
          cproblem(absl::StrCat("env sets ", name, " twice (Kubernetes keeps the last)"));
        }
        names.push_back(name);
        env[name] = Scalar(e["value"]);
        if (const YAML::Node ref = At(e, {"valueFrom", "fieldRef", "fieldPath"}); ref) {
          env_field_refs[name] = Scalar(ref);
        }
      }
    }
    if (c["envFrom"]) cproblem("envFrom hides the env names from review; list them in env");
    for (std::string& p : CheckEnvironmentNames(*exe, names, doc, cwhere)) {
      problems.push_back(std::move(p));
    }
    if (*exe == Executable::kKgwctl) continue;
    const std::vector<int> ports = ContainerPorts(c);
    // The port `setting` gives the process, which the container must declare; -1 if none.
    auto declared_port = [&](const char* setting) {
      const std::string value = EffectiveValue(env, setting, doc);
      int port;
      if (!absl::SimpleAtoi(value, &port) || port < 1 || port > 65535) {
        cproblem(absl::StrCat(setting, " \"", value, "\" is not a port number"));
        return -1;
      }
      if (!Contains(ports, port)) {
        cproblem(absl::StrCat("no containerPort for ", setting, " ", port));
      }
      return port;
    };
    const int http = declared_port("GATEWAY_HTTP_PORT");
    if (*exe == Executable::kAgent) {
      declared_port("GATEWAY_PORT_START");
    } else {
      declared_port("GATEWAY_GRPC_PORT");
      const bool token =
          std::find(names.begin(), names.end(), "GATEWAY_ADMIN_TOKEN") != names.end();
      if (auto open = OpenAdminProblem(env, token, doc)) cproblem(*open);
    }
    for (const auto& [probe, path] :
         {std::pair<const char*, const char*>{"readinessProbe", "/health/ready"},
          {"livenessProbe", "/health/live"}}) {
      const YAML::Node get = At(c, {probe, "httpGet"});
      if (!get) {
        cproblem(absl::StrCat("no ", probe, " (httpGet ", path, ")"));
      } else if (Scalar(get["path"]) != path || ResolvePort(c, get["port"]) != http) {
        cproblem(absl::StrCat(probe, " must GET ", path, " on port ", http, ", not ",
                              Scalar(get["path"]), " on ", Scalar(get["port"])));
      }
    }
    if (*exe == Executable::kAgent) {
      const std::string rack_ref =
          env_field_refs.count("GATEWAY_RACK_ID") != 0 ? env_field_refs.at("GATEWAY_RACK_ID") : "";
      if (rack_ref != "metadata.labels['topology.kubernetes.io/zone']") {
        cproblem(
            "GATEWAY_RACK_ID must come from fieldRef "
            "metadata.labels['topology.kubernetes.io/zone']");
      }
      // A sidecar advertises localhost by default: its application is in its pod.
      const bool sidecar = EffectiveValue(env, "GATEWAY_AGENT_ROLE", doc) == "sidecar";
      if (env.count("GATEWAY_ADVERTISED_HOST") == 0 && !sidecar) {
        cproblem("GATEWAY_ADVERTISED_HOST is not set (the pod's host name is not routable)");
      }
      if (sidecar && env.count("GATEWAY_COORDINATORS") == 0) {
        cproblem("a sidecar needs GATEWAY_COORDINATORS (it finds no coordinator otherwise)");
      }
      absl::StatusOr<int64_t> budget = AgentShutdownBudgetMs(env, doc, kBrokersCovered);
      const int grace_s = IntOr(Scalar(At(pod, {"terminationGracePeriodSeconds"})), 30);
      if (!budget.ok()) {
        cproblem(budget.status().message());
      } else if (int64_t{grace_s} * 1000 <= *budget) {
        cproblem(absl::StrCat("terminationGracePeriodSeconds ", grace_s,
                              " does not cover a drain of ", kBrokersCovered, " brokers (", *budget,
                              " ms)"));
      }
    }
    const bool non_root = Scalar(At(c, {"securityContext", "runAsNonRoot"})) == "true" ||
                          Scalar(At(pod, {"securityContext", "runAsNonRoot"})) == "true";
    if (!non_root) cproblem("runAsNonRoot is not true");
  }
  return problems;
}

}  // namespace

std::vector<std::string> CheckKubernetesObject(const YAML::Node& object,
                                               const std::vector<YAML::Node>& all_docs,
                                               const SettingsDoc& doc,
                                               absl::string_view file_name) {
  try {
    return CheckKubernetesObjectOrThrow(object, all_docs, doc, file_name);
  } catch (const YAML::Exception& e) {
    return {absl::StrCat(file_name, ": unexpected structure: ", e.what())};
  }
}

std::vector<std::string> CheckKubernetesManifest(absl::string_view yaml, const SettingsDoc& doc,
                                                 absl::string_view file_name) {
  std::vector<YAML::Node> objects;
  try {
    objects = YAML::LoadAll(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return {absl::StrCat(file_name, ": not YAML: ", e.what())};
  }
  std::vector<std::string> problems;
  for (const YAML::Node& object : objects) {
    for (std::string& p : CheckKubernetesObject(object, objects, doc, file_name)) {
      problems.push_back(std::move(p));
    }
  }
  return problems;
}

// ---- Dockerfile ------------------------------------------------------------------

std::vector<DockerStage> ParseDockerfile(absl::string_view text) {
  std::vector<DockerStage> stages;
  std::string logical;
  auto finish = [&]() {
    const std::string line = Trim(logical);
    logical.clear();
    if (line.empty()) return;
    const size_t space = line.find_first_of(" \t");
    std::string keyword = absl::AsciiStrToUpper(line.substr(0, space));
    std::string args = space == std::string::npos ? "" : Trim(line.substr(space));
    if (keyword == "FROM") {
      DockerStage stage;
      std::vector<std::string> words = Words(args);
      if (!words.empty()) stage.base = words[0];
      if (words.size() >= 3 && absl::AsciiStrToUpper(words[1]) == "AS") stage.name = words[2];
      stages.push_back(std::move(stage));
    } else if (!stages.empty()) {
      stages.back().instructions.push_back({std::move(keyword), std::move(args)});
    }
  };
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    absl::string_view line = absl::StripTrailingAsciiWhitespace(raw);
    if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(line), "#")) continue;
    if (absl::ConsumeSuffix(&line, "\\")) {
      absl::StrAppend(&logical, line, " ");
      continue;
    }
    absl::StrAppend(&logical, line);
    finish();
  }
  finish();
  return stages;
}

std::vector<std::string> AptInstalledPackages(const DockerStage& stage) {
  std::vector<std::string> packages;
  for (const DockerInstruction& i : stage.instructions) {
    if (i.keyword != "RUN") continue;
    for (absl::string_view command : absl::StrSplit(i.arguments, absl::ByAnyChar("&;|"))) {
      std::vector<std::string> words = Words(command);
      auto install = std::find(words.begin(), words.end(), "install");
      if (words.empty() || (words[0] != "apt-get" && words[0] != "apt") || install == words.end()) {
        continue;
      }
      for (auto it = install + 1; it != words.end(); ++it) {
        if (!absl::StartsWith(*it, "-")) packages.push_back(*it);
      }
    }
  }
  return packages;
}

std::vector<std::string> CheckDockerfile(const std::vector<DockerStage>& stages,
                                         const SettingsDoc& doc) {
  std::vector<std::string> problems;
  if (stages.size() < 2) return {"Dockerfile: not a multi-stage build"};
  const DockerStage& build = stages.front();
  const DockerStage& runtime = stages.back();
  for (const DockerStage* s : {&build, &runtime}) {
    if (!absl::StartsWith(s->base, "debian:bookworm-slim")) {
      problems.push_back(
          absl::StrCat("Dockerfile: stage based on ", s->base, ", not debian:bookworm-slim"));
    }
  }
  auto runs = [](const DockerStage& s, absl::string_view needle) {
    for (const DockerInstruction& i : s.instructions) {
      if (i.keyword == "RUN" && absl::StrContains(i.arguments, needle)) return true;
    }
    return false;
  };
  for (absl::string_view script : {"scripts/install-deps.sh", "scripts/build.sh"}) {
    if (!runs(build, script)) {
      problems.push_back(absl::StrCat("Dockerfile: the build stage does not run ", script));
    }
  }
  std::string user;
  std::string healthcheck;
  std::vector<std::string> exposed;
  std::string copied;
  for (const DockerInstruction& i : runtime.instructions) {
    if (i.keyword == "USER") user = i.arguments;
    if (i.keyword == "HEALTHCHECK") healthcheck = i.arguments;
    if (i.keyword == "EXPOSE") {
      for (std::string& w : Words(i.arguments)) exposed.push_back(std::move(w));
    }
    if (i.keyword == "COPY" && absl::StrContains(i.arguments, "--from=")) {
      absl::StrAppend(&copied, i.arguments, "\n");
    }
  }
  const std::string user_name = user.substr(0, user.find(':'));
  if (user_name.empty() || user_name == "root" || user_name == "0") {
    problems.push_back("Dockerfile: the runtime stage does not switch to a non-root USER");
  }
  if (!absl::StrContains(healthcheck, "/health/ready") ||
      !absl::StrContains(healthcheck, "GATEWAY_HTTP_PORT")) {
    problems.push_back(
        "Dockerfile: the runtime stage has no HEALTHCHECK on /health/ready at GATEWAY_HTTP_PORT");
  }
  for (absl::string_view bin : {"kgw-agent", "kgw-coordinator", "kgwctl"}) {
    if (!absl::StrContains(copied, absl::StrCat("bin/", bin)) ||
        !absl::StrContains(copied, "/usr/local/bin")) {
      problems.push_back(absl::StrCat("Dockerfile: ", bin, " is not copied to /usr/local/bin"));
    }
  }
  const std::vector<int> ports = ExpandPorts(exposed);
  for (const char* setting : {"GATEWAY_PORT_START", "GATEWAY_HTTP_PORT", "GATEWAY_GRPC_PORT"}) {
    const int port = IntOr(EffectiveValue({}, setting, doc), -1);
    if (!Contains(ports, port)) {
      problems.push_back(absl::StrCat("Dockerfile: EXPOSE lacks ", setting, "'s default ", port));
    }
  }
  return problems;
}

// ---- shared libraries and Debian packages ------------------------------------------------

std::vector<std::string> ParseLdd(absl::string_view ldd_output) {
  std::vector<std::string> paths;
  for (absl::string_view line : absl::StrSplit(ldd_output, '\n')) {
    std::vector<std::string> w = Words(line);
    if (w.size() >= 3 && w[1] == "=>" && w[2] == "not") {
      paths.push_back("not found: " + w[0]);
    } else if (w.size() >= 3 && w[1] == "=>" && absl::StartsWith(w[2], "/")) {
      paths.push_back(w[2]);
    } else if (!w.empty() && absl::StartsWith(w[0], "/")) {
      paths.push_back(w[0]);  // the dynamic loader
    }
  }
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  return paths;
}

std::map<std::string, std::vector<std::string>> ParseDpkgSearch(absl::string_view output) {
  std::map<std::string, std::vector<std::string>> found;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    const size_t sep = line.find(": /");
    if (sep == absl::string_view::npos) continue;
    const std::string path(line.substr(sep + 2));
    for (absl::string_view pkg : absl::StrSplit(line.substr(0, sep), ',', absl::SkipWhitespace())) {
      pkg = absl::StripAsciiWhitespace(pkg);
      found[path].push_back(std::string(pkg.substr(0, pkg.find(':'))));
    }
  }
  return found;
}

std::map<std::string, std::set<std::string>> ParseDpkgDependencies(absl::string_view output) {
  std::map<std::string, std::set<std::string>> deps;
  std::map<std::string, std::set<std::string>> providers;
  auto names = [](absl::string_view field) {
    std::vector<std::string> out;
    for (absl::string_view item :
         absl::StrSplit(field, absl::ByAnyChar(",|"), absl::SkipWhitespace())) {
      item = absl::StripAsciiWhitespace(item);
      item = item.substr(0, item.find_first_of(" (:"));
      if (!item.empty()) out.emplace_back(item);
    }
    return out;
  };
  for (absl::string_view line : absl::StrSplit(output, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> cols = absl::StrSplit(line, '\t');
    if (cols.empty() || cols[0].empty()) continue;
    const std::string pkg(cols[0]);
    std::set<std::string>& d = deps[pkg];
    if (cols.size() > 1) {
      for (std::string& n : names(cols[1])) d.insert(std::move(n));
    }
    if (cols.size() > 2) {
      for (std::string& n : names(cols[2])) providers[n].insert(pkg);
    }
  }
  for (auto& [pkg, d] : deps) {
    std::set<std::string> resolved;
    for (const std::string& n : d) {
      resolved.insert(n);
      if (auto it = providers.find(n); it != providers.end()) {
        resolved.insert(it->second.begin(), it->second.end());
      }
    }
    d = std::move(resolved);
  }
  return deps;
}

std::set<std::string> DependencyClosure(const std::vector<std::string>& roots,
                                        const std::map<std::string, std::set<std::string>>& deps) {
  std::set<std::string> seen;
  std::deque<std::string> queue(roots.begin(), roots.end());
  while (!queue.empty()) {
    std::string pkg = std::move(queue.front());
    queue.pop_front();
    if (!seen.insert(pkg).second) continue;
    if (auto it = deps.find(pkg); it != deps.end()) {
      for (const std::string& d : it->second) queue.push_back(d);
    }
  }
  return seen;
}

// ---- systemd ------------------------------------------------------------------------

SystemdUnit ParseSystemdUnit(absl::string_view text) {
  SystemdUnit unit;
  std::string section;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = std::string(line.substr(1, line.size() - 2));
      unit[section];
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    unit[section].emplace(Trim(line.substr(0, eq)), Trim(line.substr(eq + 1)));
  }
  return unit;
}

std::vector<std::string> CheckSystemdUnit(const SystemdUnit& unit, Executable exe,
                                          const SettingsDoc& doc, absl::string_view file_name) {
  std::vector<std::string> problems;
  auto problem = [&](absl::string_view what) {
    problems.push_back(absl::StrCat(file_name, ": ", what));
  };
  auto service_it = unit.find("Service");
  if (service_it == unit.end()) return {absl::StrCat(file_name, ": no [Service] section")};
  const auto& service = service_it->second;
  auto get = [&](const std::string& key) {
    auto it = service.find(key);
    return it == service.end() ? std::string() : it->second;
  };
  const std::vector<std::string> exec = Words(get("ExecStart"));
  if (exec.empty() || ExecutableNamed(exec[0]) != exe) {
    problem(absl::StrCat("ExecStart does not run ", ExecutableName(exe)));
  }
  if (get("EnvironmentFile").empty()) problem("no EnvironmentFile= for the settings");
  const std::string restart = get("Restart");
  if (restart != "on-failure" && restart != "always" && restart != "on-abnormal") {
    problem(absl::StrCat("Restart=", restart, " does not restart a failed node"));
  }
  const std::string user = get("User");
  if (user.empty() || user == "root" || user == "0") problem("runs as root (User=)");
  if (exe == Executable::kAgent) {
    absl::StatusOr<int64_t> budget = AgentShutdownBudgetMs({}, doc, kBrokersCovered);
    int64_t stop_s = 90;  // systemd's default
    if (!get("TimeoutStopSec").empty() && !absl::SimpleAtoi(get("TimeoutStopSec"), &stop_s)) {
      absl::StatusOr<int64_t> ms = ParseDurationMs(get("TimeoutStopSec"));
      stop_s = ms.ok() ? *ms / 1000 : 0;
    }
    if (budget.ok() && stop_s * 1000 <= *budget) {
      problem(absl::StrCat("TimeoutStopSec ", stop_s, " does not cover a drain of ",
                           kBrokersCovered, " brokers"));
    }
    const std::string signal = get("KillSignal");
    if (!signal.empty() && signal != "SIGTERM") problem("KillSignal is not SIGTERM: no drain");
  }
  return problems;
}

// ---- HAProxy --------------------------------------------------------------------------

std::vector<std::string> CheckHaproxyConfig(absl::string_view cfg, const ComposeFile& compose,
                                            const SettingsDoc& doc) {
  std::vector<std::string> problems;
  bool tcp = false;
  bool default_proxy_v2 = false;
  std::vector<int> bound;
  std::vector<std::string> servers;
  std::string haproxy_service;
  for (const ComposeService& s : compose.services) {
    if (absl::StartsWith(s.image, "haproxy")) haproxy_service = s.name;
  }
  for (absl::string_view line : absl::StrSplit(cfg, '\n')) {
    std::vector<std::string> w = Words(line.substr(0, line.find('#')));
    if (w.empty()) continue;
    if (w.size() >= 2 && w[0] == "mode") tcp = w[1] == "tcp";
    if (w[0] == "bind" && w.size() >= 2) {
      const std::string ports = w[1].substr(w[1].rfind(':') + 1);
      for (int p : ExpandPorts({ports})) bound.push_back(p);
    }
    const bool proxy_v2 = std::find(w.begin(), w.end(), "send-proxy-v2") != w.end();
    if (w[0] == "default-server") default_proxy_v2 = proxy_v2;
    if (w[0] == "server" && w.size() >= 3) {
      if (!proxy_v2 && !default_proxy_v2) {
        problems.push_back(absl::StrCat("haproxy.cfg: server ", w[1], " sends no PROXY v2 header"));
      }
      servers.push_back(w[2].substr(0, w[2].find(':')));
    }
  }
  if (!tcp) problems.push_back("haproxy.cfg: not in TCP mode");
  if (servers.empty()) problems.push_back("haproxy.cfg: no servers");
  for (const std::string& host : servers) {
    const ComposeService* agent = compose.Find(host);
    if (agent == nullptr || agent->executable() != Executable::kAgent) {
      problems.push_back(absl::StrCat("haproxy.cfg: server ", host, " is not a kgw agent service"));
      continue;
    }
    const auto& env = agent->environment;
    if (EffectiveValue(env, "GATEWAY_FEATURE_FLAGS_HAPROXY_PROTOCOL", doc) != "true" ||
        EffectiveValue(env, "GATEWAY_FEATURE_FLAGS_INTERNAL_LOAD_BALANCING", doc) != "false" ||
        EffectiveValue(env, "GATEWAY_ADVERTISED_HOST", doc) != haproxy_service) {
      problems.push_back(absl::StrCat(
          "haproxy.cfg: agent ", host,
          " must require the PROXY protocol, turn internal load balancing off and advertise ",
          haproxy_service.empty() ? "the HAProxy service" : haproxy_service));
    }
    const int start = IntOr(EffectiveValue(env, "GATEWAY_PORT_START", doc), -1);
    for (int p = start; p < start + 4; ++p) {  // bootstrap and brokers 1-3
      if (!Contains(bound, p)) {
        problems.push_back(absl::StrCat("haproxy.cfg: port ", p, " of agent ", host,
                                        " is not bound by a frontend"));
        break;
      }
    }
  }
  return problems;
}

std::string RewriteHaproxyConfig(absl::string_view cfg, const std::string& bind_host,
                                 const std::map<std::string, std::string>& hosts,
                                 int (*port)(int)) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(cfg, '\n')) {
    const absl::string_view body = line.substr(0, line.find('#'));
    std::vector<std::string> w = Words(body);
    if (w.empty()) {
      absl::StrAppend(&out, line, "\n");
      continue;
    }
    if (w[0] == "bind" && w.size() >= 2) {
      std::vector<int> ports = ExpandPorts({w[1].substr(w[1].rfind(':') + 1)});
      if (!ports.empty()) {
        w[1] = absl::StrCat(bind_host, ":", port(ports.front()));
        if (ports.size() > 1) absl::StrAppend(&w[1], "-", port(ports.back()));
      }
    }
    if (w[0] == "server" && w.size() >= 3) {
      const std::string address = w[2];
      const size_t colon = address.find(':');
      if (auto it = hosts.find(address.substr(0, colon)); it != hosts.end()) {
        w[2] = it->second;
        int p;
        if (colon != std::string::npos && absl::SimpleAtoi(address.substr(colon + 1), &p)) {
          absl::StrAppend(&w[2], ":", port(p));
        }
      }
    }
    for (size_t i = 1; i + 1 < w.size(); ++i) {
      int p;
      if (w[i] == "port" && absl::SimpleAtoi(w[i + 1], &p)) w[i + 1] = std::to_string(port(p));
    }
    const bool indented = line[0] == ' ' || line[0] == '\t';
    absl::StrAppend(&out, indented ? "  " : "", absl::StrJoin(w, " "), "\n");
  }
  return out;
}

}  // namespace kgw::deploy
