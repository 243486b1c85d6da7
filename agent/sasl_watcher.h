// What the agent follows of a client's SASL exchange, which it forwards
// untouched to the broker that authenticates it:
//
// - Legacy exchanges (SaslHandshake v0) send their tokens as raw frames
//   without Kafka headers; the watcher says which client frames are such
//   tokens, so the session neither parses them as requests nor cuts them
//   through.
// - Whether the connection has authenticated, so a SASL listener can keep
//   unauthenticated frames small (GATEWAY_SASL_MAX_RECEIVE_SIZE).
// - The mechanism, the user the client named and the outcome, for the audit
//   log. Passwords and tokens are never kept.
//
// The watcher only observes: it never blocks or alters a frame. Not
// thread-safe; it belongs to its session.
#ifndef KGW_AGENT_SASL_WATCHER_H_
#define KGW_AGENT_SASL_WATCHER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/types/span.h"
#include "agent/request_peek.h"

namespace kgw::agent {

class SaslWatcher {
 public:
  // How an exchange ended, for the audit log.
  struct Outcome {
    bool success = false;
    int16_t error_code = 0;
    std::string error_message;
  };

  // Call first for every client frame (without its size prefix): true when
  // it is a raw token of a legacy exchange rather than a Kafka request.
  bool IsRawToken(absl::Span<const uint8_t> frame);
  // Whether the next client frames may be raw tokens.
  bool expecting_raw_tokens() const { return raw_tokens_left_ > 0 || raw_until_request_; }
  // A Kafka request. Returns an outcome when it shows that an exchange
  // succeeded: the first other request after one the broker did not refuse.
  std::optional<Outcome> OnRequest(const RequestStart& start, absl::Span<const uint8_t> frame);
  // The broker answered a raw token.
  void OnRawTokenAnswered();
  // The broker's answer (without size prefix) to a SaslHandshake or
  // SaslAuthenticate request of `api_version`; other APIs are ignored.
  // Returns an outcome when the broker refused.
  std::optional<Outcome> OnResponse(int16_t api_key, int16_t api_version,
                                    absl::Span<const uint8_t> frame);
  // The connection closes: an exchange still under way failed.
  std::optional<Outcome> OnClose();

  // Whether an exchange has completed on this connection (the broker
  // accepted every round the mechanism needs).
  bool authenticated() const { return authenticated_; }
  const std::string& mechanism() const { return mechanism_; }
  // The user the client named in its first message; empty if none parsed.
  const std::string& principal() const { return principal_; }

 private:
  std::optional<Outcome> Finish(Outcome outcome);

  std::string mechanism_;
  std::string principal_;
  bool pending_ = false;  // an exchange is under way
  bool authenticated_ = false;
  bool handshake_v0_ = false;  // the last SaslHandshake was v0: raw tokens may follow
  int accepted_rounds_ = 0;  // SaslAuthenticate rounds the broker accepted
  int raw_answers_left_ = 0;  // raw token answers still to come
  int raw_tokens_left_ = 0;
  bool raw_until_request_ = false;  // tokens of unknown count, until a request shows up
};

// SASL rounds a mechanism takes with Kafka (tokens sent by the client);
// mechanisms of no fixed length (GSSAPI) count as one.
int SaslRounds(const std::string& mechanism);

}  // namespace kgw::agent

#endif  // KGW_AGENT_SASL_WATCHER_H_
