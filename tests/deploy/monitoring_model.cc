#include "tests/deploy/monitoring_model.h"

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"

namespace kgw::deploy {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// ---- PromQL lexing ----

bool IsNameStart(char c) { return absl::ascii_isalpha(c) || c == '_' || c == ':'; }
bool IsNameChar(char c) { return absl::ascii_isalnum(c) || c == '_' || c == ':'; }

bool IsMetricName(absl::string_view s) {
  if (s.empty() || !IsNameStart(s[0])) return false;
  for (char c : s) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

enum class TokenKind { kName, kString, kNumber, kVariable, kPunct };
struct Token {
  TokenKind kind;
  std::string text;  // a string's content without its quotes
};

absl::StatusOr<std::vector<Token>> Lex(absl::string_view expr) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < expr.size()) {
    const char c = expr[i];
    if (absl::ascii_isspace(c)) {
      ++i;
    } else if (c == '#') {  // a comment, to the end of the line
      while (i < expr.size() && expr[i] != '\n') ++i;
    } else if (c == '"' || c == '\'' || c == '`') {
      std::string text;
      size_t j = i + 1;
      while (j < expr.size() && expr[j] != c) {
        if (expr[j] == '\\' && c != '`' && j + 1 < expr.size()) ++j;
        text += expr[j++];
      }
      if (j >= expr.size()) return absl::InvalidArgumentError("a string is not closed");
      tokens.push_back({TokenKind::kString, std::move(text)});
      i = j + 1;
    } else if (c == '$') {
      size_t j = i + 1;
      if (j < expr.size() && expr[j] == '{') {
        j = expr.find('}', j);
        if (j == absl::string_view::npos) {
          return absl::InvalidArgumentError("a ${variable} is not closed");
        }
        ++j;
      } else {
        while (j < expr.size() && IsNameChar(expr[j])) ++j;
      }
      tokens.push_back({TokenKind::kVariable, std::string(expr.substr(i, j - i))});
      i = j;
    } else if (absl::ascii_isdigit(c) || (c == '.' && i + 1 < expr.size() &&
                                           absl::ascii_isdigit(expr[i + 1]))) {
      // Numbers and durations: 0.99, 1e3, 0x1f, 5m, 1h30m.
      size_t j = i;
      while (j < expr.size() && (absl::ascii_isalnum(expr[j]) || expr[j] == '.')) ++j;
      tokens.push_back({TokenKind::kNumber, std::string(expr.substr(i, j - i))});
      i = j;
    } else if (IsNameStart(c)) {
      size_t j = i;
      while (j < expr.size() && IsNameChar(expr[j])) ++j;
      tokens.push_back({TokenKind::kName, std::string(expr.substr(i, j - i))});
      i = j;
    } else {
      tokens.push_back({TokenKind::kPunct, std::string(1, c)});
      ++i;
    }
  }
  return tokens;
}

bool IsPunct(const std::vector<Token>& t, size_t i, absl::string_view p) {
  return i < t.size() && t[i].kind == TokenKind::kPunct && t[i].text == p;
}

// The index just past the bracket closing the one at `open`.
absl::StatusOr<size_t> SkipBalanced(const std::vector<Token>& t, size_t open) {
  const std::string opening = t[open].text;
  const std::string closing = opening == "(" ? ")" : opening == "[" ? "]" : "}";
  int depth = 0;
  for (size_t i = open; i < t.size(); ++i) {
    if (IsPunct(t, i, opening)) ++depth;
    if (IsPunct(t, i, closing) && --depth == 0) return i + 1;
  }
  return absl::InvalidArgumentError(absl::StrCat("a '", opening, "' is not closed"));
}

// Label matchers `{a="x", __name__=~"m1|m2"}` from `open` (the '{'): the
// names the __name__ matchers select.
absl::StatusOr<size_t> ReadMatchers(const std::vector<Token>& t, size_t open,
                                    std::set<std::string>& names) {
  size_t i = open + 1;
  while (i < t.size() && !IsPunct(t, i, "}")) {
    if (t[i].kind != TokenKind::kName) {
      ++i;
      continue;
    }
    const std::string label = t[i++].text;
    std::string op;
    while (i < t.size() && t[i].kind == TokenKind::kPunct && !IsPunct(t, i, "}") &&
           !IsPunct(t, i, ",")) {
      op += t[i++].text;
    }
    if (i >= t.size() || t[i].kind != TokenKind::kString) continue;
    const std::string value = t[i++].text;
    if (label != "__name__" || op == "!=" || op == "!~") continue;
    for (absl::string_view alternative : absl::StrSplit(value, '|')) {
      if (!IsMetricName(alternative)) {
        return absl::InvalidArgumentError(
            absl::StrCat("__name__", op, "\"", value, "\" is not a list of metric names"));
      }
      names.insert(std::string(alternative));
    }
  }
  if (i >= t.size()) return absl::InvalidArgumentError("a '{' is not closed");
  return i + 1;
}

absl::StatusOr<std::set<std::string>> NamesInPromql(absl::string_view expr) {
  absl::StatusOr<std::vector<Token>> lexed = Lex(expr);
  if (!lexed.ok()) return lexed.status();
  const std::vector<Token>& t = *lexed;
  // Words that are never metric names where they stand: binary operators,
  // `bool`, `offset`, and the literals Inf and NaN.
  static const std::set<std::string> kKeywords = {"and", "or",  "unless", "atan2", "bool",
                                                  "offset", "inf", "nan"};
  // Modifiers followed by a list of label names in parentheses.
  static const std::set<std::string> kLabelLists = {"by",      "without",    "on",
                                                    "ignoring", "group_left", "group_right"};
  std::set<std::string> names;
  int parens = 0;
  size_t i = 0;
  while (i < t.size()) {
    const Token& token = t[i];
    if (IsPunct(t, i, "[")) {  // a range or subquery: durations only
      absl::StatusOr<size_t> next = SkipBalanced(t, i);
      if (!next.ok()) return next.status();
      i = *next;
    } else if (IsPunct(t, i, "{")) {
      absl::StatusOr<size_t> next = ReadMatchers(t, i, names);
      if (!next.ok()) return next.status();
      i = *next;
    } else if (IsPunct(t, i, "]") || IsPunct(t, i, "}")) {
      return absl::InvalidArgumentError(absl::StrCat("a '", token.text, "' closes nothing"));
    } else if (token.kind == TokenKind::kName) {
      const std::string lower = absl::AsciiStrToLower(token.text);
      if (kLabelLists.count(lower) != 0) {
        ++i;
        if (IsPunct(t, i, "(")) {
          absl::StatusOr<size_t> next = SkipBalanced(t, i);
          if (!next.ok()) return next.status();
          i = *next;
        }
        continue;
      }
      const bool call = IsPunct(t, i + 1, "(");
      const std::string after =
          i + 1 < t.size() && t[i + 1].kind == TokenKind::kName
              ? absl::AsciiStrToLower(t[i + 1].text)
              : "";
      const bool aggregation = after == "by" || after == "without";
      if (!call && !aggregation && kKeywords.count(lower) == 0) names.insert(token.text);
      ++i;
    } else {
      if (IsPunct(t, i, "(")) ++parens;
      if (IsPunct(t, i, ")") && --parens < 0) {
        return absl::InvalidArgumentError("a ')' closes nothing");
      }
      ++i;
    }
  }
  if (parens != 0) return absl::InvalidArgumentError("a '(' is not closed");
  return names;
}

// "f(a, b)" -> {"a", "b"}, split at top-level commas; nullopt when `text` is
// not one call of `function`.
std::optional<std::vector<std::string>> CallArguments(absl::string_view text,
                                                      absl::string_view function) {
  text = absl::StripAsciiWhitespace(text);
  if (!absl::ConsumePrefix(&text, function)) return std::nullopt;
  text = absl::StripLeadingAsciiWhitespace(text);
  if (!absl::ConsumePrefix(&text, "(") || !absl::ConsumeSuffix(&text, ")")) return std::nullopt;
  std::vector<std::string> args;
  std::string current;
  int depth = 0;
  char quote = 0;
  for (char c : text) {
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '(' || c == '{' || c == '[') {
      ++depth;
    } else if (c == ')' || c == '}' || c == ']') {
      --depth;
    } else if (c == ',' && depth == 0) {
      args.push_back(std::string(absl::StripAsciiWhitespace(current)));
      current.clear();
      continue;
    }
    current += c;
  }
  args.push_back(std::string(absl::StripAsciiWhitespace(current)));
  return args;
}

// ---- JSON access ----

const Value* Field(const Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? nullptr : &it->second;
}
const Struct* StructField(const Struct& s, const std::string& key) {
  const Value* v = Field(s, key);
  return v != nullptr && v->has_struct_value() ? &v->struct_value() : nullptr;
}
std::string StringField(const Struct& s, const std::string& key) {
  const Value* v = Field(s, key);
  return v != nullptr && v->kind_case() == Value::kStringValue ? v->string_value() : "";
}
std::vector<const Struct*> StructList(const Struct& s, const std::string& key) {
  std::vector<const Struct*> out;
  const Value* v = Field(s, key);
  if (v == nullptr || !v->has_list_value()) return out;
  for (const Value& item : v->list_value().values()) {
    if (item.has_struct_value()) out.push_back(&item.struct_value());
  }
  return out;
}

// Panels in dashboard order; a row's collapsed panels follow the row.
void CollectPanels(const Struct& holder, std::vector<const Struct*>& out) {
  for (const Struct* panel : StructList(holder, "panels")) {
    out.push_back(panel);
    CollectPanels(*panel, out);
  }
}

// A variable's query: a string, or (Grafana 10 and later) {"query": "..."}.
std::string VariableQuery(const Struct& variable) {
  const Value* q = Field(variable, "query");
  if (q == nullptr) return "";
  if (q->kind_case() == Value::kStringValue) return q->string_value();
  if (q->has_struct_value()) return StringField(q->struct_value(), "query");
  return "";
}

std::string PanelName(const Struct& panel) {
  return absl::StrCat("panel \"", StringField(panel, "title"), "\"");
}

// ---- strict JSON ----

// RFC 8259's grammar, which browsers' JSON.parse (Grafana's import) holds to
// and protobuf's parser does not quite (it takes a trailing comma). Also
// refuses a key twice in one object: parsers disagree on which one wins.
class StrictJson {
 public:
  explicit StrictJson(absl::string_view text) : text_(text) {}

  absl::Status Check() {
    absl::Status s = Value(0);
    if (!s.ok()) return s;
    SkipSpace();
    if (pos_ != text_.size()) return Error("text after the JSON value");
    return absl::OkStatus();
  }

 private:
  absl::Status Error(absl::string_view what) const {
    int line = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) line += text_[i] == '\n';
    return absl::InvalidArgumentError(absl::StrCat("not strict JSON, line ", line, ": ", what));
  }
  void SkipSpace() {
    while (pos_ < text_.size() && absl::string_view(" \t\r\n").find(text_[pos_]) !=
                                      absl::string_view::npos) {
      ++pos_;
    }
  }
  bool Take(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  absl::Status Value(int depth) {
    if (depth > 100) return Error("nested too deeply");
    SkipSpace();
    if (pos_ >= text_.size()) return Error("a value is missing");
    const char c = text_[pos_];
    if (c == '{') return Object(depth);
    if (c == '[') return Array(depth);
    if (c == '"') return String(nullptr);
    for (absl::string_view word : {"true", "false", "null"}) {
      if (absl::StartsWith(text_.substr(pos_), word)) {
        pos_ += word.size();
        return absl::OkStatus();
      }
    }
    return Number();
  }

  absl::Status Object(int depth) {
    ++pos_;
    std::set<std::string> keys;
    if (Take('}')) return absl::OkStatus();
    do {
      SkipSpace();
      std::string key;
      if (pos_ >= text_.size() || text_[pos_] != '"') return Error("a key is not a string");
      if (absl::Status s = String(&key); !s.ok()) return s;
      if (!keys.insert(key).second) return Error(absl::StrCat("key \"", key, "\" twice"));
      if (!Take(':')) return Error("':' missing after a key");
      if (absl::Status s = Value(depth + 1); !s.ok()) return s;
    } while (Take(','));
    if (!Take('}')) return Error("',' or '}' missing in an object");
    return absl::OkStatus();
  }

  absl::Status Array(int depth) {
    ++pos_;
    if (Take(']')) return absl::OkStatus();
    do {
      if (absl::Status s = Value(depth + 1); !s.ok()) return s;
    } while (Take(','));
    if (!Take(']')) return Error("',' or ']' missing in an array");
    return absl::OkStatus();
  }

  // From the opening quote; the content (escapes kept as written) into `out`.
  absl::Status String(std::string* out) {
    ++pos_;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      const char c = text_[pos_];
      if (static_cast<unsigned char>(c) < 0x20) return Error("a control character in a string");
      if (c == '\\') {
        if (pos_ + 1 >= text_.size()) break;
        const char e = text_[pos_ + 1];
        if (e == 'u') {
          if (pos_ + 6 > text_.size()) break;
          for (size_t i = pos_ + 2; i < pos_ + 6; ++i) {
            if (!absl::ascii_isxdigit(text_[i])) return Error("a bad \\u escape");
          }
        } else if (absl::string_view("\"\\/bfnrt").find(e) == absl::string_view::npos) {
          return Error("a bad escape in a string");
        }
        const size_t length = e == 'u' ? 6 : 2;
        if (out != nullptr) out->append(std::string(text_.substr(pos_, length)));
        pos_ += length;
        continue;
      }
      if (out != nullptr) *out += c;
      ++pos_;
    }
    if (pos_ >= text_.size()) return Error("a string is not closed");
    ++pos_;
    return absl::OkStatus();
  }

  absl::Status Number() {
    const size_t start = pos_;
    if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
    const auto digits = [this] {
      const size_t from = pos_;
      while (pos_ < text_.size() && absl::ascii_isdigit(text_[pos_])) ++pos_;
      return pos_ - from;
    };
    const size_t integer_start = pos_;
    const size_t integer = digits();
    if (integer == 0) return Error("not a value");
    if (integer > 1 && text_[integer_start] == '0') return Error("a number with a leading 0");
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (digits() == 0) return Error("no digits after a decimal point");
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (digits() == 0) return Error("no digits in an exponent");
    }
    return pos_ > start ? absl::OkStatus() : Error("not a value");
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

// ---- YAML access ----

std::string Scalar(const YAML::Node& n) {
  return n && n.IsScalar() ? n.as<std::string>() : std::string();
}

// n[key] without yaml-cpp's throwing on a node that is not a map.
YAML::Node Child(const YAML::Node& n, const char* key) {
  if (!n || !n.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node& parent = n;
  return parent[key];
}

// "10m", "1h30m", "90s": Prometheus durations, positive.
bool IsDuration(absl::string_view s) {
  static const std::vector<std::string> kUnits = {"ms", "s", "m", "h", "d", "w", "y"};
  if (s.empty()) return false;
  bool nonzero = false;
  while (!s.empty()) {
    size_t digits = 0;
    while (digits < s.size() && absl::ascii_isdigit(s[digits])) {
      if (s[digits] != '0') nonzero = true;
      ++digits;
    }
    if (digits == 0) return false;
    s.remove_prefix(digits);
    bool unit = false;
    for (const std::string& u : kUnits) {
      if (absl::ConsumePrefix(&s, u)) {
        unit = true;
        break;
      }
    }
    if (!unit) return false;
  }
  return nonzero;
}

}  // namespace

MetricDoc ParseMetricDoc(absl::string_view markdown) {
  MetricDoc doc;
  size_t at = 0;
  while (true) {
    const size_t open = markdown.find('`', at);
    if (open == absl::string_view::npos) break;
    const size_t close = markdown.find('`', open + 1);
    if (close == absl::string_view::npos) break;
    absl::string_view quoted = markdown.substr(open + 1, close - open - 1);
    at = close + 1;
    if (!absl::StartsWith(quoted, "kgw_")) continue;
    const size_t brace = quoted.find('{');
    if (brace != absl::string_view::npos) {
      if (!absl::EndsWith(quoted, "}")) continue;
      quoted = quoted.substr(0, brace);
    }
    if (!IsMetricName(quoted)) continue;
    doc.metrics.insert(std::string(quoted));
    if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(markdown.substr(at)), "(histogram)")) {
      doc.histograms.insert(std::string(quoted));
    }
  }
  return doc;
}

void MergeMetricDoc(const MetricDoc& from, MetricDoc& into) {
  into.metrics.insert(from.metrics.begin(), from.metrics.end());
  into.histograms.insert(from.histograms.begin(), from.histograms.end());
}

absl::StatusOr<std::set<std::string>> MetricNamesIn(absl::string_view expr) {
  if (std::optional<std::vector<std::string>> args = CallArguments(expr, "label_values")) {
    // label_values(label) lists a label over every series: no metric.
    if (args->size() < 2) return std::set<std::string>{};
    args->pop_back();
    return NamesInPromql(absl::StrJoin(*args, ", "));
  }
  if (std::optional<std::vector<std::string>> args = CallArguments(expr, "query_result")) {
    return NamesInPromql(absl::StrJoin(*args, ", "));
  }
  return NamesInPromql(expr);
}

std::vector<std::string> CheckMetricNames(const std::set<std::string>& names, const MetricDoc& doc,
                                          absl::string_view where) {
  std::vector<std::string> problems;
  for (const std::string& name : names) {
    if (doc.metrics.count(name) != 0 || name == "up") continue;
    bool histogram_series = false;
    for (absl::string_view suffix : {"_bucket", "_sum", "_count"}) {
      absl::string_view base = name;
      if (absl::ConsumeSuffix(&base, suffix) && doc.histograms.count(std::string(base)) != 0) {
        histogram_series = true;
      }
    }
    if (histogram_series) continue;
    problems.push_back(absl::StrCat(where, ": ", name,
                                    " is not a metric listed in docs/configuration.md or "
                                    "docs/architecture.md"));
  }
  return problems;
}

absl::StatusOr<Struct> ParseDashboard(absl::string_view json) {
  if (absl::Status strict = StrictJson(json).Check(); !strict.ok()) return strict;
  Struct dashboard;
  const auto status =
      google::protobuf::util::JsonStringToMessage(std::string(json), &dashboard);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("not JSON: ", status.ToString()));
  }
  return dashboard;
}

std::vector<DashboardQuery> DashboardQueries(const Struct& dashboard) {
  std::vector<DashboardQuery> queries;
  std::vector<const Struct*> panels;
  CollectPanels(dashboard, panels);
  for (const Struct* panel : panels) {
    for (const Struct* target : StructList(*panel, "targets")) {
      queries.push_back({.where = absl::StrCat(PanelName(*panel), " target ",
                                               StringField(*target, "refId")),
                         .expr = StringField(*target, "expr")});
    }
  }
  if (const Struct* templating = StructField(dashboard, "templating")) {
    for (const Struct* variable : StructList(*templating, "list")) {
      if (StringField(*variable, "type") != "query") continue;
      queries.push_back({.where = absl::StrCat("variable ", StringField(*variable, "name")),
                         .expr = VariableQuery(*variable),
                         .is_variable = true});
    }
  }
  return queries;
}

std::vector<std::string> CheckDashboard(const Struct& dashboard, const MetricDoc& doc) {
  std::vector<std::string> problems;

  // Variables, and the data source every query goes to.
  std::set<std::string> variables;
  std::set<std::string> datasources;  // "${name}" of a Prometheus variable or input
  if (const Struct* templating = StructField(dashboard, "templating")) {
    for (const Struct* variable : StructList(*templating, "list")) {
      const std::string name = StringField(*variable, "name");
      variables.insert(name);
      if (StringField(*variable, "type") == "datasource" &&
          StringField(*variable, "query") == "prometheus") {
        datasources.insert(absl::StrCat("${", name, "}"));
      }
    }
  }
  for (const Struct* input : StructList(dashboard, "__inputs")) {
    if (StringField(*input, "type") == "datasource" &&
        StringField(*input, "pluginId") == "prometheus") {
      datasources.insert(absl::StrCat("${", StringField(*input, "name"), "}"));
    }
  }
  for (const char* name : {"job", "instance"}) {
    if (variables.count(name) == 0) {
      problems.push_back(absl::StrCat("no template variable ", name));
    }
  }
  if (datasources.empty()) {
    problems.push_back("no Prometheus data source variable or __inputs entry");
  }
  const auto check_datasource = [&](const Struct& holder, const std::string& where) {
    const Struct* ds = StructField(holder, "datasource");
    if (ds == nullptr) return;
    const std::string uid = StringField(*ds, "uid");
    if (!datasources.empty() && datasources.count(uid) == 0) {
      problems.push_back(absl::StrCat(where, " uses data source \"", uid, "\", not ",
                                      absl::StrJoin(datasources, " or ")));
    }
  };

  // Panels.
  std::vector<const Struct*> panels;
  CollectPanels(dashboard, panels);
  if (panels.empty()) problems.push_back("no panels");
  std::set<double> ids;
  for (const Struct* panel : panels) {
    const std::string where = PanelName(*panel);
    const Value* id = Field(*panel, "id");
    if (id == nullptr || id->kind_case() != Value::kNumberValue) {
      problems.push_back(absl::StrCat(where, " has no id"));
    } else if (!ids.insert(id->number_value()).second) {
      problems.push_back(absl::StrCat(where, " has the id of another panel"));
    }
    if (StructField(*panel, "gridPos") == nullptr) {
      problems.push_back(absl::StrCat(where, " has no gridPos"));
    }
    if (StringField(*panel, "type") == "row") continue;
    if (StructField(*panel, "datasource") == nullptr) {
      problems.push_back(absl::StrCat(where, " has no datasource: it would use the default one"));
    }
    check_datasource(*panel, where);
    const std::vector<const Struct*> targets = StructList(*panel, "targets");
    if (targets.empty()) problems.push_back(absl::StrCat(where, " queries nothing"));
    for (const Struct* target : targets) {
      check_datasource(*target, absl::StrCat(where, " target ", StringField(*target, "refId")));
    }
  }

  // Queries.
  for (const DashboardQuery& query : DashboardQueries(dashboard)) {
    if (absl::StripAsciiWhitespace(query.expr).empty()) {
      problems.push_back(absl::StrCat(query.where, " has no expression"));
      continue;
    }
    if (!query.is_variable && !absl::StrContains(query.expr, "$job")) {
      problems.push_back(absl::StrCat(query.where, " does not filter by $job"));
    }
    absl::StatusOr<std::set<std::string>> names = MetricNamesIn(query.expr);
    if (!names.ok()) {
      problems.push_back(absl::StrCat(query.where, ": ", names.status().message()));
      continue;
    }
    if (names->empty() && !absl::StartsWith(query.expr, "label_values")) {
      problems.push_back(absl::StrCat(query.where, " selects no metric"));
    }
    for (std::string& p : CheckMetricNames(*names, doc, query.where)) problems.push_back(p);
  }
  return problems;
}

std::vector<std::string> AlertNames(const YAML::Node& rules) {
  std::vector<std::string> names;
  const YAML::Node groups = Child(rules, "groups");
  if (!groups || !groups.IsSequence()) return names;
  for (const YAML::Node& group : groups) {
    const YAML::Node list = Child(group, "rules");
    if (!list || !list.IsSequence()) continue;
    for (const YAML::Node& rule : list) {
      const std::string alert = Scalar(Child(rule, "alert"));
      if (!alert.empty()) names.push_back(alert);
    }
  }
  return names;
}

std::vector<std::string> CheckAlertRules(const YAML::Node& rules, const MetricDoc& doc,
                                         absl::string_view file_name) {
  std::vector<std::string> problems;
  const YAML::Node groups = Child(rules, "groups");
  if (!groups || !groups.IsSequence() || groups.size() == 0) {
    return {absl::StrCat(file_name, ": no groups")};
  }
  std::set<std::string> seen;
  int group_index = 0;
  for (const YAML::Node& group : groups) {
    std::string group_name = Scalar(Child(group, "name"));
    if (group_name.empty()) {
      group_name = absl::StrCat("#", group_index);
      problems.push_back(absl::StrCat(file_name, ": group ", group_name, " has no name"));
    }
    ++group_index;
    const YAML::Node list = Child(group, "rules");
    if (!list || !list.IsSequence() || list.size() == 0) {
      problems.push_back(absl::StrCat(file_name, ": group ", group_name, " has no rules"));
      continue;
    }
    int rule_index = 0;
    for (const YAML::Node& rule : list) {
      const std::string alert = Scalar(Child(rule, "alert"));
      const std::string where =
          absl::StrCat(file_name, ": ", alert.empty() ? absl::StrCat(group_name, " rule #",
                                                                     rule_index)
                                                      : absl::StrCat("alert ", alert));
      ++rule_index;
      if (alert.empty()) {
        problems.push_back(absl::StrCat(where, " has no alert name (this file holds alerts)"));
      } else if (!seen.insert(alert).second) {
        problems.push_back(absl::StrCat(where, " is defined twice"));
      }
      const std::string expr = Scalar(Child(rule, "expr"));
      if (absl::StripAsciiWhitespace(expr).empty()) {
        problems.push_back(absl::StrCat(where, " has no expr"));
      } else if (absl::StatusOr<std::set<std::string>> names = MetricNamesIn(expr); !names.ok()) {
        problems.push_back(absl::StrCat(where, ": ", names.status().message()));
      } else {
        for (std::string& p : CheckMetricNames(*names, doc, where)) problems.push_back(p);
      }
      const std::string for_duration = Scalar(Child(rule, "for"));
      if (for_duration.empty()) {
        problems.push_back(absl::StrCat(where, " has no for: it would fire on one evaluation"));
      } else if (!IsDuration(for_duration)) {
        problems.push_back(
            absl::StrCat(where, " has for \"", for_duration, "\", not a positive duration"));
      }
      const std::string severity = Scalar(Child(Child(rule, "labels"), "severity"));
      if (severity != "critical" && severity != "warning" && severity != "info") {
        problems.push_back(absl::StrCat(where, " has labels.severity \"", severity,
                                        "\", not critical, warning or info"));
      }
      const YAML::Node annotations = Child(rule, "annotations");
      if (Scalar(Child(annotations, "summary")).empty()) {
        problems.push_back(absl::StrCat(where, " has no annotations.summary"));
      }
      const std::string description = Scalar(Child(annotations, "description"));
      if (description.empty()) {
        problems.push_back(absl::StrCat(where, " has no annotations.description"));
      } else if (!absl::StrContains(description, "docs/operations.md")) {
        problems.push_back(
            absl::StrCat(where, "'s description does not point at docs/operations.md"));
      }
    }
  }
  return problems;
}

}  // namespace kgw::deploy
