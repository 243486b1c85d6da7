#include "common/kafka/wire/reader.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace kgw::kafka {
namespace {

template <typename T>
T LoadBigEndian(const uint8_t* p) {
  std::make_unsigned_t<T> v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<decltype(v)>((v << 8) | p[i]);
  return static_cast<T>(v);
}

// This Abseil release predates absl::string_view being std::string_view.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

void Reader::BeginMessage(std::string_view name, int16_t version) {
  message_ = name;
  version_ = version;
  depth_ = 0;
  path_[0] = {};
}

std::string Reader::Where() const {
  std::string out;
  const int last = std::min(depth_, kMaxPath - 1);
  for (int i = 0; i <= last && !path_[i].field.empty(); ++i) {
    if (i > 0) out += '.';
    absl::StrAppend(&out, Sv(path_[i].field));
    if (path_[i].index >= 0) absl::StrAppend(&out, "[", path_[i].index, "]");
  }
  if (out.empty()) out = absl::StrCat("offset ", pos_);
  return out;
}

absl::Status Reader::Truncated(size_t need) const {
  std::string prefix = message_.empty() ? "" : absl::StrCat(Sv(message_), " v", version_, ": ");
  return absl::OutOfRangeError(absl::StrCat(prefix, "truncated at ", Where(), " (need ", need,
                                            " bytes, have ", remaining(), ")"));
}

absl::Status Reader::Invalid(std::string_view what) const {
  std::string prefix = message_.empty() ? "" : absl::StrCat(Sv(message_), " v", version_, ": ");
  return absl::InvalidArgumentError(absl::StrCat(prefix, Sv(what), " at ", Where()));
}

absl::Status Reader::ReadInt8(int8_t* value) {
  KGW_RETURN_IF_ERROR(Require(1));
  *value = static_cast<int8_t>(data_[pos_++]);
  return absl::OkStatus();
}

#define KGW_KAFKA_READ_FIXED_(Name, Type)              \
  absl::Status Reader::Name(Type* value) {             \
    KGW_RETURN_IF_ERROR(Require(sizeof(Type)));        \
    *value = LoadBigEndian<Type>(data_.data() + pos_); \
    pos_ += sizeof(Type);                              \
    return absl::OkStatus();                           \
  }
KGW_KAFKA_READ_FIXED_(ReadInt16, int16_t)
KGW_KAFKA_READ_FIXED_(ReadInt32, int32_t)
KGW_KAFKA_READ_FIXED_(ReadInt64, int64_t)
KGW_KAFKA_READ_FIXED_(ReadUint16, uint16_t)
KGW_KAFKA_READ_FIXED_(ReadUint32, uint32_t)
#undef KGW_KAFKA_READ_FIXED_

absl::Status Reader::ReadFloat64(double* value) {
  KGW_RETURN_IF_ERROR(Require(8));
  *value = std::bit_cast<double>(LoadBigEndian<uint64_t>(data_.data() + pos_));
  pos_ += 8;
  return absl::OkStatus();
}

absl::Status Reader::ReadBool(bool* value) {
  KGW_RETURN_IF_ERROR(Require(1));
  *value = data_[pos_++] != 0;
  return absl::OkStatus();
}

absl::Status Reader::ReadUuid(Uuid* value) {
  KGW_RETURN_IF_ERROR(Require(16));
  std::memcpy(value->bytes.data(), data_.data() + pos_, 16);
  pos_ += 16;
  return absl::OkStatus();
}

absl::Status Reader::ReadUnsignedVarintSlow(uint32_t* value) {
  uint32_t result = 0;
  for (int i = 0; i < 5; ++i) {
    if (pos_ >= end_) return Truncated(1);
    const uint8_t b = data_[pos_++];
    // The fifth byte may only carry the top four bits of a 32-bit value.
    if (i == 4 && b > 0x0f) return Invalid("unsigned varint longer than 32 bits");
    result |= static_cast<uint32_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      *value = result;
      return absl::OkStatus();
    }
  }
  return Invalid("unsigned varint longer than 32 bits");
}

absl::Status Reader::ReadVarint(int32_t* value) {
  uint32_t raw;
  KGW_RETURN_IF_ERROR(ReadUnsignedVarint(&raw));
  *value = static_cast<int32_t>((raw >> 1) ^ (~(raw & 1) + 1));
  return absl::OkStatus();
}

absl::Status Reader::ReadVarlong(int64_t* value) {
  uint64_t raw = 0;
  for (int i = 0; i < 10; ++i) {
    if (pos_ >= end_) return Truncated(1);
    const uint8_t b = data_[pos_++];
    if (i == 9 && b > 0x01) return Invalid("varlong longer than 64 bits");
    raw |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      *value = static_cast<int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
      return absl::OkStatus();
    }
  }
  return Invalid("varlong longer than 64 bits");
}

absl::Status Reader::ReadLength(bool compact, bool wide, int32_t* length) {
  if (compact) {
    uint32_t raw;
    KGW_RETURN_IF_ERROR(ReadUnsignedVarint(&raw));
    if (raw != 0 && raw - 1 > static_cast<uint32_t>(std::numeric_limits<int32_t>::max())) {
      return Invalid(absl::StrCat("length ", raw - 1, " out of range"));
    }
    *length = raw == 0 ? -1 : static_cast<int32_t>(raw - 1);
  } else if (wide) {
    KGW_RETURN_IF_ERROR(ReadInt32(length));
  } else {
    int16_t short_length;
    KGW_RETURN_IF_ERROR(ReadInt16(&short_length));
    *length = short_length;
  }
  if (*length < -1) return Invalid(absl::StrCat("negative length ", *length));
  return absl::OkStatus();
}

absl::Status Reader::ReadNullLength(bool compact, bool wide, bool nullable, int32_t* length) {
  KGW_RETURN_IF_ERROR(ReadLength(compact, wide, length));
  if (*length < 0 && !nullable) return Invalid("null for a non-nullable field");
  if (*length > 0) KGW_RETURN_IF_ERROR(Require(static_cast<size_t>(*length)));
  return absl::OkStatus();
}

absl::Status Reader::ReadString(bool compact, std::string* value) {
  int32_t length;
  KGW_RETURN_IF_ERROR(ReadNullLength(compact, /*wide=*/false, /*nullable=*/false, &length));
  value->assign(reinterpret_cast<const char*>(data_.data() + pos_), length);
  pos_ += length;
  return absl::OkStatus();
}

absl::Status Reader::ReadNullableString(bool compact, bool nullable,
                                        std::optional<std::string>* value) {
  int32_t length;
  KGW_RETURN_IF_ERROR(ReadNullLength(compact, /*wide=*/false, nullable, &length));
  if (length < 0) {
    value->reset();
    return absl::OkStatus();
  }
  value->emplace(reinterpret_cast<const char*>(data_.data() + pos_), length);
  pos_ += length;
  return absl::OkStatus();
}

absl::Status Reader::ReadBytes(bool compact, std::vector<uint8_t>* value) {
  int32_t length;
  KGW_RETURN_IF_ERROR(ReadNullLength(compact, /*wide=*/true, /*nullable=*/false, &length));
  value->assign(data_.begin() + pos_, data_.begin() + pos_ + length);
  pos_ += length;
  return absl::OkStatus();
}

absl::Status Reader::ReadNullableBytes(bool compact, bool nullable,
                                       std::optional<std::vector<uint8_t>>* value) {
  int32_t length;
  KGW_RETURN_IF_ERROR(ReadNullLength(compact, /*wide=*/true, nullable, &length));
  if (length < 0) {
    value->reset();
    return absl::OkStatus();
  }
  value->emplace(data_.begin() + pos_, data_.begin() + pos_ + length);
  pos_ += length;
  return absl::OkStatus();
}

absl::Status Reader::ReadRecords(bool compact, RecordsView* value) {
  int32_t length;
  KGW_RETURN_IF_ERROR(ReadNullLength(compact, /*wide=*/true, /*nullable=*/false, &length));
  *value = data_.subspan(pos_, length);
  pos_ += length;
  return absl::OkStatus();
}

absl::Status Reader::ReadNullableRecords(bool compact, bool nullable,
                                         std::optional<RecordsView>* value) {
  int32_t length;
  KGW_RETURN_IF_ERROR(ReadNullLength(compact, /*wide=*/true, nullable, &length));
  if (length < 0) {
    value->reset();
    return absl::OkStatus();
  }
  *value = data_.subspan(pos_, length);
  pos_ += length;
  return absl::OkStatus();
}

absl::Status Reader::ReadArrayLength(bool compact, bool nullable, int32_t* length) {
  KGW_RETURN_IF_ERROR(ReadLength(compact, /*wide=*/true, length));
  if (*length < 0 && !nullable) return Invalid("null for a non-nullable array");
  if (*length > 0 && static_cast<size_t>(*length) > remaining()) {
    return Invalid(
        absl::StrCat("array of ", *length, " elements in ", remaining(), " remaining bytes"));
  }
  return absl::OkStatus();
}

absl::Status Reader::SkipString(bool compact, bool nullable) {
  int32_t length;
  KGW_RETURN_IF_ERROR(ReadNullLength(compact, /*wide=*/false, nullable, &length));
  if (length > 0) pos_ += length;
  return absl::OkStatus();
}

absl::Status Reader::SkipBytes(bool compact, bool nullable) {
  int32_t length;
  KGW_RETURN_IF_ERROR(ReadNullLength(compact, /*wide=*/true, nullable, &length));
  if (length > 0) pos_ += length;
  return absl::OkStatus();
}

absl::Status Reader::ReadTaggedFields(
    absl::FunctionRef<absl::Status(uint32_t tag, bool* handled)> known,
    std::vector<RawTaggedField>* unknown) {
  uint32_t count;
  KGW_RETURN_IF_ERROR(Field("_tagged_fields").ReadUnsignedVarint(&count));
  // Each field takes at least two bytes (tag and size), which bounds the loop.
  if (count > remaining()) {
    return Invalid(absl::StrCat(count, " tagged fields in ", remaining(), " remaining bytes"));
  }
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t tag;
    uint32_t size;
    Field("_tagged_fields");
    KGW_RETURN_IF_ERROR(ReadUnsignedVarint(&tag));
    KGW_RETURN_IF_ERROR(ReadUnsignedVarint(&size));
    KGW_RETURN_IF_ERROR(Require(size));
    const size_t outer_end = end_;
    end_ = pos_ + size;
    bool handled = false;
    KGW_RETURN_IF_ERROR(known(tag, &handled));
    if (handled) {
      if (pos_ != end_) {
        return Invalid(absl::StrCat("tagged field ", tag, " left ", end_ - pos_, " of its ", size,
                                    " bytes unread"));
      }
    } else {
      if (unknown != nullptr) {
        unknown->push_back({tag, std::vector<uint8_t>(data_.begin() + pos_, data_.begin() + end_)});
      }
      pos_ = end_;
    }
    end_ = outer_end;
  }
  return absl::OkStatus();
}

absl::Status Reader::SkipTaggedFields() {
  uint32_t count;
  KGW_RETURN_IF_ERROR(Field("_tagged_fields").ReadUnsignedVarint(&count));
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t tag;
    uint32_t size;
    KGW_RETURN_IF_ERROR(ReadUnsignedVarint(&tag));
    KGW_RETURN_IF_ERROR(ReadUnsignedVarint(&size));
    KGW_RETURN_IF_ERROR(Skip(size));
  }
  return absl::OkStatus();
}

}  // namespace kgw::kafka
