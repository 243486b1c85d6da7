// kgwctl: the admin CLI of a kgw gateway cluster. Reads its settings, opens a
// channel to one coordinator and runs one command (tools/kgwctl/commands.h).
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/config/program.h"
#include "glog/logging.h"
#include "grpc/support/log.h"
#include "tools/kgwctl/channel.h"
#include "tools/kgwctl/commands.h"
#include "tools/kgwctl/kgwctl_config.h"

namespace {

// gRPC's own log would add lines such as "Handshake failed" to the one line
// kgwctl prints for a failed call, whose status already carries the cause.
// GLOG_v=1 shows them.
void LogGrpcVerbosely(gpr_log_func_args* args) {
  VLOG(1) << "grpc: " << args->file << ":" << args->line << ": " << args->message;
}

}  // namespace

int main(int argc, char** argv) {
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  gpr_set_log_function(LogGrpcVerbosely);
  // Resolve the coordinator's name with getaddrinfo, as every other tool on
  // the host does (/etc/hosts, nsswitch), rather than with gRPC's c-ares
  // resolver, which also leaks on "localhost" in Debian 12's c-ares 1.18.
  // Before any channel exists; an explicit GRPC_DNS_RESOLVER still wins.
  setenv("GRPC_DNS_RESOLVER", "native", /*overwrite=*/0);
  const std::string summary = absl::StrCat(
      "Admin CLI of a kgw gateway cluster: asks one coordinator (KGWCTL_COORDINATOR).\n\n",
      kgw::kgwctl::CommandHelp(),
      "\nEvery --kgwctl-NAME flag may be given as --NAME (--coordinator, --json, --token, ...),\n"
      "before or after the command; --json and --tls alone mean true.\n"
      "Exit codes: 0 done, 1 the coordinator could not be reached or refused, or watch ended,\n"
      "2 bad settings or usage.");
  kgw::config::ProgramInfo info{
      .name = "kgwctl",
      .summary = summary,
      .specs = kgw::kgwctl::KgwctlSettingSpecs(),
      .env_prefixes = {"KGWCTL_"},
      .allow_positional = true,
      .positional_usage = "<command> [args]",
  };

  std::vector<std::string> args =
      kgw::kgwctl::NormalizeArguments(info.specs, std::vector<std::string>(argv + 1, argv + argc));
  std::vector<char*> normalized_argv = {argv[0]};
  for (std::string& arg : args) normalized_argv.push_back(arg.data());
  normalized_argv.push_back(nullptr);
  kgw::config::CommandLine cmd = kgw::config::ParseCommandLineOrExit(
      info, static_cast<int>(normalized_argv.size() - 1), normalized_argv.data());
  for (const std::string& name : cmd.unknown_variables) {
    LOG(WARNING) << "ignoring unknown environment variable " << name;
  }
  absl::StatusOr<kgw::kgwctl::Options> options =
      kgw::kgwctl::LoadOptions(cmd.settings, std::move(cmd.positional));
  if (!options.ok()) kgw::config::ExitWithConfigError(info.name, options.status().message());
  if (cmd.check_config) {
    // Like config::PrintEffectiveConfig, but the token is a secret too.
    for (const std::string& line : cmd.settings.Describe()) {
      if (absl::StartsWith(line, "KGWCTL_TOKEN=") && !options->token.empty()) {
        std::cout << "KGWCTL_TOKEN=****** ("
                  << kgw::config::SourceName(cmd.settings.GetSource("KGWCTL_TOKEN")) << ")\n";
      } else {
        std::cout << line << "\n";
      }
    }
    std::cout.flush();
    return kgw::config::kExitOk;
  }

  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = kgw::kgwctl::MakeChannel(*options);
  if (!channel.ok()) kgw::config::ExitWithConfigError(info.name, channel.status().message());
  std::unique_ptr<kgw::v1::Admin::Stub> stub = kgw::v1::Admin::NewStub(*channel);
  return kgw::kgwctl::RunCommand(*options, *stub, std::cout, std::cerr);
}
