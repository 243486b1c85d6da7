// Writer: appends Kafka wire encodings to a growable buffer it owns.
//
// Writing cannot fail: values come from typed structs, and the only
// constraints the wire adds (string lengths fit in int16, arrays in int32)
// are DCHECKed. The encodings mirror Reader's, method for method.
#ifndef KGW_COMMON_KAFKA_WIRE_WRITER_H_
#define KGW_COMMON_KAFKA_WIRE_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"
#include "common/kafka/wire/types.h"

namespace kgw::kafka {

class Writer {
 public:
  Writer() = default;

  absl::Span<const uint8_t> data() const { return buffer_; }
  size_t size() const { return buffer_.size(); }
  std::vector<uint8_t> Release() { return std::move(buffer_); }

  void WriteInt8(int8_t value) { buffer_.push_back(static_cast<uint8_t>(value)); }
  void WriteInt16(int16_t value) { WriteBigEndian(static_cast<uint16_t>(value), 2); }
  void WriteInt32(int32_t value) { WriteBigEndian(static_cast<uint32_t>(value), 4); }
  void WriteInt64(int64_t value) { WriteBigEndian(static_cast<uint64_t>(value), 8); }
  void WriteUint16(uint16_t value) { WriteBigEndian(value, 2); }
  void WriteUint32(uint32_t value) { WriteBigEndian(value, 4); }
  void WriteFloat64(double value);
  void WriteBool(bool value) { buffer_.push_back(value ? 1 : 0); }
  void WriteUuid(const Uuid& value) { WriteRaw(value.bytes); }
  void WriteUnsignedVarint(uint32_t value);
  void WriteVarint(int32_t value);
  void WriteVarlong(int64_t value);

  // A null value written where the version does not allow null is written
  // as empty: the codec never emits a frame the peer could not parse.
  void WriteString(bool compact, std::string_view value);
  void WriteNullableString(bool compact, bool nullable, const std::optional<std::string>& value);
  void WriteBytes(bool compact, absl::Span<const uint8_t> value);
  void WriteNullableBytes(bool compact, bool nullable,
                          const std::optional<std::vector<uint8_t>>& value);
  void WriteRecords(bool compact, RecordsView value) { WriteBytes(compact, value); }
  void WriteNullableRecords(bool compact, bool nullable, const std::optional<RecordsView>& value);
  // `length` -1 writes a null array.
  void WriteArrayLength(bool compact, int32_t length);
  void WriteRaw(absl::Span<const uint8_t> bytes) {
    buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  }

  // Tagged fields: BeginTaggedField writes the tag and returns a mark;
  // EndTaggedField inserts the size of everything written since, so a value
  // is encoded once without computing its size first.
  size_t BeginTaggedField(uint32_t tag) {
    WriteUnsignedVarint(tag);
    return buffer_.size();
  }
  void EndTaggedField(size_t mark);
  // Writes the raw fields of `unknown` from index `next` on whose tags are
  // below `below` (in the order stored), returning the index reached.
  // Generated code calls it before each known tag to keep ascending order.
  size_t WriteUnknownTaggedFields(absl::Span<const RawTaggedField> unknown, size_t next,
                                  uint64_t below);

  // Overwrites four bytes at `offset` (e.g. a frame size written as a
  // placeholder first).
  void PatchInt32(size_t offset, int32_t value);

 private:
  void WriteBigEndian(uint64_t value, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) buffer_.push_back(static_cast<uint8_t>(value >> (8 * i)));
  }
  void WriteLength(bool compact, bool wide, int32_t length);

  std::vector<uint8_t> buffer_;
};

}  // namespace kgw::kafka

#endif  // KGW_COMMON_KAFKA_WIRE_WRITER_H_
