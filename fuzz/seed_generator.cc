// Writes seed inputs for the message fuzzers: valid encodings of randomly
// filled messages at every version, in the fuzzers' input layout (one
// version byte, then the body). Starting from valid messages lets a short
// fuzzing run reach deep into every decoder.
//
// Usage: kgw_fuzz_seeds OUT_DIR   (creates OUT_DIR/<MessageName>/seed-*)
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "common/kafka/messages/all_messages.h"
#include "common/kafka/messages/random_fill.h"
#include "common/kafka/testing/random_source.h"
#include "common/kafka/wire/writer.h"

namespace {

constexpr int kSeedsPerVersion = 4;

template <typename Message>
void WriteSeeds(const std::string& root) {
  const std::string dir = root + "/" + std::string(Message::kName);
  mkdir(dir.c_str(), 0755);
  kgw::kafka::testing::RandomSource rnd(42);
  for (int v = Message::kMinVersion; v <= Message::kMaxVersion; ++v) {
    for (int i = 0; i < kSeedsPerVersion; ++i) {
      Message m;
      kgw::kafka::testing::FillRandom(&m, static_cast<int16_t>(v), rnd);
      kgw::kafka::Writer w;
      w.WriteInt8(static_cast<int8_t>(v - Message::kMinVersion));
      m.Encode(w, static_cast<int16_t>(v));
      std::ofstream out(dir + "/seed-v" + std::to_string(v) + "-" + std::to_string(i),
                        std::ios::binary);
      out.write(reinterpret_cast<const char*>(w.data().data()),
                static_cast<std::streamsize>(w.size()));
    }
  }
}

template <typename... Messages>
void WriteAll(const std::string& root) {
  (WriteSeeds<Messages>(root), ...);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  mkdir(argv[1], 0755);
  WriteAll<KGW_KAFKA_ALL_MESSAGE_TYPES>(argv[1]);
  return 0;
}
