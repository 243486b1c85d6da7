// Declarative configuration for kgw's executables.
//
// Each executable declares its settings once as a table of `SettingSpec`s.
// From that table kgw parses the process environment and the command line,
// validates every value, prints `--help`, and checks that the configuration
// reference in docs/ mentions every setting. A setting is named by its
// environment variable (Conduktor Gateway's names where one exists, so an env
// file can be moved across); its flag is the same name in lower case with
// dashes: GATEWAY_PORT_START <-> --gateway-port-start.
//
// Precedence: flag, then environment, then the default. A bad value is
// reported as one line naming the setting, the value, where it came from and
// what is allowed; callers print it and exit non-zero.
//
// Thread-compatible: parse once at start-up, then read from any thread.
#ifndef KGW_COMMON_CONFIG_SETTINGS_H_
#define KGW_COMMON_CONFIG_SETTINGS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace kgw::config {

enum class SettingType {
  kString,        // any text; `pattern_hint` + validator may restrict it
  kInt,           // 64-bit integer in [min, max]
  kBool,          // true|false (also 1|0, yes|no, case-insensitive)
  kEnum,          // one of `allowed`, case-insensitive, stored as written in `allowed`
  kHostPort,      // host:port, [v6]:port
  kHostPortList,  // comma-separated host:port list, at least one
  kByteSize,      // integer with optional KiB/MiB/GiB suffix, in [min, max] bytes
  kDuration,      // absl duration syntax ("10s", "1500ms", "2m"), in [min, max] milliseconds
};

struct SettingSpec {
  absl::string_view name;         // environment variable, e.g. "GATEWAY_PORT_START"
  SettingType type = SettingType::kString;
  absl::string_view description;  // one sentence for --help and the docs
  // Textual default; empty means "no value" (optional setting) unless
  // `default_description` explains a computed default.
  absl::string_view default_value;
  absl::string_view default_description;  // shown instead of default_value when set
  bool required = false;
  int64_t min = 0;
  int64_t max = 0;
  std::vector<absl::string_view> allowed;  // kEnum only
  // Extra check for kString values; returns an error message or nullopt.
  std::function<std::optional<std::string>(absl::string_view)> validator;
  absl::string_view allowed_hint;  // what the validator accepts, for error text
};

// A host:port value split into its parts; an IPv6 host loses its brackets.
struct HostPort {
  std::string host;
  int port = 0;
};
// Splits a value already validated as kHostPort (or one kHostPortList item).
HostPort SplitHostPort(absl::string_view validated);

// Where a value came from, for error messages and --check-config output.
enum class Source { kDefault, kEnvironment, kFlag };
absl::string_view SourceName(Source source);

// The flag spelling of a setting: GATEWAY_PORT_START -> gateway-port-start.
std::string FlagName(absl::string_view setting_name);

// Whether `text` is visible ASCII: no spaces, control or non-ASCII
// characters. What node ids, hosts, racks and tokens may hold, so that a log
// line or an HTTP/2 header can carry them as they are.
bool IsVisibleAscii(absl::string_view text);

// A validator for bearer tokens (RFC 6750 b64token and the other opaque tokens
// in use): visible ASCII without spaces, since a space or a control character
// would make an invalid HTTP/2 header value. kgwctl and the coordinators
// check their tokens with it alike.
std::optional<std::string> CheckBearerToken(absl::string_view token);

// A validator for settings that name a file the process reads (certificates,
// keys, CA bundles, key files): it must exist and be readable now, so a typo
// is reported at start-up with the reason ("cannot read the file: No such
// file or directory") rather than at first use.
std::optional<std::string> CheckReadableFile(absl::string_view path);

// Parsed, validated values. Getters CHECK that the setting exists and has the
// requested type: asking for an undeclared setting is a programming error.
class Settings {
 public:
  struct Value {
    std::string text;  // normalised text ("true", "PLAINTEXT", "104857600")
    Source source = Source::kDefault;
    bool present = false;  // false: optional setting with no value
  };

  bool Has(absl::string_view name) const;  // has a value (not just declared)
  const std::string& GetString(absl::string_view name) const;
  int64_t GetInt(absl::string_view name) const;  // kInt, kByteSize, kDuration(ms)
  bool GetBool(absl::string_view name) const;
  std::vector<std::string> GetList(absl::string_view name) const;  // kHostPortList
  Source GetSource(absl::string_view name) const;

  // Overrides a value after parsing (computed defaults such as the group id).
  void SetComputed(absl::string_view name, std::string text);

  // "NAME=value (source)" lines in declaration order; values of settings
  // whose name contains PASSWORD, SECRET or JAAS are masked.
  std::vector<std::string> Describe() const;

 private:
  friend absl::StatusOr<Settings> Parse(absl::Span<const SettingSpec>,
                                        const std::map<std::string, std::string>&,
                                        absl::Span<const std::string>);
  const Value& Find(absl::string_view name) const;
  std::vector<std::string> order_;
  std::map<std::string, Value, std::less<>> values_;
  std::map<std::string, SettingType, std::less<>> types_;
};

// Parses `environment` and `flags` (argv without the program name and without
// the generic flags --help/--version/--check-config, which callers handle).
// Flags take the forms --name=value and --name value. Errors:
//   InvalidArgument: unknown flag, missing flag value, bad value, missing
//   required setting. The message is a single line meant for the user.
absl::StatusOr<Settings> Parse(absl::Span<const SettingSpec> specs,
                               const std::map<std::string, std::string>& environment,
                               absl::Span<const std::string> flags);

// The current process environment as a map.
std::map<std::string, std::string> ProcessEnvironment();

// Environment variables that start with one of `prefixes` but are not
// declared in `specs` (likely typos); callers warn about them.
std::vector<std::string> UnknownVariables(absl::Span<const SettingSpec> specs,
                                          const std::map<std::string, std::string>& environment,
                                          absl::Span<const absl::string_view> prefixes);

// `--help` text: usage line, then every setting with flag, type, default and
// description.
std::string HelpText(absl::string_view program, absl::string_view summary,
                     absl::Span<const SettingSpec> specs);

}  // namespace kgw::config

#endif  // KGW_COMMON_CONFIG_SETTINGS_H_
