#include "agent/sasl_watcher.h"

#include <string_view>
#include <utility>

#include "common/kafka/messages/sasl_authenticate.h"
#include "common/kafka/messages/sasl_handshake.h"

namespace kgw::agent {
namespace {

// Raw token round trips that follow a successful SaslHandshake v0; zero when
// the mechanism's length is not known in advance.
int FixedRounds(const std::string& mechanism) {
  if (mechanism == "PLAIN" || mechanism == "OAUTHBEARER") return 1;
  if (mechanism == "SCRAM-SHA-256" || mechanism == "SCRAM-SHA-512") return 2;
  return 0;
}

}  // namespace

int SaslRounds(const std::string& mechanism) {
  const int rounds = FixedRounds(mechanism);
  return rounds > 0 ? rounds : 1;
}

bool SaslWatcher::IsRawToken(absl::Span<const uint8_t> frame) {
  if (raw_tokens_left_ == 0 && !(raw_until_request_ && !LooksLikeRequest(frame))) {
    if (raw_until_request_) {
      // Tokens of unknown count ended with this request: the broker took them.
      raw_until_request_ = false;
      authenticated_ = true;
    }
    return false;
  }
  if (raw_tokens_left_ > 0) --raw_tokens_left_;
  if (principal_.empty()) {
    principal_ = SaslPrincipal(
        mechanism_, std::string_view(reinterpret_cast<const char*>(frame.data()), frame.size()));
  }
  return true;
}

std::optional<SaslWatcher::Outcome> SaslWatcher::OnRequest(const RequestStart& start,
                                                           absl::Span<const uint8_t> frame) {
  if (start.api_key == kafka::SaslHandshakeRequest::kApiKey) {
    // A new exchange (also a re-authentication): forget the last one's user.
    absl::StatusOr<std::string> mechanism = SaslHandshakeMechanism(frame);
    if (mechanism.ok()) mechanism_ = *mechanism;
    principal_.clear();
    pending_ = true;
    accepted_rounds_ = 0;
    return std::nullopt;
  }
  if (start.api_key == kafka::SaslAuthenticateRequest::kApiKey) {
    if (principal_.empty()) {
      absl::StatusOr<std::string> bytes = SaslAuthenticateBytes(frame);
      if (bytes.ok()) principal_ = SaslPrincipal(mechanism_, *bytes);
    }
    pending_ = true;
    return std::nullopt;
  }
  if (!pending_) return std::nullopt;
  authenticated_ = true;
  return Finish({.success = true});
}

void SaslWatcher::OnRawTokenAnswered() {
  if (raw_answers_left_ > 0 && --raw_answers_left_ == 0) authenticated_ = true;
}

std::optional<SaslWatcher::Outcome> SaslWatcher::OnResponse(int16_t api_key, int16_t api_version,
                                                            absl::Span<const uint8_t> frame) {
  if (api_key != kafka::SaslHandshakeRequest::kApiKey &&
      api_key != kafka::SaslAuthenticateRequest::kApiKey) {
    return std::nullopt;
  }
  if (api_key == kafka::SaslHandshakeRequest::kApiKey && api_version == 0 && frame.size() >= 6 &&
      frame[4] == 0 && frame[5] == 0) {
    // Accepted: raw tokens follow, without Kafka headers.
    raw_tokens_left_ = FixedRounds(mechanism_);
    raw_answers_left_ = raw_tokens_left_;
    raw_until_request_ = raw_tokens_left_ == 0;
  }
  absl::StatusOr<SaslOutcome> outcome = PeekSaslResponse(api_key, api_version, frame);
  if (!outcome.ok()) return std::nullopt;
  if (outcome->error_code != 0) {
    return Finish({.success = false,
                   .error_code = outcome->error_code,
                   .error_message = std::move(outcome->error_message)});
  }
  if (api_key == kafka::SaslAuthenticateRequest::kApiKey &&
      ++accepted_rounds_ >= SaslRounds(mechanism_)) {
    authenticated_ = true;
  }
  return std::nullopt;
}

std::optional<SaslWatcher::Outcome> SaslWatcher::OnClose() {
  if (!pending_) return std::nullopt;
  return Finish({.success = false,
                 .error_message = "the connection closed before authentication completed"});
}

std::optional<SaslWatcher::Outcome> SaslWatcher::Finish(Outcome outcome) {
  pending_ = false;
  return outcome;
}

}  // namespace kgw::agent
