#include "common/config/program.h"

#include <sys/resource.h>

#include "gtest/gtest.h"

namespace kgw::config {
namespace {

TEST(ProgramTest, RaiseOpenFileLimitLiftsTheSoftLimitToTheHardOne) {
  rlimit before{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &before), 0);
  if (before.rlim_max != RLIM_INFINITY && before.rlim_max <= 256) {
    GTEST_SKIP() << "the hard limit (" << before.rlim_max << ") leaves nothing to raise";
  }
  rlimit low = before;
  low.rlim_cur = 256;  // the soft limit may always be lowered
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);

  RaiseOpenFileLimit();

  rlimit after{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &after), 0);
  EXPECT_EQ(after.rlim_cur, before.rlim_max);
  EXPECT_EQ(after.rlim_max, before.rlim_max);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &before), 0);
}

}  // namespace
}  // namespace kgw::config
