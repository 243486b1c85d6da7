// Reader: a bounds-checked cursor over one Kafka message body.
//
// Every read either succeeds or returns an error Status and leaves the value
// untouched; nothing throws and no input can make it read out of bounds or
// allocate more than the input could possibly describe (lengths are checked
// against the bytes that remain before anything is allocated). That makes it
// safe to feed with arbitrary bytes from a socket or a fuzzer.
//
// Errors name where decoding stopped. Generated message code tells the reader
// which message and field it is at (BeginMessage, Field, Index, Enter, Leave),
// so a failure reads like
//   MetadataResponse v12: truncated at Brokers[3].Host (need 17 bytes, have 4)
// Keeping that path costs a few stores per field and no allocation; the
// message text is only built when something fails.
//
// A Reader does not own its input. Records read with ReadRecords are views
// into it (see RecordsView). A Reader is used by one thread at a time.
#ifndef KGW_COMMON_KAFKA_WIRE_READER_H_
#define KGW_COMMON_KAFKA_WIRE_READER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/types/span.h"
#include "common/kafka/wire/types.h"

namespace kgw::kafka {

class Reader {
 public:
  explicit Reader(absl::Span<const uint8_t> data) : data_(data), end_(data.size()) {}
  explicit Reader(std::string_view data)
      : Reader(absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()),
                                         data.size())) {}

  // Error context. `name` must outlive the Reader (generated code passes
  // string literals).
  void BeginMessage(std::string_view name, int16_t version);
  // Names the field about to be read at the current nesting level.
  Reader& Field(std::string_view name) {
    if (depth_ < kMaxPath) path_[depth_] = {name, -1};
    return *this;
  }
  // Marks the element of the current array field about to be read.
  void Index(int32_t index) {
    if (depth_ < kMaxPath) path_[depth_].index = index;
  }
  // Descends into the struct named by the current field, and back.
  void Enter() {
    ++depth_;
    if (depth_ < kMaxPath) path_[depth_] = {};
  }
  void Leave() { --depth_; }

  size_t position() const { return pos_; }
  size_t remaining() const { return end_ - pos_; }
  absl::Span<const uint8_t> data() const { return data_; }

  absl::Status ReadInt8(int8_t* value);
  absl::Status ReadInt16(int16_t* value);
  absl::Status ReadInt32(int32_t* value);
  absl::Status ReadInt64(int64_t* value);
  absl::Status ReadUint16(uint16_t* value);
  absl::Status ReadUint32(uint32_t* value);
  absl::Status ReadFloat64(double* value);
  // Any non-zero byte is true, as in Kafka's own reader.
  absl::Status ReadBool(bool* value);
  absl::Status ReadUuid(Uuid* value);
  // One-byte values (array lengths, tag counts) take the inline path; the
  // Skip walks read one per array and struct.
  absl::Status ReadUnsignedVarint(uint32_t* value) {
    if (pos_ < end_ && data_[pos_] < 0x80) {
      *value = data_[pos_++];
      return absl::OkStatus();
    }
    return ReadUnsignedVarintSlow(value);
  }
  // Zigzag-encoded signed varints.
  absl::Status ReadVarint(int32_t* value);
  absl::Status ReadVarlong(int64_t* value);

  // `compact` selects the flexible-version encodings (unsigned varint
  // length + 1) over the classic ones (int16 length for strings, int32 for
  // bytes, records and arrays). `nullable` says whether null is allowed in
  // the version being read; null where it is not is an error.
  absl::Status ReadString(bool compact, std::string* value);
  absl::Status ReadNullableString(bool compact, bool nullable, std::optional<std::string>* value);
  absl::Status ReadBytes(bool compact, std::vector<uint8_t>* value);
  absl::Status ReadNullableBytes(bool compact, bool nullable,
                                 std::optional<std::vector<uint8_t>>* value);
  // Returns a view into the input; nothing is copied.
  absl::Status ReadRecords(bool compact, RecordsView* value);
  absl::Status ReadNullableRecords(bool compact, bool nullable, std::optional<RecordsView>* value);
  // Sets `length` to the element count, or -1 for a null array. A count
  // larger than the remaining bytes is rejected, so callers may reserve it:
  // every element takes at least one byte (the generator refuses message
  // descriptions where an array element could be empty).
  absl::Status ReadArrayLength(bool compact, bool nullable, int32_t* length);

  // Inline: the Skip walks call it for every fixed-width field.
  absl::Status Skip(size_t n) {
    if (n > remaining()) return Truncated(n);
    pos_ += n;
    return absl::OkStatus();
  }
  // Skipping checks what decoding checks, null included: a body the Skip
  // functions accept is one the decoders accept.
  absl::Status SkipString(bool compact, bool nullable);
  // Skips bytes or records.
  absl::Status SkipBytes(bool compact, bool nullable);

  // Reads a tagged-field section. For each field `known(tag, &handled)` is
  // called with the reader limited to that field's bytes; it decodes the
  // field and sets `handled`, or leaves `handled` false and the bytes are
  // appended to `unknown` untouched (or skipped when `unknown` is null). A
  // known field that does not consume exactly its declared size is an error.
  absl::Status ReadTaggedFields(absl::FunctionRef<absl::Status(uint32_t tag, bool* handled)> known,
                                std::vector<RawTaggedField>* unknown);
  // Skips a tagged-field section, checking only its framing.
  absl::Status SkipTaggedFields();
  // Skips a tagged-field section; `known` skips (and so validates) the values
  // of the tags the schema declares, exactly as ReadTaggedFields decodes them.
  absl::Status SkipTaggedFields(
      absl::FunctionRef<absl::Status(uint32_t tag, bool* handled)> known) {
    return ReadTaggedFields(known, nullptr);
  }

  // Error builders for generated code; they prefix message, version and path.
  absl::Status Truncated(size_t need) const;
  absl::Status Invalid(std::string_view what) const;

 private:
  static constexpr int kMaxPath = 8;
  struct PathElement {
    std::string_view field;
    int32_t index = -1;
  };

  absl::Status Require(size_t n) const {
    return n <= remaining() ? absl::OkStatus() : Truncated(n);
  }
  // Reads a length that is either an unsigned varint holding length + 1
  // (0 = null) or a classic signed int16/int32 (-1 = null). Sets -1 for null.
  absl::Status ReadLength(bool compact, bool wide, int32_t* length);
  absl::Status ReadNullLength(bool compact, bool wide, bool nullable, int32_t* length);
  absl::Status ReadUnsignedVarintSlow(uint32_t* value);
  std::string Where() const;

  absl::Span<const uint8_t> data_;
  size_t pos_ = 0;
  size_t end_;
  std::string_view message_;
  int16_t version_ = -1;
  std::array<PathElement, kMaxPath> path_{};
  int depth_ = 0;
};

}  // namespace kgw::kafka

#endif  // KGW_COMMON_KAFKA_WIRE_READER_H_
