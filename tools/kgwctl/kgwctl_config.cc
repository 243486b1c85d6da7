#include "tools/kgwctl/kgwctl_config.h"

namespace kgw::kgwctl {

std::vector<config::SettingSpec> KgwctlSettingSpecs() {
  using config::SettingType;
  return {
      {.name = "KGWCTL_COORDINATOR",
       .type = SettingType::kHostPort,
       .description = "gRPC endpoint (host:port) of any coordinator of the gateway cluster",
       .default_value = "localhost:6900"},
      {.name = "KGWCTL_TIMEOUT",
       .type = SettingType::kDuration,
       .description = "Deadline for each call to the coordinator",
       .default_value = "5s",
       .min = 1,
       .max = 3600 * 1000},
  };
}

}  // namespace kgw::kgwctl
