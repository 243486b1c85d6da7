#include "common/kafka/metadata_rewrite.h"

#include "absl/strings/str_cat.h"
#include "common/kafka/wire/array_codec.h"
#include "common/kafka/wire/reader.h"
#include "common/kafka/wire/writer.h"
#include "common/status/status_macros.h"

namespace kgw::kafka {
namespace {

// ThrottleTimeMs precedes Brokers from this version on.
constexpr int16_t kFirstThrottleVersion = 3;

}  // namespace

absl::StatusOr<std::vector<uint8_t>> RewriteMetadataBrokers(
    absl::Span<const uint8_t> body, int16_t version,
    absl::FunctionRef<void(MetadataResponse::MetadataResponseBroker&)> rewrite) {
  if (version < MetadataResponse::kMinVersion || version > MetadataResponse::kMaxVersion) {
    return absl::InvalidArgumentError(absl::StrCat("MetadataResponse v", version,
                                                   " is not supported"));
  }
  const bool flexible = version >= MetadataResponse::kFirstFlexibleVersion;

  // Validate the whole body first, without allocating.
  Reader walk(body);
  KGW_RETURN_IF_ERROR(MetadataResponse::SkipToTaggedFields(walk, version));
  if (flexible) KGW_RETURN_IF_ERROR(walk.SkipTaggedFields());
  if (walk.remaining() != 0) {
    return walk.Invalid(absl::StrCat(walk.remaining(), " bytes after the body"));
  }

  Reader r(body);
  r.BeginMessage(MetadataResponse::kName, version);
  int32_t throttle_time_ms = 0;
  if (version >= kFirstThrottleVersion) {
    KGW_RETURN_IF_ERROR(r.Field("ThrottleTimeMs").ReadInt32(&throttle_time_ms));
  }
  std::vector<MetadataResponse::MetadataResponseBroker> brokers;
  KGW_RETURN_IF_ERROR(internal::DecodeArray(r.Field("Brokers"), flexible, version, &brokers));
  const absl::Span<const uint8_t> rest = body.subspan(r.position());

  for (auto& broker : brokers) rewrite(broker);

  Writer w;
  if (version >= kFirstThrottleVersion) w.WriteInt32(throttle_time_ms);
  internal::EncodeArray(w, flexible, version, brokers);
  w.WriteRaw(rest);
  return w.Release();
}

}  // namespace kgw::kafka
