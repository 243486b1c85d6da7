#include "common/config/program.h"

#include <sys/resource.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/version/version.h"
#include "glog/logging.h"

namespace kgw::config {

std::string VersionLine(absl::string_view program) {
  return absl::StrCat(program, " ", kVersion, " (commit ", kGitCommit, ")");
}

void ExitWithConfigError(absl::string_view program, absl::string_view message) {
  std::cerr << program << ": " << message << std::endl;
  std::exit(kExitBadConfig);
}

CommandLine ParseCommandLineOrExit(const ProgramInfo& info, int argc, char** argv) {
  std::vector<std::string> flags;
  std::vector<std::string> positional;
  bool check_config = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (info.allow_positional && !absl::StartsWith(arg, "--")) {
      positional.assign(argv + i, argv + argc);
      break;
    }
    if (arg == "--help" || arg == "-h") {
      std::string usage(info.name);
      if (!info.positional_usage.empty()) usage = absl::StrCat(usage, " ", info.positional_usage);
      std::cout << HelpText(usage, info.summary, info.specs);
      std::exit(kExitOk);
    }
    if (arg == "--version") {
      std::cout << VersionLine(info.name) << std::endl;
      std::exit(kExitOk);
    }
    if (arg == "--check-config") {
      check_config = true;
      continue;
    }
    flags.emplace_back(arg);
    // "--name value": keep the value with its flag so it is not taken for a command.
    if (absl::StartsWith(arg, "--") && arg.find('=') == absl::string_view::npos && i + 1 < argc) {
      flags.emplace_back(argv[++i]);
    }
  }
  std::map<std::string, std::string> env = ProcessEnvironment();
  absl::StatusOr<Settings> settings = Parse(info.specs, env, flags);
  if (!settings.ok()) ExitWithConfigError(info.name, settings.status().message());
  return CommandLine{*std::move(settings), check_config,
                     UnknownVariables(info.specs, env, info.env_prefixes), std::move(positional)};
}

void PrintEffectiveConfig(const Settings& settings) {
  for (const std::string& line : settings.Describe()) std::cout << line << "\n";
  std::cout.flush();
}

CommandLine StartNodeProgram(const ProgramInfo& info, int argc, char** argv) {
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  // A crash (SIGSEGV, SIGABRT, ...) writes the signal and a stack trace to
  // the log before the process dies of it, instead of vanishing silently.
  // Sanitizer builds keep the sanitizer's own, fuller report.
#if !defined(__SANITIZE_ADDRESS__)
  google::InstallFailureSignalHandler();
#endif
  // SIGPIPE would end the whole node over one closed peer: the agent splices
  // large frames into sockets, and splice(2), unlike send, cannot be told
  // MSG_NOSIGNAL (a consumer leaving mid-answer); and a node logging into a
  // pipe (`2>&1 | tee log`) must outlive tee. Ignored, such writes fail with
  // EPIPE and close only what they were for.
  std::signal(SIGPIPE, SIG_IGN);
  setenv("GRPC_DNS_RESOLVER", "native", /*overwrite=*/0);
  return ParseCommandLineOrExit(info, argc, argv);
}

void FinishNodeConfig(const CommandLine& cmd) {
  for (const std::string& name : cmd.unknown_variables) {
    LOG(WARNING) << "ignoring unknown environment variable " << name;
  }
  if (cmd.check_config) {
    PrintEffectiveConfig(cmd.settings);
    std::exit(kExitOk);
  }
  RaiseOpenFileLimit();
}

void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t was = limit.rlim_cur;
  if (was == RLIM_INFINITY || was >= limit.rlim_max) {
    LOG(INFO) << "open files: up to " << was;
    return;
  }
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    LOG(WARNING) << "open files: cannot raise the limit from " << was << " to " << limit.rlim_max
                 << ": " << std::strerror(errno) << "; serving up to " << was;
    return;
  }
  LOG(INFO) << "open files: limit raised from " << was << " to " << limit.rlim_max;
}

}  // namespace kgw::config
