#include "common/config/settings.h"

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kgw::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<SettingSpec> Specs() {
  return {
      {.name = "GATEWAY_PORT_START", .type = SettingType::kInt, .description = "first port",
       .default_value = "6969", .min = 1, .max = 65535},
      {.name = "KAFKA_BOOTSTRAP_SERVERS", .type = SettingType::kHostPortList,
       .description = "bootstrap", .required = true},
      {.name = "GATEWAY_FEATURE_FLAGS_HAPROXY_PROTOCOL", .type = SettingType::kBool,
       .description = "proxy", .default_value = "false"},
      {.name = "GATEWAY_ROUTING_MECHANISM", .type = SettingType::kEnum, .description = "routing",
       .default_value = "port", .allowed = {"port", "host"}},
      {.name = "GATEWAY_RACK_ID", .type = SettingType::kString, .description = "rack"},
      {.name = "GATEWAY_MAX_FRAME", .type = SettingType::kByteSize, .description = "frame",
       .default_value = "100MiB", .min = 1024, .max = 1LL << 30},
      {.name = "GATEWAY_TIMEOUT", .type = SettingType::kDuration, .description = "timeout",
       .default_value = "10s", .min = 100, .max = 60000},
      {.name = "KAFKA_SASL_PASSWORD", .type = SettingType::kString, .description = "secret"},
  };
}

using Env = std::map<std::string, std::string>;
const Env kMinimalEnv = {{"KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"}};

absl::StatusOr<Settings> ParseWith(const Env& env, std::vector<std::string> flags = {}) {
  std::vector<SettingSpec> specs = Specs();
  return Parse(specs, env, flags);
}

TEST(SettingsTest, DefaultsApplyWhenNothingIsSet) {
  absl::StatusOr<Settings> s = ParseWith(kMinimalEnv);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->GetInt("GATEWAY_PORT_START"), 6969);
  EXPECT_EQ(s->GetSource("GATEWAY_PORT_START"), Source::kDefault);
  EXPECT_FALSE(s->GetBool("GATEWAY_FEATURE_FLAGS_HAPROXY_PROTOCOL"));
  EXPECT_EQ(s->GetString("GATEWAY_ROUTING_MECHANISM"), "port");
  EXPECT_EQ(s->GetInt("GATEWAY_MAX_FRAME"), 100 * 1024 * 1024);
  EXPECT_EQ(s->GetInt("GATEWAY_TIMEOUT"), 10000);
  EXPECT_FALSE(s->Has("GATEWAY_RACK_ID"));
}

TEST(SettingsTest, FlagWinsOverEnvironmentWhichWinsOverDefault) {
  Env env = kMinimalEnv;
  env["GATEWAY_PORT_START"] = "7000";
  absl::StatusOr<Settings> from_env = ParseWith(env);
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(from_env->GetInt("GATEWAY_PORT_START"), 7000);
  EXPECT_EQ(from_env->GetSource("GATEWAY_PORT_START"), Source::kEnvironment);

  absl::StatusOr<Settings> from_flag = ParseWith(env, {"--gateway-port-start=8000"});
  ASSERT_TRUE(from_flag.ok());
  EXPECT_EQ(from_flag->GetInt("GATEWAY_PORT_START"), 8000);
  EXPECT_EQ(from_flag->GetSource("GATEWAY_PORT_START"), Source::kFlag);

  absl::StatusOr<Settings> separate = ParseWith(env, {"--gateway-port-start", "9000"});
  ASSERT_TRUE(separate.ok());
  EXPECT_EQ(separate->GetInt("GATEWAY_PORT_START"), 9000);
}

TEST(SettingsTest, BadIntegerNamesSettingValueSourceAndRange) {
  Env env = kMinimalEnv;
  env["GATEWAY_PORT_START"] = "70000";
  absl::StatusOr<Settings> s = ParseWith(env);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message(),
            "invalid GATEWAY_PORT_START=\"70000\" (from environment): expected an integer in "
            "[1, 65535]");
}

TEST(SettingsTest, MissingRequiredSettingIsNamed) {
  absl::StatusOr<Settings> s = ParseWith({});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("missing required setting KAFKA_BOOTSTRAP_SERVERS"));
  EXPECT_THAT(s.status().message(), HasSubstr("--kafka-bootstrap-servers"));
}

TEST(SettingsTest, UnknownFlagAndMissingFlagValueAreRejected) {
  EXPECT_THAT(ParseWith(kMinimalEnv, {"--gateway-port-strat=1"}).status().message(),
              HasSubstr("unknown flag --gateway-port-strat"));
  EXPECT_THAT(ParseWith(kMinimalEnv, {"--gateway-port-start"}).status().message(),
              HasSubstr("flag --gateway-port-start needs a value"));
  EXPECT_THAT(ParseWith(kMinimalEnv, {"stray"}).status().message(),
              HasSubstr("unexpected argument \"stray\""));
  EXPECT_THAT(ParseWith(kMinimalEnv, {"--gateway-rack-id="}).status().message(),
              HasSubstr("--gateway-rack-id=\"\": a value is required"));
}

TEST(SettingsTest, EmptyEnvironmentValueCountsAsUnset) {
  Env env = kMinimalEnv;
  env["GATEWAY_RACK_ID"] = "";
  env["GATEWAY_PORT_START"] = "  ";
  absl::StatusOr<Settings> s = ParseWith(env);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->Has("GATEWAY_RACK_ID"));
  EXPECT_EQ(s->GetInt("GATEWAY_PORT_START"), 6969);
}

TEST(SettingsTest, BoolsAcceptCommonSpellingsAndRejectOthers) {
  for (const char* yes : {"true", "TRUE", "1", "yes"}) {
    Env env = kMinimalEnv;
    env["GATEWAY_FEATURE_FLAGS_HAPROXY_PROTOCOL"] = yes;
    absl::StatusOr<Settings> s = ParseWith(env);
    ASSERT_TRUE(s.ok()) << yes;
    EXPECT_TRUE(s->GetBool("GATEWAY_FEATURE_FLAGS_HAPROXY_PROTOCOL")) << yes;
  }
  Env env = kMinimalEnv;
  env["GATEWAY_FEATURE_FLAGS_HAPROXY_PROTOCOL"] = "maybe";
  EXPECT_THAT(ParseWith(env).status().message(), HasSubstr("expected true or false"));
}

TEST(SettingsTest, EnumsMatchCaseInsensitivelyAndListAllowedValues) {
  Env env = kMinimalEnv;
  env["GATEWAY_ROUTING_MECHANISM"] = "HOST";
  absl::StatusOr<Settings> s = ParseWith(env);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->GetString("GATEWAY_ROUTING_MECHANISM"), "host");
  env["GATEWAY_ROUTING_MECHANISM"] = "sni";
  EXPECT_THAT(ParseWith(env).status().message(), HasSubstr("expected one of port|host"));
}

TEST(SettingsTest, HostPortListsAreValidatedEntryByEntry) {
  Env env;
  env["KAFKA_BOOTSTRAP_SERVERS"] = " 127.0.0.1:9092 , [::1]:9093,broker-3:9094";
  absl::StatusOr<Settings> s = ParseWith(env);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->GetList("KAFKA_BOOTSTRAP_SERVERS"),
              ElementsAre("127.0.0.1:9092", "[::1]:9093", "broker-3:9094"));

  for (const char* bad : {"broker", "broker:0", "broker:99999", "::1:9092", ":9092", ","}) {
    env["KAFKA_BOOTSTRAP_SERVERS"] = bad;
    absl::StatusOr<Settings> r = ParseWith(env);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("KAFKA_BOOTSTRAP_SERVERS")) << bad;
  }
}

TEST(SettingsTest, ByteSizesTakeBinarySuffixesAndRanges) {
  Env env = kMinimalEnv;
  env["GATEWAY_MAX_FRAME"] = "512KiB";
  EXPECT_EQ(ParseWith(env)->GetInt("GATEWAY_MAX_FRAME"), 512 * 1024);
  env["GATEWAY_MAX_FRAME"] = "2048";
  EXPECT_EQ(ParseWith(env)->GetInt("GATEWAY_MAX_FRAME"), 2048);
  env["GATEWAY_MAX_FRAME"] = "2GiB";
  EXPECT_THAT(ParseWith(env).status().message(), HasSubstr("expected a byte size in"));
  env["GATEWAY_MAX_FRAME"] = "lots";
  EXPECT_THAT(ParseWith(env).status().message(), HasSubstr("expected a byte size such as"));
}

TEST(SettingsTest, DurationsNeedUnitsAndRespectRange) {
  Env env = kMinimalEnv;
  env["GATEWAY_TIMEOUT"] = "1500ms";
  EXPECT_EQ(ParseWith(env)->GetInt("GATEWAY_TIMEOUT"), 1500);
  env["GATEWAY_TIMEOUT"] = "1m";
  EXPECT_EQ(ParseWith(env)->GetInt("GATEWAY_TIMEOUT"), 60000);
  env["GATEWAY_TIMEOUT"] = "30";
  EXPECT_THAT(ParseWith(env).status().message(), HasSubstr("needs a unit"));
  env["GATEWAY_TIMEOUT"] = "2h";
  EXPECT_THAT(ParseWith(env).status().message(), HasSubstr("between 100ms and 60000ms"));
}

TEST(SettingsTest, DescribeMasksSecretsAndShowsSources) {
  Env env = kMinimalEnv;
  env["KAFKA_SASL_PASSWORD"] = "hunter2";
  absl::StatusOr<Settings> s = ParseWith(env);
  ASSERT_TRUE(s.ok());
  std::vector<std::string> lines = s->Describe();
  EXPECT_THAT(lines, testing::Contains("KAFKA_SASL_PASSWORD=****** (environment)"));
  EXPECT_THAT(lines, testing::Contains("GATEWAY_PORT_START=6969 (default)"));
  EXPECT_THAT(lines, testing::Contains("GATEWAY_RACK_ID=<unset> (default)"));
  for (const std::string& line : lines) EXPECT_THAT(line, testing::Not(HasSubstr("hunter2")));
}

TEST(SettingsTest, UnknownVariablesWithWatchedPrefixesAreReported) {
  std::vector<SettingSpec> specs = Specs();
  Env env = kMinimalEnv;
  env["GATEWAY_PORT_STRAT"] = "1";
  env["HOME"] = "/root";
  std::vector<absl::string_view> prefixes = {"GATEWAY_"};
  EXPECT_THAT(UnknownVariables(specs, env, prefixes), ElementsAre("GATEWAY_PORT_STRAT"));
}

TEST(SettingsTest, HelpListsEveryFlagWithDefault) {
  std::vector<SettingSpec> specs = Specs();
  std::string help = HelpText("kgw-test", "summary", specs);
  for (const SettingSpec& spec : specs) {
    EXPECT_THAT(help, HasSubstr(std::string(spec.name)));
    EXPECT_THAT(help, HasSubstr("--" + FlagName(spec.name)));
  }
  EXPECT_THAT(help, HasSubstr("(default: 6969)"));
  EXPECT_THAT(help, HasSubstr("(default: required)"));
}

}  // namespace
}  // namespace kgw::config
