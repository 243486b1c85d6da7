#include "agent/sni_route.h"

#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kgw::agent {
namespace {

constexpr std::string_view kPlaceholder = "{{nodeId}}";

std::string Canonical(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return absl::AsciiStrToLower(absl::string_view(name.data(), name.size()));
}

}  // namespace

SniRoute::SniRoute(std::string_view pattern, std::string_view bootstrap_host)
    : pattern_(pattern), bootstrap_host_(Canonical(bootstrap_host)) {
  const size_t at = pattern.find(kPlaceholder);
  const std::string_view prefix = pattern.substr(0, at);
  const std::string_view suffix =
      at == std::string_view::npos ? std::string_view() : pattern.substr(at + kPlaceholder.size());
  prefix_ = absl::AsciiStrToLower(absl::string_view(prefix.data(), prefix.size()));
  suffix_ = Canonical(suffix);
}

std::string SniRoute::HostFor(int32_t broker) const {
  const size_t at = pattern_.find(kPlaceholder);
  return absl::StrCat(pattern_.substr(0, at), broker, pattern_.substr(at + kPlaceholder.size()));
}

absl::StatusOr<std::optional<int32_t>> SniRoute::BrokerFor(std::string_view sni) const {
  auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        why, "; expected a name matching ", pattern_, " or the bootstrap host ",
        bootstrap_host_));
  };
  if (sni.empty()) return refuse("the client sent no server name (SNI)");
  const std::string name = Canonical(sni);
  if (name == bootstrap_host_) return std::nullopt;
  const std::string received =
      absl::StrCat("server name \"", absl::string_view(sni.data(), sni.size()), "\"");
  if (name.size() <= prefix_.size() + suffix_.size() || !absl::StartsWith(name, prefix_) ||
      !absl::EndsWith(name, suffix_)) {
    return refuse(absl::StrCat("unknown ", received));
  }
  const std::string_view digits =
      std::string_view(name).substr(prefix_.size(), name.size() - prefix_.size() - suffix_.size());
  // Canonical decimal only, so each broker has exactly one name.
  int32_t id = 0;
  const bool canonical = !digits.empty() && absl::ascii_isdigit(digits[0]) &&
                         (digits.size() == 1 || digits[0] != '0');
  if (!canonical || !absl::SimpleAtoi(absl::string_view(digits.data(), digits.size()), &id)) {
    return refuse(absl::StrCat(received, " has no broker id where {{nodeId}} stands"));
  }
  return id;
}

}  // namespace kgw::agent
