// What the deployment file tests read from the source tree: its root
// (KGW_SOURCE_DIR, set by CMake) and docs/configuration.md, parsed once per test
// binary.
#ifndef KGW_TESTS_DEPLOY_SOURCE_TREE_H_
#define KGW_TESTS_DEPLOY_SOURCE_TREE_H_

#include <string>

#include "tests/deploy/deploy_model.h"
#include "tests/e2e/process_util.h"

namespace kgw::deploy {

inline std::string SourceDir() { return test::EnvOr("KGW_SOURCE_DIR", "."); }

// The settings of docs/configuration.md; empty when it cannot be read or parsed
// (ConfigurationDocTest tells which).
inline const SettingsDoc& Doc() {
  static const SettingsDoc* doc = [] {
    absl::StatusOr<SettingsDoc> d =
        ParseConfigurationDoc(test::ReadFile(SourceDir() + "/docs/configuration.md"));
    return new SettingsDoc(d.ok() ? *d : SettingsDoc{});
  }();
  return *doc;
}

}  // namespace kgw::deploy

#endif  // KGW_TESTS_DEPLOY_SOURCE_TREE_H_
