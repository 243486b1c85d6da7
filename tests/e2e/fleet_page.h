// The coordinator's fleet view as a browser draws it: headless Chromium loads
// /fleet, runs its script (which fetches /fleet.json), and the DOM it leaves
// is read back as racks, agents, brokers and the lines between them. Used by
// the end-to-end tests that hold the drawing against `kgwctl --json`.
#ifndef KGW_TESTS_E2E_FLEET_PAGE_H_
#define KGW_TESTS_E2E_FLEET_PAGE_H_

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "kgw/v1/assignment.pb.h"
#include "tests/e2e/process_util.h"

namespace kgw::test {

// What the page drew. Agents and brokers map to the rack of the column they
// are drawn in; `lines` maps each broker to the agents its lines reach,
// directly or through the outline around a set of agents.
struct DrawnFleet {
  std::string state;  // the body's data-state: "drawn", "login", "error", "loading"
  std::set<std::string> racks;
  std::map<std::string, std::string> agents;
  std::map<int, std::string> brokers;
  std::map<int, std::set<std::string>> lines;
  std::string revision;  // the summary's "Epoch" field, "<epoch> · revision <n>"
  std::set<std::string> hot;  // data-agent / data-broker of highlighted elements
  std::string detail;         // the text of the details panel, when shown
  std::string dom;
};

// The value of attribute `name` in one start tag; empty when absent.
inline std::string TagAttribute(const std::string& tag, const std::string& name) {
  const std::string key = absl::StrCat(" ", name, "=\"");
  const size_t at = tag.find(key);
  if (at == std::string::npos) return "";
  const size_t from = at + key.size();
  return tag.substr(from, tag.find('"', from) - from);
}

// Every start tag of `dom` whose text contains `marker`.
inline std::vector<std::string> TagsWith(const std::string& dom, const std::string& marker) {
  std::vector<std::string> tags;
  for (size_t at = dom.find('<'); at != std::string::npos; at = dom.find('<', at + 1)) {
    if (at + 1 >= dom.size() || !absl::ascii_isalpha(static_cast<unsigned char>(dom[at + 1]))) {
      continue;
    }
    const size_t end = dom.find('>', at);
    if (end == std::string::npos) break;
    std::string tag = dom.substr(at, end - at + 1);
    if (tag.find(marker) != std::string::npos) tags.push_back(std::move(tag));
  }
  return tags;
}

// The text between `open` and the next `close` after it; empty when absent.
inline std::string Between(const std::string& text, const std::string& open,
                           const std::string& close) {
  const size_t at = text.find(open);
  if (at == std::string::npos) return "";
  const size_t from = at + open.size();
  const size_t end = text.find(close, from);
  return end == std::string::npos ? "" : text.substr(from, end - from);
}

inline DrawnFleet ParseDrawnFleet(const std::string& dom) {
  DrawnFleet f;
  f.dom = dom;
  for (const std::string& tag : TagsWith(dom, "<body")) f.state = TagAttribute(tag, "data-state");
  for (const std::string& tag : TagsWith(dom, "class=\"rack\"")) {
    f.racks.insert(TagAttribute(tag, "data-rack"));
  }
  std::map<std::string, std::set<std::string>> outlines;  // data-set -> its agents
  for (const std::string& tag : TagsWith(dom, "data-")) {
    const std::string cls = TagAttribute(tag, "class");
    const std::vector<std::string> classes = absl::StrSplit(cls, ' ', absl::SkipEmpty());
    if (tag.rfind("<div", 0) == 0 &&
        std::find(classes.begin(), classes.end(), "hot") != classes.end()) {
      const std::string agent = TagAttribute(tag, "data-agent");
      f.hot.insert(agent.empty() ? "broker " + TagAttribute(tag, "data-broker") : agent);
    }
    if (tag.rfind("<div", 0) == 0 && cls.rfind("agent", 0) == 0) {
      f.agents[TagAttribute(tag, "data-agent")] = TagAttribute(tag, "data-rack");
    } else if (tag.rfind("<div", 0) == 0 && cls.rfind("broker", 0) == 0) {
      int id = 0;
      if (absl::SimpleAtoi(TagAttribute(tag, "data-broker"), &id)) {
        f.brokers[id] = TagAttribute(tag, "data-rack");
      }
    } else if (tag.rfind("<rect", 0) == 0) {
      std::vector<std::string> ids =
          absl::StrSplit(TagAttribute(tag, "data-agents"), ' ', absl::SkipEmpty());
      outlines[TagAttribute(tag, "data-set")].insert(ids.begin(), ids.end());
    }
  }
  for (const std::string& tag : TagsWith(dom, "<path")) {
    int broker = 0;
    if (!absl::SimpleAtoi(TagAttribute(tag, "data-broker"), &broker)) continue;
    if (std::string agent = TagAttribute(tag, "data-agent"); !agent.empty()) {
      f.lines[broker].insert(agent);
    }
    if (std::string set = TagAttribute(tag, "data-set"); !set.empty()) {
      f.lines[broker].insert(outlines[set].begin(), outlines[set].end());
    }
  }
  f.revision = Between(dom, "<dt>Epoch</dt><dd>", "</dd>");
  // The details panel's text, tags turned into spaces; hidden panels have an
  // attribute and do not match.
  bool in_tag = false;
  for (char c : Between(dom, "<aside id=\"detail\">", "</aside>")) {
    if (c == '<') in_tag = true;
    if (!in_tag) f.detail += c;
    if (c == '>') {
      in_tag = false;
      f.detail += ' ';
    }
  }
  return f;
}

// Chromium as the tests run it: KGW_CHROMIUM, else `chromium` on the PATH.
inline std::string ChromiumBinary() { return EnvOr("KGW_CHROMIUM", "chromium"); }

inline bool HaveChromium() {
  return Shell(absl::StrCat("command -v ", ChromiumBinary(), " >/dev/null")).first == 0;
}

// Loads `url` in headless Chromium (its profile under `work_dir`), lets the
// page's script run for up to `budget_ms` of virtual time, and reads back the
// DOM; with `screenshot` set, also saves a PNG of a 1400x900 window there.
inline DrawnFleet LoadFleetPage(const std::string& url, const std::string& work_dir,
                                const std::string& screenshot = "", int budget_ms = 8000) {
  const std::string common = absl::StrCat(
      ChromiumBinary(), " --headless=new --no-sandbox --disable-gpu --hide-scrollbars",
      " --no-first-run --user-data-dir=", work_dir, "/chromium --window-size=1400,900",
      " --virtual-time-budget=", budget_ms);
  if (!screenshot.empty()) {
    Shell(absl::StrCat(common, " --screenshot=", screenshot, " '", url, "'"));
  }
  // stderr carries Chromium's own complaints (no D-Bus here); only stdout is the DOM.
  auto [rc, dom] = Shell(absl::StrCat("(", common, " --dump-dom '", url, "' 2>/dev/null)"));
  DrawnFleet f = ParseDrawnFleet(dom);
  if (rc != 0) f.state = absl::StrCat("chromium exited with ", rc);
  return f;
}

// The JSON line of `kgwctl --json assignment` output (log lines may come
// before it) as an assignment; false when there is none that parses.
inline bool ParseAssignmentJson(const std::string& output, v1::Assignment* out) {
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (!line.empty() && line.front() == '{') {
      return google::protobuf::util::JsonStringToMessage(std::string(line), out).ok();
    }
  }
  return false;
}

}  // namespace kgw::test

#endif  // KGW_TESTS_E2E_FLEET_PAGE_H_
