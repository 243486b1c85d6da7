// The monitoring files read as a reviewer would: the Grafana dashboard
// (compose/grafana/kgw.json) and the Prometheus alert rules
// (compose/prometheus/kgw-rules.yml). Every metric their queries name must be
// in the metric lists of docs/configuration.md or docs/architecture.md, so a
// misspelt or renamed metric fails here instead of drawing an empty panel or
// an alert that can never fire; every alert must say how long, how bad and
// what to do, and docs/operations.md must explain it. Where promtool is
// installed (Debian's prometheus package) the rules also go through
// `promtool check rules` and their unit tests (kgw-rules.test.yml). The
// second half feeds the checks broken examples, so that a check that can
// never fail is caught.
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/deploy/monitoring_model.h"
#include "tests/e2e/process_util.h"

namespace kgw::deploy {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kDashboard[] = "compose/grafana/kgw.json";
constexpr char kRules[] = "compose/prometheus/kgw-rules.yml";
constexpr char kRuleTests[] = "compose/prometheus/kgw-rules.test.yml";

std::string SourceDir() { return test::EnvOr("KGW_SOURCE_DIR", "."); }
std::string Read(const std::string& relative) {
  return test::ReadFile(SourceDir() + "/" + relative);
}

// The metric lists the issue names: docs/configuration.md and docs/architecture.md.
const MetricDoc& Docs() {
  static const MetricDoc* doc = [] {
    auto* d = new MetricDoc;
    MergeMetricDoc(ParseMetricDoc(Read("docs/configuration.md")), *d);
    MergeMetricDoc(ParseMetricDoc(Read("docs/architecture.md")), *d);
    return d;
  }();
  return *doc;
}

google::protobuf::Struct LoadDashboard(const std::string& json) {
  absl::StatusOr<google::protobuf::Struct> d = ParseDashboard(json);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *d : google::protobuf::Struct{};
}

YAML::Node LoadYaml(const std::string& text) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    ADD_FAILURE() << "not YAML: " << e.what();
    return YAML::Node();
  }
}

std::set<std::string> Names(const std::string& expr) {
  absl::StatusOr<std::set<std::string>> names = MetricNamesIn(expr);
  EXPECT_TRUE(names.ok()) << expr << ": " << names.status();
  return names.ok() ? *names : std::set<std::string>{};
}

TEST(MetricDocTest, ReadsTheMetricListsOfTheDocs) {
  EXPECT_TRUE(Docs().metrics.count("kgw_agent_bytes_total"));
  EXPECT_TRUE(Docs().metrics.count("kgw_agent_closed_for_bad_input_total"));
  EXPECT_TRUE(Docs().metrics.count("kgw_coordinator_leader"));
  EXPECT_TRUE(Docs().metrics.count("kgw_coordinator_assignment_publish_failures"));
  EXPECT_EQ(Docs().histograms, std::set<std::string>{"kgw_agent_response_latency_seconds"});

  const MetricDoc doc = ParseMetricDoc(
      "Metrics: `kgw_a_total{x,y}`, `kgw_b` (histogram), `kgw_c`; `GATEWAY_X`, `kgw_d{`.");
  EXPECT_EQ(doc.metrics, (std::set<std::string>{"kgw_a_total", "kgw_b", "kgw_c"}));
  EXPECT_EQ(doc.histograms, std::set<std::string>{"kgw_b"});
}

TEST(PromqlTest, FindsMetricNamesAndSkipsFunctionsLabelsAndVariables) {
  EXPECT_EQ(Names("histogram_quantile(0.99, sum by (le, api_key) (rate("
                  "kgw_agent_response_latency_seconds_bucket"
                  "{job=~\"$job\", instance=~\"$instance\"}[$__rate_interval])))"),
            std::set<std::string>{"kgw_agent_response_latency_seconds_bucket"});
  EXPECT_EQ(
      Names("kgw_coordinator_agents == 0\nand on (job, instance)\nkgw_coordinator_leader == 1"),
      (std::set<std::string>{"kgw_coordinator_agents", "kgw_coordinator_leader"}));
  EXPECT_EQ(Names("sum(rate(a_total[5m] offset 1h)) BY (reason) / ignoring(x) group_left() b"),
            (std::set<std::string>{"a_total", "b"}));
  EXPECT_EQ(Names("max(changes(g{job=~\"$job\"}[${__range}])) > bool 1 or vector(0) + Inf"),
            std::set<std::string>{"g"});
  EXPECT_EQ(Names("absent(up{job=\"kgw-agent\"}) # a comment naming nothing_real\n"),
            std::set<std::string>{"up"});
  EXPECT_EQ(Names("label_replace(x, \"dst\", \"$1\", \"src\", \"(.*)\")"),
            std::set<std::string>{"x"});
  // Grafana's variable queries.
  EXPECT_EQ(Names("label_values({__name__=~\"m1|m2\", job=~\"$job\"}, instance)"),
            (std::set<std::string>{"m1", "m2"}));
  EXPECT_EQ(Names("label_values(m3, job)"), std::set<std::string>{"m3"});
  EXPECT_EQ(Names("label_values(job)"), std::set<std::string>{});
  EXPECT_EQ(Names("query_result(topk(5, m4))"), std::set<std::string>{"m4"});

  for (const char* broken : {"sum(x", "x{job=\"a\"", "rate(x[5m)", "x)", "x{job=\"a}",
                             "{__name__=~\"kgw_.*\"}"}) {
    EXPECT_FALSE(MetricNamesIn(broken).ok()) << broken;
  }
}

TEST(PromqlTest, NamesMustBeDocumentedAsTheyAreExported) {
  EXPECT_THAT(CheckMetricNames({"kgw_agent_requests_total", "kgw_coordinator_leader",
                                "kgw_agent_response_latency_seconds_bucket",
                                "kgw_agent_response_latency_seconds_sum",
                                "kgw_agent_response_latency_seconds_count", "up"},
                               Docs(), "q"),
              IsEmpty());
  // Counters are registered with their _total, the coordinators' gauges
  // without; only histograms have _bucket/_sum/_count series.
  for (const char* wrong : {"kgw_agent_requests", "kgw_coordinator_leader_total",
                            "kgw_agent_requests_total_count", "kgw_agent_response_latency",
                            "kgw_agent_response_latency_seconds_total", "node_load1"}) {
    EXPECT_THAT(CheckMetricNames({wrong}, Docs(), "q"),
                Contains(HasSubstr(absl::StrCat("q: ", wrong, " is not a metric listed"))));
  }
}

// ---- the real files ----------------------------------------------------------------

TEST(MonitoringFilesTest, DashboardPassesReview) {
  const google::protobuf::Struct dashboard = LoadDashboard(Read(kDashboard));
  EXPECT_THAT(CheckDashboard(dashboard, Docs()), IsEmpty());
  EXPECT_GE(DashboardQueries(dashboard).size(), 20u);
}

TEST(MonitoringFilesTest, DashboardShowsEveryAgentAndCoordinatorMetric) {
  std::set<std::string> shown;
  for (const DashboardQuery& q : DashboardQueries(LoadDashboard(Read(kDashboard)))) {
    for (const std::string& name : Names(q.expr)) shown.insert(name);
  }
  for (const std::string& metric : Docs().metrics) {
    if (!absl::StartsWith(metric, "kgw_agent_") && !absl::StartsWith(metric, "kgw_coordinator_")) {
      continue;
    }
    const bool histogram = Docs().histograms.count(metric) != 0;
    EXPECT_TRUE(shown.count(histogram ? metric + "_bucket" : metric))
        << metric << " is documented but on no panel of " << kDashboard << ": add one";
  }
}

TEST(MonitoringFilesTest, AlertRulesPassReview) {
  const YAML::Node rules = LoadYaml(Read(kRules));
  EXPECT_THAT(CheckAlertRules(rules, Docs(), kRules), IsEmpty());
  const std::vector<std::string> alerts = AlertNames(rules);
  EXPECT_EQ(std::set<std::string>(alerts.begin(), alerts.end()),
            (std::set<std::string>{"KgwNoLeadingCoordinator", "KgwAssignmentNotPublished",
                                   "KgwBrokerWithoutAgent", "KgwAgentDown", "KgwAgentNotReady",
                                   "KgwBadInputSurge", "KgwUpstreamConnectFailures",
                                   "KgwCertificateExpiresSoon"}));
}

TEST(MonitoringFilesTest, OperationsDocExplainsEveryAlertAndEveryAlertHasAUnitTest) {
  const std::string operations = Read("docs/operations.md");
  std::set<std::string> tested;
  const YAML::Node tests = LoadYaml(Read(kRuleTests))["tests"];
  ASSERT_TRUE(tests && tests.IsSequence()) << kRuleTests << " has no tests";
  for (const YAML::Node& t : tests) {
    for (const YAML::Node& case_ : t["alert_rule_test"]) {
      tested.insert(case_["alertname"].as<std::string>());
    }
  }
  for (const std::string& alert : AlertNames(LoadYaml(Read(kRules)))) {
    EXPECT_TRUE(absl::StrContains(operations, absl::StrCat("`", alert, "`")))
        << alert << " is not explained in docs/operations.md";
    EXPECT_TRUE(tested.count(alert)) << alert << " has no unit test in " << kRuleTests;
  }
}

TEST(MonitoringFilesTest, PromtoolAcceptsTheRulesAndTheirUnitTests) {
  std::string promtool = test::EnvOr("KGW_PROMTOOL", "");
  if (promtool.empty()) {
    const auto [code, path] = test::Shell("command -v promtool");
    if (code != 0) {
      GTEST_SKIP() << "promtool not found (Debian's prometheus package, or set KGW_PROMTOOL): "
                      "the rules are not checked by promtool";
    }
    promtool = std::string(absl::StripAsciiWhitespace(path));
  }
  const auto [check_code, check_out] =
      test::Shell(absl::StrCat(promtool, " check rules ", SourceDir(), "/", kRules, " 2>&1"));
  EXPECT_EQ(check_code, 0) << check_out;
  const auto [test_code, test_out] =
      test::Shell(absl::StrCat(promtool, " test rules ", SourceDir(), "/", kRuleTests, " 2>&1"));
  EXPECT_EQ(test_code, 0) << test_out;
}

// ---- broken examples ---------------------------------------------------------------

constexpr char kGoodDashboard[] = R"json({
  "title": "t",
  "templating": {"list": [
    {"name": "datasource", "type": "datasource", "query": "prometheus"},
    {"name": "job", "type": "query", "datasource": {"type": "prometheus", "uid": "${datasource}"},
     "query": {"query": "label_values(kgw_agent_listening_ports, job)", "refId": "j"}},
    {"name": "instance", "type": "query", "query": "label_values(kgw_coordinator_leader, instance)"}
  ]},
  "panels": [
    {"type": "row", "id": 1, "title": "Agents", "gridPos": {"h": 1, "w": 24, "x": 0, "y": 0},
     "panels": []},
    {"type": "timeseries", "id": 2, "title": "Requests",
     "datasource": {"type": "prometheus", "uid": "${datasource}"},
     "gridPos": {"h": 8, "w": 8, "x": 0, "y": 1},
     "targets": [{"refId": "A", "expr": "sum(rate(kgw_agent_requests_total{job=~\"$job\"}[5m]))"}]}
  ]
})json";

// `text` with the first occurrence of `from` replaced by `to`: a broken example.
std::string Replaced(std::string text, const std::string& from, const std::string& to) {
  if (from.empty()) return text;
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

std::vector<std::string> DashboardProblems(const std::string& from, const std::string& to) {
  return CheckDashboard(LoadDashboard(Replaced(kGoodDashboard, from, to)), Docs());
}

TEST(MonitoringChecksTest, AGoodDashboardPasses) {
  EXPECT_THAT(DashboardProblems("", ""), IsEmpty());
}

TEST(MonitoringChecksTest, AMisspeltOrUndocumentedMetricInADashboardIsReported) {
  EXPECT_THAT(DashboardProblems("kgw_agent_requests_total", "kgw_agent_request_total"),
              Contains("panel \"Requests\" target A: kgw_agent_request_total is not a metric "
                       "listed in docs/configuration.md or docs/architecture.md"));
  EXPECT_THAT(DashboardProblems("label_values(kgw_agent_listening_ports, job)",
                                "label_values(kgw_agent_ports, job)"),
              Contains(HasSubstr("variable job: kgw_agent_ports is not a metric listed")));
  EXPECT_THAT(DashboardProblems("[5m]))", "[5m])"), Contains(HasSubstr("a '(' is not closed")));
}

// A broken example: `from` replaced by `to` must bring up `problem`.
struct BrokenCase {
  const char* from;
  const char* to;
  const char* problem;
};

TEST(MonitoringChecksTest, MissingVariablesDataSourcesAndJobFiltersAreReported) {
  const BrokenCase cases[] = {
      {"\"name\": \"instance\"", "\"name\": \"host\"", "no template variable instance"},
      {"\"query\": \"prometheus\"", "\"query\": \"loki\"",
       "no Prometheus data source variable or __inputs entry"},
      {"\"uid\": \"${datasource}\"},\n     \"gridPos\"",
       "\"uid\": \"P1809F\"},\n     \"gridPos\"", "panel \"Requests\" uses data source \"P1809F\""},
      {"\"datasource\": {\"type\": \"prometheus\", \"uid\": \"${datasource}\"},\n     \"grid",
       "\"grid", "panel \"Requests\" has no datasource"},
      {"{job=~\\\"$job\\\"}", "", "panel \"Requests\" target A does not filter by $job"},
      {"\"id\": 2", "\"id\": 1", "panel \"Requests\" has the id of another panel"},
      {"\"targets\"", "\"nothing\"", "panel \"Requests\" queries nothing"},
  };
  for (const BrokenCase& c : cases) {
    EXPECT_THAT(DashboardProblems(c.from, c.to), Contains(HasSubstr(c.problem))) << c.from;
  }
}

TEST(MonitoringChecksTest, ADashboardThatIsNotStrictJsonIsAnError) {
  // What Grafana's import (the browser's JSON.parse) refuses, or reads one
  // way while another parser reads it another.
  for (const char* broken :
       {"{\"title\": \"t\",}", "{\"a\": [1, 2,]}", "{title: \"t\"}", "{'title': 't'}",
        "{\"a\": 1} // note", "{\"a\": 01}", "{\"a\": \"\\x\"}", "{\"a\": 1, \"a\": 2}",
        "{\"a\": 1}}", "{\"a\": \"open}"}) {
    EXPECT_FALSE(ParseDashboard(broken).ok()) << broken;
  }
  EXPECT_THAT(std::string(ParseDashboard("{\n\"a\": 1,\n\"a\": 2}").status().message()),
              HasSubstr("line 3: key \"a\" twice"));
  EXPECT_TRUE(ParseDashboard(kGoodDashboard).ok());
  EXPECT_TRUE(ParseDashboard("{\"a\": [-1.5e3, 0, true, null, \"\\u00e9\\n\"], \"b\": {}}").ok());
}

constexpr char kGoodRules[] = R"yaml(
groups:
  - name: g
    rules:
      - alert: KgwSomething
        expr: sum by (job) (kgw_coordinator_leader) < 1
        for: 2m
        labels: {severity: critical}
        annotations:
          summary: Something.
          description: Do this; see docs/operations.md, "Dashboards and alerts".
)yaml";

std::vector<std::string> RuleProblems(const std::string& from, const std::string& to) {
  return CheckAlertRules(LoadYaml(Replaced(kGoodRules, from, to)), Docs(), "r.yml");
}

TEST(MonitoringChecksTest, AGoodRuleFilePasses) { EXPECT_THAT(RuleProblems("", ""), IsEmpty()); }

TEST(MonitoringChecksTest, AnAlertMissingWhatOperatorsNeedIsReported) {
  const BrokenCase cases[] = {
      {"        for: 2m\n", "",
       "r.yml: alert KgwSomething has no for: it would fire on one evaluation"},
      {"for: 2m", "for: soon", "has for \"soon\", not a positive duration"},
      {"for: 2m", "for: 0s", "has for \"0s\", not a positive duration"},
      {"severity: critical", "severity: page", "has labels.severity \"page\""},
      {"labels: {severity: critical}", "labels: {team: kafka}", "has labels.severity \"\""},
      {"summary: Something.", "runbook: x", "r.yml: alert KgwSomething has no annotations.summary"},
      {"see docs/operations.md", "see the wiki",
       "description does not point at docs/operations.md"},
      {"- alert: KgwSomething", "- record: kgw:something", "g rule #0 has no alert name"},
  };
  for (const BrokenCase& c : cases) {
    EXPECT_THAT(RuleProblems(c.from, c.to), Contains(HasSubstr(c.problem))) << c.from;
  }
  EXPECT_THAT(CheckAlertRules(LoadYaml("rules: []"), Docs(), "r.yml"),
              Contains("r.yml: no groups"));
}

TEST(MonitoringChecksTest, AMisspeltMetricInAnAlertIsReported) {
  EXPECT_THAT(RuleProblems("kgw_coordinator_leader", "kgw_coordinator_leaders"),
              Contains("r.yml: alert KgwSomething: kgw_coordinator_leaders is not a metric listed "
                       "in docs/configuration.md or docs/architecture.md"));
  EXPECT_THAT(RuleProblems("kgw_coordinator_leader", "kgw_coordinator_leader_total"),
              Contains(HasSubstr("kgw_coordinator_leader_total is not a metric listed")));
}

}  // namespace
}  // namespace kgw::deploy
