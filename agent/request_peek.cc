#include "agent/request_peek.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "common/kafka/header.h"
#include "common/kafka/messages/sasl_handshake.h"
#include "common/kafka/wire/reader.h"
#include "common/status/status_macros.h"

namespace kgw::agent {
namespace {

// Produce request versions: transactional id from v3, compact encodings from v9.
constexpr int16_t kFirstProduceWithTransactionalId = 3;
constexpr int16_t kFirstFlexibleProduce = 9;
constexpr int16_t kProduceApiKey = 0;

absl::Status SkipRequestHeader(kafka::Reader& r) {
  kafka::RequestHeader header;
  int16_t header_version;
  return kafka::DecodeRequestHeader(r, &header, &header_version);
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
  KGW_RETURN_IF_ERROR(SkipRequestHeader(r));
  KGW_ASSIGN_OR_RETURN(RequestStart start, PeekRequestStart(frame));
  if (start.api_key != kProduceApiKey) {
    return absl::InvalidArgumentError(absl::StrCat("api key ", start.api_key, " is not Produce"));
  }
  r.BeginMessage("ProduceRequest", start.api_version);
  if (start.api_version >= kFirstProduceWithTransactionalId) {
    KGW_RETURN_IF_ERROR(r.Field("TransactionalId")
                            .SkipString(start.api_version >= kFirstFlexibleProduce,
                                        /*nullable=*/true));
  }
  int16_t acks;
  KGW_RETURN_IF_ERROR(r.Field("Acks").ReadInt16(&acks));
  return acks != 0;
}

absl::StatusOr<std::string> RequestClientId(absl::Span<const uint8_t> frame) {
  kafka::Reader r(frame);
  kafka::RequestHeader header;
  int16_t header_version;
  KGW_RETURN_IF_ERROR(kafka::DecodeRequestHeader(r, &header, &header_version));
  return header.client_id.value_or("");
}

absl::StatusOr<std::string> SaslHandshakeMechanism(absl::Span<const uint8_t> frame) {
  kafka::Reader r(frame);
  kafka::RequestHeader header;
  int16_t header_version;
  KGW_RETURN_IF_ERROR(kafka::DecodeRequestHeader(r, &header, &header_version));
  kafka::SaslHandshakeRequest request;
  KGW_RETURN_IF_ERROR(request.Decode(r, header.request_api_version));
  return request.mechanism;
}

bool LooksLikeRequest(absl::Span<const uint8_t> frame) {
  kafka::Reader r(frame);
  kafka::RequestHeader header;
  int16_t header_version;
  return kafka::DecodeRequestHeader(r, &header, &header_version).ok() && header_version >= 1;
}

}  // namespace kgw::agent
