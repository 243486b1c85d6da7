// One direction of a session: the bytes read from one socket (the source)
// and those queued for the other (the destination). A session has two:
// requests (client to broker) and responses (broker to client).
//
// The pipe holds bytes and knows nothing of Kafka: the session frames what
// arrives, decides what each frame is and calls Forward (whole frames,
// possibly rewritten) or StartCutThrough (a large frame passed on as it
// arrives).
//
// Memory follows what arrived, never what a peer declared: the read buffer
// grows only when the last read nearly filled it, and then at most doubles,
// so a client that announces a 100 MiB frame and sends six bytes costs the
// initial buffer. With a BufferBudget, every byte the pipe allocates (its read
// buffer and its queues) is accounted there, and ReadSpace refuses to grow
// past what the budget grants.
//
// Not thread-safe: a pipe belongs to its session's worker thread.
#ifndef KGW_AGENT_PIPE_H_
#define KGW_AGENT_PIPE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/types/span.h"
#include "agent/buffer_budget.h"

namespace kgw::agent {

class Pipe {
 public:
  // The buffer allocated when bytes first arrive, and the least room a read
  // is given.
  static constexpr size_t kInitialBuffer = 16 * 1024;
  static constexpr size_t kMinReadSpace = 4096;
  // Buffers that grew past this for one large frame are released once empty.
  static constexpr size_t kKeepBufferBelow = 1 << 20;

  // `budget` may be null (nothing is accounted); it must outlive the pipe.
  explicit Pipe(BufferBudget* budget = nullptr) : budget_(budget) {}
  ~Pipe();
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  // --- What arrived from the source and is not yet handled.
  absl::Span<const uint8_t> buffered() const {
    return absl::MakeConstSpan(in_.get() + begin_, end_ - begin_);
  }
  size_t buffered_size() const { return end_ - begin_; }
  // Room to read into. `want` is what the frame being assembled still needs;
  // the room given is at least min(want, max(kMinReadSpace, twice the last
  // read)), never more than the buffer already had unless the last read
  // nearly filled it. Empty when growing was refused by the budget: the
  // caller should stop reading and try again later.
  absl::Span<uint8_t> ReadSpace(size_t want);
  // `n` bytes were read into the span ReadSpace returned.
  void Received(size_t n);
  // The last read filled all the room it was given: the socket may well
  // have more waiting, so the buffer is worth keeping for the next read.
  bool last_read_filled() const { return last_read_ > 0 && last_read_ == last_room_; }
  // The first `n` buffered bytes are handled (forwarded or dropped).
  void Skip(size_t n);
  // With nothing buffered, frees the read buffer: an idle connection holds
  // none. Returns whether it did.
  bool ReleaseIfEmpty();
  // With nothing buffered, frees a read buffer that grew past
  // kKeepBufferBelow for one large frame.
  void TrimIfEmpty();

  // --- What is queued for the destination.
  void Forward(absl::Span<const uint8_t> bytes);
  // Bytes queued or being written.
  size_t queued() const { return pending_.size() + writing_.size(); }
  bool write_busy() const { return write_busy_; }
  // Takes what is queued for one write and returns it; empty when a write is
  // already under way or nothing is queued. The span stays valid until
  // EndWrite.
  absl::Span<const uint8_t> BeginWrite();
  // The write BeginWrite started has completed (or failed); returns its size.
  size_t EndWrite();

  // --- Cut-through: the next `frame_bytes` bytes from the source (counted
  // from the head of the buffer, size prefix included) go to the
  // destination as they arrive, without being assembled.
  void StartCutThrough(size_t frame_bytes) { cut_through_left_ = frame_bytes; }
  // Bytes of the frame being cut through not yet moved; 0 when none is.
  size_t cut_through_left() const { return cut_through_left_; }
  // Moves what has arrived of that frame, at most `most` bytes, to the
  // queue; false when nothing had.
  bool MoveCutThrough(size_t most = SIZE_MAX);
  // `n` bytes of the frame being cut through went to the destination
  // another way (spliced from socket to socket), never through this pipe.
  void CutThroughElsewhere(size_t n) { cut_through_left_ -= std::min(n, cut_through_left_); }
  // Ends the frame being cut through: its rest, all buffered, is dropped and
  // `bytes` are queued in its place.
  void ReplaceCutThroughRest(absl::Span<const uint8_t> bytes);

  // --- The source socket.
  bool reading = false;         // a read (or a wait for readability) is under way
  bool source_closed = false;   // the source reached its end or failed

  // Bytes allocated by the buffer and the queues.
  size_t footprint() const {
    return in_size_ + pending_.capacity() + writing_.capacity();
  }
  // Bytes of the budget this pipe holds (its footprint, once settled).
  size_t held() const { return held_; }

 private:
  // Brings what the budget holds for this pipe in line with its footprint.
  void Settle();

  BufferBudget* const budget_;
  // The read buffer, in_size_ bytes. Not zero-filled: the socket writes it
  // before anything reads it.
  std::unique_ptr<uint8_t[]> in_;
  size_t in_size_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
  size_t last_read_ = 0;
  size_t last_room_ = 0;  // what ReadSpace last offered
  std::vector<uint8_t> pending_;
  std::vector<uint8_t> writing_;
  bool write_busy_ = false;
  size_t cut_through_left_ = 0;
  size_t held_ = 0;
};

}  // namespace kgw::agent

#endif  // KGW_AGENT_PIPE_H_
