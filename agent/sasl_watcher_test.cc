#include "agent/sasl_watcher.h"

#include <string>
#include <vector>

#include "common/kafka/header.h"
#include "common/kafka/messages/all_messages.h"
#include "common/kafka/wire/writer.h"
#include "gtest/gtest.h"

namespace kgw::agent {
namespace {

template <typename M>
std::vector<uint8_t> RequestFrame(const M& m, int16_t version) {
  kafka::Writer w;
  kafka::RequestHeader h;
  h.request_api_key = M::kApiKey;
  h.request_api_version = version;
  h.correlation_id = 7;
  h.client_id = "test";
  h.Encode(w, kafka::RequestHeaderVersion(M::kApiKey, version));
  m.Encode(w, version);
  return w.Release();
}

template <typename M>
std::vector<uint8_t> ResponseFrame(const M& m, int16_t version) {
  kafka::Writer w;
  kafka::ResponseHeader h;
  h.correlation_id = 7;
  h.Encode(w, kafka::ResponseHeaderVersion(M::kApiKey, version));
  m.Encode(w, version);
  return w.Release();
}

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

// Feeds a request frame to the watcher as the session does.
std::optional<SaslWatcher::Outcome> Request(SaslWatcher& w, const std::vector<uint8_t>& frame) {
  EXPECT_FALSE(w.IsRawToken(frame));
  auto start = PeekRequestStart(frame);
  EXPECT_TRUE(start.ok());
  return w.OnRequest(*start, frame);
}

std::vector<uint8_t> Handshake(const std::string& mechanism, int16_t version) {
  kafka::SaslHandshakeRequest r;
  r.mechanism = mechanism;
  return RequestFrame(r, version);
}

std::vector<uint8_t> Authenticate(std::string_view bytes) {
  kafka::SaslAuthenticateRequest r;
  r.auth_bytes = Bytes(bytes);
  return RequestFrame(r, 2);
}

std::vector<uint8_t> Authenticated(int16_t error_code = 0) {
  kafka::SaslAuthenticateResponse r;
  r.error_code = error_code;
  if (error_code != 0) r.error_message = "Authentication failed";
  return ResponseFrame(r, 2);
}

std::vector<uint8_t> HandshakeAccepted(int16_t version) {
  kafka::SaslHandshakeResponse r;
  r.mechanisms = {"PLAIN", "SCRAM-SHA-256"};
  return ResponseFrame(r, version);
}

const std::vector<uint8_t> kMetadata = RequestFrame(kafka::MetadataRequest{}, 12);
constexpr int16_t kHandshake = kafka::SaslHandshakeRequest::kApiKey;
constexpr int16_t kAuthenticate = kafka::SaslAuthenticateRequest::kApiKey;

TEST(SaslWatcherTest, ScramIsAuthenticatedOnlyAfterBothRounds) {
  using namespace std::string_literals;
  SaslWatcher w;
  EXPECT_FALSE(Request(w, Handshake("SCRAM-SHA-256", 1)));
  EXPECT_FALSE(w.OnResponse(kHandshake, 1, HandshakeAccepted(1)));
  EXPECT_FALSE(Request(w, Authenticate("n,,n=alice,r=abc")));
  EXPECT_EQ(w.principal(), "alice");
  EXPECT_FALSE(w.OnResponse(kAuthenticate, 2, Authenticated()));
  EXPECT_FALSE(w.authenticated());  // the server-first message: one round of two
  EXPECT_FALSE(Request(w, Authenticate("c=biws,r=abc,p=proof")));
  EXPECT_EQ(w.principal(), "alice");
  EXPECT_FALSE(w.OnResponse(kAuthenticate, 2, Authenticated()));
  EXPECT_TRUE(w.authenticated());
  std::optional<SaslWatcher::Outcome> outcome = Request(w, kMetadata);
  ASSERT_TRUE(outcome);
  EXPECT_TRUE(outcome->success);
  EXPECT_EQ(w.mechanism(), "SCRAM-SHA-256");
  EXPECT_FALSE(w.OnClose());  // nothing under way any more
}

TEST(SaslWatcherTest, RefusalIsReportedAndNotAuthenticated) {
  using namespace std::string_literals;
  SaslWatcher w;
  Request(w, Handshake("PLAIN", 1));
  Request(w, Authenticate("\0mallory\0guess"s));
  std::optional<SaslWatcher::Outcome> outcome =
      w.OnResponse(kAuthenticate, 2, Authenticated(58));
  ASSERT_TRUE(outcome);
  EXPECT_FALSE(outcome->success);
  EXPECT_EQ(outcome->error_code, 58);
  EXPECT_EQ(outcome->error_message, "Authentication failed");
  EXPECT_EQ(w.principal(), "mallory");
  EXPECT_FALSE(w.authenticated());
}

TEST(SaslWatcherTest, ClosingMidExchangeIsAFailure) {
  SaslWatcher w;
  Request(w, Handshake("PLAIN", 1));
  std::optional<SaslWatcher::Outcome> outcome = w.OnClose();
  ASSERT_TRUE(outcome);
  EXPECT_FALSE(outcome->success);
  EXPECT_FALSE(SaslWatcher().OnClose());  // no exchange, nothing to report
}

TEST(SaslWatcherTest, LegacyPlainTokenIsRawThenRequestsFollow) {
  using namespace std::string_literals;
  SaslWatcher w;
  Request(w, Handshake("PLAIN", 0));
  w.OnResponse(kHandshake, 0, HandshakeAccepted(0));
  EXPECT_TRUE(w.expecting_raw_tokens());
  const std::vector<uint8_t> token = Bytes("\0alice\0secret"s);
  EXPECT_TRUE(w.IsRawToken(token));
  EXPECT_EQ(w.principal(), "alice");
  EXPECT_FALSE(w.expecting_raw_tokens());
  EXPECT_FALSE(w.authenticated());
  w.OnRawTokenAnswered();
  EXPECT_TRUE(w.authenticated());
  std::optional<SaslWatcher::Outcome> outcome = Request(w, kMetadata);
  ASSERT_TRUE(outcome);
  EXPECT_TRUE(outcome->success);
}

TEST(SaslWatcherTest, LegacyTokensOfUnknownCountEndAtTheFirstRequest) {
  SaslWatcher w;
  Request(w, Handshake("GSSAPI", 0));
  w.OnResponse(kHandshake, 0, HandshakeAccepted(0));
  const std::vector<uint8_t> token = {0x60, 0x82, 0x02, 0x10, 0x06, 0x09};
  EXPECT_TRUE(w.IsRawToken(token));
  EXPECT_TRUE(w.IsRawToken(token));
  EXPECT_TRUE(w.expecting_raw_tokens());
  EXPECT_FALSE(w.authenticated());
  EXPECT_FALSE(w.IsRawToken(kMetadata));
  EXPECT_TRUE(w.authenticated());
  EXPECT_FALSE(w.expecting_raw_tokens());
}

TEST(SaslWatcherTest, RefusedLegacyHandshakeExpectsNoTokens) {
  SaslWatcher w;
  Request(w, Handshake("PLAIN", 0));
  kafka::SaslHandshakeResponse refused;
  refused.error_code = 33;
  std::optional<SaslWatcher::Outcome> outcome =
      w.OnResponse(kHandshake, 0, ResponseFrame(refused, 0));
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->error_code, 33);
  EXPECT_FALSE(w.expecting_raw_tokens());
}

TEST(SaslWatcherTest, OtherApisAreIgnored) {
  SaslWatcher w;
  EXPECT_FALSE(Request(w, kMetadata));
  EXPECT_FALSE(w.OnResponse(kafka::MetadataResponse::kApiKey, 12, {0, 0, 0, 7}));
  EXPECT_FALSE(w.authenticated());
}

TEST(SaslWatcherTest, RoundsPerMechanism) {
  EXPECT_EQ(SaslRounds("PLAIN"), 1);
  EXPECT_EQ(SaslRounds("OAUTHBEARER"), 1);
  EXPECT_EQ(SaslRounds("SCRAM-SHA-512"), 2);
  EXPECT_EQ(SaslRounds("GSSAPI"), 1);
}

}  // namespace
}  // namespace kgw::agent
