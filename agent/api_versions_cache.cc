#include "agent/api_versions_cache.h"

#include <algorithm>
#include <string_view>

#include "common/kafka/header.h"
#include "common/kafka/messages/api_versions.h"
#include "common/kafka/wire/reader.h"

namespace kgw::agent {
namespace {

// The last version whose answer depends on nothing the request says.
constexpr int16_t kLastAnswerable = 4;
// From this version on, the request names the client's software.
constexpr int16_t kFirstWithSoftware = 3;
// The correlation id, all of an ApiVersions answer's header at any version.
constexpr size_t kHeaderBytes = 4;

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// What a broker accepts as a software name or version:
// [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
bool ValidSoftwareField(std::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsAlnum(c) || c == '-' || c == '.'; });
}

}  // namespace

bool ApiVersionsCache::Answerable(absl::Span<const uint8_t> frame) {
  if (frame.size() > kMaxRequestBytes) return false;
  kafka::Reader r(frame);
  kafka::RequestHeader header;
  int16_t header_version = 0;
  if (!kafka::DecodeRequestHeader(r, &header, &header_version).ok()) return false;
  const int16_t version = header.request_api_version;
  if (header.request_api_key != kafka::ApiVersionsRequest::kApiKey || version < 0 ||
      version > kLastAnswerable) {
    return false;
  }
  kafka::ApiVersionsRequest request;
  if (!request.Decode(r, version).ok() || r.remaining() != 0) return false;
  return version < kFirstWithSoftware || (ValidSoftwareField(request.client_software_name) &&
                                          ValidSoftwareField(request.client_software_version));
}

ApiVersionsCache::Body ApiVersionsCache::Find(int32_t broker, int16_t version,
                                              Clock::time_point now) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find({broker, version});
  if (it == entries_.end() || now - it->second.learned >= kFreshFor) return nullptr;
  return it->second.body;
}

void ApiVersionsCache::Learn(int32_t broker, int16_t version, absl::Span<const uint8_t> frame,
                             Clock::time_point now) {
  if (version < 0 || version > kLastAnswerable || frame.size() < kHeaderBytes) return;
  const absl::Span<const uint8_t> body = frame.subspan(kHeaderBytes);
  const Key key{broker, version};
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end() && absl::MakeConstSpan(*it->second.body) == body) {
      it->second.learned = now;  // the usual case: the same answer again
      return;
    }
  }
  // A new or changed answer: kept only when it is a plain success.
  kafka::ApiVersionsResponse m;
  kafka::Reader r(body);
  const bool success =
      m.Decode(r, version).ok() && r.remaining() == 0 && m.error_code == 0 &&
      m.throttle_time_ms == 0 && !m.api_keys.empty();
  std::lock_guard<std::mutex> lock(mu_);
  if (!success) {
    entries_.erase(key);
    return;
  }
  auto it = entries_.find(key);
  if (it == entries_.end() && entries_.size() >= kMaxEntries) return;
  Entry& e = entries_[key];
  e.body = std::make_shared<const std::vector<uint8_t>>(body.begin(), body.end());
  e.learned = now;
}

size_t ApiVersionsCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace kgw::agent
