#include "common/kafka/response_walk.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/kafka/messages/fetch.h"
#include "common/kafka/messages/share_fetch.h"
#include "common/kafka/wire/reader.h"
#include "common/kafka/wire/writer.h"
#include "common/status/status_macros.h"

namespace kgw::kafka {

struct ResponseWalk::Op {
  enum Kind : uint8_t {
    kFixed,  // `bytes` bytes of fixed-size fields
    kBytes,  // compact (nullable) bytes, string or records: length + 1, then the bytes
    kTags,   // a tagged-field section
    kArray,  // compact array of `element`, which ends with kEnd
    kEnd,    // the end of an array element
    kTail,   // where the tail starts
  };
  Kind kind;
  const char* name;
  uint16_t bytes = 0;
  const Op* element = nullptr;
  bool nullable = false;
  int16_t first_version = 0;  // the field exists from this version on
};

namespace {

using Op = ResponseWalk::Op;

constexpr Op Fixed(uint16_t bytes, const char* name, int16_t first_version = 0) {
  return {.kind = Op::kFixed, .name = name, .bytes = bytes, .first_version = first_version};
}
constexpr Op Bytes(const char* name) { return {.kind = Op::kBytes, .name = name}; }
constexpr Op Tags(const char* name) { return {.kind = Op::kTags, .name = name}; }
constexpr Op Array(const Op* element, const char* name, bool nullable = false) {
  return {.kind = Op::kArray, .name = name, .element = element, .nullable = nullable};
}
constexpr Op End() { return {.kind = Op::kEnd, .name = "end"}; }
constexpr Op Tail(const char* name) { return {.kind = Op::kTail, .name = name}; }

// Fetch v16-v18 (FetchResponse.json): the versions agree field for field.
constexpr int16_t kFirstFetch = 16;
constexpr int16_t kLastFetch = 18;
static_assert(FetchResponse::kMaxVersion == kLastFetch,
              "check the Fetch layout below against the new version, then raise kLastFetch");
constexpr Op kFetchAborted[] = {Fixed(8 + 8, "AbortedTransactions"),
                                Tags("AbortedTransactions"), End()};
constexpr Op kFetchPartition[] = {
    Fixed(4 + 2 + 8 + 8 + 8, "PartitionIndex to LogStartOffset"),
    Array(kFetchAborted, "AbortedTransactions", /*nullable=*/true),
    Fixed(4, "PreferredReadReplica"),
    Bytes("Records"),
    Tags("Partitions"),
    End()};
constexpr Op kFetchTopic[] = {Fixed(16, "TopicId"), Array(kFetchPartition, "Partitions"),
                              Tags("Responses"), End()};
constexpr Op kFetch[] = {Fixed(4 + 4, "the size and CorrelationId"),
                         Tags("the header"),
                         Fixed(4 + 2 + 4, "ThrottleTimeMs, ErrorCode, SessionId"),
                         Array(kFetchTopic, "Responses"),
                         Tail("the top-level tagged fields")};

// ShareFetch v1-v2 (ShareFetchResponse.json).
constexpr int16_t kLastShareFetch = 2;
static_assert(ShareFetchResponse::kMaxVersion == kLastShareFetch,
              "check the ShareFetch layout below against the new version, then raise "
              "kLastShareFetch");
constexpr Op kShareAcquired[] = {Fixed(8 + 8 + 2, "AcquiredRecords"), Tags("AcquiredRecords"),
                                 End()};
constexpr Op kSharePartition[] = {Fixed(4 + 2, "PartitionIndex, ErrorCode"),
                                  Bytes("ErrorMessage"),
                                  Fixed(2, "AcknowledgeErrorCode"),
                                  Bytes("AcknowledgeErrorMessage"),
                                  Fixed(4 + 4, "CurrentLeader"),
                                  Tags("CurrentLeader"),
                                  Bytes("Records"),
                                  Array(kShareAcquired, "AcquiredRecords"),
                                  Tags("Partitions"),
                                  End()};
constexpr Op kShareTopic[] = {Fixed(16, "TopicId"), Array(kSharePartition, "Partitions"),
                              Tags("Responses"), End()};
constexpr Op kShareFetch[] = {Fixed(4 + 4, "the size and CorrelationId"),
                              Tags("the header"),
                              Fixed(4 + 2, "ThrottleTimeMs, ErrorCode"),
                              Bytes("ErrorMessage"),
                              Fixed(4, "AcquisitionLockTimeoutMs", /*first_version=*/1),
                              Array(kShareTopic, "Responses"),
                              Tail("NodeEndpoints")};

// An unsigned varint at the front of `b`: its length, or 0 when `b` ends
// inside it.
absl::StatusOr<size_t> PeekUnsignedVarint(absl::Span<const uint8_t> b, uint32_t* value) {
  uint32_t v = 0;
  for (size_t i = 0; i < 5; ++i) {
    if (i == b.size()) return 0;
    if (i == 4 && b[i] > 0x0f) break;
    v |= uint32_t{b[i] & 0x7fu} << (7 * i);
    if ((b[i] & 0x80) == 0) {
      *value = v;
      return i + 1;
    }
  }
  return absl::DataLossError("an unsigned varint does not fit 32 bits");
}

size_t UnsignedVarintSize(uint32_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

struct RawField {
  uint32_t tag;
  absl::Span<const uint8_t> value;
};

absl::StatusOr<std::vector<RawField>> ParseSection(absl::Span<const uint8_t> section) {
  Reader r(section);
  std::vector<RawField> fields;
  // Every field is "known" here: the reader, limited to its bytes, is read
  // to their end and the field kept as a view.
  KGW_RETURN_IF_ERROR(r.ReadTaggedFields(
      [&](uint32_t tag, bool* handled) {
        fields.push_back({tag, section.subspan(r.position(), r.remaining())});
        *handled = true;
        return r.Skip(r.remaining());
      },
      nullptr));
  if (r.remaining() != 0) {
    return absl::DataLossError(absl::StrCat(r.remaining(), " bytes after the last tagged field"));
  }
  return fields;
}

// The value size that makes a field of tag `tag` exactly `total` bytes long,
// if one does (some totals fall between two lengths of the size varint).
std::optional<uint32_t> FillerValueSize(uint32_t tag, size_t total) {
  const size_t head = UnsignedVarintSize(tag);
  for (size_t size_bytes = 1; size_bytes <= 3; ++size_bytes) {
    if (total < head + size_bytes) return std::nullopt;
    const auto value = static_cast<uint32_t>(total - head - size_bytes);
    if (UnsignedVarintSize(value) == size_bytes) return value;
  }
  return std::nullopt;
}

// The value sizes of filler fields that make up exactly `bytes`; empty when
// none can (a single byte).
std::vector<uint32_t> Fillers(uint32_t tag, size_t bytes) {
  constexpr size_t kLargestField = 16 * 1024;
  const size_t smallest = UnsignedVarintSize(tag) + 1;  // an empty value
  std::vector<uint32_t> values;
  while (bytes > 0) {
    size_t take = std::min(bytes, kLargestField);
    std::optional<uint32_t> value;
    for (; take >= smallest; --take) {
      const size_t rest = bytes - take;
      if (rest != 0 && rest < smallest) continue;
      if ((value = FillerValueSize(tag, take))) break;
    }
    if (!value) return {};
    values.push_back(*value);
    bytes -= take;
  }
  return values;
}

}  // namespace

bool ResponseWalk::Walks(int16_t api_key, int16_t version) {
  if (api_key == FetchResponse::kApiKey) return version >= kFirstFetch && version <= kLastFetch;
  if (api_key == ShareFetchResponse::kApiKey) {
    return version >= ShareFetchResponse::kMinVersion && version <= kLastShareFetch;
  }
  return false;
}

ResponseWalk::ResponseWalk(int16_t api_key, int16_t version, size_t frame_bytes)
    : api_key_(api_key), version_(version), frame_bytes_(frame_bytes) {
  levels_[0] = {api_key == ShareFetchResponse::kApiKey ? kShareFetch : kFetch, 0, 0};
}

absl::Status ResponseWalk::Fail(const char* what, const char* field) const {
  const char* message =
      api_key_ == ShareFetchResponse::kApiKey ? "ShareFetchResponse" : "FetchResponse";
  return absl::DataLossError(absl::StrCat(message, " v", version_, ": ", what, " ", field,
                                          " at byte ", position_, " of a ", frame_bytes_,
                                          "-byte frame"));
}

void ResponseWalk::PassedUnseen(size_t n) {
  n = std::min(n, opaque_ahead());
  position_ += n;
  skip_left_ -= n;
  if (n == 0 || skip_left_ > 0) return;
  // As Advance does at the end of a skip.
  const Level& level = levels_[depth_ - 1];
  if (level.ops[level.pc].kind == Op::kTags && --tags_left_ > 0) {
    phase_ = Phase::kTag;
  } else {
    Next();
  }
}

absl::StatusOr<size_t> ResponseWalk::Advance(absl::Span<const uint8_t> bytes) {
  size_t at = 0;
  while (!at_tail_) {
    const absl::Span<const uint8_t> b = bytes.subspan(at);
    Level& level = levels_[depth_ - 1];
    const Op& op = level.ops[level.pc];
    if (phase_ == Phase::kSkipping) {
      const size_t n = std::min(b.size(), skip_left_);
      at += n;
      position_ += n;
      skip_left_ -= n;
      if (skip_left_ > 0) return at;
      if (op.kind == Op::kTags && --tags_left_ > 0) {
        phase_ = Phase::kTag;
      } else {
        Next();
      }
      continue;
    }
    if (op.first_version > version_) {
      Next();
      continue;
    }
    const size_t left_in_frame = frame_bytes_ - position_;
    switch (op.kind) {
      case Op::kTail:
        if (left_in_frame == 0) return Fail("the frame ends before", op.name);
        at_tail_ = true;
        return at;
      case Op::kEnd:
        if (level.elements_left > 0) {
          --level.elements_left;
          level.pc = 0;
        } else {
          --depth_;
          Next();
        }
        continue;
      case Op::kFixed:
        if (op.bytes > left_in_frame) return Fail("the frame ends inside", op.name);
        if (b.size() < op.bytes) return at;
        at += op.bytes;
        position_ += op.bytes;
        Next();
        continue;
      case Op::kBytes:
      case Op::kTags:
      case Op::kArray:
        break;
    }
    // Each of the others goes on with an unsigned varint.
    uint32_t n = 0;
    absl::StatusOr<size_t> used = PeekUnsignedVarint(b, &n);
    if (!used.ok()) return Fail("a varint longer than 32 bits in", op.name);
    if (*used == 0) {
      if (b.size() >= left_in_frame) return Fail("the frame ends inside", op.name);
      return at;
    }
    if (*used > left_in_frame) return Fail("the frame ends inside", op.name);
    at += *used;
    position_ += *used;
    size_t skip = 0;
    if (op.kind == Op::kBytes) {  // length + 1; 0 is null
      if (n <= 1) {
        Next();
        continue;
      }
      skip = n - 1;
    } else if (op.kind == Op::kArray) {  // length + 1; 0 is null
      if (n == 0 && !op.nullable) return Fail("a null", op.name);
      if (n <= 1) {
        Next();
        continue;
      }
      if (depth_ == kMaxDepth) return Fail("nesting too deep at", op.name);
      levels_[depth_++] = {op.element, 0, n - 2};
      phase_ = Phase::kStart;
      continue;
    } else if (phase_ == Phase::kStart) {  // a tagged-field section: its count
      tags_left_ = n;
      if (n == 0) Next();
      else phase_ = Phase::kTag;
      continue;
    } else if (phase_ == Phase::kTag) {
      phase_ = Phase::kTagSize;
      continue;
    } else {  // kTagSize
      if (n == 0) {
        if (--tags_left_ > 0) phase_ = Phase::kTag;
        else Next();
        continue;
      }
      skip = n;
    }
    if (skip > frame_bytes_ - position_) return Fail("the frame is too short for", op.name);
    skip_left_ = skip;
    phase_ = Phase::kSkipping;
  }
  return at;
}

absl::StatusOr<std::optional<absl::Span<const uint8_t>>> FindTaggedField(
    absl::Span<const uint8_t> section, uint32_t tag) {
  KGW_ASSIGN_OR_RETURN(std::vector<RawField> fields, ParseSection(section));
  for (const RawField& f : fields) {
    if (f.tag == tag) return f.value;
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<uint8_t>> ResizeTaggedSection(
    absl::Span<const uint8_t> section, uint32_t tag,
    std::optional<absl::Span<const uint8_t>> value, uint32_t filler_tag, size_t size) {
  KGW_ASSIGN_OR_RETURN(std::vector<RawField> fields, ParseSection(section));
  Writer body;
  uint32_t count = 0;
  bool placed = !value.has_value();
  auto write = [&](uint32_t t, absl::Span<const uint8_t> v) {
    body.WriteUnsignedVarint(t);
    body.WriteUnsignedVarint(static_cast<uint32_t>(v.size()));
    body.WriteRaw(v);
    ++count;
  };
  for (const RawField& f : fields) {
    if (!placed && f.tag >= tag) {
      write(tag, *value);
      placed = true;
    }
    if (f.tag != tag) write(f.tag, f.value);
  }
  if (!placed) write(tag, *value);
  // The fillers add to the count, whose varint may then grow: settle both.
  for (size_t count_bytes = UnsignedVarintSize(count); count_bytes <= 5; ++count_bytes) {
    if (count_bytes + body.size() > size) break;
    const size_t rest = size - count_bytes - body.size();
    std::vector<uint32_t> fillers = Fillers(filler_tag, rest);
    if (rest > 0 && fillers.empty()) continue;
    const auto total = static_cast<uint32_t>(count + fillers.size());
    if (UnsignedVarintSize(total) != count_bytes) continue;
    Writer out;
    out.WriteUnsignedVarint(total);
    out.WriteRaw(body.data());
    for (uint32_t filler : fillers) {
      out.WriteUnsignedVarint(filler_tag);
      out.WriteUnsignedVarint(filler);
      out.WriteRaw(std::vector<uint8_t>(filler, 0));
    }
    if (out.size() == size) return out.Release();
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("the tagged fields do not fit in ", size, " bytes"));
}

}  // namespace kgw::kafka
