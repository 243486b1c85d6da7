#include "agent/request_peek.h"

#include <optional>
#include <string>
#include <vector>

#include "common/kafka/header.h"
#include "common/kafka/messages/all_messages.h"
#include "common/kafka/wire/writer.h"
#include "gtest/gtest.h"

namespace kgw::agent {
namespace {

template <typename M>
std::vector<uint8_t> RequestFrame(const M& m, int16_t version, int32_t correlation_id = 42) {
  kafka::Writer w;
  kafka::RequestHeader h;
  h.request_api_key = M::kApiKey;
  h.request_api_version = version;
  h.correlation_id = correlation_id;
  h.client_id = "test";
  h.Encode(w, kafka::RequestHeaderVersion(M::kApiKey, version));
  m.Encode(w, version);
  return w.Release();
}

template <typename M>
std::vector<uint8_t> ResponseFrame(const M& m, int16_t version, int32_t correlation_id = 42) {
  kafka::Writer w;
  kafka::ResponseHeader h;
  h.correlation_id = correlation_id;
  h.Encode(w, kafka::ResponseHeaderVersion(M::kApiKey, version));
  m.Encode(w, version);
  return w.Release();
}

std::vector<uint8_t> ProduceFrame(int16_t version, int16_t acks,
                                  std::optional<std::string> transactional_id) {
  kafka::ProduceRequest p;
  p.transactional_id = std::move(transactional_id);
  p.acks = acks;
  return RequestFrame(p, version);
}

TEST(RequestPeekTest, ProduceAcksAtEveryVersion) {
  for (int16_t v = kafka::ProduceRequest::kMinVersion; v <= kafka::ProduceRequest::kMaxVersion;
       ++v) {
    for (int16_t acks : {-1, 0, 1}) {
      for (auto txn : {std::optional<std::string>(), std::optional<std::string>("txn-1")}) {
        auto expects = ProduceExpectsResponse(ProduceFrame(v, acks, txn));
        ASSERT_TRUE(expects.ok()) << expects.status();
        EXPECT_EQ(*expects, acks != 0) << "v" << v << " acks " << acks;
      }
    }
    auto start = PeekRequestStart(ProduceFrame(v, 1, std::nullopt));
    ASSERT_TRUE(start.ok());
    EXPECT_EQ(start->api_version, v);
    EXPECT_EQ(start->correlation_id, 42);
  }
  std::vector<uint8_t> truncated = ProduceFrame(9, 0, "txn");
  EXPECT_FALSE(ProduceExpectsResponse(absl::MakeConstSpan(truncated).subspan(0, 14)).ok());
  EXPECT_FALSE(PeekRequestStart(std::vector<uint8_t>{0, 1, 2}).ok());
}

TEST(RequestPeekTest, SaslPrincipalNamesTheUserButNeverThePassword) {
  using namespace std::string_literals;
  EXPECT_EQ(SaslPrincipal("PLAIN", "\0alice\0secret"s), "alice");
  EXPECT_EQ(SaslPrincipal("PLAIN", "admin\0alice\0secret"s), "alice");
  EXPECT_EQ(SaslPrincipal("PLAIN", "alice"), "");  // not three fields
  EXPECT_EQ(SaslPrincipal("SCRAM-SHA-256", "n,,n=bob,r=abc"), "bob");
  EXPECT_EQ(SaslPrincipal("SCRAM-SHA-512", "n,a=x,n=a=2Cb=3Dc,r=1"), "a,b=c");
  EXPECT_EQ(SaslPrincipal("SCRAM-SHA-256", "n,,r=abc"), "");
  EXPECT_EQ(SaslPrincipal("GSSAPI", "\0alice\0secret"s), "");
}

TEST(RequestPeekTest, SaslRequestsAreRead) {
  kafka::SaslHandshakeRequest handshake;
  handshake.mechanism = "SCRAM-SHA-256";
  for (int16_t v : {0, 1}) {
    auto mechanism = SaslHandshakeMechanism(RequestFrame(handshake, v));
    ASSERT_TRUE(mechanism.ok()) << mechanism.status();
    EXPECT_EQ(*mechanism, "SCRAM-SHA-256");
  }
  kafka::SaslAuthenticateRequest authenticate;
  authenticate.auth_bytes = {'n', ',', ',', 'n', '=', 'u'};
  for (int16_t v = 0; v <= kafka::SaslAuthenticateRequest::kMaxVersion; ++v) {
    auto bytes = SaslAuthenticateBytes(RequestFrame(authenticate, v));
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_EQ(*bytes, "n,,n=u");
  }
  std::vector<uint8_t> cut = RequestFrame(authenticate, 2);
  cut.resize(cut.size() - 3);
  EXPECT_FALSE(SaslAuthenticateBytes(cut).ok());
}

TEST(RequestPeekTest, SaslAnswersGiveTheBrokersVerdict) {
  kafka::SaslHandshakeResponse refused;
  refused.error_code = 33;  // UNSUPPORTED_SASL_MECHANISM
  refused.mechanisms = {"PLAIN", "SCRAM-SHA-512"};
  auto outcome = PeekSaslResponse(kafka::SaslHandshakeResponse::kApiKey, 1,
                                  ResponseFrame(refused, 1));
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->error_code, 33);
  EXPECT_EQ(outcome->error_message, "the broker offers PLAIN, SCRAM-SHA-512");

  kafka::SaslAuthenticateResponse failed;
  failed.error_code = 58;  // SASL_AUTHENTICATION_FAILED
  failed.error_message = "Authentication failed: Invalid username or password";
  for (int16_t v = 0; v <= kafka::SaslAuthenticateResponse::kMaxVersion; ++v) {
    outcome = PeekSaslResponse(kafka::SaslAuthenticateResponse::kApiKey, v,
                               ResponseFrame(failed, v));
    ASSERT_TRUE(outcome.ok()) << outcome.status();
    EXPECT_EQ(outcome->error_code, 58);
    EXPECT_EQ(outcome->error_message, *failed.error_message);
  }
  EXPECT_FALSE(PeekSaslResponse(kafka::MetadataResponse::kApiKey, 12,
                                ResponseFrame(failed, 2)).ok());
  EXPECT_FALSE(PeekSaslResponse(kafka::SaslAuthenticateResponse::kApiKey, 2,
                                std::vector<uint8_t>{0, 0, 0, 42}).ok());
}

TEST(RequestPeekTest, LooksLikeRequestTellsRequestsFromRawTokens) {
  kafka::MetadataRequest metadata;
  EXPECT_TRUE(LooksLikeRequest(RequestFrame(metadata, 12)));
  kafka::ApiVersionsRequest versions;
  EXPECT_TRUE(LooksLikeRequest(RequestFrame(versions, 3)));
  // A PLAIN token: NUL, user, NUL, password.
  const std::vector<uint8_t> token = {0, 'a', 'l', 'i', 'c', 'e', 0, 'p', 'w'};
  EXPECT_FALSE(LooksLikeRequest(token));
  // An API key the codec does not know.
  std::vector<uint8_t> unknown = RequestFrame(metadata, 12);
  unknown[0] = 0x7f;
  EXPECT_FALSE(LooksLikeRequest(unknown));
  EXPECT_FALSE(LooksLikeRequest(std::vector<uint8_t>{}));
}

}  // namespace
}  // namespace kgw::agent
