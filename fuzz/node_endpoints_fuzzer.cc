// Differential libFuzzer target for the NodeEndpoints fast path: the
// allocation-free walk and the full decoder must agree on every Produce v10+
// and Fetch v16+ response body: both accept it or both reject it, and the walk
// finds NodeEndpoints exactly when the full decode has the tagged field.
// The streaming ResponseWalk, fed the same Fetch body in pieces as a
// frame, must reach the top-level tagged fields wherever the skim finds them
// (it checks less inside tagged fields, so it may accept more).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <vector>

#include "common/kafka/response_walk.h"
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

// Walks `body` framed as a response (size prefix, correlation id, no header
// tags) in pieces of `piece` bytes; returns where the tail starts in the
// body, or -1 when the walk fails or never reaches it.
int64_t WalkToTail(int16_t version, absl::Span<const uint8_t> body, size_t piece) {
  constexpr size_t kHead = 4 + 4 + 1;
  std::vector<uint8_t> frame(kHead, 0);
  frame.insert(frame.end(), body.begin(), body.end());
  kgw::kafka::ResponseWalk walk(kgw::kafka::FetchResponse::kApiKey, version, frame.size());
  size_t given = 0;
  size_t passed = 0;
  while (!walk.at_tail() && given < frame.size()) {
    given = std::min(frame.size(), given + piece);
    auto n = walk.Advance(absl::MakeConstSpan(frame).subspan(passed, given - passed));
    if (!n.ok()) return -1;
    passed += *n;
    if (passed > frame.size() || passed != walk.position()) std::abort();
  }
  if (!walk.at_tail()) return -1;
  if (walk.tail_size() != frame.size() - passed) std::abort();
  return static_cast<int64_t>(passed - kHead);
}

void CheckWalk(uint8_t selector, absl::Span<const uint8_t> body) {
  constexpr int kFirst = 16;
  constexpr int kVersions = kgw::kafka::FetchResponse::kMaxVersion - kFirst + 1;
  const auto version = static_cast<int16_t>(kFirst + selector % kVersions);
  const int64_t tail = WalkToTail(version, body, 1 + (selector >> 2) % 31);
  auto skimmed = kgw::kafka::FindNodeEndpoints(kgw::kafka::FetchResponse::kApiKey, version, body);
  if (skimmed.ok() && tail != static_cast<int64_t>(skimmed->tagged_fields_offset)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  absl::Span<const uint8_t> body(data + 1, size - 1);
  if (data[0] & 0x80) {
    Check<kgw::kafka::FetchResponse>(16, data[0], body);
    CheckWalk(data[0], body);
  } else {
    Check<kgw::kafka::ProduceResponse>(10, data[0], body);
  }
  return 0;
}
