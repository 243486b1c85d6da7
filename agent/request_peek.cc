#include "agent/request_peek.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/kafka/header.h"
#include "common/kafka/messages/produce.h"
#include "common/kafka/messages/sasl_authenticate.h"
#include "common/kafka/messages/sasl_handshake.h"
#include "common/kafka/wire/reader.h"
#include "common/status/status_macros.h"

namespace kgw::agent {
namespace {

// Produce request versions: transactional id from v3, compact encodings from v9.
constexpr int16_t kFirstProduceWithTransactionalId = 3;
constexpr int16_t kFirstFlexibleProduce = 9;

// Decodes a request frame's header, leaving `r` at the body. `*header_version`
// is the header's version, when asked for.
absl::StatusOr<kafka::RequestHeader> ReadHeader(kafka::Reader& r,
                                                int16_t* header_version = nullptr) {
  kafka::RequestHeader header;
  int16_t version = 0;
  KGW_RETURN_IF_ERROR(kafka::DecodeRequestHeader(r, &header, &version));
  if (header_version != nullptr) *header_version = version;
  return header;
}

}  // namespace

absl::StatusOr<RequestStart> PeekRequestStart(absl::Span<const uint8_t> frame) {
  kafka::Reader r(frame);
  r.BeginMessage("RequestHeader", 0);
  RequestStart start;
  KGW_RETURN_IF_ERROR(r.Field("RequestApiKey").ReadInt16(&start.api_key));
  KGW_RETURN_IF_ERROR(r.Field("RequestApiVersion").ReadInt16(&start.api_version));
  KGW_RETURN_IF_ERROR(r.Field("CorrelationId").ReadInt32(&start.correlation_id));
  return start;
}

absl::StatusOr<bool> ProduceExpectsResponse(absl::Span<const uint8_t> frame) {
  kafka::Reader r(frame);
  KGW_ASSIGN_OR_RETURN(kafka::RequestHeader header, ReadHeader(r));
  const int16_t version = header.request_api_version;
  if (header.request_api_key != kafka::ProduceRequest::kApiKey) {
    return absl::InvalidArgumentError(
        absl::StrCat("api key ", header.request_api_key, " is not Produce"));
  }
  r.BeginMessage("ProduceRequest", version);
  if (version >= kFirstProduceWithTransactionalId) {
    KGW_RETURN_IF_ERROR(r.Field("TransactionalId")
                            .SkipString(version >= kFirstFlexibleProduce, /*nullable=*/true));
  }
  int16_t acks;
  KGW_RETURN_IF_ERROR(r.Field("Acks").ReadInt16(&acks));
  return acks != 0;
}

absl::StatusOr<std::string> RequestClientId(absl::Span<const uint8_t> frame) {
  kafka::Reader r(frame);
  KGW_ASSIGN_OR_RETURN(kafka::RequestHeader header, ReadHeader(r));
  return header.client_id.value_or("");
}

absl::StatusOr<std::string> SaslHandshakeMechanism(absl::Span<const uint8_t> frame) {
  kafka::Reader r(frame);
  KGW_ASSIGN_OR_RETURN(kafka::RequestHeader header, ReadHeader(r));
  kafka::SaslHandshakeRequest request;
  KGW_RETURN_IF_ERROR(request.Decode(r, header.request_api_version));
  return request.mechanism;
}

absl::StatusOr<std::string> SaslAuthenticateBytes(absl::Span<const uint8_t> frame) {
  kafka::Reader r(frame);
  KGW_ASSIGN_OR_RETURN(kafka::RequestHeader header, ReadHeader(r));
  kafka::SaslAuthenticateRequest request;
  KGW_RETURN_IF_ERROR(request.Decode(r, header.request_api_version));
  return std::string(request.auth_bytes.begin(), request.auth_bytes.end());
}

std::string SaslPrincipal(std::string_view mechanism, std::string_view first) {
  const absl::string_view first_message(first.data(), first.size());
  if (mechanism == "PLAIN") {
    // authzid NUL authcid NUL password (RFC 4616).
    std::vector<absl::string_view> parts = absl::StrSplit(first_message, '\0');
    return parts.size() == 3 ? std::string(parts[1]) : "";
  }
  if (mechanism == "SCRAM-SHA-256" || mechanism == "SCRAM-SHA-512") {
    // gs2-header "n,," (or "n,a=authzid,") then "n=user,r=nonce" (RFC 5802),
    // with ',' and '=' in the user escaped as =2C and =3D.
    for (absl::string_view attribute : absl::StrSplit(first_message, ',')) {
      if (attribute.substr(0, 2) != "n=") continue;
      std::string user;
      for (size_t i = 2; i < attribute.size(); ++i) {
        if (attribute.substr(i, 3) == "=2C") {
          user += ',';
          i += 2;
        } else if (attribute.substr(i, 3) == "=3D") {
          user += '=';
          i += 2;
        } else {
          user += attribute[i];
        }
      }
      return user;
    }
  }
  return "";
}

absl::StatusOr<SaslOutcome> PeekSaslResponse(int16_t api_key, int16_t api_version,
                                             absl::Span<const uint8_t> frame) {
  kafka::Reader r(frame);
  kafka::ResponseHeader header;
  KGW_RETURN_IF_ERROR(header.Decode(r, kafka::ResponseHeaderVersion(api_key, api_version)));
  SaslOutcome outcome;
  if (api_key == kafka::SaslHandshakeResponse::kApiKey) {
    kafka::SaslHandshakeResponse response;
    KGW_RETURN_IF_ERROR(response.Decode(r, api_version));
    outcome.error_code = response.error_code;
    if (response.error_code != 0) {
      outcome.error_message = absl::StrCat("the broker offers ",
                                           absl::StrJoin(response.mechanisms, ", "));
    }
    return outcome;
  }
  if (api_key != kafka::SaslAuthenticateResponse::kApiKey) {
    return absl::InvalidArgumentError(absl::StrCat("api key ", api_key, " is not SASL"));
  }
  kafka::SaslAuthenticateResponse response;
  KGW_RETURN_IF_ERROR(response.Decode(r, api_version));
  outcome.error_code = response.error_code;
  outcome.error_message = response.error_message.value_or("");
  return outcome;
}

bool LooksLikeRequest(absl::Span<const uint8_t> frame) {
  kafka::Reader r(frame);
  int16_t header_version = 0;
  return ReadHeader(r, &header_version).ok() && header_version >= 1;
}

}  // namespace kgw::agent
