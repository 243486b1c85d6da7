#include "common/kafka/fetch_walk.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/kafka/messages/fetch.h"
#include "common/kafka/wire/reader.h"
#include "common/kafka/wire/writer.h"
#include "common/status/status_macros.h"

namespace kgw::kafka {
namespace {

// The walk follows the layout of these versions; see the header.
constexpr int16_t kFirstWalked = 16;
constexpr int16_t kLastWalked = 18;
static_assert(FetchResponse::kMaxVersion == kLastWalked,
              "check FetchResponseWalk against the new Fetch response version, then raise "
              "kLastWalked");

// Fixed-size runs of fields.
constexpr size_t kFrameStartBytes = 4 + 4;  // size prefix, correlation id
constexpr size_t kTopFieldsBytes = 4 + 2 + 4;
constexpr size_t kTopicIdBytes = 16;
constexpr size_t kPartitionFieldsBytes = 4 + 2 + 8 + 8 + 8;
constexpr size_t kAbortedBytes = 8 + 8;
constexpr size_t kPreferredReplicaBytes = 4;

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
  uint32_t count;
  KGW_RETURN_IF_ERROR(r.Field("_tagged_fields").ReadUnsignedVarint(&count));
  std::vector<RawField> fields;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t tag;
    uint32_t size;
    KGW_RETURN_IF_ERROR(r.ReadUnsignedVarint(&tag));
    KGW_RETURN_IF_ERROR(r.ReadUnsignedVarint(&size));
    const size_t at = r.position();
    KGW_RETURN_IF_ERROR(r.Skip(size));
    fields.push_back({tag, section.subspan(at, size)});
  }
  if (r.remaining() != 0) {
    return absl::DataLossError(
        absl::StrCat(r.remaining(), " bytes after the last tagged field"));
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

// The sizes of filler fields that make up exactly `bytes`; empty when none
// can (a single byte).
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

bool FetchResponseWalk::Walks(int16_t version) {
  return version >= kFirstWalked && version <= kLastWalked;
}

FetchResponseWalk::FetchResponseWalk(int16_t version, size_t frame_bytes)
    : version_(version), frame_bytes_(frame_bytes) {}

absl::Status FetchResponseWalk::Fail(const char* what) const {
  return absl::DataLossError(absl::StrCat("FetchResponse v", version_, ": ", what, " at byte ",
                                          position_, " of a ", frame_bytes_, "-byte frame"));
}

void FetchResponseWalk::StartTags(Section section) {
  section_ = section;
  step_ = Step::kTagCount;
}

void FetchResponseWalk::EndTags() {
  switch (section_) {
    case Section::kHeader:
      step_ = Step::kTopFields;
      return;
    case Section::kAborted:
      NextAborted();
      return;
    case Section::kPartition:
      NextPartition();
      return;
    case Section::kTopic:
      NextTopic();
      return;
  }
}

void FetchResponseWalk::NextTopic() {
  if (topics_left_ == 0) {
    step_ = Step::kTail;
    return;
  }
  --topics_left_;
  step_ = Step::kTopicId;
}

void FetchResponseWalk::NextPartition() {
  if (partitions_left_ == 0) {
    StartTags(Section::kTopic);
    return;
  }
  --partitions_left_;
  step_ = Step::kPartitionFields;
}

void FetchResponseWalk::NextAborted() {
  if (aborted_left_ == 0) {
    step_ = Step::kPreferredReplica;
    return;
  }
  --aborted_left_;
  step_ = Step::kAborted;
}

absl::StatusOr<size_t> FetchResponseWalk::Advance(absl::Span<const uint8_t> bytes) {
  size_t at = 0;
  while (step_ != Step::kTail) {
    const absl::Span<const uint8_t> b = bytes.subspan(at);
    const size_t left_in_frame = frame_bytes_ - position_;
    size_t used = 0;
    uint32_t n = 0;
    switch (step_) {
      case Step::kFrameStart:
        used = kFrameStartBytes;
        break;
      case Step::kTopFields:
        used = kTopFieldsBytes;
        break;
      case Step::kTopicId:
        used = kTopicIdBytes;
        break;
      case Step::kPartitionFields:
        used = kPartitionFieldsBytes;
        break;
      case Step::kAborted:
        used = kAbortedBytes;
        break;
      case Step::kPreferredReplica:
        used = kPreferredReplicaBytes;
        break;
      case Step::kRecords:
      case Step::kTagValue:
        used = std::min(b.size(), skip_left_);
        if (used == 0) return at;
        skip_left_ -= used;
        break;
      case Step::kTopicCount:
      case Step::kPartitionCount:
      case Step::kAbortedCount:
      case Step::kRecordsLength:
      case Step::kTagCount:
      case Step::kTag:
      case Step::kTagSize: {
        absl::StatusOr<size_t> length = PeekUnsignedVarint(b, &n);
        if (!length.ok()) return Fail("an unsigned varint longer than 32 bits");
        if (*length == 0) {
          if (b.size() >= left_in_frame) return Fail("the frame ends inside a varint");
          return at;
        }
        used = *length;
        break;
      }
      case Step::kTail:
        break;
    }
    if (used > left_in_frame) return Fail("the frame ends inside a field");
    if (used > b.size()) return at;
    at += used;
    position_ += used;
    switch (step_) {
      case Step::kFrameStart:
        StartTags(Section::kHeader);
        break;
      case Step::kTopFields:
        step_ = Step::kTopicCount;
        break;
      case Step::kTopicCount:
        if (n == 0) return Fail("Responses is null");
        topics_left_ = n - 1;
        NextTopic();
        break;
      case Step::kTopicId:
        step_ = Step::kPartitionCount;
        break;
      case Step::kPartitionCount:
        if (n == 0) return Fail("Partitions is null");
        partitions_left_ = n - 1;
        NextPartition();
        break;
      case Step::kPartitionFields:
        step_ = Step::kAbortedCount;
        break;
      case Step::kAbortedCount:
        aborted_left_ = n == 0 ? 0 : n - 1;  // 0: null
        NextAborted();
        break;
      case Step::kAborted:
        StartTags(Section::kAborted);
        break;
      case Step::kPreferredReplica:
        step_ = Step::kRecordsLength;
        break;
      case Step::kRecordsLength:
        if (n <= 1) {  // null or empty
          StartTags(Section::kPartition);
          break;
        }
        skip_left_ = n - 1;
        if (skip_left_ > frame_bytes_ - position_) return Fail("Records overrun the frame");
        step_ = Step::kRecords;
        break;
      case Step::kRecords:
        if (skip_left_ == 0) StartTags(Section::kPartition);
        break;
      case Step::kTagCount:
        tags_left_ = n;
        if (tags_left_ == 0) EndTags();
        else step_ = Step::kTag;
        break;
      case Step::kTag:
        step_ = Step::kTagSize;
        break;
      case Step::kTagSize:
        skip_left_ = n;
        if (skip_left_ > frame_bytes_ - position_) return Fail("a tagged field overruns the frame");
        if (skip_left_ > 0) {
          step_ = Step::kTagValue;
          break;
        }
        [[fallthrough]];
      case Step::kTagValue:
        if (skip_left_ > 0) break;
        if (--tags_left_ == 0) EndTags();
        else step_ = Step::kTag;
        break;
      case Step::kTail:
        break;
    }
    if (step_ == Step::kTail && position_ == frame_bytes_) {
      return Fail("the frame ends before its tagged fields");
    }
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

absl::StatusOr<std::vector<uint8_t>> ResizeTaggedField(
    absl::Span<const uint8_t> section, uint32_t tag,
    std::optional<absl::Span<const uint8_t>> value, uint32_t filler_tag) {
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
    if (count_bytes + body.size() > section.size()) break;
    const size_t rest = section.size() - count_bytes - body.size();
    std::vector<uint32_t> fillers = Fillers(filler_tag, rest);
    if (rest > 0 && fillers.empty()) continue;
    const auto total = static_cast<uint32_t>(count + fillers.size());
    if (UnsignedVarintSize(total) != count_bytes) continue;
    Writer out;
    out.WriteUnsignedVarint(total);
    out.WriteRaw(body.data());
    for (uint32_t size : fillers) {
      out.WriteUnsignedVarint(filler_tag);
      out.WriteUnsignedVarint(size);
      out.WriteRaw(std::vector<uint8_t>(size, 0));
    }
    if (out.size() == section.size()) return out.Release();
  }
  return absl::ResourceExhaustedError(absl::StrCat(
      "a tagged field of ", value ? value->size() : 0, " bytes does not fit the ",
      section.size(), "-byte tagged-field section in place"));
}

}  // namespace kgw::kafka
