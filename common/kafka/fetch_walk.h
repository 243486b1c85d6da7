// Streaming through large Fetch responses that may carry NodeEndpoints.
//
// From v16 on, a Fetch response may end with the KIP-951 NodeEndpoints
// (broker addresses a gateway must rewrite), in the top-level tagged fields
// after every partition's records. Assembling each response whole just to
// look at its last bytes costs as much memory as the client's
// fetch.max.bytes (50 MiB by default) per connection. FetchResponseWalk
// instead follows the response's structure as its bytes arrive, so that
// everything up to the top-level tagged fields (the records, nearly all of
// the bytes) can be forwarded at once; only that short tail is held and,
// since the frame's size has already gone out, rewritten within the same
// number of bytes (ResizeTaggedField).
//
// The walk is written by hand for the layout of versions 16 to 18, which
// agree field for field; a property test holds it to the generated
// FetchResponse::SkipToTaggedFields on random responses. A codec that learns
// a newer version fails the static_assert in fetch_walk.cc until the walk has
// been checked against it.
//
// Not thread-safe; one walk per response, used by the thread that reads it.
#ifndef KGW_COMMON_KAFKA_FETCH_WALK_H_
#define KGW_COMMON_KAFKA_FETCH_WALK_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace kgw::kafka {

class FetchResponseWalk {
 public:
  // Whether Fetch responses of `version` can be walked (and may carry
  // NodeEndpoints).
  static bool Walks(int16_t version);

  // A walk over one response frame of `frame_bytes` bytes, counted from and
  // including its size prefix, to a request of `version` (Walks(version)).
  FetchResponseWalk(int16_t version, size_t frame_bytes);

  // `bytes` continue the frame from where the walk stands (bytes an earlier
  // call passed are not given again). Returns how many of them the walk
  // passed: they may go on to the client. The rest must be given again,
  // followed by more. Fails, naming the field, when the bytes cannot be a
  // Fetch response of this version or overrun the frame.
  absl::StatusOr<size_t> Advance(absl::Span<const uint8_t> bytes);

  // The walk stands at the top-level tagged fields, which end the frame:
  // the last tail_size() bytes.
  bool at_tail() const { return step_ == Step::kTail; }
  size_t tail_size() const { return frame_bytes_ - position_; }
  // Bytes passed so far, the size prefix included.
  size_t position() const { return position_; }
  int16_t version() const { return version_; }

 private:
  enum class Step : uint8_t {
    kFrameStart,      // size prefix and correlation id
    kTopFields,       // throttle time, error code, session id
    kTopicCount,
    kTopicId,
    kPartitionCount,
    kPartitionFields, // index, error code, high watermark, LSO, log start offset
    kAbortedCount,
    kAborted,         // producer id, first offset
    kPreferredReplica,
    kRecordsLength,
    kRecords,         // skip_left_ bytes of them
    kTagCount,
    kTag,
    kTagSize,
    kTagValue,        // skip_left_ bytes of it
    kTail,
  };
  // Where a tagged-field section belongs, which says what follows it.
  enum class Section : uint8_t { kHeader, kAborted, kPartition, kTopic };

  absl::Status Fail(const char* what) const;
  void StartTags(Section section);
  void EndTags();
  void NextTopic();
  void NextPartition();
  void NextAborted();

  int16_t version_;
  size_t frame_bytes_;
  size_t position_ = 0;
  Step step_ = Step::kFrameStart;
  Section section_ = Section::kHeader;
  size_t skip_left_ = 0;
  uint32_t topics_left_ = 0;
  uint32_t partitions_left_ = 0;
  uint32_t aborted_left_ = 0;
  uint32_t tags_left_ = 0;
};

// A tagged-field section (its field count and fields) re-encoded to exactly
// `section.size()` bytes: the field `tag` takes `value` (is removed when
// `value` is nullopt), every other field is kept as it is, and the bytes
// left over become fields of tag `filler_tag`, which readers skip as unknown.
// Fails when the section does not parse or the result cannot have the same
// size (the new value is too long, or one byte short of it).
absl::StatusOr<std::vector<uint8_t>> ResizeTaggedField(
    absl::Span<const uint8_t> section, uint32_t tag,
    std::optional<absl::Span<const uint8_t>> value, uint32_t filler_tag);

// The value of field `tag` in a tagged-field section; nullopt when absent.
absl::StatusOr<std::optional<absl::Span<const uint8_t>>> FindTaggedField(
    absl::Span<const uint8_t> section, uint32_t tag);

}  // namespace kgw::kafka

#endif  // KGW_COMMON_KAFKA_FETCH_WALK_H_
