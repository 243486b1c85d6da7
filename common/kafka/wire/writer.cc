#include "common/kafka/wire/writer.h"

#include <bit>
#include <limits>

#include "glog/logging.h"

namespace kgw::kafka {

void Writer::WriteFloat64(double value) { WriteBigEndian(std::bit_cast<uint64_t>(value), 8); }

void Writer::WriteUnsignedVarint(uint32_t value) {
  while (value >= 0x80) {
    buffer_.push_back(static_cast<uint8_t>(value | 0x80));
    value >>= 7;
  }
  buffer_.push_back(static_cast<uint8_t>(value));
}

void Writer::WriteVarint(int32_t value) {
  const uint32_t v = static_cast<uint32_t>(value);
  WriteUnsignedVarint((v << 1) ^ (value < 0 ? ~0u : 0u));
}

void Writer::WriteVarlong(int64_t value) {
  uint64_t v = static_cast<uint64_t>(value);
  v = (v << 1) ^ (value < 0 ? ~uint64_t{0} : 0);
  while (v >= 0x80) {
    buffer_.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  buffer_.push_back(static_cast<uint8_t>(v));
}

void Writer::WriteLength(bool compact, bool wide, int32_t length) {
  if (compact) {
    WriteUnsignedVarint(static_cast<uint32_t>(length) + 1);
  } else if (wide) {
    WriteInt32(length);
  } else {
    DCHECK_LE(length, std::numeric_limits<int16_t>::max());
    WriteInt16(static_cast<int16_t>(length));
  }
}

void Writer::WriteString(bool compact, std::string_view value) {
  WriteLength(compact, /*wide=*/false, static_cast<int32_t>(value.size()));
  buffer_.insert(buffer_.end(), value.begin(), value.end());
}

void Writer::WriteNullableString(bool compact, bool nullable,
                                 const std::optional<std::string>& value) {
  if (!value.has_value()) {
    if (nullable) return WriteLength(compact, /*wide=*/false, -1);
    return WriteString(compact, "");
  }
  WriteString(compact, *value);
}

void Writer::WriteBytes(bool compact, absl::Span<const uint8_t> value) {
  DCHECK_LE(value.size(), static_cast<size_t>(std::numeric_limits<int32_t>::max()));
  WriteLength(compact, /*wide=*/true, static_cast<int32_t>(value.size()));
  WriteRaw(value);
}

void Writer::WriteNullableBytes(bool compact, bool nullable,
                                const std::optional<std::vector<uint8_t>>& value) {
  if (!value.has_value()) {
    if (nullable) return WriteLength(compact, /*wide=*/true, -1);
    return WriteBytes(compact, {});
  }
  WriteBytes(compact, *value);
}

void Writer::WriteNullableRecords(bool compact, bool nullable,
                                  const std::optional<RecordsView>& value) {
  if (!value.has_value()) {
    if (nullable) return WriteLength(compact, /*wide=*/true, -1);
    return WriteBytes(compact, {});
  }
  WriteBytes(compact, *value);
}

void Writer::WriteArrayLength(bool compact, int32_t length) {
  WriteLength(compact, /*wide=*/true, length);
}

void Writer::EndTaggedField(size_t mark) {
  const uint32_t size = static_cast<uint32_t>(buffer_.size() - mark);
  uint8_t prefix[5];
  size_t n = 0;
  uint32_t v = size;
  while (v >= 0x80) {
    prefix[n++] = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  prefix[n++] = static_cast<uint8_t>(v);
  buffer_.insert(buffer_.begin() + static_cast<ptrdiff_t>(mark), prefix, prefix + n);
}

size_t Writer::WriteUnknownTaggedFields(absl::Span<const RawTaggedField> unknown, size_t next,
                                        uint64_t below) {
  while (next < unknown.size() && unknown[next].tag < below) {
    WriteUnsignedVarint(unknown[next].tag);
    WriteUnsignedVarint(static_cast<uint32_t>(unknown[next].data.size()));
    WriteRaw(unknown[next].data);
    ++next;
  }
  return next;
}

void Writer::PatchInt32(size_t offset, int32_t value) {
  DCHECK_LE(offset + 4, buffer_.size());
  const uint32_t v = static_cast<uint32_t>(value);
  for (int i = 0; i < 4; ++i) buffer_[offset + i] = static_cast<uint8_t>(v >> (8 * (3 - i)));
}

}  // namespace kgw::kafka
