#include "common/kafka/header.h"

#include "absl/strings/str_cat.h"
#include "common/kafka/messages/api_registry.h"
#include "common/status/status_macros.h"
#include "glog/logging.h"

namespace kgw::kafka {
namespace {

constexpr int16_t kApiVersionsKey = 18;

}  // namespace

absl::StatusOr<std::optional<absl::Span<const uint8_t>>> NextFrame(absl::Span<const uint8_t> buffer,
                                                                   int32_t max_frame_size) {
  if (buffer.size() < kFrameSizeBytes) return std::nullopt;
  Reader r(buffer);
  int32_t size;
  KGW_RETURN_IF_ERROR(r.ReadInt32(&size));
  if (size < 0 || size > max_frame_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame size ", size, " outside [0, ", max_frame_size, "]"));
  }
  if (r.remaining() < static_cast<size_t>(size)) return std::nullopt;
  return buffer.subspan(kFrameSizeBytes, static_cast<size_t>(size));
}

size_t BeginFrame(Writer& w) {
  const size_t mark = w.size();
  w.WriteInt32(0);
  return mark;
}

void EndFrame(Writer& w, size_t mark) {
  w.PatchInt32(mark, static_cast<int32_t>(w.size() - mark - kFrameSizeBytes));
}

int16_t RequestHeaderVersion(int16_t api_key, int16_t api_version) {
  const ApiInfo* api = FindApi(api_key);
  if (api == nullptr || !api->Supports(api_version)) return -1;
  return api->IsFlexible(api_version) ? 2 : 1;
}

int16_t ResponseHeaderVersion(int16_t api_key, int16_t api_version) {
  const ApiInfo* api = FindApi(api_key);
  if (api == nullptr || !api->Supports(api_version)) return -1;
  if (api_key == kApiVersionsKey) return 0;
  return api->IsFlexible(api_version) ? 1 : 0;
}

absl::Status RequestHeader::Decode(Reader& r, int16_t header_version) {
  r.BeginMessage("RequestHeader", header_version);
  *this = RequestHeader();
  KGW_RETURN_IF_ERROR(r.Field("RequestApiKey").ReadInt16(&request_api_key));
  KGW_RETURN_IF_ERROR(r.Field("RequestApiVersion").ReadInt16(&request_api_version));
  KGW_RETURN_IF_ERROR(r.Field("CorrelationId").ReadInt32(&correlation_id));
  if (header_version >= 1) {
    KGW_RETURN_IF_ERROR(
        r.Field("ClientId").ReadNullableString(/*compact=*/false, /*nullable=*/true, &client_id));
  }
  if (header_version >= 2) {
    KGW_RETURN_IF_ERROR(r.ReadTaggedFields([](uint32_t, bool*) { return absl::OkStatus(); },
                                           &unknown_tagged_fields));
  }
  return absl::OkStatus();
}

void RequestHeader::Encode(Writer& w, int16_t header_version) const {
  DCHECK(header_version >= 0 && header_version <= 2) << header_version;
  w.WriteInt16(request_api_key);
  w.WriteInt16(request_api_version);
  w.WriteInt32(correlation_id);
  if (header_version >= 1) w.WriteNullableString(/*compact=*/false, /*nullable=*/true, client_id);
  if (header_version >= 2) {
    w.WriteUnsignedVarint(static_cast<uint32_t>(unknown_tagged_fields.size()));
    w.WriteUnknownTaggedFields(unknown_tagged_fields, 0, uint64_t{1} << 32);
  }
}

absl::Status ResponseHeader::Decode(Reader& r, int16_t header_version) {
  r.BeginMessage("ResponseHeader", header_version);
  *this = ResponseHeader();
  KGW_RETURN_IF_ERROR(r.Field("CorrelationId").ReadInt32(&correlation_id));
  if (header_version >= 1) {
    KGW_RETURN_IF_ERROR(r.ReadTaggedFields([](uint32_t, bool*) { return absl::OkStatus(); },
                                           &unknown_tagged_fields));
  }
  return absl::OkStatus();
}

void ResponseHeader::Encode(Writer& w, int16_t header_version) const {
  DCHECK(header_version >= 0 && header_version <= 1) << header_version;
  w.WriteInt32(correlation_id);
  if (header_version >= 1) {
    w.WriteUnsignedVarint(static_cast<uint32_t>(unknown_tagged_fields.size()));
    w.WriteUnknownTaggedFields(unknown_tagged_fields, 0, uint64_t{1} << 32);
  }
}

absl::Status DecodeRequestHeader(Reader& r, RequestHeader* header, int16_t* header_version) {
  // The api key and version sit at the same place in every header version.
  Reader peek(r.data().subspan(r.position()));
  int16_t api_key;
  int16_t api_version;
  KGW_RETURN_IF_ERROR(peek.ReadInt16(&api_key));
  KGW_RETURN_IF_ERROR(peek.ReadInt16(&api_version));
  *header_version = RequestHeaderVersion(api_key, api_version);
  if (*header_version < 0) {
    return absl::UnimplementedError(
        absl::StrCat("request api key ", api_key, " v", api_version, " is not supported"));
  }
  return header->Decode(r, *header_version);
}

}  // namespace kgw::kafka
