#include "common/kafka/errors.h"

#include <cstddef>
#include <cstdint>
#include <set>
#include <string_view>

#include "gtest/gtest.h"

namespace kgw::kafka {
namespace {

TEST(ErrorNameTest, KnownCodes) {
  EXPECT_EQ(ErrorName(-1), "UNKNOWN_SERVER_ERROR");
  EXPECT_EQ(ErrorName(0), "NONE");
  EXPECT_EQ(ErrorName(3), "UNKNOWN_TOPIC_OR_PARTITION");
  EXPECT_EQ(ErrorName(6), "NOT_LEADER_OR_FOLLOWER");
  EXPECT_EQ(ErrorName(10), "MESSAGE_TOO_LARGE");
  EXPECT_EQ(ErrorName(16), "NOT_COORDINATOR");
  EXPECT_EQ(ErrorName(18), "RECORD_LIST_TOO_LARGE");
  EXPECT_EQ(ErrorName(25), "UNKNOWN_MEMBER_ID");
  EXPECT_EQ(ErrorName(27), "REBALANCE_IN_PROGRESS");
  EXPECT_EQ(ErrorName(35), "UNSUPPORTED_VERSION");
  EXPECT_EQ(ErrorName(58), "SASL_AUTHENTICATION_FAILED");
  EXPECT_EQ(ErrorName(69), "GROUP_ID_NOT_FOUND");
  EXPECT_EQ(ErrorName(81), "GROUP_MAX_SIZE_REACHED");
  EXPECT_EQ(ErrorName(82), "FENCED_INSTANCE_ID");
  EXPECT_EQ(ErrorName(100), "UNKNOWN_TOPIC_ID");
  EXPECT_EQ(ErrorName(122), "SHARE_SESSION_NOT_FOUND");
  EXPECT_EQ(ErrorName(136), "CONTROLLER_ID_NOT_REGISTERED");
}

TEST(ErrorNameTest, UnknownCodesHaveNoName) {
  EXPECT_EQ(ErrorName(-2), "");
  EXPECT_EQ(ErrorName(137), "");
  EXPECT_EQ(ErrorName(1000), "");
  EXPECT_EQ(ErrorName(INT16_MIN), "");
  EXPECT_EQ(ErrorName(INT16_MAX), "");
  EXPECT_TRUE(ErrorName(-2).empty());
}

TEST(ErrorNameTest, TableIsSortedWithoutDuplicates) {
  const auto errors = KnownKafkaErrors();
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors.front().code, -1);
  std::set<int16_t> codes;
  std::set<std::string_view> names;
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i > 0) {
      EXPECT_LT(errors[i - 1].code, errors[i].code) << "at index " << i;
    }
    EXPECT_TRUE(codes.insert(errors[i].code).second) << "duplicate code " << errors[i].code;
    EXPECT_TRUE(names.insert(errors[i].name).second) << "duplicate name " << errors[i].name;
    EXPECT_FALSE(errors[i].name.empty()) << "code " << errors[i].code;
    EXPECT_EQ(ErrorName(errors[i].code), errors[i].name);
  }
}

TEST(ErrorNameTest, CoversEveryCodeUpToTheHighest) {
  // Kafka 4.4.0 defines every code from -1 to its highest, 136.
  const auto errors = KnownKafkaErrors();
  const int16_t highest = errors.back().code;
  EXPECT_EQ(highest, 136);
  for (int code = -1; code <= highest; ++code) {
    EXPECT_FALSE(ErrorName(static_cast<int16_t>(code)).empty()) << "code " << code;
  }
  EXPECT_EQ(errors.size(), static_cast<size_t>(highest + 2));
}

TEST(DescribeErrorTest, Format) {
  EXPECT_EQ(DescribeError(27), "REBALANCE_IN_PROGRESS (code 27)");
  EXPECT_EQ(DescribeError(0), "NONE (code 0)");
  EXPECT_EQ(DescribeError(-1), "UNKNOWN_SERVER_ERROR (code -1)");
  EXPECT_EQ(DescribeError(300), "unknown error code 300");
  EXPECT_EQ(DescribeError(-2), "unknown error code -2");
}

}  // namespace
}  // namespace kgw::kafka
