// libFuzzer target for one generated Kafka message decoder, chosen at build
// time with -DKGW_FUZZ_MESSAGE=<MessageName>.
//
// Input: one byte choosing the version (modulo the message's version range),
// then the body. Properties checked on every input:
//   - Decode never crashes, leaks or hits undefined behaviour (ASan/UBSan);
//   - whatever Decode accepts, Encode writes back, and decoding that again
//     gives an equal message (the codec is its own inverse on what it accepts).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "common/kafka/messages/all_messages.h"
#include "common/kafka/wire/reader.h"
#include "common/kafka/wire/writer.h"

#ifndef KGW_FUZZ_MESSAGE
#error "build with -DKGW_FUZZ_MESSAGE=<MessageName>"
#endif

using Message = ::kgw::kafka::KGW_FUZZ_MESSAGE;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int range = Message::kMaxVersion - Message::kMinVersion + 1;
  const auto version = static_cast<int16_t>(Message::kMinVersion + data[0] % range);
  kgw::kafka::Reader reader(absl::MakeConstSpan(data + 1, size - 1));
  Message decoded;
  if (!decoded.Decode(reader, version).ok()) return 0;

  kgw::kafka::Writer writer;
  decoded.Encode(writer, version);
  std::vector<uint8_t> encoded(writer.data().begin(), writer.data().end());
  kgw::kafka::Reader again(absl::MakeConstSpan(encoded));
  Message redecoded;
  if (!redecoded.Decode(again, version).ok() || !(redecoded == decoded) ||
      again.remaining() != 0) {
    std::abort();  // the codec disagrees with itself
  }
  return 0;
}
