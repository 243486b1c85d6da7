#include "common/config/settings.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "glog/logging.h"

extern char** environ;

namespace kgw::config {
namespace {

struct Candidate {
  std::string text;
  Source source;
};

std::string Quote(absl::string_view v) { return absl::StrCat("\"", absl::CEscape(v), "\""); }

std::string Range(int64_t min, int64_t max) { return absl::StrCat("[", min, ", ", max, "]"); }

// Validates one host:port. Ports must be 1..65535; the host must be a name or
// address without spaces, IPv6 literals in brackets.
std::optional<std::string> CheckHostPort(absl::string_view hp) {
  hp = absl::StripAsciiWhitespace(hp);
  size_t colon = hp.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return "expected host:port";
  absl::string_view host = hp.substr(0, colon);
  absl::string_view port = hp.substr(colon + 1);
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 3) return "expected [ipv6]:port";
  } else if (absl::StrContains(host, ':')) {
    return "IPv6 addresses must be written in brackets, e.g. [::1]:9092";
  }
  for (char c : host) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) return "host contains whitespace";
  }
  int p = 0;
  if (!absl::SimpleAtoi(port, &p) || p < 1 || p > 65535) return "port must be in [1, 65535]";
  return std::nullopt;
}

absl::StatusOr<int64_t> ParseByteSize(absl::string_view text) {
  std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  int64_t multiplier = 1;
  absl::string_view digits = lower;
  struct Suffix {
    absl::string_view s;
    int64_t m;
  };
  for (const Suffix& suffix : {Suffix{"kib", 1LL << 10}, Suffix{"mib", 1LL << 20},
                               Suffix{"gib", 1LL << 30}, Suffix{"b", 1}}) {
    if (absl::ConsumeSuffix(&digits, suffix.s)) {
      multiplier = suffix.m;
      break;
    }
  }
  int64_t n = 0;
  if (!absl::SimpleAtoi(digits, &n) || n < 0 || n > INT64_MAX / multiplier) {
    return absl::InvalidArgumentError("expected a byte size such as 1048576, 512KiB or 100MiB");
  }
  return n * multiplier;
}

// Settings whose values are never shown: in --check-config, and in the
// error about a value that is not valid (a mistyped secret is still one).
bool IsSecret(absl::string_view name) {
  return absl::StrContains(name, "PASSWORD") || absl::StrContains(name, "SECRET") ||
         absl::StrContains(name, "TOKEN") || absl::StrContains(name, "JAAS");
}

// Normalises and validates `c.text` for `spec`. Returns the normalised text.
absl::StatusOr<std::string> Validate(const SettingSpec& spec, const Candidate& c) {
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", spec.name, "=", IsSecret(spec.name) ? "******" : Quote(c.text),
                     " (from ", SourceName(c.source), "): ", what));
  };
  absl::string_view text = absl::StripAsciiWhitespace(c.text);
  switch (spec.type) {
    case SettingType::kString:
      if (spec.validator) {
        if (auto err = spec.validator(text)) {
          return bad(spec.allowed_hint.empty() ? *err
                                               : absl::StrCat(*err, "; expected ", spec.allowed_hint));
        }
      }
      return std::string(text);
    case SettingType::kInt: {
      int64_t v = 0;
      if (!absl::SimpleAtoi(text, &v) || v < spec.min || v > spec.max) {
        return bad(absl::StrCat("expected an integer in ", Range(spec.min, spec.max)));
      }
      return absl::StrCat(v);
    }
    case SettingType::kBool: {
      std::string lower = absl::AsciiStrToLower(text);
      if (lower == "true" || lower == "1" || lower == "yes") return std::string("true");
      if (lower == "false" || lower == "0" || lower == "no") return std::string("false");
      return bad("expected true or false");
    }
    case SettingType::kEnum:
      for (absl::string_view allowed : spec.allowed) {
        if (absl::EqualsIgnoreCase(allowed, text)) return std::string(allowed);
      }
      return bad(absl::StrCat("expected one of ", absl::StrJoin(spec.allowed, "|")));
    case SettingType::kHostPort:
      if (auto err = CheckHostPort(text)) return bad(*err);
      return std::string(text);
    case SettingType::kHostPortList: {
      std::vector<std::string> parts;
      for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
        if (auto err = CheckHostPort(part)) {
          return bad(absl::StrCat(*err, " in entry ", Quote(absl::StripAsciiWhitespace(part)),
                                  "; expected a comma-separated list of host:port"));
        }
        parts.emplace_back(absl::StripAsciiWhitespace(part));
      }
      if (parts.empty()) return bad("expected a comma-separated list of host:port");
      return absl::StrJoin(parts, ",");
    }
    case SettingType::kByteSize: {
      absl::StatusOr<int64_t> v = ParseByteSize(text);
      if (!v.ok()) return bad(v.status().message());
      if (*v < spec.min || *v > spec.max) {
        return bad(absl::StrCat("expected a byte size in ", Range(spec.min, spec.max)));
      }
      return absl::StrCat(*v);
    }
    case SettingType::kDuration: {
      absl::Duration d;
      int64_t ms = 0;
      if (absl::SimpleAtoi(text, &ms)) {
        return bad("a duration needs a unit, e.g. 10s or 1500ms");
      }
      if (!absl::ParseDuration(text, &d) || d < absl::ZeroDuration()) {
        return bad("expected a duration such as 10s, 1500ms or 2m");
      }
      ms = absl::ToInt64Milliseconds(d);
      if (ms < spec.min || ms > spec.max) {
        return bad(absl::StrCat("expected a duration between ", spec.min, "ms and ", spec.max,
                                "ms"));
      }
      return absl::StrCat(ms);
    }
  }
  return bad("unsupported setting type");
}

}  // namespace

absl::string_view SourceName(Source source) {
  switch (source) {
    case Source::kDefault:
      return "default";
    case Source::kEnvironment:
      return "environment";
    case Source::kFlag:
      return "flag";
  }
  return "unknown";
}

HostPort SplitHostPort(absl::string_view validated) {
  validated = absl::StripAsciiWhitespace(validated);
  const size_t colon = validated.rfind(':');
  HostPort hp;
  absl::string_view host = validated.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  hp.host = std::string(host);
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(validated.substr(colon + 1), &hp.port)) {
    hp.port = 0;
  }
  return hp;
}

bool IsVisibleAscii(absl::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '!' && c <= '~'; });
}

std::optional<std::string> CheckBearerToken(absl::string_view token) {
  if (!IsVisibleAscii(token)) return std::string("the token must be visible ASCII without spaces");
  return std::nullopt;
}

std::optional<std::string> CheckReadableFile(absl::string_view path) {
  if (access(std::string(path).c_str(), R_OK) != 0) {
    return absl::StrCat("cannot read the file: ", std::strerror(errno));
  }
  return std::nullopt;
}

std::string FlagName(absl::string_view setting_name) {
  std::string flag = absl::AsciiStrToLower(setting_name);
  for (char& c : flag) {
    if (c == '_') c = '-';
  }
  return flag;
}

bool Settings::Has(absl::string_view name) const { return Find(name).present; }

const Settings::Value& Settings::Find(absl::string_view name) const {
  auto it = values_.find(name);
  CHECK(it != values_.end()) << "setting " << name << " was not declared";
  return it->second;
}

const std::string& Settings::GetString(absl::string_view name) const { return Find(name).text; }

int64_t Settings::GetInt(absl::string_view name) const {
  const Value& v = Find(name);
  CHECK(v.present) << "setting " << name << " has no value";
  int64_t out = 0;
  CHECK(absl::SimpleAtoi(v.text, &out)) << name << " is not numeric: " << v.text;
  return out;
}

bool Settings::GetBool(absl::string_view name) const {
  auto type = types_.find(name);
  CHECK(type != types_.end() && type->second == SettingType::kBool) << name << " is not a bool";
  return Find(name).text == "true";
}

std::vector<std::string> Settings::GetList(absl::string_view name) const {
  const Value& v = Find(name);
  if (!v.present) return {};
  return absl::StrSplit(v.text, ',', absl::SkipEmpty());
}

Source Settings::GetSource(absl::string_view name) const { return Find(name).source; }

void Settings::SetComputed(absl::string_view name, std::string text) {
  auto it = values_.find(name);
  CHECK(it != values_.end()) << "setting " << name << " was not declared";
  it->second.text = std::move(text);
  it->second.present = true;
}

std::vector<std::string> Settings::Describe() const {
  std::vector<std::string> lines;
  for (const std::string& name : order_) {
    const Value& v = values_.find(name)->second;
    std::string shown = !v.present ? "<unset>" : (IsSecret(name) ? "******" : v.text);
    lines.push_back(absl::StrCat(name, "=", shown, " (", SourceName(v.source), ")"));
  }
  return lines;
}

absl::StatusOr<Settings> Parse(absl::Span<const SettingSpec> specs,
                               const std::map<std::string, std::string>& environment,
                               absl::Span<const std::string> flags) {
  std::map<std::string, const SettingSpec*, std::less<>> by_flag;
  for (const SettingSpec& spec : specs) {
    CHECK(by_flag.emplace(FlagName(spec.name), &spec).second) << "duplicate " << spec.name;
  }

  std::map<absl::string_view, Candidate> from_flags;
  for (size_t i = 0; i < flags.size(); ++i) {
    absl::string_view arg = flags[i];
    if (!absl::ConsumePrefix(&arg, "--")) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument ", Quote(flags[i]), "; settings are given as --name=value"));
    }
    absl::string_view name = arg;
    std::optional<std::string> value;
    if (size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = arg.substr(0, eq);
      value = std::string(arg.substr(eq + 1));
    }
    auto it = by_flag.find(name);
    if (it == by_flag.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name, "; see --help for the settings this program takes"));
    }
    if (!value) {
      if (i + 1 >= flags.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
      value = flags[++i];
    }
    from_flags[it->second->name] = Candidate{*value, Source::kFlag};
  }

  Settings settings;
  for (const SettingSpec& spec : specs) {
    // An empty environment variable counts as unset (env files often carry
    // `NAME=` lines); an empty flag is always a mistake.
    std::optional<Candidate> candidate;
    if (auto f = from_flags.find(spec.name); f != from_flags.end()) {
      candidate = f->second;
    } else if (auto e = environment.find(std::string(spec.name));
               e != environment.end() && !absl::StripAsciiWhitespace(e->second).empty()) {
      candidate = Candidate{e->second, Source::kEnvironment};
    } else if (!spec.default_value.empty()) {
      candidate = Candidate{std::string(spec.default_value), Source::kDefault};
    }

    Settings::Value value;
    if (candidate) {
      if (absl::StripAsciiWhitespace(candidate->text).empty()) {
        return absl::InvalidArgumentError(absl::StrCat("invalid --", FlagName(spec.name),
                                                       "=\"\": a value is required"));
      }
      absl::StatusOr<std::string> normalised = Validate(spec, *candidate);
      if (!normalised.ok()) return normalised.status();
      value = Settings::Value{*std::move(normalised), candidate->source, true};
    } else if (spec.required) {
      return absl::InvalidArgumentError(absl::StrCat("missing required setting ", spec.name,
                                                     " (environment) or --", FlagName(spec.name),
                                                     ": ", spec.description));
    }
    settings.order_.emplace_back(spec.name);
    settings.values_.emplace(std::string(spec.name), std::move(value));
    settings.types_.emplace(std::string(spec.name), spec.type);
  }
  return settings;
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    absl::string_view entry(*e);
    size_t eq = entry.find('=');
    if (eq == absl::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

std::vector<std::string> UnknownVariables(absl::Span<const SettingSpec> specs,
                                          const std::map<std::string, std::string>& environment,
                                          absl::Span<const absl::string_view> prefixes) {
  std::set<absl::string_view> known;
  for (const SettingSpec& spec : specs) known.insert(spec.name);
  std::vector<std::string> unknown;
  for (const auto& [name, value] : environment) {
    for (absl::string_view prefix : prefixes) {
      if (absl::StartsWith(name, prefix) && !known.contains(name)) {
        unknown.push_back(name);
        break;
      }
    }
  }
  return unknown;
}

std::string HelpText(absl::string_view program, absl::string_view summary,
                     absl::Span<const SettingSpec> specs) {
  std::string out = absl::StrCat("Usage: ", program, " [--help] [--version] [--check-config] ",
                                 "[--setting-name=value ...]\n\n", summary, "\n\n",
                                 "Every setting is read from its environment variable or from the "
                                 "flag of the same name\n(lower case, dashes); a flag wins over "
                                 "the environment.\n\nSettings:\n");
  for (const SettingSpec& spec : specs) {
    std::string allowed;
    switch (spec.type) {
      case SettingType::kInt:
        allowed = absl::StrCat("integer ", Range(spec.min, spec.max));
        break;
      case SettingType::kBool:
        allowed = "true|false";
        break;
      case SettingType::kEnum:
        allowed = absl::StrJoin(spec.allowed, "|");
        break;
      case SettingType::kHostPort:
        allowed = "host:port";
        break;
      case SettingType::kHostPortList:
        allowed = "host:port[,host:port...]";
        break;
      case SettingType::kByteSize:
        allowed = "bytes (e.g. 100MiB)";
        break;
      case SettingType::kDuration:
        allowed = "duration (e.g. 10s)";
        break;
      case SettingType::kString:
        allowed = spec.allowed_hint.empty() ? "text" : std::string(spec.allowed_hint);
        break;
    }
    std::string def = !spec.default_description.empty() ? std::string(spec.default_description)
                      : !spec.default_value.empty()      ? std::string(spec.default_value)
                      : spec.required                    ? "required"
                                                         : "unset";
    absl::StrAppend(&out, "  ", spec.name, "  --", FlagName(spec.name), "=<", allowed, ">\n",
                    "      ", spec.description, " (default: ", def, ")\n");
  }
  return out;
}

}  // namespace kgw::config
