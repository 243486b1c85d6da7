#include "common/kafka/node_endpoints.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/kafka/messages/fetch.h"
#include "common/kafka/messages/produce.h"
#include "common/kafka/wire/array_codec.h"
#include "common/kafka/wire/reader.h"
#include "common/status/status_macros.h"

namespace kgw::kafka {
namespace {

// First versions with NodeEndpoints (KIP-951).
constexpr int16_t kFirstProduceVersion = 10;
constexpr int16_t kFirstFetchVersion = 16;

// Checks that a NodeEndpoints value is a well-formed compact array of
// `Endpoint` filling its tagged field exactly, as the full decoder requires,
// so that the walk and the decoder accept the same bodies.
template <typename Endpoint>
absl::Status CheckNodeEndpointsValue(absl::Span<const uint8_t> value, int16_t version) {
  Reader r(value);
  KGW_RETURN_IF_ERROR(internal::SkipArray<Endpoint>(r.Field("NodeEndpoints"), /*compact=*/true,
                                                     /*nullable=*/false, version));
  if (r.remaining() != 0) {
    return r.Invalid(absl::StrCat("NodeEndpoints left ", r.remaining(), " bytes unread"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<NodeEndpointsLocation> FindNodeEndpoints(int16_t api_key, int16_t api_version,
                                                        absl::Span<const uint8_t> body) {
  Reader r(body);
  if (api_key == ProduceResponse::kApiKey && api_version >= kFirstProduceVersion &&
      api_version <= ProduceResponse::kMaxVersion) {
    KGW_RETURN_IF_ERROR(ProduceResponse::SkipToTaggedFields(r, api_version));
  } else if (api_key == FetchResponse::kApiKey && api_version >= kFirstFetchVersion &&
             api_version <= FetchResponse::kMaxVersion) {
    KGW_RETURN_IF_ERROR(FetchResponse::SkipToTaggedFields(r, api_version));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("no NodeEndpoints fast path for api key ", api_key, " v", api_version));
  }
  NodeEndpointsLocation location;
  location.tagged_fields_offset = r.position();
  uint32_t count;
  KGW_RETURN_IF_ERROR(r.Field("_tagged_fields").ReadUnsignedVarint(&count));
  for (uint32_t i = 0; i < count; ++i) {
    const size_t field_offset = r.position();
    uint32_t tag;
    uint32_t size;
    KGW_RETURN_IF_ERROR(r.ReadUnsignedVarint(&tag));
    KGW_RETURN_IF_ERROR(r.ReadUnsignedVarint(&size));
    const size_t value_offset = r.position();
    KGW_RETURN_IF_ERROR(r.Skip(size));
    if (tag == kNodeEndpointsTag) {
      absl::Span<const uint8_t> value = body.subspan(value_offset, size);
      KGW_RETURN_IF_ERROR(api_key == ProduceResponse::kApiKey
                              ? CheckNodeEndpointsValue<ProduceResponse::NodeEndpoint>(
                                    value, api_version)
                              : CheckNodeEndpointsValue<FetchResponse::NodeEndpoint>(
                                    value, api_version));
      location.present = true;
      location.field_offset = field_offset;
      location.value_offset = value_offset;
      location.field_end = r.position();
    }
  }
  if (r.remaining() != 0) {
    return r.Invalid(absl::StrCat(r.remaining(), " bytes after the tagged fields"));
  }
  return location;
}

}  // namespace kgw::kafka
