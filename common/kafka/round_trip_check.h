// The per-message property checks behind the round-trip tests, shared by the
// request and response test files (split so the two compile in parallel).
#ifndef KGW_COMMON_KAFKA_ROUND_TRIP_CHECK_H_
#define KGW_COMMON_KAFKA_ROUND_TRIP_CHECK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/kafka/messages/api_registry.h"
#include "common/kafka/messages/random_fill.h"
#include "common/kafka/testing/random_source.h"
#include "common/kafka/wire/reader.h"
#include "common/kafka/wire/writer.h"
#include "gtest/gtest.h"

namespace kgw::kafka::testing {

inline constexpr int kCasesPerVersion = 150;

inline std::vector<uint8_t> Bytes(const Writer& w) { return {w.data().begin(), w.data().end()}; }

// For every valid version of T: random values encode, decode to an equal
// struct consuming every byte, and re-encode to the same bytes.
template <typename T>
void CheckRoundTrips() {
  for (int16_t version = T::kMinVersion; version <= T::kMaxVersion; ++version) {
    // Guards against a vacuous property: random values must reach the wire,
    // and unknown tags must be exercised wherever tagged fields exist.
    Writer defaults;
    T().Encode(defaults, version);
    bool saw_non_default = defaults.size() == 0;  // a version with no fields at all
    bool saw_unknown_tags = false;
    for (int i = 0; i < kCasesPerVersion; ++i) {
      SCOPED_TRACE(::testing::Message() << T::kName << " v" << version << " case " << i);
      RandomSource rnd(static_cast<uint64_t>(T::kApiKey) * 1'000'003 + version * 7919 + i);
      T original;
      FillRandom(&original, version, rnd);
      Writer first;
      original.Encode(first, version);

      T decoded;
      Reader r(first.data());
      absl::Status status = decoded.Decode(r, version);
      ASSERT_TRUE(status.ok()) << status;
      EXPECT_EQ(r.remaining(), 0u);
      EXPECT_TRUE(decoded == original);
      saw_non_default |= Bytes(first) != Bytes(defaults);
      saw_unknown_tags |= !decoded.unknown_tagged_fields.empty();

      Writer second;
      decoded.Encode(second, version);
      ASSERT_EQ(Bytes(second), Bytes(first));
    }
    EXPECT_TRUE(saw_non_default) << T::kName << " v" << version;
    EXPECT_EQ(saw_unknown_tags,
              T::kFirstFlexibleVersion >= 0 && version >= T::kFirstFlexibleVersion)
        << T::kName << " v" << version;
  }
}

// Every strict prefix of a valid encoding fails to decode, with an error
// that names the message.
template <typename T>
void CheckTruncationsFail() {
  const std::string prefix = std::string(T::kName) + " v";
  for (int16_t version = T::kMinVersion; version <= T::kMaxVersion; ++version) {
    RandomSource rnd(version);
    T original;
    FillRandom(&original, version, rnd);
    Writer w;
    original.Encode(w, version);
    for (size_t size = 0; size < w.size(); ++size) {
      T decoded;
      Reader r(w.data().subspan(0, size));
      absl::Status status = decoded.Decode(r, version);
      ASSERT_FALSE(status.ok()) << T::kName << " v" << version << " size " << size;
      EXPECT_EQ(std::string(status.message()).substr(0, prefix.size()), prefix) << status;
    }
  }
}

template <typename T>
void CheckVersionRangeAndRegistry() {
  const std::vector<uint8_t> bytes(64, 0);
  T m;
  Reader r{absl::MakeConstSpan(bytes)};
  EXPECT_EQ(m.Decode(r, T::kMaxVersion + 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m.Decode(r, -1).code(), absl::StatusCode::kInvalidArgument);

  const ApiInfo* api = FindApi(T::kApiKey);
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->min_version, T::kMinVersion);
  EXPECT_EQ(api->max_version, T::kMaxVersion);
  EXPECT_EQ(api->first_flexible_version, T::kFirstFlexibleVersion);
  EXPECT_TRUE(std::string(T::kName).starts_with(std::string(api->name)));
}

class MessageName {
 public:
  template <typename T>
  static std::string GetName(int) {
    return std::string(T::kName);
  }
};

}  // namespace kgw::kafka::testing

#endif  // KGW_COMMON_KAFKA_ROUND_TRIP_CHECK_H_
