// Settings of the kgwctl admin CLI.
#ifndef KGW_TOOLS_KGWCTL_KGWCTL_CONFIG_H_
#define KGW_TOOLS_KGWCTL_KGWCTL_CONFIG_H_

#include <vector>

#include "common/config/settings.h"

namespace kgw::kgwctl {

std::vector<config::SettingSpec> KgwctlSettingSpecs();

}  // namespace kgw::kgwctl

#endif  // KGW_TOOLS_KGWCTL_KGWCTL_CONFIG_H_
