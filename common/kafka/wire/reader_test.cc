#include "common/kafka/wire/reader.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/kafka/wire/writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kgw::kafka {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ReaderTest, FixedWidthIntegersAreBigEndian) {
  const std::vector<uint8_t> in = {0xfe, 0x01, 0x02, 0xff, 0xff, 0xff, 0xfe, 0,   0,
                                   0,    0,    0,    0,    0,    1,    0x80, 0x01};
  Reader r{absl::MakeConstSpan(in)};
  int8_t i8;
  int16_t i16;
  int32_t i32;
  int64_t i64;
  uint16_t u16;
  ASSERT_TRUE(r.ReadInt8(&i8).ok());
  ASSERT_TRUE(r.ReadInt16(&i16).ok());
  ASSERT_TRUE(r.ReadInt32(&i32).ok());
  ASSERT_TRUE(r.ReadInt64(&i64).ok());
  EXPECT_EQ(i8, -2);
  EXPECT_EQ(i16, 0x0102);
  EXPECT_EQ(i32, -2);
  EXPECT_EQ(i64, 1);
  EXPECT_EQ(r.remaining(), 2u);
  ASSERT_TRUE(r.ReadUint16(&u16).ok());
  EXPECT_EQ(u16, 0x8001);
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(ReaderTest, VarintEdgeCasesRoundTrip) {
  const int32_t ints[] = {0,
                          1,
                          -1,
                          63,
                          -64,
                          64,
                          -65,
                          8191,
                          -8192,
                          std::numeric_limits<int32_t>::max(),
                          std::numeric_limits<int32_t>::min()};
  const int64_t longs[] = {0,
                           -1,
                           1,
                           std::numeric_limits<int64_t>::max(),
                           std::numeric_limits<int64_t>::min(),
                           int64_t{1} << 35};
  const uint32_t uints[] = {0, 127, 128, 16383, 16384, 0xffffffffu};
  Writer w;
  for (int32_t v : ints) w.WriteVarint(v);
  for (int64_t v : longs) w.WriteVarlong(v);
  for (uint32_t v : uints) w.WriteUnsignedVarint(v);
  Reader r(w.data());
  for (int32_t v : ints) {
    int32_t got;
    ASSERT_TRUE(r.ReadVarint(&got).ok());
    EXPECT_EQ(got, v);
  }
  for (int64_t v : longs) {
    int64_t got;
    ASSERT_TRUE(r.ReadVarlong(&got).ok());
    EXPECT_EQ(got, v);
  }
  for (uint32_t v : uints) {
    uint32_t got;
    ASSERT_TRUE(r.ReadUnsignedVarint(&got).ok());
    EXPECT_EQ(got, v);
  }
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(ReaderTest, RejectsOverlongVarints) {
  const std::vector<uint8_t> five_plus = {0xff, 0xff, 0xff, 0xff, 0x10};
  uint32_t u;
  EXPECT_EQ(Reader{absl::MakeConstSpan(five_plus)}.ReadUnsignedVarint(&u).code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<uint8_t> six = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
  EXPECT_FALSE(Reader{absl::MakeConstSpan(six)}.ReadUnsignedVarint(&u).ok());
  const std::vector<uint8_t> eleven(11, 0x80);
  int64_t l;
  EXPECT_FALSE(Reader{absl::MakeConstSpan(eleven)}.ReadVarlong(&l).ok());
}

TEST(ReaderTest, TruncatedVarintIsOutOfRange) {
  const std::vector<uint8_t> in = {0x80, 0x80};
  uint32_t u;
  EXPECT_EQ(Reader{absl::MakeConstSpan(in)}.ReadUnsignedVarint(&u).code(),
            absl::StatusCode::kOutOfRange);
}

TEST(ReaderTest, StringsInBothEncodingsAndNull) {
  const std::vector<uint8_t> in = {0, 2, 'h', 'i', 0x03, 'h', 'i', 0xff, 0xff, 0x00, 0x01};
  Reader r{absl::MakeConstSpan(in)};
  std::string s;
  std::optional<std::string> n;
  ASSERT_TRUE(r.ReadString(false, &s).ok());
  EXPECT_EQ(s, "hi");
  ASSERT_TRUE(r.ReadString(true, &s).ok());
  EXPECT_EQ(s, "hi");
  ASSERT_TRUE(r.ReadNullableString(false, true, &n).ok());
  EXPECT_EQ(n, std::nullopt);
  ASSERT_TRUE(r.ReadNullableString(true, true, &n).ok());
  EXPECT_EQ(n, std::nullopt);
  ASSERT_TRUE(r.ReadNullableString(true, true, &n).ok());
  EXPECT_EQ(n, std::string());
}

TEST(ReaderTest, NullWhereNotNullableIsAnError) {
  const std::vector<uint8_t> in = {0xff, 0xff};
  std::string s;
  absl::Status status = Reader{absl::MakeConstSpan(in)}.ReadString(false, &s);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("null"));
}

TEST(ReaderTest, NegativeLengthsBelowMinusOneAreRejected) {
  const std::vector<uint8_t> in = {0xff, 0xfe};
  std::optional<std::string> s;
  EXPECT_EQ(Reader{absl::MakeConstSpan(in)}.ReadNullableString(false, true, &s).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ReaderTest, CompactLengthBeyondInt32IsRejected) {
  Writer w;
  w.WriteUnsignedVarint(0x80000001u);
  std::vector<uint8_t> b;
  EXPECT_EQ(Reader(w.data()).ReadBytes(true, &b).code(), absl::StatusCode::kInvalidArgument);
  int32_t n;
  EXPECT_EQ(Reader(w.data()).ReadArrayLength(true, false, &n).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ReaderTest, HugeArrayLengthIsRejectedBeforeAllocating) {
  const std::vector<uint8_t> in = {0x7f, 0xff, 0xff, 0xff, 1, 2, 3};
  int32_t n;
  absl::Status status = Reader{absl::MakeConstSpan(in)}.ReadArrayLength(false, false, &n);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("3 remaining bytes"));
}

TEST(ReaderTest, NullArrays) {
  const std::vector<uint8_t> in = {0xff, 0xff, 0xff, 0xff, 0x00};
  Reader r{absl::MakeConstSpan(in)};
  int32_t n;
  ASSERT_TRUE(r.ReadArrayLength(false, true, &n).ok());
  EXPECT_EQ(n, -1);
  ASSERT_TRUE(r.ReadArrayLength(true, true, &n).ok());
  EXPECT_EQ(n, -1);
  const std::vector<uint8_t> compact_null = {0x00};
  EXPECT_FALSE(Reader{absl::MakeConstSpan(compact_null)}.ReadArrayLength(true, false, &n).ok());
}

TEST(ReaderTest, RecordsAreAViewIntoTheInput) {
  const std::vector<uint8_t> in = {0, 0, 0, 3, 9, 8, 7, 0xff, 0xff, 0xff, 0xff};
  Reader r{absl::MakeConstSpan(in)};
  RecordsView records;
  ASSERT_TRUE(r.ReadRecords(false, &records).ok());
  EXPECT_EQ(records.data(), in.data() + 4);
  EXPECT_THAT(records, ElementsAre(9, 8, 7));
  std::optional<RecordsView> null_records;
  ASSERT_TRUE(r.ReadNullableRecords(false, true, &null_records).ok());
  EXPECT_FALSE(null_records.has_value());
}

TEST(ReaderTest, UuidBoolAndFloat) {
  std::vector<uint8_t> in(16);
  for (int i = 0; i < 16; ++i) in[i] = static_cast<uint8_t>(0xa0 + i);
  in.push_back(2);  // any non-zero byte is true
  for (uint8_t b : {0x3f, 0xf0, 0, 0, 0, 0, 0, 0}) in.push_back(b);
  Reader r{absl::MakeConstSpan(in)};
  Uuid id;
  bool flag;
  double d;
  ASSERT_TRUE(r.ReadUuid(&id).ok());
  EXPECT_EQ(id.bytes[15], 0xaf);
  ASSERT_TRUE(r.ReadBool(&flag).ok());
  EXPECT_TRUE(flag);
  ASSERT_TRUE(r.ReadFloat64(&d).ok());
  EXPECT_EQ(d, 1.0);
}

TEST(ReaderTest, TruncationNamesMessageVersionAndPath) {
  const std::vector<uint8_t> in = {0, 17, 'a', 'b', 'c', 'd'};
  Reader r{absl::MakeConstSpan(in)};
  r.BeginMessage("MetadataResponse", 12);
  r.Field("Brokers");
  r.Index(3);
  r.Enter();
  std::string host;
  absl::Status status = r.Field("Host").ReadString(false, &host);
  EXPECT_EQ(status.code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(status.message(),
            "MetadataResponse v12: truncated at Brokers[3].Host (need 17 bytes, have 4)");
}

TEST(ReaderTest, EveryPrimitiveReportsTruncation) {
  const std::vector<uint8_t> empty;
  Reader r{absl::MakeConstSpan(empty)};
  int8_t i8;
  int16_t i16;
  int32_t i32;
  int64_t i64;
  double d;
  bool b;
  Uuid u;
  std::string s;
  std::vector<uint8_t> bytes;
  EXPECT_FALSE(r.ReadInt8(&i8).ok());
  EXPECT_FALSE(r.ReadInt16(&i16).ok());
  EXPECT_FALSE(r.ReadInt32(&i32).ok());
  EXPECT_FALSE(r.ReadInt64(&i64).ok());
  EXPECT_FALSE(r.ReadFloat64(&d).ok());
  EXPECT_FALSE(r.ReadBool(&b).ok());
  EXPECT_FALSE(r.ReadUuid(&u).ok());
  EXPECT_FALSE(r.ReadString(true, &s).ok());
  EXPECT_FALSE(r.ReadBytes(false, &bytes).ok());
  EXPECT_FALSE(r.Skip(1).ok());
}

// Unknown tags must survive a decode/encode cycle byte for byte, in order,
// interleaved with known ones.
TEST(ReaderTest, UnknownTaggedFieldsRoundTripByteForByte) {
  // clang-format off: one line per tagged field.
  const std::vector<uint8_t> in = {
      3,                    // three fields
      1, 2, 0xde, 0xad,     // tag 1 (unknown), 2 bytes
      2, 4, 0, 0, 0, 42,    // tag 2 (known int32)
      200, 1, 1, 0x77,      // tag 200 (unknown, two-byte tag varint), 1 byte
  };
  // clang-format on
  Reader r{absl::MakeConstSpan(in)};
  std::vector<RawTaggedField> unknown;
  int32_t known_value = 0;
  ASSERT_TRUE(r.ReadTaggedFields(
                   [&](uint32_t tag, bool* handled) -> absl::Status {
                     if (tag != 2) return absl::OkStatus();
                     *handled = true;
                     return r.ReadInt32(&known_value);
                   },
                   &unknown)
                  .ok());
  EXPECT_EQ(known_value, 42);
  ASSERT_EQ(unknown.size(), 2u);
  EXPECT_EQ(unknown[0], (RawTaggedField{1, {0xde, 0xad}}));
  EXPECT_EQ(unknown[1], (RawTaggedField{200, {0x77}}));

  Writer w;
  w.WriteUnsignedVarint(3);
  size_t next = w.WriteUnknownTaggedFields(unknown, 0, 2);
  const size_t mark = w.BeginTaggedField(2);
  w.WriteInt32(known_value);
  w.EndTaggedField(mark);
  w.WriteUnknownTaggedFields(unknown, next, uint64_t{1} << 32);
  EXPECT_EQ(std::vector<uint8_t>(w.data().begin(), w.data().end()), in);
}

TEST(ReaderTest, KnownTaggedFieldMustConsumeExactlyItsSize) {
  const std::vector<uint8_t> in = {1, 0, 3, 0, 0, 0};
  Reader r{absl::MakeConstSpan(in)};
  std::vector<RawTaggedField> unknown;
  absl::Status status = r.ReadTaggedFields(
      [&](uint32_t, bool* handled) -> absl::Status {
        *handled = true;
        int16_t v;
        return r.ReadInt16(&v);
      },
      &unknown);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("left 1 of its 3 bytes unread"));
}

TEST(ReaderTest, KnownTaggedFieldCannotReadPastItsSize) {
  const std::vector<uint8_t> in = {1, 0, 1, 0, 0, 0, 0};
  Reader r{absl::MakeConstSpan(in)};
  std::vector<RawTaggedField> unknown;
  absl::Status status = r.ReadTaggedFields(
      [&](uint32_t, bool* handled) -> absl::Status {
        *handled = true;
        int32_t v;
        return r.ReadInt32(&v);
      },
      &unknown);
  EXPECT_EQ(status.code(), absl::StatusCode::kOutOfRange);
}

TEST(ReaderTest, TaggedSectionWithTruncatedFieldFails) {
  const std::vector<uint8_t> in = {1, 7, 5, 1, 2};
  Reader r{absl::MakeConstSpan(in)};
  std::vector<RawTaggedField> unknown;
  EXPECT_EQ(r.ReadTaggedFields([](uint32_t, bool*) { return absl::OkStatus(); }, &unknown).code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(unknown.empty());
  Reader skipper{absl::MakeConstSpan(in)};
  EXPECT_FALSE(skipper.SkipTaggedFields().ok());
}

TEST(ReaderTest, ImplausibleTaggedFieldCountIsRejected) {
  const std::vector<uint8_t> in = {0xff, 0xff, 0xff, 0xff, 0x0f};
  Reader r{absl::MakeConstSpan(in)};
  std::vector<RawTaggedField> unknown;
  EXPECT_EQ(r.ReadTaggedFields([](uint32_t, bool*) { return absl::OkStatus(); }, &unknown).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kgw::kafka
