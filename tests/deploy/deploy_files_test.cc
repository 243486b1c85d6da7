// The deployment files read as a reviewer would: every compose file and
// systemd unit in compose/, the HAProxy configuration and the Dockerfile (the
// Helm chart's objects are rendered and checked by helm_chart_test.cc). Env
// names must be documented settings of the executable they are given to,
// probes and ports must be the ones the binaries serve, grace periods must
// cover an agent's drain, and the runtime image must hold every shared library
// the built binaries load. The second half feeds the same checks broken
// examples, so that a check that can never fail is caught.
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/deploy/deploy_model.h"
#include "tests/deploy/source_tree.h"
#include "tests/e2e/process_util.h"

namespace kgw::deploy {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

namespace fs = std::filesystem;

// Files in `dir` (relative to the source tree) whose names end in one of `suffixes`.
std::vector<fs::path> FilesIn(const std::string& dir, std::vector<std::string> suffixes) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(SourceDir() + "/" + dir)) {
    for (const std::string& suffix : suffixes) {
      if (entry.is_regular_file() && absl::EndsWith(entry.path().filename().string(), suffix)) {
        files.push_back(entry.path());
      }
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

ComposeFile LoadCompose(const std::string& relative) {
  absl::StatusOr<ComposeFile> file = ParseCompose(test::ReadFile(SourceDir() + "/" + relative));
  EXPECT_TRUE(file.ok()) << relative << ": " << file.status();
  return file.ok() ? *file : ComposeFile{};
}

std::vector<std::string> CheckManifest(const std::string& text, const std::string& name) {
  return CheckKubernetesManifest(text, Doc(), name);
}

TEST(ConfigurationDocTest, TablesGiveEachSettingItsExecutablesAndDefault) {
  ASSERT_FALSE(Doc().empty());
  const DocumentedSetting& port_start = Doc().at("GATEWAY_PORT_START");
  EXPECT_EQ(port_start.default_value, "6969");
  EXPECT_EQ(port_start.read_by, std::set<Executable>{Executable::kAgent});
  EXPECT_EQ(Doc().at("KAFKA_BOOTSTRAP_SERVERS").read_by,
            (std::set<Executable>{Executable::kAgent, Executable::kCoordinator}));
  EXPECT_EQ(Doc().at("GATEWAY_GRPC_PORT").default_value, "6900");
  EXPECT_EQ(Doc().at("KGWCTL_COORDINATOR").read_by, std::set<Executable>{Executable::kKgwctl});
  // A type cell with escaped pipes does not shift the Default column.
  EXPECT_EQ(Doc().at("KAFKA_SECURITY_PROTOCOL").default_value, "PLAINTEXT");
  EXPECT_FALSE(ParseConfigurationDoc("# nothing here\n").ok());
}

// ---- the real files ----------------------------------------------------------------

TEST(DeployFilesTest, EveryComposeFilePassesReview) {
  const std::vector<fs::path> files = FilesIn("compose", {".yml", ".yaml"});
  ASSERT_GE(files.size(), 2u);
  for (const fs::path& path : files) {
    const std::string name = "compose/" + path.filename().string();
    ComposeFile file = LoadCompose(name);
    EXPECT_FALSE(file.services.empty()) << name;
    EXPECT_THAT(CheckComposeFile(file, Doc(), name), IsEmpty());
  }
}

TEST(DeployFilesTest, MainComposeFileHasBrokersCoordinatorsAgentsPerRackAndAClient) {
  const ComposeFile file = LoadCompose("compose/docker-compose.yml");
  std::multiset<std::string> broker_racks, agent_racks;
  int coordinators = 0;
  std::set<std::string> agents;
  for (const ComposeService& s : file.services) {
    if (!s.profiles.empty()) continue;
    if (absl::StartsWith(s.image, "apache/kafka") && s.environment.count("KAFKA_BROKER_RACK")) {
      broker_racks.insert(s.environment.at("KAFKA_BROKER_RACK"));
    }
    if (s.executable() == Executable::kCoordinator) ++coordinators;
    if (s.executable() == Executable::kAgent) {
      agent_racks.insert(s.environment.at("GATEWAY_RACK_ID"));
      agents.insert(s.name);
    }
  }
  EXPECT_EQ(broker_racks, (std::multiset<std::string>{"a", "b", "c"}));
  EXPECT_EQ(agent_racks, (std::multiset<std::string>{"a", "b", "c"}));
  EXPECT_EQ(coordinators, 2);
  const ComposeService* client = file.Find("client");
  ASSERT_NE(client, nullptr);
  ASSERT_EQ(client->environment.count("BOOTSTRAP_SERVERS"), 1u);
  const auto bootstrap = ParseHostPortList(client->environment.at("BOOTSTRAP_SERVERS"));
  ASSERT_FALSE(bootstrap.empty());
  for (const auto& [host, port] : bootstrap) {
    EXPECT_TRUE(agents.count(host)) << host << " is not an agent";
    EXPECT_EQ(std::to_string(port), Doc().at("GATEWAY_PORT_START").default_value);
  }
  EXPECT_THAT(absl::StrJoin(client->command, " "), HasSubstr("$BOOTSTRAP_SERVERS"));

  // The haproxy profile: HAProxy 2.8 with the configuration file of compose/haproxy/.
  const ComposeService* haproxy = file.Find("haproxy");
  ASSERT_NE(haproxy, nullptr);
  EXPECT_TRUE(haproxy->InProfile("haproxy"));
  EXPECT_EQ(haproxy->image, "haproxy:2.8");
  EXPECT_THAT(haproxy->volumes,
              Contains(HasSubstr("./haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg")));
  int lb_agents = 0;
  for (const ComposeService& s : file.services) {
    if (s.executable() == Executable::kAgent && s.InProfile("haproxy")) ++lb_agents;
  }
  EXPECT_EQ(lb_agents, 3);
}

TEST(DeployFilesTest, HaproxyConfigSendsProxyV2ToAgentsInTheExternalLoadBalancerMode) {
  const ComposeFile file = LoadCompose("compose/docker-compose.yml");
  EXPECT_THAT(
      CheckHaproxyConfig(test::ReadFile(SourceDir() + "/compose/haproxy/haproxy.cfg"), file, Doc()),
      IsEmpty());
}

TEST(DeployFilesTest, SidecarAppBootstrapsFromItsOwnAgentOnLocalhost) {
  const ComposeFile file = LoadCompose("compose/docker-compose.sidecar.yml");
  const ComposeService* agent = nullptr;
  for (const ComposeService& s : file.services) {
    if (s.executable() == Executable::kAgent) agent = &s;
  }
  ASSERT_NE(agent, nullptr);
  ASSERT_TRUE(absl::StartsWith(agent->network_mode, "service:")) << agent->network_mode;
  const ComposeService* app = file.Find(agent->network_mode.substr(8));
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(
      app->environment.at("BOOTSTRAP_SERVERS"),
      absl::StrCat("localhost:", EffectiveValue(agent->environment, "GATEWAY_PORT_START", Doc())));
}

TEST(DeployFilesTest, DockerfileBuildsWithTheReadmesScriptsAndRunsUnprivileged) {
  const std::vector<DockerStage> stages =
      ParseDockerfile(test::ReadFile(SourceDir() + "/Dockerfile"));
  EXPECT_THAT(CheckDockerfile(stages, Doc()), IsEmpty());
  const std::string ignore = test::ReadFile(SourceDir() + "/.dockerignore");
  std::vector<std::string> lines = absl::StrSplit(ignore, '\n');
  EXPECT_THAT(lines, Contains(".git"));
  EXPECT_THAT(lines, Contains("build-*"));
  EXPECT_THAT(lines, Contains("build"));
}

// Every library the binaries load comes with a package the runtime stage
// installs (or one those depend on, as apt installs them too).
TEST(DeployFilesTest, RuntimeStageInstallsEverySharedLibraryTheBinariesLoad) {
  if (test::EnvOr("KGW_DEPLOY_PLAIN_BINARIES", "1") != "1") {
    GTEST_SKIP() << "sanitizer build: its binaries load libasan/libubsan; the plain build checks";
  }
  const std::vector<DockerStage> stages =
      ParseDockerfile(test::ReadFile(SourceDir() + "/Dockerfile"));
  ASSERT_GE(stages.size(), 2u);
  const std::vector<std::string> runtime = AptInstalledPackages(stages.back());
  ASSERT_FALSE(runtime.empty());

  std::set<std::string> libraries;
  for (const char* var : {"KGW_AGENT_BIN", "KGW_COORDINATOR_BIN", "KGWCTL_BIN"}) {
    const std::string bin = test::EnvOr(var, "");
    ASSERT_FALSE(bin.empty()) << var << " is not set";
    auto [rc, out] = test::Shell("ldd '" + bin + "'");
    ASSERT_EQ(rc, 0) << out;
    for (std::string& path : ParseLdd(out)) {
      EXPECT_FALSE(absl::StartsWith(path, "not found")) << bin << ": " << path;
      libraries.insert(std::move(path));
    }
  }
  ASSERT_GT(libraries.size(), 5u);
  auto [rc, search] = test::Shell("dpkg -S " + absl::StrJoin(libraries, " ") + " 2>/dev/null");
  std::map<std::string, std::vector<std::string>> owners = ParseDpkgSearch(search);
  // Merged /usr: a path dpkg knows by its other spelling.
  for (const std::string& lib : libraries) {
    if (owners.count(lib)) continue;
    const std::string other =
        absl::StartsWith(lib, "/usr/") ? lib.substr(4) : absl::StrCat("/usr", lib);
    auto [rc2, again] = test::Shell("dpkg -S " + other + " 2>/dev/null");
    for (auto& [path, pkgs] : ParseDpkgSearch(again)) owners[lib] = pkgs;
  }
  auto [qrc, status] =
      test::Shell("dpkg-query -W -f='${Package}\\t${Depends}, ${Pre-Depends}\\t${Provides}\\n'");
  ASSERT_EQ(qrc, 0) << status;
  const auto deps = ParseDpkgDependencies(status);
  for (const std::string& pkg : runtime) {
    EXPECT_TRUE(deps.count(pkg)) << "runtime package " << pkg
                                 << " is not a Debian package installed here (a typo?)";
  }
  const std::set<std::string> closure = DependencyClosure(runtime, deps);
  for (const std::string& lib : libraries) {
    auto it = owners.find(lib);
    if (it == owners.end()) {
      ADD_FAILURE() << lib << " belongs to no Debian package: the image cannot get it";
      continue;
    }
    const bool provided = std::any_of(it->second.begin(), it->second.end(),
                                      [&](const std::string& p) { return closure.count(p); });
    EXPECT_TRUE(provided) << lib << " comes with " << absl::StrJoin(it->second, " or ")
                          << ", which the runtime stage does not install: add it to its "
                             "apt-get install";
  }
}

TEST(DeployFilesTest, SystemdUnitsRunTheBinariesUnprivilegedWithRestarts) {
  const std::string dir = SourceDir() + "/compose/systemd/";
  EXPECT_THAT(CheckSystemdUnit(ParseSystemdUnit(test::ReadFile(dir + "kgw-agent.service")),
                               Executable::kAgent, Doc(), "kgw-agent.service"),
              IsEmpty());
  EXPECT_THAT(CheckSystemdUnit(ParseSystemdUnit(test::ReadFile(dir + "kgw-coordinator.service")),
                               Executable::kCoordinator, Doc(), "kgw-coordinator.service"),
              IsEmpty());
}

// ---- the checks fail on broken files -----------------------------------------------

constexpr char kComposeAgent[] = R"(
services:
  kafka-1:
    image: apache/kafka:4.1.0
    environment: {KAFKA_NODE_ID: "1", KAFKA_BROKER_RACK: a, KAFKA_PROCESS_ROLES: "broker,controller"}
  agent-a:
    image: kgw:local
    command: ["kgw-agent"]
    environment:
      - KAFKA_BOOTSTRAP_SERVERS=kafka-1:9092
      - GATEWAY_RACK_ID=a
      - GATEWAY_ADVERTISED_HOST=agent-a
      - %s
    expose: ["6969-6974", "8888"]
    stop_grace_period: %s
)";

std::vector<std::string> ComposeProblems(const std::string& extra_env, const std::string& grace) {
  std::string yaml = kComposeAgent;
  yaml.replace(yaml.find("%s"), 2, extra_env);
  yaml.replace(yaml.find("%s"), 2, grace);
  absl::StatusOr<ComposeFile> file = ParseCompose(yaml);
  EXPECT_TRUE(file.ok()) << file.status();
  return file.ok() ? CheckComposeFile(*file, Doc(), "test.yml") : std::vector<std::string>{};
}

TEST(DeployChecksTest, AGoodComposeServicePasses) {
  EXPECT_THAT(ComposeProblems("GATEWAY_NODE_ID=agent-a", "60s"), IsEmpty());
}

TEST(DeployChecksTest, AnUnknownEnvNameIsReportedByName) {
  EXPECT_THAT(ComposeProblems("GATEWAY_PORT_STRAT=7000", "60s"),
              Contains(AllOf(HasSubstr("GATEWAY_PORT_STRAT"), HasSubstr("agent-a"),
                             HasSubstr("not a setting in docs/configuration.md"))));
}

TEST(DeployChecksTest, ACoordinatorSettingGivenToAnAgentIsReported) {
  EXPECT_THAT(ComposeProblems("GATEWAY_GRPC_PORT=7000", "60s"),
              Contains(HasSubstr("GATEWAY_GRPC_PORT is not a setting of kgw-agent")));
}

TEST(DeployChecksTest, UnexposedPortsAndAShortStopGracePeriodAreReported) {
  EXPECT_THAT(ComposeProblems("GATEWAY_PORT_START=7000", "60s"),
              Contains(HasSubstr("does not expose its GATEWAY_PORT_START 7000")));
  EXPECT_THAT(ComposeProblems("GATEWAY_HTTP_PORT=9000", "60s"),
              Contains(HasSubstr("does not expose its GATEWAY_HTTP_PORT 9000")));
  EXPECT_THAT(ComposeProblems("GATEWAY_NODE_ID=x", "10s"),
              Contains(HasSubstr("stop_grace_period \"10s\" does not cover")));
  // A longer drain timeout needs a longer grace period.
  EXPECT_THAT(ComposeProblems("GATEWAY_SHUTDOWN_DRAIN_TIMEOUT=2m", "60s"),
              Contains(HasSubstr("does not cover")));
}

TEST(DeployChecksTest, AnAgentAdvertisingAnUnresolvableHostIsReported) {
  EXPECT_THAT(ComposeProblems("GATEWAY_ADVERTISED_HOST=somewhere-else", "60s"),
              Contains(HasSubstr("not a service name clients can resolve")));
}

TEST(DeployChecksTest, UnparsableComposeIsAnError) {
  EXPECT_FALSE(ParseCompose("services: [unclosed").ok());
  EXPECT_FALSE(ParseCompose("version: '3'\n").ok());
}

constexpr char kDeployment[] = R"(
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: kgw-agent}
spec:
  selector: {matchLabels: {app: kgw-agent}}
  template:
    metadata: {labels: {app: kgw-agent}}
    spec:
      terminationGracePeriodSeconds: 60
      securityContext: {runAsNonRoot: true}
      containers:
        - name: kgw-agent
          image: kgw:1
          command: ["kgw-agent"]
          env:
            - name: GATEWAY_RACK_ID
              valueFrom: {fieldRef: {fieldPath: "metadata.labels['topology.kubernetes.io/zone']"}}
            - {name: GATEWAY_ADVERTISED_HOST, valueFrom: {fieldRef: {fieldPath: status.hostIP}}}
          ports:
            - {name: kafka, containerPort: 6969}
            - {name: http, containerPort: 8888}
          readinessProbe: {httpGet: {path: /health/ready, port: http}}
          livenessProbe: {httpGet: {path: /health/live, port: 8888}}
)";

// kDeployment with the first occurrence of `from` replaced by `to`.
std::vector<std::string> ManifestProblems(const std::string& from, const std::string& to) {
  std::string yaml = kDeployment;
  if (!from.empty()) {
    const size_t at = yaml.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) yaml.replace(at, from.size(), to);
  }
  return CheckManifest(yaml, "test.yaml");
}

TEST(DeployChecksTest, AGoodManifestPasses) { EXPECT_THAT(ManifestProblems("", ""), IsEmpty()); }

TEST(DeployChecksTest, ProbesOnTheWrongPathOrPortAreReported) {
  EXPECT_THAT(ManifestProblems("path: /health/ready", "path: /healthz"),
              Contains(HasSubstr("readinessProbe must GET /health/ready on port 8888")));
  EXPECT_THAT(ManifestProblems("port: 8888}}", "port: 6969}}"),
              Contains(HasSubstr("livenessProbe must GET /health/live on port 8888")));
  EXPECT_THAT(ManifestProblems(
                  "          livenessProbe: {httpGet: {path: /health/live, port: 8888}}\n", ""),
              Contains(HasSubstr("no livenessProbe")));
}

TEST(DeployChecksTest, SelectorsThatMissTheTemplateLabelsAreReported) {
  EXPECT_THAT(ManifestProblems("matchLabels: {app: kgw-agent}", "matchLabels: {app: kgw}"),
              Contains(HasSubstr("does not match the pod template's labels")));
}

TEST(DeployChecksTest, ARackNotTakenFromTheZoneLabelIsReported) {
  EXPECT_THAT(ManifestProblems("valueFrom: {fieldRef: {fieldPath: \"metadata.labels['topology."
                               "kubernetes.io/zone']\"}}",
                               "value: a"),
              Contains(HasSubstr("GATEWAY_RACK_ID must come from fieldRef")));
}

TEST(DeployChecksTest, AShortGracePeriodAndRootAreReported) {
  EXPECT_THAT(
      ManifestProblems("terminationGracePeriodSeconds: 60", "terminationGracePeriodSeconds: 15"),
      Contains(HasSubstr("terminationGracePeriodSeconds 15 does not cover")));
  // Unset: Kubernetes' 30 s default, too short for a 25 s drain timeout.
  std::string yaml = kDeployment;
  yaml.replace(yaml.find("terminationGracePeriodSeconds: 60"), 33, "");
  yaml.replace(yaml.find("          ports:"), 0,
               "            - {name: GATEWAY_SHUTDOWN_DRAIN_TIMEOUT, value: 25s}\n");
  EXPECT_THAT(CheckManifest(yaml, "t.yaml"),
              Contains(HasSubstr("terminationGracePeriodSeconds 30 does not cover")));
  EXPECT_THAT(ManifestProblems("runAsNonRoot: true", "runAsNonRoot: false"),
              Contains(HasSubstr("runAsNonRoot is not true")));
}

TEST(DeployChecksTest, UndeclaredPortsAndUnknownEnvNamesInManifestsAreReported) {
  EXPECT_THAT(ManifestProblems("containerPort: 6969", "containerPort: 7000"),
              Contains(HasSubstr("no containerPort for GATEWAY_PORT_START 6969")));
  EXPECT_THAT(ManifestProblems("name: GATEWAY_ADVERTISED_HOST", "name: GATEWAY_ADVERTISE_HOST"),
              Contains(HasSubstr("GATEWAY_ADVERTISE_HOST is not a setting")));
  // A port by name matches the probes' named port, but is no port the agent can bind.
  EXPECT_THAT(ManifestProblems("          ports:",
                               "            - {name: GATEWAY_HTTP_PORT, value: http}\n"
                               "          ports:"),
              Contains(HasSubstr("GATEWAY_HTTP_PORT \"http\" is not a port number")));
}

TEST(DeployChecksTest, ACoordinatorWhoseAdminApiAnyoneCanCallIsReported) {
  const std::string coordinator = R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: kgw-coordinator}
spec:
  selector: {matchLabels: {app: kgw-coordinator}}
  template:
    metadata: {labels: {app: kgw-coordinator}}
    spec:
      securityContext: {runAsNonRoot: true}
      containers:
        - name: kgw-coordinator
          image: kgw:1
          command: ["kgw-coordinator"]
          env:
%s
          ports:
            - {name: grpc, containerPort: 6900}
            - {name: http, containerPort: 8888}
          readinessProbe: {httpGet: {path: /health/ready, port: http}}
          livenessProbe: {httpGet: {path: /health/live, port: http}}
)";
  const auto problems = [&](const std::string& env) {
    std::string yaml = coordinator;
    yaml.replace(yaml.find("%s"), 2, env);
    return CheckManifest(yaml, "c.yaml");
  };
  EXPECT_THAT(problems("            - {name: GATEWAY_CLUSTER_ID, value: prod}"),
              Contains(HasSubstr("its admin API on 0.0.0.0 has no GATEWAY_ADMIN_TOKEN")));
  EXPECT_THAT(problems("            - name: GATEWAY_ADMIN_TOKEN\n"
                       "              valueFrom: {secretKeyRef: {name: kgw-admin, key: token}}"),
              IsEmpty());
  EXPECT_THAT(problems("            - {name: GATEWAY_GRPC_BIND_HOST, value: 127.0.0.1}"),
              IsEmpty());
  EXPECT_THAT(
      problems("            - {name: GATEWAY_ADMIN_ALLOW_UNAUTHENTICATED, value: \"true\"}"),
      IsEmpty());
}

TEST(DeployChecksTest, AnEnvNameGivenTwiceIsReported) {
  // The second entry would win: a rack set by hand over the zone label's.
  EXPECT_THAT(ManifestProblems("          ports:",
                               "            - {name: GATEWAY_RACK_ID, value: a}\n          ports:"),
              Contains(HasSubstr("env sets GATEWAY_RACK_ID twice")));
}

constexpr char kServiceOf[] = R"(
---
apiVersion: v1
kind: Service
metadata: {name: kgw}
spec:
  selector: {app: %s}
  ports: [{name: http, port: 8888, targetPort: http}]
)";

constexpr char kDisruptionBudgetOf[] = R"(
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: kgw-agent}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app: %s}}
)";

// Both are meant for the pods of a workload; with a selector that misses them a
// Service sends nowhere and a budget protects nothing.
TEST(DeployChecksTest, AServiceOrADisruptionBudgetSelectingNoPodsIsReported) {
  for (const auto& [what, object] : {std::pair<std::string, std::string>{"Service kgw", kServiceOf},
                                     {"PodDisruptionBudget kgw-agent", kDisruptionBudgetOf}}) {
    std::string good = object, bad = object;
    good.replace(good.find("%s"), 2, "kgw-agent");
    bad.replace(bad.find("%s"), 2, "nothing");
    EXPECT_THAT(CheckManifest(std::string(kDeployment) + good, "t.yaml"), IsEmpty()) << what;
    EXPECT_THAT(CheckManifest(std::string(kDeployment) + bad, "t.yaml"),
                Contains(HasSubstr(what + ": its selector matches no pod template")));
  }
}

TEST(DeployChecksTest, ADockerfileAsRootWithoutHealthcheckOrBuildScriptsIsReported) {
  const std::vector<DockerStage> stages = ParseDockerfile(R"(
FROM debian:bookworm-slim AS build
RUN apt-get install -y cmake && \
    cmake -S . -B build && ninja -C build
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libssl3 curl
COPY --from=build /src/build/bin/kgw-agent /usr/local/bin/
EXPOSE 6969
)");
  ASSERT_EQ(stages.size(), 2u);
  EXPECT_EQ(AptInstalledPackages(stages[1]), (std::vector<std::string>{"libssl3", "curl"}));
  const std::vector<std::string> problems = CheckDockerfile(stages, Doc());
  EXPECT_THAT(problems, Contains(HasSubstr("does not run scripts/install-deps.sh")));
  EXPECT_THAT(problems, Contains(HasSubstr("does not run scripts/build.sh")));
  EXPECT_THAT(problems, Contains(HasSubstr("non-root USER")));
  EXPECT_THAT(problems, Contains(HasSubstr("no HEALTHCHECK")));
  EXPECT_THAT(problems, Contains(HasSubstr("kgwctl is not copied")));
  EXPECT_THAT(problems, Contains(HasSubstr("EXPOSE lacks GATEWAY_HTTP_PORT's default 8888")));
  EXPECT_THAT(CheckDockerfile(ParseDockerfile("FROM debian:bookworm-slim\n"), Doc()),
              Contains(HasSubstr("not a multi-stage build")));
}

TEST(DeployChecksTest, ALibraryOfAPackageOutsideTheDependencyClosureIsFound) {
  const auto deps = ParseDpkgDependencies(
      "libgrpc++1.51\tlibc6 (>= 2.34), libgrpc29 (= 1.51.1-3+b1), libstdc++6 | libfoo, \t\n"
      "libgrpc29\tlibc6, libssl3 (>= 3.0.0), \t\n"
      "libc6\tlibgcc-s1, \t\n"
      "libssl3\tlibc6, debconf (>= 0.5) | debconf-2.0, \t\n"
      "cdebconf\t, \tdebconf-2.0\n"
      "librdkafka1\tlibc6, \t\n");
  const std::set<std::string> closure = DependencyClosure({"libgrpc++1.51"}, deps);
  EXPECT_TRUE(closure.count("libssl3"));
  EXPECT_TRUE(closure.count("libgcc-s1"));
  EXPECT_TRUE(closure.count("cdebconf")) << "a virtual package resolves to its provider";
  EXPECT_FALSE(closure.count("librdkafka1"));

  const auto owners = ParseDpkgSearch(
      "librdkafka1:amd64: /usr/lib/x86_64-linux-gnu/librdkafka.so.1\n"
      "libc6:amd64, libc6-dbg: /lib/x86_64-linux-gnu/libc.so.6\n"
      "dpkg-query: no path found matching pattern /nowhere\n");
  EXPECT_EQ(owners.at("/usr/lib/x86_64-linux-gnu/librdkafka.so.1"),
            std::vector<std::string>{"librdkafka1"});
  EXPECT_EQ(owners.at("/lib/x86_64-linux-gnu/libc.so.6"),
            (std::vector<std::string>{"libc6", "libc6-dbg"}));
  EXPECT_EQ(owners.size(), 2u);

  EXPECT_EQ(ParseLdd("\tlinux-vdso.so.1 (0x00007ffd)\n"
                     "\tlibrdkafka.so.1 => /usr/lib/x86_64-linux-gnu/librdkafka.so.1 (0x7f)\n"
                     "\tlibgone.so.2 => not found\n"
                     "\t/lib64/ld-linux-x86-64.so.2 (0x7f)\n"),
            (std::vector<std::string>{"/lib64/ld-linux-x86-64.so.2",
                                      "/usr/lib/x86_64-linux-gnu/librdkafka.so.1",
                                      "not found: libgone.so.2"}));
}

TEST(DeployChecksTest, ASystemdUnitAsRootWithoutRestartOrDrainTimeIsReported) {
  const SystemdUnit unit = ParseSystemdUnit(
      "[Service]\nExecStart=/usr/bin/kgw-coordinator\nUser=root\nTimeoutStopSec=5\n");
  const std::vector<std::string> problems =
      CheckSystemdUnit(unit, Executable::kAgent, Doc(), "bad.service");
  EXPECT_THAT(problems, Contains(HasSubstr("ExecStart does not run kgw-agent")));
  EXPECT_THAT(problems, Contains(HasSubstr("runs as root")));
  EXPECT_THAT(problems, Contains(HasSubstr("Restart= does not restart")));
  EXPECT_THAT(problems, Contains(HasSubstr("no EnvironmentFile")));
  EXPECT_THAT(problems, Contains(HasSubstr("TimeoutStopSec 5 does not cover")));
  EXPECT_THAT(CheckSystemdUnit(ParseSystemdUnit("[Unit]\n"), Executable::kAgent, Doc(), "x"),
              Contains(HasSubstr("no [Service] section")));
}

TEST(DeployChecksTest, HaproxyWithoutProxyHeadersOrInFrontOfInternallyBalancedAgentsIsReported) {
  absl::StatusOr<ComposeFile> compose = ParseCompose(R"(
services:
  lb:
    image: haproxy:2.8
  agent-1:
    image: kgw:local
    command: kgw-agent
    environment: {GATEWAY_ADVERTISED_HOST: agent-1}
)");
  ASSERT_TRUE(compose.ok()) << compose.status();
  const std::vector<std::string> problems = CheckHaproxyConfig(
      "defaults\n  mode http\nfrontend f\n  bind :6969-6970\n"
      "backend b\n  server a agent-1\n  server x nowhere send-proxy-v2\n",
      *compose, Doc());
  EXPECT_THAT(problems, Contains(HasSubstr("not in TCP mode")));
  EXPECT_THAT(problems, Contains(HasSubstr("server a sends no PROXY v2 header")));
  EXPECT_THAT(problems, Contains(HasSubstr("server nowhere is not a kgw agent service")));
  EXPECT_THAT(problems, Contains(HasSubstr("agent agent-1 must require the PROXY protocol")));
  EXPECT_THAT(problems, Contains(HasSubstr("port 6971 of agent agent-1 is not bound")));
}

int MovePort(int port) { return 22000 + port % 2000; }

TEST(DeployChecksTest, HaproxyConfigIsRewrittenToLoopbackAddressesAndMovedPorts) {
  const std::string out = RewriteHaproxyConfig(
      "frontend kafka\n  bind :6969-6974\n  default_backend agents\n"
      "backend agents\n  default-server send-proxy-v2 check port 8888 inter 2s\n"
      "  server lb-agent-a lb-agent-a  # first\n  server b lb-agent-b:6969\n",
      "127.0.0.60", {{"lb-agent-a", "127.0.0.61"}, {"lb-agent-b", "127.0.0.62"}}, &MovePort);
  EXPECT_THAT(out, HasSubstr("\n  bind 127.0.0.60:22969-22974\n"));
  EXPECT_THAT(out, HasSubstr("check port 22888 inter 2s"));
  EXPECT_THAT(out, HasSubstr("server lb-agent-a 127.0.0.61\n"));
  EXPECT_THAT(out, HasSubstr("server b 127.0.0.62:22969\n"));
  EXPECT_THAT(out, HasSubstr("frontend kafka\n"));
}

TEST(DeployChecksTest, DurationsAndPortSpecsParse) {
  EXPECT_EQ(ParseDurationMs("500ms").value_or(-1), 500);
  EXPECT_EQ(ParseDurationMs("10s").value_or(-1), 10'000);
  EXPECT_EQ(ParseDurationMs("2m").value_or(-1), 120'000);
  EXPECT_EQ(ParseDurationMs("168h").value_or(-1), 168 * 3'600'000);
  EXPECT_FALSE(ParseDurationMs("10").ok());
  EXPECT_FALSE(ParseDurationMs("soon").ok());
  EXPECT_EQ(ExpandPorts({"6969-6971", "8888", "127.0.0.1:9000:6900/tcp", "x-y"}),
            (std::vector<int>{6969, 6970, 6971, 8888, 6900}));
  EXPECT_EQ(ParseHostPortList("a:1, b:2,c"),
            (std::vector<std::pair<std::string, int>>{{"a", 1}, {"b", 2}}));
}

}  // namespace
}  // namespace kgw::deploy
