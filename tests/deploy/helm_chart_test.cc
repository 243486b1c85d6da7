// The Helm chart (compose/helm/kgw) rendered with `helm template`, for its default values and
// for each values file of compose/helm/examples (one mode each: an agent pool, an agent per
// node, sidecars only, TLS everywhere). Every rendered object must pass the reviewer's checks
// of deploy_model.h, each mode must have its shape, agents' grace periods must be their
// shutdown budget, values.schema.json must list exactly the settings docs/configuration.md
// documents, and every line of values.yaml must be explained. The second half renders broken
// values and expects helm (the schema or the templates) or the checks to refuse each.
//
// scripts/install-deps.sh builds helm where Go is installed; without Go the test is skipped.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/deploy/deploy_model.h"
#include "tests/deploy/source_tree.h"
#include "tests/e2e/process_util.h"

namespace kgw::deploy {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

namespace fs = std::filesystem;

// What the chart adds to an agent's drain for leaving the group and exiting (values.yaml,
// agents.terminationGracePeriodSeconds).
constexpr int kShutdownMarginS = 5;

std::string ChartDir() { return SourceDir() + "/compose/helm/kgw"; }
std::string ExampleFile(const std::string& mode) {
  return SourceDir() + "/compose/helm/examples/" + mode + ".yaml";
}

std::string FindHelm() {
  const std::string helm = test::EnvOr("KGW_HELM", "");
  if (!helm.empty() && access(helm.c_str(), X_OK) == 0) return helm;
  const auto [code, path] = test::Shell("command -v helm");
  return code == 0 ? std::string(absl::StripAsciiWhitespace(path)) : "";
}

bool GoInstalled() {
  return test::Shell("command -v go").first == 0 || access("/usr/local/go/bin/go", X_OK) == 0;
}

struct Rendered {
  int exit_code = -1;
  std::string objects;  // stdout: the manifest
  std::string errors;   // stderr
};

// ---- reading rendered objects ------------------------------------------------------

std::vector<YAML::Node> Parse(const std::string& manifest) {
  std::vector<YAML::Node> objects;
  try {
    for (const YAML::Node& n : YAML::LoadAll(manifest)) {
      if (n && n.IsMap()) objects.push_back(n);
    }
  } catch (const YAML::Exception& e) {
    ADD_FAILURE() << "not YAML: " << e.what();
  }
  return objects;
}

std::string Str(const YAML::Node& n) { return n && n.IsScalar() ? n.as<std::string>() : ""; }

// The object of `kind` named `name`; an undefined node when there is none.
YAML::Node Find(const std::vector<YAML::Node>& objects, const std::string& kind,
                const std::string& name) {
  for (const YAML::Node& o : objects) {
    if (Str(o["kind"]) == kind && Str(o["metadata"]["name"]) == name) return o;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

std::set<std::string> Kinds(const std::vector<YAML::Node>& objects, const std::string& name) {
  std::set<std::string> kinds;
  for (const YAML::Node& o : objects) {
    if (Str(o["metadata"]["name"]) == name) kinds.insert(Str(o["kind"]));
  }
  return kinds;
}

// Every container of a pod spec, native sidecars (init containers) first.
std::vector<YAML::Node> Containers(const YAML::Node& pod) {
  std::vector<YAML::Node> out;
  for (const char* key : {"initContainers", "containers"}) {
    if (pod[key]) {
      for (const YAML::Node& c : pod[key]) out.push_back(c);
    }
  }
  return out;
}

YAML::Node KgwContainer(const YAML::Node& pod) {
  for (const YAML::Node& c : Containers(pod)) {
    if (absl::StrContains(Str(c["image"]), "kgw")) return c;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

// A container's env: plain values, and "fieldRef:<path>" or "secret:<name>/<key>" for the
// others.
std::map<std::string, std::string> Env(const YAML::Node& container) {
  std::map<std::string, std::string> env;
  if (!container["env"]) return env;
  for (const YAML::Node& e : container["env"]) {
    const YAML::Node from = e["valueFrom"];
    if (from && from["fieldRef"]) {
      env[Str(e["name"])] = "fieldRef:" + Str(from["fieldRef"]["fieldPath"]);
    } else if (from && from["secretKeyRef"]) {
      env[Str(e["name"])] =
          absl::StrCat("secret:", Str(from["secretKeyRef"]["name"]), "/",
                       Str(from["secretKeyRef"]["key"]));
    } else {
      env[Str(e["name"])] = Str(e["value"]);
    }
  }
  return env;
}

// env[name], or "<unset>".
std::string Get(const std::map<std::string, std::string>& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? "<unset>" : it->second;
}

std::vector<int> ContainerPorts(const YAML::Node& container, const char* key = "containerPort") {
  std::vector<int> ports;
  if (container["ports"]) {
    for (const YAML::Node& p : container["ports"]) ports.push_back(p[key].as<int>(-1));
  }
  return ports;
}

// `kgw-agent`'s expected terminationGracePeriodSeconds: its shutdown budget for `brokers`
// brokers (tests/deploy's reading of docs/operations.md, "Restarts"), rounded up, plus the
// chart's margin.
int64_t AgentGraceS(const std::map<std::string, std::string>& env, int brokers) {
  absl::StatusOr<int64_t> ms = AgentShutdownBudgetMs(env, Doc(), brokers);
  EXPECT_TRUE(ms.ok()) << ms.status();
  return (ms.value_or(0) + 999) / 1000 + kShutdownMarginS;
}

// ---- the fixture: helm, a scratch directory, renders ---------------------------------

class HelmChartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    helm_ = FindHelm();
    if (helm_.empty() && !GoInstalled()) {
      GTEST_SKIP() << "no Go, hence no helm (scripts/install-deps.sh builds it with Go): "
                      "the Helm chart is not rendered";
    }
    ASSERT_FALSE(helm_.empty())
        << "Go is installed but helm is not found (KGW_HELM or PATH): run "
           "scripts/install-deps.sh, which builds it";
    char dir[] = "/tmp/kgw-helm-chart-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    scratch_ = dir;
  }
  void TearDown() override {
    if (!scratch_.empty()) fs::remove_all(scratch_);
  }

  // `helm template kgw` of `chart` in namespace kgw with `values_files`, then `values`
  // (YAML) over them, and `flags`.
  Rendered Render(const std::vector<std::string>& values_files, const std::string& values = "",
                  const std::string& flags = "", const std::string& chart = ChartDir()) {
    return Helm("template kgw", values_files, values, flags, chart);
  }

  // `helm <subcommand> <chart>` with values as for Render.
  Rendered Helm(const std::string& subcommand, const std::vector<std::string>& values_files,
                const std::string& values, const std::string& flags, const std::string& chart) {
    std::string command = absl::StrCat(helm_, " ", subcommand, " ", chart, " --namespace kgw");
    for (const std::string& f : values_files) absl::StrAppend(&command, " -f ", f);
    if (!values.empty()) {
      const std::string file = absl::StrCat(scratch_, "/values-", ++renders_, ".yaml");
      std::ofstream(file) << values;
      absl::StrAppend(&command, " -f ", file);
    }
    const std::string errors = absl::StrCat(scratch_, "/stderr");
    Rendered r;
    std::tie(r.exit_code, r.objects) =
        test::Shell(absl::StrCat("{ ", command, " ", flags, " 2>", errors, "; }"));
    r.errors = test::ReadFile(errors);
    return r;
  }

  // The objects of a render that must succeed.
  std::vector<YAML::Node> Objects(const std::vector<std::string>& values_files,
                                  const std::string& values = "") {
    const Rendered r = Render(values_files, values);
    EXPECT_EQ(r.exit_code, 0) << r.errors;
    return Parse(r.objects);
  }

  std::string helm_;
  std::string scratch_;
  int renders_ = 0;
};

// ---- the chart's modes ---------------------------------------------------------------

const std::vector<std::string>& Modes() {
  static const auto* modes = new std::vector<std::string>{"pool", "daemonset", "sidecar", "tls"};
  return *modes;
}

TEST_F(HelmChartTest, EveryModeRendersObjectsThatPassReviewAndLint) {
  std::vector<std::pair<std::string, std::vector<std::string>>> renders = {{"default values", {}}};
  for (const std::string& mode : Modes()) renders.push_back({mode, {ExampleFile(mode)}});
  for (const auto& [name, files] : renders) {
    const Rendered r = Render(files);
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.errors;
    EXPECT_GE(Parse(r.objects).size(), 4u) << name;
    EXPECT_THAT(CheckKubernetesManifest(r.objects, Doc(), "helm template (" + name + ")"),
                IsEmpty());
    const Rendered lint = Helm("lint --strict", files, "", "", ChartDir());
    EXPECT_EQ(lint.exit_code, 0) << name << ": " << lint.objects << lint.errors;
  }
}

TEST_F(HelmChartTest, DefaultsAreCoordinatorsWithServiceAndBudgetAndAPoolOfAgents) {
  const std::vector<YAML::Node> objects = Objects({});
  EXPECT_EQ(Kinds(objects, "kgw-coordinator"),
            (std::set<std::string>{"Deployment", "Service", "PodDisruptionBudget"}));
  EXPECT_EQ(Find(objects, "Deployment", "kgw-coordinator")["spec"]["replicas"].as<int>(), 2);
  EXPECT_EQ(Find(objects, "PodDisruptionBudget", "kgw-coordinator")["spec"]["minAvailable"]
                .as<int>(),
            1);
  const YAML::Node service = Find(objects, "Service", "kgw-coordinator");
  EXPECT_EQ(service["spec"]["ports"][0]["port"].as<int>(), 6900);
  EXPECT_EQ(Kinds(objects, "kgw-agent"),
            (std::set<std::string>{"Deployment", "Service", "PodDisruptionBudget"}));
  const YAML::Node agent = Find(objects, "Deployment", "kgw-agent");
  const auto env = Env(KgwContainer(agent["spec"]["template"]["spec"]));
  EXPECT_EQ(Get(env, "GATEWAY_ADVERTISED_HOST"), "fieldRef:status.podIP");
  EXPECT_EQ(Get(env, "GATEWAY_RACK_ID"), "fieldRef:metadata.labels['topology.kubernetes.io/zone']");
  const auto coordinator =
      Env(KgwContainer(Find(objects, "Deployment", "kgw-coordinator")["spec"]["template"]["spec"]));
  EXPECT_EQ(Get(coordinator, "GATEWAY_ADMIN_TOKEN"), "secret:kgw-admin/token");
  EXPECT_EQ(Get(coordinator, "GATEWAY_NODE_ID"), "fieldRef:metadata.name");
}

TEST_F(HelmChartTest, DaemonSetAgentsServeFromTheirNodesAddress) {
  const std::vector<YAML::Node> objects = Objects({ExampleFile("daemonset")});
  EXPECT_EQ(Kinds(objects, "kgw-agent"), std::set<std::string>{"DaemonSet"});
  const YAML::Node pod = Find(objects, "DaemonSet", "kgw-agent")["spec"]["template"]["spec"];
  EXPECT_TRUE(pod["hostNetwork"].as<bool>(false));
  const YAML::Node agent = KgwContainer(pod);
  EXPECT_EQ(ContainerPorts(agent, "hostPort"), ContainerPorts(agent));
  const auto env = Env(agent);
  EXPECT_EQ(Get(env, "GATEWAY_ADVERTISED_HOST"), "fieldRef:status.hostIP");
  EXPECT_EQ(Get(env, "GATEWAY_NODE_ID"), "fieldRef:spec.nodeName");
  EXPECT_EQ(Get(env, "GATEWAY_CLUSTER_KEY_FILE"), "/etc/kgw/cluster-key/cluster.key");
}

TEST_F(HelmChartTest, SidecarAppBootstrapsFromItsOwnAgentWhichStreamsToTheCoordinators) {
  const std::vector<YAML::Node> objects = Objects({ExampleFile("sidecar")});
  EXPECT_THAT(Kinds(objects, "kgw-agent"), IsEmpty()) << "mode none: no shared agents";
  const YAML::Node pod = Find(objects, "Deployment", "my-app")["spec"]["template"]["spec"];
  ASSERT_TRUE(pod["initContainers"]) << "the agent is a native sidecar";
  const YAML::Node agent = pod["initContainers"][0];
  EXPECT_THAT(Str(agent["image"]), HasSubstr("kgw"));
  EXPECT_EQ(Str(agent["restartPolicy"]), "Always");
  ASSERT_EQ(pod["containers"].size(), 1u);
  std::vector<std::string> images;
  for (const YAML::Node& c : Containers(pod)) images.push_back(Str(c["image"]));
  EXPECT_EQ(std::count_if(images.begin(), images.end(),
                          [](const std::string& i) { return absl::StrContains(i, "kgw"); }),
            1)
      << "one agent beside the application";
  const auto env = Env(agent);
  EXPECT_EQ(Get(env, "GATEWAY_AGENT_ROLE"), "sidecar");
  EXPECT_EQ(Get(Env(pod["containers"][0]), "BOOTSTRAP_SERVERS"),
            "localhost:" + EffectiveValue(env, "GATEWAY_PORT_START", Doc()));
  // GATEWAY_COORDINATORS is the coordinators' Service, at the port it serves.
  const YAML::Node service = Find(objects, "Service", "kgw-coordinator");
  ASSERT_TRUE(service);
  EXPECT_EQ(Get(env, "GATEWAY_COORDINATORS"),
            absl::StrCat("kgw-coordinator.kgw.svc.cluster.local:",
                         Str(service["spec"]["ports"][0]["port"])));
}

// Every *_FILE setting names a file of a Secret the container mounts.
void ExpectFilesFromMountedSecrets(const YAML::Node& workload) {
  const YAML::Node pod = workload["spec"]["template"]["spec"];
  std::map<std::string, std::string> secret_of_volume;
  if (pod["volumes"]) {
    for (const YAML::Node& v : pod["volumes"]) {
      secret_of_volume[Str(v["name"])] = Str(v["secret"]["secretName"]);
    }
  }
  const YAML::Node c = KgwContainer(pod);
  std::map<std::string, std::string> secret_of_path;
  if (c["volumeMounts"]) {
    for (const YAML::Node& m : c["volumeMounts"]) {
      secret_of_path[Str(m["mountPath"])] = secret_of_volume[Str(m["name"])];
    }
  }
  for (const auto& [name, value] : Env(c)) {
    if (!absl::EndsWith(name, "_FILE")) continue;
    const std::string dir = value.substr(0, value.rfind('/'));
    EXPECT_FALSE(secret_of_path[dir].empty())
        << Str(workload["metadata"]["name"]) << ": " << name << "=" << value
        << " is in no mounted Secret";
  }
}

TEST_F(HelmChartTest, TlsTakesEveryCertificateFromSecretsAndNamesCoordinatorsStably) {
  const std::vector<YAML::Node> objects = Objects({ExampleFile("tls")});
  // A certificate must name the host each coordinator advertises: pods of a StatefulSet
  // have stable names under its headless Service.
  const YAML::Node coordinators = Find(objects, "StatefulSet", "kgw-coordinator");
  ASSERT_TRUE(coordinators);
  EXPECT_EQ(Str(coordinators["spec"]["serviceName"]), "kgw-coordinator-pods");
  const YAML::Node pods = Find(objects, "Service", "kgw-coordinator-pods");
  ASSERT_TRUE(pods);
  EXPECT_EQ(Str(pods["spec"]["clusterIP"]), "None");
  const auto coordinator = Env(KgwContainer(coordinators["spec"]["template"]["spec"]));
  EXPECT_EQ(Get(coordinator, "GATEWAY_ADVERTISED_HOST"),
            "$(GATEWAY_NODE_ID).kgw-coordinator-pods.kgw.svc.cluster.local");
  EXPECT_EQ(Get(coordinator, "GATEWAY_GRPC_TLS"), "true");
  EXPECT_EQ(Get(coordinator, "GATEWAY_GRPC_TLS_CLIENT_AUTH"), "REQUIRE");
  EXPECT_EQ(Get(coordinator, "KAFKA_SASL_PASSWORD"), "secret:kgw-kafka-password/password");
  const YAML::Node agents = Find(objects, "Deployment", "kgw-agent");
  const auto agent = Env(KgwContainer(agents["spec"]["template"]["spec"]));
  for (const char* file : {"GATEWAY_GRPC_TLS_CA_FILE", "GATEWAY_GRPC_TLS_CERT_FILE",
                           "GATEWAY_SSL_CERT_FILE", "GATEWAY_SSL_CA_FILE", "KAFKA_SSL_CA_FILE"}) {
    EXPECT_NE(Get(agent, file), "<unset>") << file;
  }
  EXPECT_EQ(Get(agent, "GATEWAY_SSL_CLIENT_AUTH"), "REQUIRE");
  EXPECT_EQ(Get(agent, "GATEWAY_SECURITY_PROTOCOL"), "SASL_SSL");
  ExpectFilesFromMountedSecrets(coordinators);
  ExpectFilesFromMountedSecrets(agents);
}

TEST_F(HelmChartTest, GracePeriodsAreTheAgentsShutdownBudget) {
  // Defaults: the documented delay and drain timeout, for kafka.brokers 100.
  const std::vector<YAML::Node> defaults = Objects({});
  const YAML::Node pool = Find(defaults, "Deployment", "kgw-agent")["spec"]["template"]["spec"];
  EXPECT_EQ(pool["terminationGracePeriodSeconds"].as<int64_t>(), AgentGraceS({}, 100));

  // Each mode's own settings; a sidecar's pod adds its application's stop.
  const std::vector<YAML::Node> objects = Objects({}, R"(
kafka: {brokers: 30}
env: {GATEWAY_GROUP_SESSION_TIMEOUT: 20s}
agents:
  env:
    GATEWAY_SHUTDOWN_DELAY_BETWEEN_BROKERS_MS: 2000
    GATEWAY_SHUTDOWN_DRAIN_TIMEOUT: 1m
    GATEWAY_GROUP_SESSION_TIMEOUT: 30s
sidecar:
  env: {GATEWAY_SHUTDOWN_DRAIN_TIMEOUT: 15s}
  applicationStopSeconds: 7
  example: {enabled: true}
)");
  const YAML::Node agents = Find(objects, "Deployment", "kgw-agent")["spec"]["template"]["spec"];
  const auto agent_env = Env(KgwContainer(agents));
  EXPECT_EQ(Get(agent_env, "GATEWAY_GROUP_SESSION_TIMEOUT"), "30s") << "agents.env over env";
  const YAML::Node coordinators =
      Find(objects, "Deployment", "kgw-coordinator")["spec"]["template"]["spec"];
  EXPECT_EQ(Get(Env(KgwContainer(coordinators)), "GATEWAY_GROUP_SESSION_TIMEOUT"), "20s");
  EXPECT_EQ(agents["terminationGracePeriodSeconds"].as<int64_t>(), AgentGraceS(agent_env, 30));
  EXPECT_EQ(AgentGraceS(agent_env, 30), 125);
  const YAML::Node app = Find(objects, "Deployment", "my-app")["spec"]["template"]["spec"];
  const auto sidecar_env = Env(KgwContainer(app));
  EXPECT_EQ(app["terminationGracePeriodSeconds"].as<int64_t>(),
            AgentGraceS(sidecar_env, 30) + 7);
}

// ---- the values and their schema ------------------------------------------------------

std::set<std::string> SchemaEnum(const YAML::Node& schema, const char* definition) {
  std::set<std::string> names;
  for (const YAML::Node& n : schema["definitions"][definition]["enum"]) names.insert(Str(n));
  return names;
}

TEST(HelmValuesTest, EveryExampleValuesFileIsAMode) {
  std::set<std::string> files;
  for (const auto& e : fs::directory_iterator(SourceDir() + "/compose/helm/examples")) {
    files.insert(e.path().stem().string());
  }
  EXPECT_EQ(files, std::set<std::string>(Modes().begin(), Modes().end()));
}

TEST(HelmValuesTest, SchemaAllowsExactlyTheDocumentedSettingsOfEachExecutable) {
  YAML::Node schema;
  ASSERT_NO_THROW(schema = YAML::Load(test::ReadFile(ChartDir() + "/values.schema.json")));
  ASSERT_FALSE(Doc().empty());
  std::set<std::string> shared, agent, coordinator;
  for (const auto& [name, setting] : Doc()) {
    const bool by_agent = setting.read_by.count(Executable::kAgent) != 0;
    const bool by_coordinator = setting.read_by.count(Executable::kCoordinator) != 0;
    if (by_agent && by_coordinator) shared.insert(name);
    if (by_agent && !by_coordinator) agent.insert(name);
    if (by_coordinator && !by_agent) coordinator.insert(name);
  }
  EXPECT_EQ(SchemaEnum(schema, "sharedSettings"), shared);
  EXPECT_EQ(SchemaEnum(schema, "agentSettings"), agent);
  EXPECT_EQ(SchemaEnum(schema, "coordinatorSettings"), coordinator);
  for (const std::string& name : SchemaEnum(schema, "chartSettings")) {
    EXPECT_EQ(Doc().count(name), 1u) << name << " (chartSettings) is not documented";
  }
}

TEST(HelmValuesTest, ChartAppVersionIsTheProjectsVersion) {
  // The default image tag is the appVersion: it must name the release the chart belongs to.
  YAML::Node chart;
  ASSERT_NO_THROW(chart = YAML::Load(test::ReadFile(ChartDir() + "/Chart.yaml")));
  const std::string cmake = test::ReadFile(SourceDir() + "/CMakeLists.txt");
  EXPECT_THAT(cmake,
              HasSubstr(absl::StrCat("project(kgw VERSION ", Str(chart["appVersion"]), " ")));
}

TEST(HelmValuesTest, EveryLineOfValuesYamlIsExplained) {
  const std::string values = test::ReadFile(ChartDir() + "/values.yaml");
  ASSERT_FALSE(values.empty());
  int keys = 0;
  std::string previous;  // the last line that is not blank
  for (absl::string_view line : absl::StrSplit(values, '\n')) {
    const absl::string_view text = absl::StripLeadingAsciiWhitespace(line);
    if (text.empty()) continue;
    if (!absl::StartsWith(text, "#")) {
      ++keys;
      const size_t indent = line.size() - text.size();
      const bool comment_above =
          previous.size() > indent && previous.substr(0, indent + 1) ==
                                          absl::StrCat(std::string(indent, ' '), "#");
      EXPECT_TRUE(comment_above) << "values.yaml: no comment above \"" << line << "\"";
    }
    previous = std::string(line);
  }
  EXPECT_GT(keys, 40);
}

// ---- broken values are refused ----------------------------------------------------------

// Who must refuse a broken value: values.schema.json; the templates, even with the schema
// skipped (helm template --skip-schema-validation); or the checks, on what helm renders with
// the schema skipped.
enum class RefusedBy { kSchema, kTemplates, kChecks };

struct BrokenValues {
  const char* what;
  const char* values;  // YAML over the defaults
  RefusedBy refused_by;
  const char* refusal;  // in helm's error, or in one of the checks' problems
};

const BrokenValues kBroken[] = {
    {"an unknown setting name", "agents: {env: {GATEWAY_PORT_STRAT: 7000}}", RefusedBy::kSchema,
     "invalid propertyName 'GATEWAY_PORT_STRAT'"},
    {"an unknown setting name", "agents: {env: {GATEWAY_PORT_STRAT: 7000}}", RefusedBy::kChecks,
     "GATEWAY_PORT_STRAT is not a setting in docs/configuration.md"},
    {"a coordinator's setting given to agents", "agents: {env: {GATEWAY_GRPC_PORT: 7000}}",
     RefusedBy::kChecks, "GATEWAY_GRPC_PORT is not a setting of kgw-agent"},
    {"a rack set by hand", "agents: {env: {GATEWAY_RACK_ID: eu-west-1a}}", RefusedBy::kSchema,
     "invalid propertyName 'GATEWAY_RACK_ID'"},
    {"a rack set by hand", "agents: {env: {GATEWAY_RACK_ID: eu-west-1a}}", RefusedBy::kChecks,
     "env sets GATEWAY_RACK_ID twice"},
    {"a grace period too short", "agents: {terminationGracePeriodSeconds: 15}",
     RefusedBy::kTemplates,
     "agents.terminationGracePeriodSeconds 15 does not cover an agent's drain of 65 s"},
    {"a grace period derived for fewer brokers than the checks cover", "kafka: {brokers: 5}",
     RefusedBy::kChecks, "terminationGracePeriodSeconds 18 does not cover a drain of 20 brokers"},
    {"a port out of range", "agents: {env: {GATEWAY_PORT_START: 70000}}", RefusedBy::kSchema,
     "/agents/env/GATEWAY_PORT_START"},
    {"a port by name", "sidecar: {env: {GATEWAY_HTTP_PORT: http}, example: {enabled: true}}",
     RefusedBy::kChecks, "GATEWAY_HTTP_PORT \"http\" is not a port number"},
    {"a drain timeout the chart cannot compute with",
     "agents: {env: {GATEWAY_SHUTDOWN_DRAIN_TIMEOUT: 1m30s}}", RefusedBy::kSchema,
     "does not match pattern"},
    {"a drain timeout the chart cannot compute with",
     "agents: {env: {GATEWAY_SHUTDOWN_DRAIN_TIMEOUT: 1m30s}}", RefusedBy::kTemplates,
     "the chart reads durations as a number and ms, s, m or h"},
    {"an unknown agent mode", "agents: {mode: statefulset}", RefusedBy::kSchema,
     "value must be one of 'pool', 'daemonset', 'none'"},
    {"a misspelt value", "agents: {replica: 3}", RefusedBy::kSchema,
     "additional properties 'replica'"},
    {"an admin API anyone could call", "adminToken: {secretName: \"\"}", RefusedBy::kTemplates,
     "anyone could drain agents"},
    {"client TLS without its Secret", "clients: {securityProtocol: SSL}", RefusedBy::kTemplates,
     "clients.tlsSecret is needed"},
    {"SASL without a password", "kafka: {securityProtocol: SASL_SSL, sasl: {username: kgw}}",
     RefusedBy::kTemplates, "kafka.sasl.passwordSecret is needed"},
};

TEST_F(HelmChartTest, BrokenValuesAreRefusedByHelmOrTheChecks) {
  for (const BrokenValues& broken : kBroken) {
    SCOPED_TRACE(absl::StrCat(broken.what, ": ", broken.values));
    const bool schema = broken.refused_by == RefusedBy::kSchema;
    const Rendered r = Render({}, broken.values, schema ? "" : "--skip-schema-validation");
    if (broken.refused_by == RefusedBy::kChecks) {
      ASSERT_EQ(r.exit_code, 0) << r.errors;
      EXPECT_THAT(CheckKubernetesManifest(r.objects, Doc(), "helm template"),
                  Contains(HasSubstr(broken.refusal)));
    } else {
      EXPECT_NE(r.exit_code, 0);
      EXPECT_THAT(r.errors, HasSubstr(broken.refusal));
    }
  }
}

// ---- the sidecar snippet in an application's chart ---------------------------------------

constexpr char kApplicationPod[] = R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      terminationGracePeriodSeconds: {{ include "kgw.sidecar.terminationGracePeriodSeconds"
                                         .Subcharts.kgw }}
      initContainers:
        {{- include "kgw.sidecar.container" .Subcharts.kgw | nindent 8 }}
      containers:
        - name: shop
          image: shop:1
          env: [{name: BOOTSTRAP_SERVERS, value: "localhost:7100"}]
      {{- with include "kgw.sidecar.volumes" .Subcharts.kgw | trim }}
      volumes:
        {{- . | nindent 8 }}
      {{- end }}
)";

TEST_F(HelmChartTest, AnApplicationChartGetsTheAgentAsItsSidecarFromTheSnippet) {
  const fs::path app = fs::path(scratch_) / "shop";
  fs::create_directories(app / "templates");
  fs::create_directories(app / "charts");
  fs::copy(ChartDir(), app / "charts" / "kgw", fs::copy_options::recursive);
  std::ofstream(app / "Chart.yaml") << "apiVersion: v2\nname: shop\nversion: 1.0.0\n";
  std::ofstream(app / "values.yaml")
      << "kgw:\n  agents: {mode: none}\n  clusterKey: {secretName: kgw-cluster-key}\n"
         "  sidecar: {env: {GATEWAY_PORT_START: 7100}}\n";
  std::ofstream(app / "templates" / "shop.yaml") << kApplicationPod;

  const Rendered r = Render({}, "", "", app.string());
  ASSERT_EQ(r.exit_code, 0) << r.errors;
  EXPECT_THAT(CheckKubernetesManifest(r.objects, Doc(), "the shop chart"), IsEmpty());
  const std::vector<YAML::Node> objects = Parse(r.objects);
  const YAML::Node shop = Find(objects, "Deployment", "shop");
  const YAML::Node agent = KgwContainer(shop["spec"]["template"]["spec"]);
  ASSERT_TRUE(agent);
  const auto env = Env(agent);
  EXPECT_EQ(Get(env, "GATEWAY_COORDINATORS"), "kgw-coordinator.kgw.svc.cluster.local:6900");
  EXPECT_TRUE(Find(objects, "Service", "kgw-coordinator")) << "the subchart's coordinators";
  EXPECT_EQ(ContainerPorts(agent)[0], 7100);
  ExpectFilesFromMountedSecrets(shop);
}

}  // namespace
}  // namespace kgw::deploy
