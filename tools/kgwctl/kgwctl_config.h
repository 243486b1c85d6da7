// Settings of the kgwctl admin CLI. `KgwctlSettingSpecs()` is the single table
// kgwctl parses, prints in --help and documents in docs/configuration.md;
// `LoadOptions` turns the parsed settings and the command line's positional
// arguments into the `Options` every command runs with.
#ifndef KGW_TOOLS_KGWCTL_KGWCTL_CONFIG_H_
#define KGW_TOOLS_KGWCTL_KGWCTL_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/config/settings.h"

namespace kgw::kgwctl {

std::vector<config::SettingSpec> KgwctlSettingSpecs();

// What one kgwctl invocation runs with.
struct Options {
  std::string coordinator;  // host:port, as configured; named in error messages
  absl::Duration timeout;   // deadline of each unary call; first message of `watch`
  bool json = false;        // print messages as JSON, one object per line
  std::string token;        // sent as "authorization: Bearer <token>" when not empty
  bool tls = false;
  std::string tls_ca_file;        // PEM roots for TLS; empty: the system's roots
  std::string tls_cert_file;      // PEM client certificate for mTLS; empty: none
  std::string tls_key_file;       // its private key
  std::string client_id;          // `explain`: the client.id a client would present
  std::string client_host;        // `explain`: the client's IP address
  std::vector<std::string> args;  // the command and its arguments
};

// Builds Options from validated settings. InvalidArgument with a one-line
// message when settings contradict each other.
absl::StatusOr<Options> LoadOptions(const config::Settings& settings,
                                    std::vector<std::string> positional);

// Rewrites kgwctl's command line (argv without the program name) into the
// form the shared settings parser takes, so that kgwctl reads like a CLI:
//  - `--coordinator x` is short for `--kgwctl-coordinator x` (every setting's
//    flag without the "kgwctl-" prefix), `-h` for `--help`;
//  - a boolean flag given alone (`--json`) means true; `--json false` and
//    `--json=false` still work;
//  - flags may follow the command (`explain 3 --client-id app`): they are
//    moved in front of it; other arguments keep their order.
std::vector<std::string> NormalizeArguments(absl::Span<const config::SettingSpec> specs,
                                            absl::Span<const std::string> args);

}  // namespace kgw::kgwctl

#endif  // KGW_TOOLS_KGWCTL_KGWCTL_CONFIG_H_
