// Round-trip property tests for every request message and every valid version.
#include "common/kafka/messages/all_messages.h"
#include "common/kafka/round_trip_check.h"
#include "gtest/gtest.h"

namespace kgw::kafka::testing {
namespace {

template <typename T>
class RequestRoundTripTest : public ::testing::Test {};

using RequestTypes = ::testing::Types<KGW_KAFKA_REQUEST_TYPES>;
TYPED_TEST_SUITE(RequestRoundTripTest, RequestTypes, MessageName);

// One test per type: each TYPED_TEST is instantiated for every message, so
// fewer of them keeps this file quick to compile.
TYPED_TEST(RequestRoundTripTest, RoundTripsTruncationsAndVersionsInEveryVersion) {
  CheckRoundTrips<TypeParam>();
  CheckTruncationsFail<TypeParam>();
  CheckVersionRangeAndRegistry<TypeParam>();
}

}  // namespace
}  // namespace kgw::kafka::testing
