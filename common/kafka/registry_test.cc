#include "common/kafka/messages/api_registry.h"
#include "gtest/gtest.h"

namespace kgw::kafka {
namespace {

TEST(RegistryTest, ListsEveryApiOnceSortedByKey) {
  const absl::Span<const ApiInfo> apis = SupportedApis();
  ASSERT_EQ(apis.size(), 16u);
  for (size_t i = 1; i < apis.size(); ++i) EXPECT_LT(apis[i - 1].api_key, apis[i].api_key);
  EXPECT_EQ(FindApi(7), nullptr);  // ControlledShutdown: not in the codec
  ASSERT_NE(FindApi(3), nullptr);
  EXPECT_EQ(FindApi(3)->name, "Metadata");
  EXPECT_TRUE(FindApi(3)->IsFlexible(9));
  EXPECT_FALSE(FindApi(3)->IsFlexible(8));
  EXPECT_FALSE(FindApi(17)->IsFlexible(1));  // SaslHandshake: never flexible
}

}  // namespace
}  // namespace kgw::kafka
