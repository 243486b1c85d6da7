// Streaming through large responses whose broker addresses come last.
//
// A Fetch response from v16 on may end with the KIP-951 NodeEndpoints (in
// its top-level tagged fields), and every ShareFetch response ends with a
// NodeEndpoints array: broker addresses a gateway must rewrite, after all of
// the records. Assembling each response whole just to reach its last bytes
// costs as much memory as the client's fetch.max.bytes (50 MiB by default)
// per connection. ResponseWalk instead follows the response's structure as
// its bytes arrive, so that everything before that tail (the records, nearly
// all of the bytes) can be forwarded at once; only the tail is held and,
// since the frame's size has already gone out, rewritten within the same
// number of bytes (ResizeTaggedSection).
//
// The layouts walked are declared as small tables in response_walk.cc, one
// per message, checked against the versions the codec knows by a
// static_assert: a codec that learns a newer version fails to build until
// its layout has been looked at. Property tests hold each layout to the
// generated codec on random responses.
//
// Not thread-safe; one walk per response, used by the thread that reads it.
#ifndef KGW_COMMON_KAFKA_RESPONSE_WALK_H_
#define KGW_COMMON_KAFKA_RESPONSE_WALK_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace kgw::kafka {

class ResponseWalk {
 public:
  // Whether responses to `api_key` at `version` can be walked: Fetch v16+
  // and ShareFetch.
  static bool Walks(int16_t api_key, int16_t version);

  // A walk over one response frame of `frame_bytes` bytes, counted from and
  // including its size prefix, to a request of `api_key` at `version`
  // (Walks(api_key, version)).
  ResponseWalk(int16_t api_key, int16_t version, size_t frame_bytes);

  // `bytes` continue the frame from where the walk stands (bytes an earlier
  // call passed are not given again). Returns how many of them the walk
  // passed: they may go on to the client. The rest must be given again,
  // followed by more. Fails, naming the field, when the bytes cannot be a
  // response of this version or overrun the frame.
  absl::StatusOr<size_t> Advance(absl::Span<const uint8_t> bytes);

  // Bytes just ahead that the walk passes without looking at them (the rest
  // of a records value or of an unknown tagged field): they may go on to the
  // client without being given to Advance. 0 when the walk must see the
  // next bytes.
  size_t opaque_ahead() const { return phase_ == Phase::kSkipping ? skip_left_ : 0; }
  // `n` of those bytes (at most opaque_ahead()) went on unseen.
  void PassedUnseen(size_t n);

  // The walk stands at the tail that ends the frame: the last tail_size()
  // bytes (Fetch: the top-level tagged fields; ShareFetch: NodeEndpoints
  // and the top-level tagged fields).
  bool at_tail() const { return at_tail_; }
  size_t tail_size() const { return frame_bytes_ - position_; }
  // Bytes passed so far, the size prefix included.
  size_t position() const { return position_; }
  int16_t api_key() const { return api_key_; }
  int16_t version() const { return version_; }

  // One step of a layout (response_walk.cc).
  struct Op;

 private:
  // Where the walk is inside a tagged-field section or a length-prefixed
  // value.
  enum class Phase : uint8_t { kStart, kTag, kTagSize, kSkipping };
  struct Level {
    const Op* ops;
    uint16_t pc;
    uint32_t elements_left;  // after the one being walked
  };
  static constexpr int kMaxDepth = 4;

  absl::Status Fail(const char* what, const char* field) const;
  // The op at hand is done: on to the next.
  void Next() {
    ++levels_[depth_ - 1].pc;
    phase_ = Phase::kStart;
  }

  int16_t api_key_;
  int16_t version_;
  size_t frame_bytes_;
  size_t position_ = 0;
  bool at_tail_ = false;
  Phase phase_ = Phase::kStart;
  size_t skip_left_ = 0;
  uint32_t tags_left_ = 0;
  int depth_ = 1;
  Level levels_[kMaxDepth] = {};
};

// A tagged-field section (its field count and fields) re-encoded to exactly
// `size` bytes: the field `tag` takes `value` (is removed when `value` is
// nullopt), every other field is kept as it is, and the bytes left over
// become fields of tag `filler_tag`, which readers skip as unknown. Fails
// when the section does not parse or the result cannot be `size` bytes (the
// fields are longer, or one byte short of it).
absl::StatusOr<std::vector<uint8_t>> ResizeTaggedSection(
    absl::Span<const uint8_t> section, uint32_t tag,
    std::optional<absl::Span<const uint8_t>> value, uint32_t filler_tag, size_t size);

// The value of field `tag` in a tagged-field section; nullopt when absent.
absl::StatusOr<std::optional<absl::Span<const uint8_t>>> FindTaggedField(
    absl::Span<const uint8_t> section, uint32_t tag);

}  // namespace kgw::kafka

#endif  // KGW_COMMON_KAFKA_RESPONSE_WALK_H_
