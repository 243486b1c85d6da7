#include "common/net/crc32c.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace kgw::net {
namespace {

absl::Span<const uint8_t> Bytes(absl::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

TEST(Crc32cTest, MatchesTheStandardCheckValue) {
  EXPECT_EQ(Crc32c(Bytes("123456789")), 0xe3069283u);
  EXPECT_EQ(Crc32c({}), 0u);
}

// Test vectors from RFC 3720 (iSCSI), appendix B.4.
TEST(Crc32cTest, MatchesIscsiVectors) {
  EXPECT_EQ(Crc32c(std::vector<uint8_t>(32, 0x00)), 0x8a9136aau);
  EXPECT_EQ(Crc32c(std::vector<uint8_t>(32, 0xff)), 0x62a8ab43u);
  std::vector<uint8_t> ascending, descending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<uint8_t>(i));
    descending.push_back(static_cast<uint8_t>(31 - i));
  }
  EXPECT_EQ(Crc32c(ascending), 0x46dd794eu);
  EXPECT_EQ(Crc32c(descending), 0x113fdb5cu);
}

TEST(Crc32cTest, ExtendingEqualsChecksummingTheConcatenation) {
  const std::string text = "PROXY protocol v2 header with a checksum";
  for (size_t split = 0; split <= text.size(); ++split) {
    const absl::string_view all = text;
    EXPECT_EQ(ExtendCrc32c(Crc32c(Bytes(all.substr(0, split))), Bytes(all.substr(split))),
              Crc32c(Bytes(all)))
        << split;
  }
}

}  // namespace
}  // namespace kgw::net
