// Bounds the log lines one kind of event can cause, so that an attacker (or
// a broken client in a loop) cannot fill the operator's disk or log
// pipeline: per kind and per window (a minute), the first `burst` events are
// logged in full; the rest are only counted, and reported as one line
// ("N more like this in the last minute") when the window has ended. The
// metrics still count every event.
//
// Thread-safe: sessions on every worker share one limiter.
#ifndef KGW_AGENT_LOG_LIMITER_H_
#define KGW_AGENT_LOG_LIMITER_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace kgw::agent {

class LogLimiter {
 public:
  struct Verdict {
    bool log = false;         // log this event in full
    uint64_t held_back = 0;   // events of this kind not logged in the window that just ended
  };

  explicit LogLimiter(int burst = 10, absl::Duration window = absl::Minutes(1))
      : burst_(burst), window_(window) {}

  // An event of `kind` at `now`. Report `held_back` (when non-zero) before
  // this event's own line.
  Verdict Admit(absl::string_view kind, absl::Time now);
  // Kinds whose window has ended with events held back, and how many; each
  // is reported once. Call now and then, so a burst that stopped is still
  // summed up.
  std::vector<std::pair<std::string, uint64_t>> TakeEnded(absl::Time now);
  // Logs `line` at WARNING, unless lines of `kind` are held back now; first
  // reports those held back in the window that just ended, if any.
  void Warning(absl::string_view kind, const std::string& line);
  // The line that reports `count` events of `kind` held back.
  static std::string HeldBackLine(absl::string_view kind, uint64_t count);

 private:
  struct Window {
    absl::Time start;
    int logged = 0;
    uint64_t held_back = 0;
  };

  const int burst_;
  const absl::Duration window_;
  std::mutex mu_;
  std::map<std::string, Window> windows_ ABSL_GUARDED_BY(mu_);
};

// limiter->Warning(kind, line), or the line logged at WARNING unbounded when
// there is no limiter.
void WarnLimited(LogLimiter* limiter, absl::string_view kind, const std::string& line);

}  // namespace kgw::agent

#endif  // KGW_AGENT_LOG_LIMITER_H_
