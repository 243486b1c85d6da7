// ApiVersions answers the agent gives without a broker
// (GATEWAY_ANSWER_API_VERSIONS).
//
// Every Kafka client starts each connection with ApiVersions, and a broker
// answers a given version of it with the same body every time: the list of
// APIs and versions it supports and its features, none of which depends on
// who asks (up to version 4; version 5 names a cluster and a node, and a
// broker may judge those). So the agent keeps, per broker and version, the
// body it last passed to a client (already narrowed to the versions the
// agent's codec handles) and answers a connection's first ApiVersions from
// it. The broker is connected to only when the client sends its next
// request, and the ApiVersions request is then replayed to the broker ahead
// of it, so the broker still learns the client's software name and version
// (KIP-511), and its answer, which the client does not see again, refreshes
// the entry. A connection that only asks for versions (a health check, a
// connection storm) never reaches a broker, and every other connection
// saves the broker round trip its first request used to wait for.
//
// An answer is kept only when it is a plain success (no error, no
// throttling), and given only while fresh: refreshed within kFreshFor by any
// connection's exchange with that broker. A broker whose answer changes (an
// upgrade, a feature finalized) is answered for with its new body from the
// next exchange on; one that now answers with an error is no longer answered
// for at all.
//
// Thread-safe: the sessions of every worker share one cache.
#ifndef KGW_AGENT_API_VERSIONS_CACHE_H_
#define KGW_AGENT_API_VERSIONS_CACHE_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/types/span.h"

namespace kgw::agent {

class ApiVersionsCache {
 public:
  using Clock = std::chrono::steady_clock;
  using Body = std::shared_ptr<const std::vector<uint8_t>>;

  // How long an answer may be given after a broker last gave it.
  static constexpr Clock::duration kFreshFor = std::chrono::seconds(30);
  // Answers kept at most (brokers times versions asked); beyond it, new ones
  // are not kept.
  static constexpr size_t kMaxEntries = 4096;
  // Request frames larger than this are always forwarded.
  static constexpr size_t kMaxRequestBytes = 1024;

  // Whether an ApiVersions request could be answered from the cache at all:
  // `frame` (without its size prefix) is a request of version 0 to 4 that
  // parses and, from version 3, names its software with what a broker
  // accepts (letters, digits, '-' and '.', starting and ending with a letter
  // or digit). Anything else goes to the broker, which answers it itself.
  static bool Answerable(absl::Span<const uint8_t> frame);

  // The body (what follows the correlation id) of the answer to give for
  // `broker` at `version`; null when there is no fresh one.
  Body Find(int32_t broker, int16_t version, Clock::time_point now) const;

  // `frame` (without its size prefix) is the ApiVersions answer of version
  // `version` that a client of `broker` was given (or, for a replayed
  // request, would have been), at `now`. Keeps it when it is a success,
  // forgets what was kept otherwise.
  void Learn(int32_t broker, int16_t version, absl::Span<const uint8_t> frame,
             Clock::time_point now);

  size_t size() const;

 private:
  struct Entry {
    Body body;
    Clock::time_point learned;
  };
  using Key = std::pair<int32_t, int16_t>;

  mutable std::mutex mu_;
  std::map<Key, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kgw::agent

#endif  // KGW_AGENT_API_VERSIONS_CACHE_H_
