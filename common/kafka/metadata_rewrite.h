// Fast rewrite of the broker list in a Metadata response.
//
// A gateway must change every broker's host and port in Metadata responses,
// and nothing else. The brokers array comes first in the body (after the
// throttle time), before the topics, which in a large cluster hold nearly all
// the bytes. RewriteMetadataBrokers decodes only the brokers, lets the caller
// change them, and copies the rest of the body verbatim, instead of
// materialising every partition as the full decoder does.
//
// The whole body is still checked: the part that is copied is first walked
// with the generated Skip functions, so a malformed response is rejected here
// exactly as the full decoder would reject it.
#ifndef KGW_COMMON_KAFKA_METADATA_REWRITE_H_
#define KGW_COMMON_KAFKA_METADATA_REWRITE_H_

#include <cstdint>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/kafka/messages/metadata.h"

namespace kgw::kafka {

// `body` is a Metadata response body (after the response header) at
// `version`. `rewrite` is called once per broker, in order, and may change
// any of its fields. Returns the new body. Errors are the Reader's (naming
// the message, version and field) for a malformed body, and kInvalidArgument
// for a version the codec does not support.
absl::StatusOr<std::vector<uint8_t>> RewriteMetadataBrokers(
    absl::Span<const uint8_t> body, int16_t version,
    absl::FunctionRef<void(MetadataResponse::MetadataResponseBroker&)> rewrite);

}  // namespace kgw::kafka

#endif  // KGW_COMMON_KAFKA_METADATA_REWRITE_H_
