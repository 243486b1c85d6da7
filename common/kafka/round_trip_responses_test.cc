// Round-trip property tests for every response message and every valid version.
#include "common/kafka/messages/all_messages.h"
#include "common/kafka/round_trip_check.h"
#include "gtest/gtest.h"

namespace kgw::kafka::testing {
namespace {

template <typename T>
class ResponseRoundTripTest : public ::testing::Test {};

using ResponseTypes = ::testing::Types<KGW_KAFKA_RESPONSE_TYPES>;
TYPED_TEST_SUITE(ResponseRoundTripTest, ResponseTypes, MessageName);

// One test per type: each TYPED_TEST is instantiated for every message, so
// fewer of them keeps this file quick to compile.
TYPED_TEST(ResponseRoundTripTest, RoundTripsTruncationsAndVersionsInEveryVersion) {
  CheckRoundTrips<TypeParam>();
  CheckTruncationsFail<TypeParam>();
  CheckVersionRangeAndRegistry<TypeParam>();
}

}  // namespace
}  // namespace kgw::kafka::testing
