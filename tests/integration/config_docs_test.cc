// docs/configuration.md is the reference operators read. This test keeps it
// honest: every setting an executable declares has a row there showing its
// default, and every setting named in a table row is one the code knows.
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "agent/agent_config.h"
#include "coordinator/coordinator_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/kgwctl/kgwctl_config.h"

namespace kgw {
namespace {

std::string ReadDoc() {
  std::ifstream in(KGW_CONFIG_DOC);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Table rows of the form "| `NAME` | ... |", keyed by NAME.
std::map<std::string, std::string> DocumentedRows(const std::string& doc) {
  std::map<std::string, std::string> rows;
  std::istringstream lines(doc);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| `", 0) != 0) continue;
    size_t end = line.find("` |", 3);
    if (end == std::string::npos) continue;
    std::string name = line.substr(3, end - 3);
    bool is_setting = !name.empty() && name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
                                           std::string::npos;
    if (is_setting) rows[name] = line;
  }
  return rows;
}

std::vector<config::SettingSpec> AllSpecs() {
  std::vector<config::SettingSpec> all = agent::AgentSettingSpecs();
  for (auto specs : {coordinator::CoordinatorSettingSpecs(), kgwctl::KgwctlSettingSpecs()}) {
    all.insert(all.end(), specs.begin(), specs.end());
  }
  return all;
}

TEST(ConfigDocsTest, EverySettingIsDocumentedWithItsDefaultAndFlag) {
  std::map<std::string, std::string> rows = DocumentedRows(ReadDoc());
  ASSERT_FALSE(rows.empty()) << "no setting rows found in " << KGW_CONFIG_DOC;
  for (const config::SettingSpec& spec : AllSpecs()) {
    auto it = rows.find(std::string(spec.name));
    if (it == rows.end()) {
      ADD_FAILURE() << spec.name << " is not documented in docs/configuration.md";
      continue;
    }
    EXPECT_THAT(it->second, testing::HasSubstr("`--" + config::FlagName(spec.name) + "`"))
        << spec.name;
    if (!spec.default_value.empty()) {
      EXPECT_THAT(it->second, testing::HasSubstr("`" + std::string(spec.default_value) + "`"))
          << spec.name << " row does not show its default";
    }
  }
}

TEST(ConfigDocsTest, NothingDocumentedIsUnknownToTheCode) {
  std::set<std::string> known;
  for (const config::SettingSpec& spec : AllSpecs()) known.emplace(spec.name);
  for (const auto& [name, row] : DocumentedRows(ReadDoc())) {
    EXPECT_TRUE(known.contains(name)) << name << " is documented but no executable declares it";
  }
}

}  // namespace
}  // namespace kgw
