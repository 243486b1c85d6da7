// RandomSource: deterministic random values for codec property tests.
//
// Generated FillRandom functions (common/kafka/messages/random_fill.h) call
// it for every field that exists in the version under test. Values favour
// the edges (0, -1, minimum, maximum) where encodings change. Records views
// handed out point into buffers the RandomSource owns, so a filled message
// must not outlive the RandomSource that filled it.
#ifndef KGW_COMMON_KAFKA_TESTING_RANDOM_SOURCE_H_
#define KGW_COMMON_KAFKA_TESTING_RANDOM_SOURCE_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/kafka/wire/types.h"

namespace kgw::kafka::testing {

class RandomSource {
 public:
  explicit RandomSource(uint64_t seed) : rng_(seed) {}

  bool OneIn(int n) { return Below(n) == 0; }
  size_t ArrayLength() { return Below(4); }

  void Fill(bool* v) { *v = OneIn(2); }
  void Fill(int8_t* v) { *v = Integer<int8_t>(); }
  void Fill(int16_t* v) { *v = Integer<int16_t>(); }
  void Fill(int32_t* v) { *v = Integer<int32_t>(); }
  void Fill(int64_t* v) { *v = Integer<int64_t>(); }
  void Fill(uint16_t* v) { *v = Integer<uint16_t>(); }
  void Fill(uint32_t* v) { *v = Integer<uint32_t>(); }
  void Fill(double* v) { *v = std::uniform_real_distribution<double>(-1e9, 1e9)(rng_); }
  void Fill(Uuid* v) {
    for (uint8_t& b : v->bytes) b = static_cast<uint8_t>(rng_());
  }
  void Fill(std::string* v) {
    v->resize(Below(12));
    for (char& c : *v) c = static_cast<char>(rng_());
  }
  void Fill(std::vector<uint8_t>* v) {
    v->resize(Below(12));
    for (uint8_t& b : *v) b = static_cast<uint8_t>(rng_());
  }
  void Fill(RecordsView* v) {
    std::vector<uint8_t>& buffer = records_.emplace_back();
    Fill(&buffer);
    *v = buffer;
  }

  // Adds up to two tagged fields with tags outside `known`, in ascending
  // order, as a newer peer would send them.
  void FillUnknownTags(std::vector<RawTaggedField>* fields, std::initializer_list<uint32_t> known) {
    uint32_t tag = static_cast<uint32_t>(Below(3));
    for (size_t n = Below(3); n > 0; --n) {
      while (std::find(known.begin(), known.end(), tag) != known.end()) ++tag;
      RawTaggedField& field = fields->emplace_back();
      field.tag = tag;
      Fill(&field.data);
      tag += 1 + static_cast<uint32_t>(Below(200));
    }
  }

 private:
  size_t Below(size_t n) { return static_cast<size_t>(rng_() % n); }

  template <typename T>
  T Integer() {
    switch (Below(6)) {
      case 0:
        return 0;
      case 1:
        return static_cast<T>(-1);
      case 2:
        return std::numeric_limits<T>::min();
      case 3:
        return std::numeric_limits<T>::max();
      default:
        return static_cast<T>(rng_());
    }
  }

  std::mt19937_64 rng_;
  std::deque<std::vector<uint8_t>> records_;
};

}  // namespace kgw::kafka::testing

#endif  // KGW_COMMON_KAFKA_TESTING_RANDOM_SOURCE_H_
