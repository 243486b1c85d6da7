#include "common/config/gateway_settings.h"

#include <unistd.h>

#include <climits>

#include "absl/strings/str_cat.h"

namespace kgw::config {
namespace {

// The cluster id becomes part of Kafka topic and group names
// (_kgw_<cluster id>_assignments), so it must use Kafka's topic alphabet and
// leave room for the prefix and suffix within Kafka's 249-character limit.
std::optional<std::string> CheckClusterId(absl::string_view id) {
  if (id.size() > 200) return std::string("longer than 200 characters");
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return absl::StrCat("character '", std::string(1, c), "' is not allowed");
  }
  return std::nullopt;
}

std::optional<std::string> CheckNoWhitespace(absl::string_view v) {
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      return std::string("contains whitespace");
    }
  }
  return std::nullopt;
}

}  // namespace

std::vector<SettingSpec> GatewayNodeSettings() {
  return {
      {.name = kKafkaBootstrapServers,
       .type = SettingType::kHostPortList,
       .description = "Bootstrap servers of the backing Kafka cluster",
       .required = true},
      {.name = kClusterId,
       .type = SettingType::kString,
       .description = "Gateway cluster this node belongs to; nodes with the same id form one "
                      "gateway cluster",
       .default_value = "gateway",
       .validator = CheckClusterId,
       .allowed_hint = "1-200 characters of [A-Za-z0-9._-]"},
      {.name = kGroupId,
       .type = SettingType::kString,
       .description = "Kafka group through which the gateway nodes find each other",
       .default_description = "kgw_<GATEWAY_CLUSTER_ID>",
       .validator = CheckNoWhitespace,
       .allowed_hint = "a Kafka group id without whitespace"},
      {.name = kRackId,
       .type = SettingType::kString,
       .description = "Rack (zone) of this node, matched against the brokers' broker.rack",
       .validator = CheckNoWhitespace,
       .allowed_hint = "a rack name without whitespace"},
      {.name = kAdvertisedHost,
       .type = SettingType::kString,
       .description = "Host name or address clients use to reach this node",
       .default_description = "the host name",
       .validator = CheckNoWhitespace,
       .allowed_hint = "a host name or address"},
      {.name = kHttpPort,
       .type = SettingType::kInt,
       .description = "Port of the HTTP endpoint for health checks and metrics",
       .default_value = "8888",
       .min = 1,
       .max = 65535},
  };
}

GatewayNodeConfig ReadGatewayNodeConfig(Settings& settings) {
  GatewayNodeConfig c;
  c.bootstrap_servers = settings.GetList(kKafkaBootstrapServers);
  c.cluster_id = settings.GetString(kClusterId);
  if (!settings.Has(kGroupId)) settings.SetComputed(kGroupId, absl::StrCat("kgw_", c.cluster_id));
  c.group_id = settings.GetString(kGroupId);
  c.rack_id = settings.Has(kRackId) ? settings.GetString(kRackId) : "";
  if (!settings.Has(kAdvertisedHost)) settings.SetComputed(kAdvertisedHost, LocalHostName());
  c.advertised_host = settings.GetString(kAdvertisedHost);
  c.http_port = static_cast<int>(settings.GetInt(kHttpPort));
  return c;
}

std::string LocalHostName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace kgw::config
