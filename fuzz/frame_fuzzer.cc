// libFuzzer target for the byte streams a gateway reads: frames (int32 size
// prefix); each frame as a request header of every version followed by the
// body of any request the codec supports, dispatched by api key as the agent
// does; and each frame as a response header of both versions.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <tuple>

#include "common/kafka/header.h"
#include "common/kafka/messages/all_messages.h"
#include "common/kafka/wire/reader.h"

namespace {

constexpr int32_t kMaxFrame = 1 << 20;

template <typename Message>
void DecodeIfMatches(int16_t api_key, int16_t version, absl::Span<const uint8_t> body) {
  if constexpr (Message::kIsRequest) {
    if (Message::kApiKey != api_key) return;
    kgw::kafka::Reader reader(body);
    Message m;
    (void)m.Decode(reader, version);
  }
}

template <typename... Messages>
void DecodeBody(int16_t api_key, int16_t version, absl::Span<const uint8_t> body) {
  (DecodeIfMatches<Messages>(api_key, version, body), ...);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::Span<const uint8_t> stream(data, size);
  while (true) {
    auto frame = kgw::kafka::NextFrame(stream, kMaxFrame);
    if (!frame.ok() || !frame->has_value()) return 0;
    absl::Span<const uint8_t> bytes = **frame;
    stream.remove_prefix(kgw::kafka::kFrameSizeBytes + bytes.size());

    for (int16_t response_header_version : {0, 1}) {
      kgw::kafka::Reader response_reader(bytes);
      kgw::kafka::ResponseHeader response_header;
      (void)response_header.Decode(response_reader, response_header_version);
    }

    kgw::kafka::Reader reader(bytes);
    kgw::kafka::RequestHeader header;
    int16_t header_version = -1;
    if (!kgw::kafka::DecodeRequestHeader(reader, &header, &header_version).ok()) continue;
    DecodeBody<KGW_KAFKA_ALL_MESSAGE_TYPES>(header.request_api_key, header.request_api_version,
                                            bytes.subspan(reader.position()));
  }
}
