// The little the agent reads of a client's request: the fixed start of the
// header, Produce's acks (acks=0 gets no response, so it takes no place in
// the in-flight queue) and SaslHandshake's mechanism. Request bodies are
// otherwise forwarded as opaque bytes.
#ifndef KGW_AGENT_REQUEST_PEEK_H_
#define KGW_AGENT_REQUEST_PEEK_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace kgw::agent {

// The first eight bytes of every request header, whatever its version.
struct RequestStart {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
};

// `frame` is a request frame without its size prefix.
absl::StatusOr<RequestStart> PeekRequestStart(absl::Span<const uint8_t> frame);

// Whether a Produce request (whole frame) expects a response: false only for
// acks=0. Fails when the header or the start of the body cannot be parsed.
absl::StatusOr<bool> ProduceExpectsResponse(absl::Span<const uint8_t> frame);

// The client id of a request frame's header (empty when null).
absl::StatusOr<std::string> RequestClientId(absl::Span<const uint8_t> frame);

// The mechanism named by a SaslHandshake request frame.
absl::StatusOr<std::string> SaslHandshakeMechanism(absl::Span<const uint8_t> frame);

// The auth_bytes of a SaslAuthenticate request frame.
absl::StatusOr<std::string> SaslAuthenticateBytes(absl::Span<const uint8_t> frame);

// The user a SASL client names in its first message, for the audit log:
// PLAIN's authentication identity, SCRAM's "n=" attribute; empty for other
// mechanisms and for messages that do not parse. Never the password.
std::string SaslPrincipal(std::string_view mechanism, std::string_view first_message);

// What a broker answered to SaslHandshake or SaslAuthenticate.
struct SaslOutcome {
  int16_t error_code = 0;
  std::string error_message;
};
// `frame` is the response frame without its size prefix; `api_key` and
// `api_version` those of the request it answers.
absl::StatusOr<SaslOutcome> PeekSaslResponse(int16_t api_key, int16_t api_version,
                                             absl::Span<const uint8_t> frame);

// True when `frame` parses as a request header of an API and version the
// codec knows, with a client id that fits the frame. Used to notice the end
// of a legacy (SaslHandshake v0) token exchange of unknown length.
bool LooksLikeRequest(absl::Span<const uint8_t> frame);

}  // namespace kgw::agent

#endif  // KGW_AGENT_REQUEST_PEEK_H_
