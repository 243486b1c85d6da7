// Differential libFuzzer target for the NodeEndpoints fast path: the
// allocation-free walk and the full decoder must agree on every Produce v10+
// and Fetch v16+ response body: both accept it or both reject it, and the walk
// finds NodeEndpoints exactly when the full decode has the tagged field.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/kafka/messages/all_messages.h"
#include "common/kafka/node_endpoints.h"
#include "common/kafka/wire/reader.h"

namespace {

template <typename Response>
void Check(int16_t min_version, uint8_t selector, absl::Span<const uint8_t> body) {
  const int range = Response::kMaxVersion - min_version + 1;
  const auto version = static_cast<int16_t>(min_version + selector % range);
  auto walked = kgw::kafka::FindNodeEndpoints(Response::kApiKey, version, body);
  kgw::kafka::Reader reader(body);
  Response full;
  const bool decoded = full.Decode(reader, version).ok() && reader.remaining() == 0;
  if (walked.ok() != decoded) std::abort();
  if (!decoded) return;
  // An empty NodeEndpoints array (one byte on the wire) decodes to the
  // default, as if the field were absent; any non-empty one must be seen.
  const bool non_empty_on_wire = walked->present && walked->field_end - walked->value_offset > 1;
  if (non_empty_on_wire != !full.node_endpoints.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  absl::Span<const uint8_t> body(data + 1, size - 1);
  if (data[0] & 0x80) {
    Check<kgw::kafka::FetchResponse>(16, data[0], body);
  } else {
    Check<kgw::kafka::ProduceResponse>(10, data[0], body);
  }
  return 0;
}
