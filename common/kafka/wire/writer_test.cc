#include "common/kafka/wire/writer.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kgw::kafka {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

std::vector<uint8_t> Bytes(const Writer& w) { return {w.data().begin(), w.data().end()}; }

TEST(WriterTest, FixedWidthIntegersAreBigEndian) {
  Writer w;
  w.WriteInt8(-2);
  w.WriteInt16(0x0102);
  w.WriteInt32(-1);
  w.WriteInt64(0x0102030405060708);
  w.WriteUint16(0xfffe);
  w.WriteUint32(0x80000001u);
  EXPECT_THAT(Bytes(w),
              ElementsAre(0xfe, 0x01, 0x02, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05,
                          0x06, 0x07, 0x08, 0xff, 0xfe, 0x80, 0x00, 0x00, 0x01));
}

TEST(WriterTest, Float64IsIeeeBigEndian) {
  Writer w;
  w.WriteFloat64(1.0);
  EXPECT_THAT(Bytes(w), ElementsAre(0x3f, 0xf0, 0, 0, 0, 0, 0, 0));
}

TEST(WriterTest, UnsignedVarintGoldenBytes) {
  struct Case {
    uint32_t value;
    std::vector<uint8_t> bytes;
  };
  const Case cases[] = {
      {0, {0x00}},
      {1, {0x01}},
      {127, {0x7f}},
      {128, {0x80, 0x01}},
      {300, {0xac, 0x02}},
      {16383, {0xff, 0x7f}},
      {16384, {0x80, 0x80, 0x01}},
      {0xffffffffu, {0xff, 0xff, 0xff, 0xff, 0x0f}},
  };
  for (const Case& c : cases) {
    Writer w;
    w.WriteUnsignedVarint(c.value);
    EXPECT_THAT(Bytes(w), ElementsAreArray(c.bytes)) << c.value;
  }
}

TEST(WriterTest, VarintUsesZigzag) {
  struct Case {
    int32_t value;
    std::vector<uint8_t> bytes;
  };
  const Case cases[] = {
      {0, {0x00}},
      {-1, {0x01}},
      {1, {0x02}},
      {-2, {0x03}},
      {63, {0x7e}},
      {-64, {0x7f}},
      {64, {0x80, 0x01}},
      {std::numeric_limits<int32_t>::max(), {0xfe, 0xff, 0xff, 0xff, 0x0f}},
      {std::numeric_limits<int32_t>::min(), {0xff, 0xff, 0xff, 0xff, 0x0f}},
  };
  for (const Case& c : cases) {
    Writer w;
    w.WriteVarint(c.value);
    EXPECT_THAT(Bytes(w), ElementsAreArray(c.bytes)) << c.value;
  }
}

TEST(WriterTest, VarlongUsesZigzagUpToTenBytes) {
  Writer w;
  w.WriteVarlong(std::numeric_limits<int64_t>::min());
  EXPECT_THAT(Bytes(w), ElementsAre(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01));
  Writer w2;
  w2.WriteVarlong(-3);
  EXPECT_THAT(Bytes(w2), ElementsAre(0x05));
}

TEST(WriterTest, ClassicAndCompactStrings) {
  Writer w;
  w.WriteString(/*compact=*/false, "ab");
  w.WriteString(/*compact=*/true, "ab");
  w.WriteNullableString(/*compact=*/false, /*nullable=*/true, std::nullopt);
  w.WriteNullableString(/*compact=*/true, /*nullable=*/true, std::nullopt);
  w.WriteNullableString(/*compact=*/true, /*nullable=*/true, std::string());
  EXPECT_THAT(Bytes(w), ElementsAre(0x00, 0x02, 'a', 'b', 0x03, 'a', 'b', 0xff, 0xff, 0x00, 0x01));
}

TEST(WriterTest, NullWhereNotNullableIsWrittenEmpty) {
  Writer w;
  w.WriteNullableString(/*compact=*/false, /*nullable=*/false, std::nullopt);
  w.WriteNullableBytes(/*compact=*/true, /*nullable=*/false, std::nullopt);
  EXPECT_THAT(Bytes(w), ElementsAre(0x00, 0x00, 0x01));
}

TEST(WriterTest, BytesRecordsAndArrays) {
  const std::vector<uint8_t> payload = {7, 8};
  Writer w;
  w.WriteBytes(/*compact=*/false, payload);
  w.WriteNullableBytes(/*compact=*/false, /*nullable=*/true, std::nullopt);
  w.WriteNullableRecords(/*compact=*/true, /*nullable=*/true, RecordsView(payload));
  w.WriteArrayLength(/*compact=*/false, -1);
  w.WriteArrayLength(/*compact=*/true, -1);
  w.WriteArrayLength(/*compact=*/true, 2);
  EXPECT_THAT(Bytes(w), ElementsAre(0, 0, 0, 2, 7, 8, 0xff, 0xff, 0xff, 0xff, 0x03, 7, 8, 0xff,
                                    0xff, 0xff, 0xff, 0x00, 0x03));
}

TEST(WriterTest, UuidIsSixteenRawBytes) {
  Uuid id;
  for (int i = 0; i < 16; ++i) id.bytes[i] = static_cast<uint8_t>(i + 1);
  Writer w;
  w.WriteUuid(id);
  EXPECT_THAT(Bytes(w), ElementsAreArray(id.bytes));
}

TEST(WriterTest, TaggedFieldSizeIsInsertedAfterTheValue) {
  Writer w;
  const size_t mark = w.BeginTaggedField(5);
  for (int i = 0; i < 200; ++i) w.WriteInt8(1);
  w.EndTaggedField(mark);
  ASSERT_EQ(w.size(), 1u + 2u + 200u);
  EXPECT_EQ(w.data()[0], 5);
  EXPECT_EQ(w.data()[1], 0xc8);  // 200 as an unsigned varint: c8 01
  EXPECT_EQ(w.data()[2], 0x01);
  EXPECT_EQ(w.data()[3], 1);
}

TEST(WriterTest, UnknownTaggedFieldsAreWrittenBelowTheGivenTag) {
  const std::vector<RawTaggedField> unknown = {{1, {0xaa}}, {4, {}}, {9, {0xbb, 0xcc}}};
  Writer w;
  size_t next = w.WriteUnknownTaggedFields(unknown, 0, 4);
  EXPECT_EQ(next, 1u);
  next = w.WriteUnknownTaggedFields(unknown, next, uint64_t{1} << 32);
  EXPECT_EQ(next, 3u);
  EXPECT_THAT(Bytes(w), ElementsAre(1, 1, 0xaa, 4, 0, 9, 2, 0xbb, 0xcc));
}

TEST(WriterTest, PatchInt32OverwritesInPlace) {
  Writer w;
  w.WriteInt32(0);
  w.WriteInt8(9);
  w.PatchInt32(0, 0x01020304);
  EXPECT_THAT(Bytes(w), ElementsAre(1, 2, 3, 4, 9));
}

}  // namespace
}  // namespace kgw::kafka
