// Readers and reviewers' checks for the monitoring files of compose/: the
// Grafana dashboard (compose/grafana/kgw.json) and the Prometheus alert rules
// (compose/prometheus/kgw-rules.yml), used by monitoring_files_test.cc.
//
// As in deploy_model.h, the parsers take text, not paths, so that tests can
// feed them broken examples; each Check* function returns the problems it
// found, one sentence each naming the part at fault (empty: nothing to
// report); text that does not parse is an absl::Status. Everything here is
// single-threaded, plain data.
#ifndef KGW_TESTS_DEPLOY_MONITORING_MODEL_H_
#define KGW_TESTS_DEPLOY_MONITORING_MODEL_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"
#include "yaml-cpp/yaml.h"

namespace kgw::deploy {

// ---- the metric lists of the docs ---------------------------------------------------

// The metrics a doc names: every `kgw_…` in backquotes, labels in braces
// dropped (`kgw_agent_bytes_total{broker,direction}` is kgw_agent_bytes_total).
// The docs write names as /metrics shows them: prometheus-cpp exports a family
// under the name it was registered with, so counters carry `_total` there too
// and the coordinators' gauges carry none. A name followed by "(histogram)" is
// a histogram, whose series are its `_bucket`, `_sum` and `_count`.
struct MetricDoc {
  std::set<std::string> metrics;
  std::set<std::string> histograms;
};
MetricDoc ParseMetricDoc(absl::string_view markdown);
void MergeMetricDoc(const MetricDoc& from, MetricDoc& into);

// ---- PromQL ------------------------------------------------------------------------------

// The metric names an expression selects: bare names and the names of a
// `__name__` matcher (`{__name__=~"a|b"}`). Functions, aggregations, keywords,
// label names, strings, numbers, durations and Grafana's variables (`$job`,
// `${datasource}`, `$__rate_interval`) are not names. Grafana's variable
// queries `label_values(selector, label)` and `query_result(expr)` are read
// as the PromQL they contain. Brackets that do not balance, and a `__name__`
// regex other than plain alternatives, are errors: the names could not be
// known.
absl::StatusOr<std::set<std::string>> MetricNamesIn(absl::string_view expr);

// Problems with `names`: one that is neither a metric of `doc`, nor the
// `_bucket`, `_sum` or `_count` series of one of its histograms, nor `up`
// (made by Prometheus for every target it scrapes). `where` starts each
// message.
std::vector<std::string> CheckMetricNames(const std::set<std::string>& names, const MetricDoc& doc,
                                          absl::string_view where);

// ---- Grafana -------------------------------------------------------------------------------

// A dashboard as Grafana exports it: strict JSON.
absl::StatusOr<google::protobuf::Struct> ParseDashboard(absl::string_view json);

// One PromQL query of a dashboard and where it is ("panel \"Requests by API\"
// target A", "variable job").
struct DashboardQuery {
  std::string where;
  std::string expr;
  bool is_variable = false;
};

// Every target of every panel (rows' collapsed panels included) and every
// query variable, in dashboard order.
std::vector<DashboardQuery> DashboardQueries(const google::protobuf::Struct& dashboard);

// A reviewer's checks: variables `job` and `instance` and a Prometheus data
// source (a `datasource` variable or an `__inputs` entry) that every panel and
// target uses; unique panel ids, each panel placed (`gridPos`); every panel
// but rows queries something, and every panel query filters by `$job`; every
// query selects only documented metrics.
std::vector<std::string> CheckDashboard(const google::protobuf::Struct& dashboard,
                                        const MetricDoc& doc);

// ---- Prometheus rules ----------------------------------------------------------------------

// The `alert` names of a rule file, in file order.
std::vector<std::string> AlertNames(const YAML::Node& rules);

// A reviewer's checks of an alert rule file: `groups`, each with a `name` and
// `rules`; every rule an alert with a unique name, an `expr` that selects only
// documented metrics, a `for` duration, `labels.severity` (critical, warning
// or info), and `annotations.summary` and `annotations.description`, the
// description pointing at docs/operations.md.
std::vector<std::string> CheckAlertRules(const YAML::Node& rules, const MetricDoc& doc,
                                         absl::string_view file_name);

}  // namespace kgw::deploy

#endif  // KGW_TESTS_DEPLOY_MONITORING_MODEL_H_
