#include "agent/log_limiter.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "glog/logging.h"

namespace kgw::agent {

LogLimiter::Verdict LogLimiter::Admit(absl::string_view kind, absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = windows_.try_emplace(std::string(kind), Window{.start = now}).first;
  Window& w = it->second;
  Verdict verdict;
  if (now - w.start >= window_) {
    verdict.held_back = w.held_back;
    w = Window{.start = now};
  }
  if (w.logged < burst_) {
    ++w.logged;
    verdict.log = true;
  } else {
    ++w.held_back;
  }
  return verdict;
}

std::vector<std::pair<std::string, uint64_t>> LogLimiter::TakeEnded(absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::string, uint64_t>> ended;
  for (auto it = windows_.begin(); it != windows_.end();) {
    Window& w = it->second;
    if (now - w.start < window_) {
      ++it;
      continue;
    }
    if (w.held_back > 0) ended.emplace_back(it->first, w.held_back);
    it = windows_.erase(it);  // a quiet kind starts afresh
  }
  return ended;
}

void LogLimiter::Warning(absl::string_view kind, const std::string& line) {
  const Verdict verdict = Admit(kind, absl::Now());
  if (verdict.held_back > 0) LOG(WARNING) << HeldBackLine(kind, verdict.held_back);
  if (verdict.log) LOG(WARNING) << line;
}

std::string LogLimiter::HeldBackLine(absl::string_view kind, uint64_t count) {
  return absl::StrCat(count, " more like this (", kind,
                      ") in the last minute, not logged one by one");
}

void WarnLimited(LogLimiter* limiter, absl::string_view kind, const std::string& line) {
  if (limiter == nullptr) {
    LOG(WARNING) << line;
    return;
  }
  limiter->Warning(kind, line);
}

}  // namespace kgw::agent
