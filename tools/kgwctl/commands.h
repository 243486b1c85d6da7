// kgwctl's commands. `RunCommand` checks the command line's positional
// arguments, makes the calls on a coordinator's Admin service and prints the
// answers (tables, or JSON with Options::json) to `out`; anything that went
// wrong is one line on `err` starting with "kgwctl: ". It returns the
// process's exit code:
//   kExitOk        the command did what was asked
//   kExitFailure   the coordinator could not be reached or refused the call,
//                  or `watch` ended
//   kExitBadConfig unknown command, missing or invalid argument
//
// Called from one thread; the caller owns the stub and its channel, so tests
// can point it at an in-process server.
#ifndef KGW_TOOLS_KGWCTL_COMMANDS_H_
#define KGW_TOOLS_KGWCTL_COMMANDS_H_

#include <ostream>
#include <string>

#include "kgw/v1/admin.grpc.pb.h"
#include "tools/kgwctl/kgwctl_config.h"

namespace kgw::kgwctl {

// "Commands:" and one line per command with its usage, for --help.
std::string CommandHelp();

int RunCommand(const Options& options, v1::Admin::StubInterface& stub, std::ostream& out,
               std::ostream& err);

}  // namespace kgw::kgwctl

#endif  // KGW_TOOLS_KGWCTL_COMMANDS_H_
