// Command-line front door shared by kgw's executables: --help, --version,
// --check-config and turning a configuration error into one line on stderr
// and a non-zero exit. `*_main.cc` files call this first and then only wire
// objects together.
#ifndef KGW_COMMON_CONFIG_PROGRAM_H_
#define KGW_COMMON_CONFIG_PROGRAM_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/config/settings.h"

namespace kgw::config {

// Exit codes, documented in docs/operations.md.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;      // a runtime failure
inline constexpr int kExitBadConfig = 2;    // bad flag or setting

struct ProgramInfo {
  absl::string_view name;     // "kgw-agent"
  absl::string_view summary;  // one paragraph for --help
  std::vector<SettingSpec> specs;
  std::vector<absl::string_view> env_prefixes;  // warn about unknown variables with these
  // When true, the first argument that is neither a flag nor a flag's value
  // and everything after it are returned as `positional` (a CLI command).
  bool allow_positional = false;
  absl::string_view positional_usage;  // e.g. "<command> [args]", for --help
};

struct CommandLine {
  Settings settings;
  bool check_config = false;  // --check-config: validate, print, exit
  std::vector<std::string> unknown_variables;
  std::vector<std::string> positional;
};

// Handles --help and --version (prints, exits 0) and parses the rest.
// On a configuration error prints "<name>: <error>" to stderr and exits
// kExitBadConfig.
CommandLine ParseCommandLineOrExit(const ProgramInfo& info, int argc, char** argv);

// Prints "<name>: <message>" to stderr and exits kExitBadConfig. For errors
// found after parsing (settings that contradict each other).
[[noreturn]] void ExitWithConfigError(absl::string_view program, absl::string_view message);

// Prints the effective configuration, one "NAME=value (source)" line each, to stdout.
void PrintEffectiveConfig(const Settings& settings);

// "<name> <version> (commit <hash>)".
std::string VersionLine(absl::string_view program);

// The first steps of a gateway node's main (kgw-agent, kgw-coordinator):
// glog to stderr, SIGPIPE ignored, gRPC resolving names like the rest of the process
// (getaddrinfo, unless GRPC_DNS_RESOLVER says otherwise), then the command
// line as ParseCommandLineOrExit reads it.
CommandLine StartNodeProgram(const ProgramInfo& info, int argc, char** argv);

// After a node's configuration has loaded: warns about unknown GATEWAY_*
// variables, for --check-config prints the effective configuration and
// exits kExitOk, and otherwise raises the open-file limit.
void FinishNodeConfig(const CommandLine& cmd);

// Raises the soft RLIMIT_NOFILE to the hard one and logs the limit. An agent
// holds two descriptors per client connection and a coordinator one per agent
// stream, where the usual soft limit is 1,024 (systemd: hard 524,288); kgw
// waits with epoll, never select(), so a high limit is safe.
void RaiseOpenFileLimit();

// A node's configuration from its command line and environment, read by
// `load`; exits with one line when it is bad, and after --check-config.
template <typename Config>
Config LoadNodeConfigOrExit(const ProgramInfo& info, int argc, char** argv,
                            absl::StatusOr<Config> (*load)(Settings&)) {
  CommandLine cmd = StartNodeProgram(info, argc, argv);
  absl::StatusOr<Config> config = load(cmd.settings);
  if (!config.ok()) ExitWithConfigError(info.name, config.status().message());
  FinishNodeConfig(cmd);
  return *std::move(config);
}

}  // namespace kgw::config

#endif  // KGW_COMMON_CONFIG_PROGRAM_H_
