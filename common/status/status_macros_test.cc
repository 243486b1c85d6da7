#include "common/status/status_macros.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kgw {
namespace {

absl::StatusOr<int> Half(int v) {
  if (v % 2 != 0) return absl::InvalidArgumentError("odd");
  return v / 2;
}

absl::StatusOr<int> Quarter(int v) {
  KGW_ASSIGN_OR_RETURN(int half, Half(v));
  KGW_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

absl::Status CheckEven(int v, int* calls) {
  ++*calls;
  return v % 2 == 0 ? absl::OkStatus() : absl::OutOfRangeError("not even");
}

absl::Status CheckBoth(int a, int b, int* calls) {
  KGW_RETURN_IF_ERROR(CheckEven(a, calls));
  KGW_RETURN_IF_ERROR(CheckEven(b, calls));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<std::string>> MakeName(bool ok) {
  if (!ok) return absl::NotFoundError("no name");
  return std::make_unique<std::string>("broker-1");
}

absl::StatusOr<std::string> UseMoveOnly(bool ok) {
  std::unique_ptr<std::string> name;
  KGW_ASSIGN_OR_RETURN(name, MakeName(ok));  // assigns an existing lvalue
  return *name;
}

TEST(StatusMacrosTest, AssignOrReturnPassesValuesThrough) { EXPECT_EQ(*Quarter(8), 2); }

TEST(StatusMacrosTest, AssignOrReturnStopsAtFirstErrorWithItsMessage) {
  absl::StatusOr<int> r = Quarter(6);  // 6 -> 3 -> odd
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "odd");
}

TEST(StatusMacrosTest, ReturnIfErrorEvaluatesOnceAndShortCircuits) {
  int calls = 0;
  EXPECT_TRUE(CheckBoth(2, 4, &calls).ok());
  EXPECT_EQ(calls, 2);
  calls = 0;
  absl::Status s = CheckBoth(1, 4, &calls);
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(calls, 1);
}

TEST(StatusMacrosTest, AssignOrReturnMovesMoveOnlyValuesIntoExistingVariables) {
  EXPECT_EQ(*UseMoveOnly(true), "broker-1");
  EXPECT_EQ(UseMoveOnly(false).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kgw
