// Readers and reviewers' checks for the deployment files (Dockerfile,
// compose/, compose/systemd/, the Helm chart's rendered objects), shared by the
// unit tests that check them (deploy_files_test.cc, helm_chart_test.cc) and the
// end-to-end test that starts compose/docker-compose.yml natively
// (compose_native_test.cc).
//
// The parsers take text, not paths, so that tests can feed them broken
// examples. Each Check* function returns the problems it found, one sentence
// each naming the file part at fault (empty: nothing to report); parse errors
// (YAML that does not parse, a table that is not there) are absl::Status.
// Everything here is single-threaded, plain data.
#ifndef KGW_TESTS_DEPLOY_DEPLOY_MODEL_H_
#define KGW_TESTS_DEPLOY_DEPLOY_MODEL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "yaml-cpp/yaml.h"

namespace kgw::deploy {

// ---- docs/configuration.md -------------------------------------------------

// The executables whose settings docs/configuration.md lists.
enum class Executable { kAgent, kCoordinator, kKgwctl };

// "kgw-agent", "/usr/local/bin/kgw-coordinator", "kgwctl" -> the executable.
std::optional<Executable> ExecutableNamed(absl::string_view path_or_name);
absl::string_view ExecutableName(Executable exe);

// One row of a settings table: its name, the executables that read it (from
// the section heading: "Shared by kgw-agent and kgw-coordinator", "kgw-agent",
// ...) and its Default column without backquotes.
struct DocumentedSetting {
  std::string name;
  std::set<Executable> read_by;
  std::string default_value;
};
using SettingsDoc = std::map<std::string, DocumentedSetting>;

// Reads the settings tables of docs/configuration.md. Fails when no table has
// a row.
absl::StatusOr<SettingsDoc> ParseConfigurationDoc(absl::string_view markdown);

// Problems with environment variable `names` given to `exe`: a name that is
// not a GATEWAY_/KAFKA_/KGWCTL_ setting of docs/configuration.md, or one that
// `exe` does not read. `where` starts each message.
std::vector<std::string> CheckEnvironmentNames(Executable exe,
                                               const std::vector<std::string>& names,
                                               const SettingsDoc& doc, absl::string_view where);

// The value `name` takes for a node given `env`: the variable when set and not
// empty, else the documented default ("" when there is none).
std::string EffectiveValue(const std::map<std::string, std::string>& env, const std::string& name,
                           const SettingsDoc& doc);

// "500ms", "10s", "2m", "1h" -> milliseconds.
absl::StatusOr<int64_t> ParseDurationMs(absl::string_view text);

// How long an agent with `env` may take to stop on SIGTERM when it serves
// `brokers` brokers: brokers x GATEWAY_SHUTDOWN_DELAY_BETWEEN_BROKERS_MS +
// GATEWAY_SHUTDOWN_DRAIN_TIMEOUT (docs/operations.md, "Restarts").
absl::StatusOr<int64_t> AgentShutdownBudgetMs(const std::map<std::string, std::string>& env,
                                              const SettingsDoc& doc, int brokers);

// Brokers the deployment examples' grace periods must cover.
inline constexpr int kBrokersCovered = 20;

// ---- docker compose ----------------------------------------------------------

struct ComposeService {
  std::string name;
  std::string image;
  bool builds_image = false;  // has a `build:` section
  std::vector<std::string> command;
  std::map<std::string, std::string> environment;
  std::vector<std::string> profiles;
  std::string network_mode;
  std::vector<std::string> expose;
  std::vector<std::string> depends_on;
  std::string stop_grace_period;
  std::vector<std::string> volumes;
  bool has_healthcheck = false;

  // A kgw image (its name starts with "kgw") or one built from this tree.
  bool IsKgw() const;
  // The executable of a kgw service (the first word of `command`).
  std::optional<Executable> executable() const;
  bool InProfile(absl::string_view profile) const;
};

struct ComposeFile {
  std::vector<ComposeService> services;
  const ComposeService* Find(absl::string_view name) const;
};

// Reads a compose file (the subset kgw's files use: `environment` as a map or
// a list of NAME=value, `command` as a list or a string, `depends_on` as a
// list or a map).
absl::StatusOr<ComposeFile> ParseCompose(absl::string_view yaml);

// "6969-6974" -> 6969..6974, "8888" -> 8888; a "host:container" mapping
// counts its container side. Unparsable specs are skipped.
std::vector<int> ExpandPorts(const std::vector<std::string>& specs);

// "a:1,b:2" -> {{"a", 1}, {"b", 2}}; items without a port are skipped.
std::vector<std::pair<std::string, int>> ParseHostPortList(absl::string_view list);

// A reviewer's checks of one compose file: env names of kgw services,
// ports exposed, stop grace periods, Kafka services (apache/kafka, a rack
// each), agents advertising a host clients can reach.
std::vector<std::string> CheckComposeFile(const ComposeFile& file, const SettingsDoc& doc,
                                          absl::string_view file_name);

// ---- Kubernetes ----------------------------------------------------------------

// A reviewer's checks of one Kubernetes object (a document of a manifest
// file): selectors match the template's labels; kgw containers use documented
// env names, have readiness (/health/ready) and liveness (/health/live) probes
// on the HTTP port, declare their ports, take the agent's rack from a fieldRef
// to the pod's zone label, and get a grace period longer than an agent's
// shutdown; no env name is given twice; a Service selects pods of some workload in
// `all_docs` and targets a port they declare; a PodDisruptionBudget selects pods of
// some workload.
std::vector<std::string> CheckKubernetesObject(const YAML::Node& object,
                                               const std::vector<YAML::Node>& all_docs,
                                               const SettingsDoc& doc, absl::string_view file_name);

// Every object of a manifest (YAML documents, as `kubectl apply -f` or `helm template`
// gives them) through CheckKubernetesObject; YAML that does not parse is one problem.
std::vector<std::string> CheckKubernetesManifest(absl::string_view yaml, const SettingsDoc& doc,
                                                 absl::string_view file_name);

// ---- Dockerfile ------------------------------------------------------------------

struct DockerInstruction {
  std::string keyword;  // upper case: RUN, COPY, ...
  std::string arguments;
};
struct DockerStage {
  std::string base;  // FROM image
  std::string name;  // AS name, or ""
  std::vector<DockerInstruction> instructions;
};

// Splits a Dockerfile into stages; joins continued lines, drops comments.
std::vector<DockerStage> ParseDockerfile(absl::string_view text);

// Package names of every `apt-get install` in `stage`.
std::vector<std::string> AptInstalledPackages(const DockerStage& stage);

// The first stage builds with scripts/install-deps.sh and scripts/build.sh;
// the last copies the three binaries to /usr/local/bin, runs as a non-root
// USER, has a HEALTHCHECK on /health/ready at GATEWAY_HTTP_PORT and EXPOSEs
// the default ports; both are debian:bookworm-slim.
std::vector<std::string> CheckDockerfile(const std::vector<DockerStage>& stages,
                                         const SettingsDoc& doc);

// ---- shared libraries and Debian packages ------------------------------------------------

// Resolved paths in `ldd` output ("libx.so.1 => /usr/lib/.../libx.so.1 (0x...)");
// "not found" libraries are returned as "not found: libx.so.1".
std::vector<std::string> ParseLdd(absl::string_view ldd_output);

// `dpkg -S` output ("pkg:arch: /path" lines; "pkg1, pkg2: /path" for shared
// paths) -> path -> packages (arch suffix dropped).
std::map<std::string, std::vector<std::string>> ParseDpkgSearch(absl::string_view output);

// Output of `dpkg-query -W -f='${Package}\t${Depends}, ${Pre-Depends}\t${Provides}\n'`
// -> package -> packages it may pull in (every alternative, versions dropped),
// with virtual packages resolved to their providers.
std::map<std::string, std::set<std::string>> ParseDpkgDependencies(absl::string_view output);

// `roots` and every package they depend on, transitively.
std::set<std::string> DependencyClosure(const std::vector<std::string>& roots,
                                        const std::map<std::string, std::set<std::string>>& deps);

// ---- systemd ------------------------------------------------------------------------

// [Section] -> key -> values (a key may repeat).
using SystemdUnit = std::map<std::string, std::multimap<std::string, std::string>>;
SystemdUnit ParseSystemdUnit(absl::string_view text);

// ExecStart runs `exe`, an EnvironmentFile is read, Restart= restarts on
// failure, User= is not root, and an agent's TimeoutStopSec covers its
// shutdown.
std::vector<std::string> CheckSystemdUnit(const SystemdUnit& unit, Executable exe,
                                          const SettingsDoc& doc, absl::string_view file_name);

// ---- HAProxy --------------------------------------------------------------------------

// TCP mode, a PROXY protocol v2 header on every server, a frontend binding
// the agents' port range, servers that are kgw agents of `compose` requiring
// the PROXY protocol with internal load balancing off and advertising the
// HAProxy service.
std::vector<std::string> CheckHaproxyConfig(absl::string_view cfg, const ComposeFile& compose,
                                            const SettingsDoc& doc);

// The HAProxy configuration with host names and ports moved: `bind :P-Q` binds
// `bind_host`, server addresses go through `hosts`, every port through
// `port`.
std::string RewriteHaproxyConfig(absl::string_view cfg, const std::string& bind_host,
                                 const std::map<std::string, std::string>& hosts, int (*port)(int));

}  // namespace kgw::deploy

#endif  // KGW_TESTS_DEPLOY_DEPLOY_MODEL_H_
