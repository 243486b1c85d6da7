// Helpers that generated message code calls for arrays and nested structs.
//
// One overload set per operation (read, write, skip an element) keeps the
// generated code to one line per field whatever the element type; the
// templates below are instantiated once per element type, not per field or
// per version.
#ifndef KGW_COMMON_KAFKA_WIRE_ARRAY_CODEC_H_
#define KGW_COMMON_KAFKA_WIRE_ARRAY_CODEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "common/kafka/wire/reader.h"
#include "common/kafka/wire/types.h"
#include "common/kafka/wire/writer.h"
#include "common/status/status_macros.h"

namespace kgw::kafka::internal {

// The error for decoding a version outside a message's valid range.
absl::Status UnsupportedVersion(std::string_view message, int16_t version, int16_t min_version,
                                int16_t max_version);
// DCHECKs that Encode was asked for a valid version. Out of line so that
// generated code needs neither logging nor string-formatting headers.
void DcheckVersion(std::string_view message, int16_t version, int16_t min_version,
                   int16_t max_version);

inline absl::Status ReadElement(Reader& r, bool, int16_t, int8_t* e) { return r.ReadInt8(e); }
inline absl::Status ReadElement(Reader& r, bool, int16_t, int16_t* e) { return r.ReadInt16(e); }
inline absl::Status ReadElement(Reader& r, bool, int16_t, int32_t* e) { return r.ReadInt32(e); }
inline absl::Status ReadElement(Reader& r, bool, int16_t, int64_t* e) { return r.ReadInt64(e); }
inline absl::Status ReadElement(Reader& r, bool, int16_t, uint16_t* e) { return r.ReadUint16(e); }
inline absl::Status ReadElement(Reader& r, bool, int16_t, uint32_t* e) { return r.ReadUint32(e); }
inline absl::Status ReadElement(Reader& r, bool, int16_t, double* e) { return r.ReadFloat64(e); }
inline absl::Status ReadElement(Reader& r, bool, int16_t, Uuid* e) { return r.ReadUuid(e); }
inline absl::Status ReadElement(Reader& r, bool compact, int16_t, std::string* e) {
  return r.ReadString(compact, e);
}
template <typename T>
absl::Status ReadElement(Reader& r, bool, int16_t version, T* e) {
  r.Enter();
  KGW_RETURN_IF_ERROR(e->Decode(r, version));
  r.Leave();
  return absl::OkStatus();
}

inline void WriteElement(Writer& w, bool, int16_t, int8_t e) { w.WriteInt8(e); }
inline void WriteElement(Writer& w, bool, int16_t, int16_t e) { w.WriteInt16(e); }
inline void WriteElement(Writer& w, bool, int16_t, int32_t e) { w.WriteInt32(e); }
inline void WriteElement(Writer& w, bool, int16_t, int64_t e) { w.WriteInt64(e); }
inline void WriteElement(Writer& w, bool, int16_t, uint16_t e) { w.WriteUint16(e); }
inline void WriteElement(Writer& w, bool, int16_t, uint32_t e) { w.WriteUint32(e); }
inline void WriteElement(Writer& w, bool, int16_t, double e) { w.WriteFloat64(e); }
inline void WriteElement(Writer& w, bool, int16_t, const Uuid& e) { w.WriteUuid(e); }
inline void WriteElement(Writer& w, bool compact, int16_t, const std::string& e) {
  w.WriteString(compact, e);
}
template <typename T>
void WriteElement(Writer& w, bool, int16_t version, const T& e) {
  e.Encode(w, version);
}

// Skipping: fixed-width elements are skipped in one step.
template <typename T>
absl::Status SkipElements(Reader& r, bool compact, int16_t version, int32_t count) {
  if constexpr (std::is_arithmetic_v<T> || std::is_same_v<T, Uuid>) {
    return r.Skip(sizeof(T) * static_cast<size_t>(count));
  } else if constexpr (std::is_same_v<T, std::string>) {
    for (int32_t i = 0; i < count; ++i) KGW_RETURN_IF_ERROR(r.SkipString(compact, /*nullable=*/false));
    return absl::OkStatus();
  } else {
    for (int32_t i = 0; i < count; ++i) {
      r.Index(i);
      r.Enter();
      KGW_RETURN_IF_ERROR(T::Skip(r, version));
      r.Leave();
    }
    return absl::OkStatus();
  }
}

template <typename T>
absl::Status DecodeStruct(Reader& r, int16_t version, T* out) {
  return ReadElement(r, false, version, out);
}

template <typename T>
absl::Status SkipStruct(Reader& r, int16_t version) {
  r.Enter();
  KGW_RETURN_IF_ERROR(T::Skip(r, version));
  r.Leave();
  return absl::OkStatus();
}

template <typename T>
absl::Status DecodeArray(Reader& r, bool compact, int16_t version, std::vector<T>* out) {
  int32_t count;
  KGW_RETURN_IF_ERROR(r.ReadArrayLength(compact, /*nullable=*/false, &count));
  out->clear();
  // ReadArrayLength bounded count by the bytes left, so this cannot be
  // driven to an outsized allocation by a lying length.
  out->reserve(static_cast<size_t>(count));
  for (int32_t i = 0; i < count; ++i) {
    r.Index(i);
    KGW_RETURN_IF_ERROR(ReadElement(r, compact, version, &out->emplace_back()));
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status DecodeNullableArray(Reader& r, bool compact, bool nullable, int16_t version,
                                 std::optional<std::vector<T>>* out) {
  int32_t count;
  KGW_RETURN_IF_ERROR(r.ReadArrayLength(compact, nullable, &count));
  if (count < 0) {
    out->reset();
    return absl::OkStatus();
  }
  std::vector<T>& elements = out->emplace();
  elements.reserve(static_cast<size_t>(count));
  for (int32_t i = 0; i < count; ++i) {
    r.Index(i);
    KGW_RETURN_IF_ERROR(ReadElement(r, compact, version, &elements.emplace_back()));
  }
  return absl::OkStatus();
}

template <typename T>
void EncodeArray(Writer& w, bool compact, int16_t version, const std::vector<T>& elements) {
  w.WriteArrayLength(compact, static_cast<int32_t>(elements.size()));
  for (const T& e : elements) WriteElement(w, compact, version, e);
}

template <typename T>
void EncodeNullableArray(Writer& w, bool compact, bool nullable, int16_t version,
                         const std::optional<std::vector<T>>& elements) {
  if (!elements.has_value()) {
    // Null where the version has no null is written as empty, like strings.
    w.WriteArrayLength(compact, nullable ? -1 : 0);
    return;
  }
  EncodeArray(w, compact, version, *elements);
}

template <typename T>
absl::Status SkipArray(Reader& r, bool compact, bool nullable, int16_t version) {
  int32_t count;
  KGW_RETURN_IF_ERROR(r.ReadArrayLength(compact, nullable, &count));
  if (count <= 0) return absl::OkStatus();
  return SkipElements<T>(r, compact, version, count);
}

}  // namespace kgw::kafka::internal

#endif  // KGW_COMMON_KAFKA_WIRE_ARRAY_CODEC_H_
