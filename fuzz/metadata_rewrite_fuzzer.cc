// Differential libFuzzer target for RewriteMetadataBrokers: on every Metadata
// response body it must accept exactly what the full decoder accepts, and
// what it writes (here with every broker moved) must decode to the full
// decoder's result with the same change applied.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "common/kafka/messages/metadata.h"
#include "common/kafka/metadata_rewrite.h"
#include "common/kafka/wire/reader.h"

namespace {

using kgw::kafka::MetadataResponse;

void Move(MetadataResponse::MetadataResponseBroker& b) {
  b.host = "agent.gateway";
  b.port = 6969;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int range = MetadataResponse::kMaxVersion - MetadataResponse::kMinVersion + 1;
  const auto version = static_cast<int16_t>(MetadataResponse::kMinVersion + data[0] % range);
  absl::Span<const uint8_t> body(data + 1, size - 1);

  auto fast = kgw::kafka::RewriteMetadataBrokers(body, version, Move);
  kgw::kafka::Reader reader(body);
  MetadataResponse full;
  const bool decoded = full.Decode(reader, version).ok() && reader.remaining() == 0;
  if (fast.ok() != decoded) std::abort();
  if (!decoded) return 0;

  for (auto& b : full.brokers) Move(b);
  kgw::kafka::Reader again(absl::MakeConstSpan(*fast));
  MetadataResponse rewritten;
  if (!rewritten.Decode(again, version).ok() || again.remaining() != 0) std::abort();
  if (!(rewritten == full)) std::abort();
  return 0;
}
