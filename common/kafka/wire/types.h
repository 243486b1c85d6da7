// Value types shared by the Kafka wire reader, writer and generated messages.
#ifndef KGW_COMMON_KAFKA_WIRE_TYPES_H_
#define KGW_COMMON_KAFKA_WIRE_TYPES_H_

#include <array>
#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace kgw::kafka {

// A Kafka UUID: 16 bytes, most significant byte first, as on the wire.
struct Uuid {
  std::array<uint8_t, 16> bytes{};

  bool operator==(const Uuid&) const = default;
};

// A tagged field whose tag this codec does not know (or does not know in the
// version being decoded). Kept so it is written back exactly as it arrived.
struct RawTaggedField {
  uint32_t tag = 0;
  std::vector<uint8_t> data;

  bool operator==(const RawTaggedField&) const = default;
};

// Record batches are never parsed by the codec. A decoded records field is a
// view into the buffer handed to the Reader: it is valid only while that
// buffer is alive and unchanged. Copy it (or keep the buffer) before the
// buffer is reused.
using RecordsView = absl::Span<const uint8_t>;

}  // namespace kgw::kafka

#endif  // KGW_COMMON_KAFKA_WIRE_TYPES_H_
