// kgwctl: the admin CLI of a kgw gateway cluster. Commands that talk to a
// coordinator arrive with the coordinators' admin API; this build validates
// its settings and answers `version`.
#include <iostream>

#include "absl/strings/str_join.h"
#include "common/config/program.h"
#include "glog/logging.h"
#include "tools/kgwctl/kgwctl_config.h"

namespace {

constexpr absl::string_view kCommands[] = {"version"};

}  // namespace

int main(int argc, char** argv) {
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  kgw::config::ProgramInfo info{
      .name = "kgwctl",
      .summary = "Admin CLI of a kgw gateway cluster.\n\nCommands:\n  version   print the "
                 "version of this kgwctl",
      .specs = kgw::kgwctl::KgwctlSettingSpecs(),
      .env_prefixes = {"KGWCTL_"},
      .allow_positional = true,
      .positional_usage = "<command>",
  };
  kgw::config::CommandLine cmd = kgw::config::ParseCommandLineOrExit(info, argc, argv);
  for (const std::string& name : cmd.unknown_variables) {
    LOG(WARNING) << "ignoring unknown environment variable " << name;
  }
  if (cmd.check_config) {
    kgw::config::PrintEffectiveConfig(cmd.settings);
    return kgw::config::kExitOk;
  }
  if (cmd.positional.empty()) {
    kgw::config::ExitWithConfigError(
        info.name, absl::StrCat("missing command; one of: ", absl::StrJoin(kCommands, ", ")));
  }
  const std::string& command = cmd.positional.front();
  if (command == "version") {
    std::cout << kgw::config::VersionLine(info.name) << std::endl;
    return kgw::config::kExitOk;
  }
  kgw::config::ExitWithConfigError(info.name,
                                   absl::StrCat("unknown command \"", command,
                                                "\"; one of: ", absl::StrJoin(kCommands, ", ")));
}
