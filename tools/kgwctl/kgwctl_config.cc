#include "tools/kgwctl/kgwctl_config.h"

#include <arpa/inet.h>

#include <optional>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace kgw::kgwctl {
namespace {

constexpr absl::string_view kFlagPrefix = "kgwctl-";

std::optional<std::string> CheckIpAddress(absl::string_view text) {
  std::string s(text);
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    return std::nullopt;
  }
  return "not an IP address";
}

bool IsBoolLiteral(absl::string_view s) {
  for (absl::string_view literal : {"true", "false", "1", "0", "yes", "no"}) {
    if (absl::EqualsIgnoreCase(s, literal)) return true;
  }
  return false;
}

}  // namespace

std::vector<config::SettingSpec> KgwctlSettingSpecs() {
  using config::SettingType;
  return {
      {.name = "KGWCTL_COORDINATOR",
       .type = SettingType::kHostPort,
       .description = "gRPC endpoint (host:port) of any coordinator of the gateway cluster",
       .default_value = "localhost:6900"},
      {.name = "KGWCTL_TIMEOUT",
       .type = SettingType::kDuration,
       .description = "Deadline for each call to the coordinator (for watch: for the first "
                      "assignment)",
       .default_value = "5s",
       .min = 1,
       .max = 3600 * 1000},
      {.name = "KGWCTL_JSON",
       .type = SettingType::kBool,
       .description = "Print the coordinator's answers as JSON (protobuf field names), one "
                      "object per line, for scripts",
       .default_value = "false"},
      {.name = "KGWCTL_TOKEN",
       .type = SettingType::kString,
       .description = "Admin token sent as \"authorization: Bearer <token>\" on every call; "
                      "prefer the environment variable, a flag shows in the process list",
       .validator = config::CheckBearerToken,
       .allowed_hint = "visible ASCII"},
      {.name = "KGWCTL_TLS",
       .type = SettingType::kBool,
       .description = "Connect to the coordinator over TLS",
       .default_value = "false"},
      {.name = "KGWCTL_TLS_CA_FILE",
       .type = SettingType::kString,
       .description = "PEM file of the CA certificates that verify the coordinator (with "
                      "KGWCTL_TLS=true); unset: the system's roots",
       .validator = config::CheckReadableFile,
       .allowed_hint = "a readable PEM file"},
      {.name = "KGWCTL_TLS_CERT_FILE",
       .type = SettingType::kString,
       .description = "PEM client certificate (chain) kgwctl presents to coordinators that ask "
                      "for one (GATEWAY_GRPC_TLS_CLIENT_AUTH); with KGWCTL_TLS_KEY_FILE",
       .validator = config::CheckReadableFile,
       .allowed_hint = "a readable PEM file"},
      {.name = "KGWCTL_TLS_KEY_FILE",
       .type = SettingType::kString,
       .description = "PEM private key (unencrypted) of KGWCTL_TLS_CERT_FILE",
       .validator = config::CheckReadableFile,
       .allowed_hint = "a readable PEM file"},
      {.name = "KGWCTL_CLIENT_ID",
       .type = SettingType::kString,
       .description = "For explain: the client.id of the client whose route is explained"},
      {.name = "KGWCTL_CLIENT_HOST",
       .type = SettingType::kString,
       .description = "For explain: the IP address of the client whose route is explained",
       .validator = CheckIpAddress,
       .allowed_hint = "an IPv4 or IPv6 address"},
  };
}

absl::StatusOr<Options> LoadOptions(const config::Settings& settings,
                                    std::vector<std::string> positional) {
  Options options;
  options.coordinator = settings.GetString("KGWCTL_COORDINATOR");
  options.timeout = absl::Milliseconds(settings.GetInt("KGWCTL_TIMEOUT"));
  options.json = settings.GetBool("KGWCTL_JSON");
  options.token = settings.GetString("KGWCTL_TOKEN");
  options.tls = settings.GetBool("KGWCTL_TLS");
  options.tls_ca_file = settings.GetString("KGWCTL_TLS_CA_FILE");
  options.tls_cert_file = settings.GetString("KGWCTL_TLS_CERT_FILE");
  options.tls_key_file = settings.GetString("KGWCTL_TLS_KEY_FILE");
  options.client_id = settings.GetString("KGWCTL_CLIENT_ID");
  options.client_host = settings.GetString("KGWCTL_CLIENT_HOST");
  options.args = std::move(positional);
  if (!options.tls && !options.tls_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "invalid KGWCTL_TLS_CA_FILE without KGWCTL_TLS=true: the CA file only verifies a TLS "
        "connection; add --tls");
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        options.tls_cert_file.empty()
            ? "invalid KGWCTL_TLS_KEY_FILE without KGWCTL_TLS_CERT_FILE: give both or neither"
            : "invalid KGWCTL_TLS_CERT_FILE without KGWCTL_TLS_KEY_FILE: give both or neither");
  }
  if (!options.tls && !options.tls_cert_file.empty()) {
    return absl::InvalidArgumentError(
        "invalid KGWCTL_TLS_CERT_FILE without KGWCTL_TLS=true: a client certificate is only "
        "presented over TLS; add --tls");
  }
  return options;
}

std::vector<std::string> NormalizeArguments(absl::Span<const config::SettingSpec> specs,
                                            absl::Span<const std::string> args) {
  std::set<std::string, std::less<>> known;  // canonical flag names
  std::set<std::string, std::less<>> booleans;
  for (const config::SettingSpec& spec : specs) {
    std::string flag = config::FlagName(spec.name);
    if (spec.type == config::SettingType::kBool) booleans.insert(flag);
    known.insert(std::move(flag));
  }
  const std::set<absl::string_view> generic = {"help", "version", "check-config"};

  std::vector<std::string> flags;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "-h") arg = "--help";
    if (!absl::ConsumePrefix(&arg, "--")) {
      positional.emplace_back(arg);
      continue;
    }
    std::optional<absl::string_view> value;
    absl::string_view name = arg;
    if (size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    std::string canonical(name);
    if (!known.contains(canonical) && known.contains(absl::StrCat(kFlagPrefix, name))) {
      canonical = absl::StrCat(kFlagPrefix, name);
    }
    if (value) {
      flags.push_back(absl::StrCat("--", canonical, "=", *value));
    } else if (generic.contains(canonical)) {
      flags.push_back(absl::StrCat("--", canonical));
    } else if (booleans.contains(canonical) &&
               (i + 1 >= args.size() || !IsBoolLiteral(args[i + 1]))) {
      flags.push_back(absl::StrCat("--", canonical, "=true"));
    } else {
      // "--name value", as the settings parser reads it.
      flags.push_back(absl::StrCat("--", canonical));
      if (i + 1 < args.size()) flags.push_back(args[++i]);
    }
  }
  flags.insert(flags.end(), std::make_move_iterator(positional.begin()),
               std::make_move_iterator(positional.end()));
  return flags;
}

}  // namespace kgw::kgwctl
