// Fast path for KIP-951 NodeEndpoints in Produce and Fetch responses.
//
// Produce v10+ and Fetch v16+ responses may carry the top-level tagged field
// NodeEndpoints (broker addresses a gateway must rewrite). Most responses do
// not, and they can be large, so a gateway first asks FindNodeEndpoints and
// decodes and re-encodes the response only when the field is there; all
// other responses are forwarded as the bytes they arrived as.
//
// FindNodeEndpoints walks the body with generated Skip functions: it does not
// allocate, does not copy, and never looks inside record batches. It does
// check the framing of everything it walks past, so a body it accepts has the
// shape the full decoder expects.
#ifndef KGW_COMMON_KAFKA_NODE_ENDPOINTS_H_
#define KGW_COMMON_KAFKA_NODE_ENDPOINTS_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace kgw::kafka {

// NodeEndpoints is tag 0 of the top-level tagged fields in both responses.
inline constexpr uint32_t kNodeEndpointsTag = 0;

// Offsets into the body passed to FindNodeEndpoints.
struct NodeEndpointsLocation {
  bool present = false;
  // Start of the top-level tagged-field section (its field count).
  size_t tagged_fields_offset = 0;
  // When present: the field's tag varint starts at field_offset, its value
  // (the compact array of NodeEndpoint) spans [value_offset, field_end).
  size_t field_offset = 0;
  size_t value_offset = 0;
  size_t field_end = 0;
};

// `body` is a whole Produce (api key 0, v10+) or Fetch (api key 1, v16+)
// response body, after the response header. Fails with kInvalidArgument for
// any other api key or version, and with the Reader's errors (naming the
// message, version and field) for a malformed body, including bytes left
// over after the tagged-field section.
absl::StatusOr<NodeEndpointsLocation> FindNodeEndpoints(int16_t api_key, int16_t api_version,
                                                        absl::Span<const uint8_t> body);

}  // namespace kgw::kafka

#endif  // KGW_COMMON_KAFKA_NODE_ENDPOINTS_H_
