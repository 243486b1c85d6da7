#include "agent/pipe.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "glog/logging.h"

namespace kgw::agent {

Pipe::~Pipe() {
  if (budget_ != nullptr && held_ > 0) budget_->Release(held_);
}

absl::Span<uint8_t> Pipe::ReadSpace(size_t want) {
  const size_t target = std::max(kMinReadSpace, std::min(want, 2 * last_read_));
  if (in_size_ - end_ < target && begin_ > 0) {
    std::memmove(in_.get(), in_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (in_size_ - end_ < target) {
    // Grow only because the buffer is (nearly) full of bytes that arrived:
    // at least the target, at most double, never beyond what `want` needs.
    const size_t grown =
        in_size_ == 0
            ? std::max(kInitialBuffer, target)
            : std::max(end_ + target, std::min(2 * in_size_, end_ + std::max(want, target)));
    const size_t more = grown - in_size_;
    // The floor is judged on the read buffer alone: whatever its queue
    // holds, a connection can always read its initial buffer's worth, and
    // what it reads moves on, so no connection waits on itself.
    if (budget_ == nullptr || budget_->TryAcquire(more, in_size_)) {
      held_ += budget_ != nullptr ? more : 0;
      auto bigger = std::make_unique_for_overwrite<uint8_t[]>(grown);
      if (end_ > 0) std::memcpy(bigger.get(), in_.get(), end_);
      in_ = std::move(bigger);
      in_size_ = grown;
    }
  }
  last_room_ = in_size_ - end_;
  return absl::MakeSpan(in_.get() + end_, last_room_);
}

void Pipe::Received(size_t n) {
  end_ += n;
  last_read_ = n;
}

void Pipe::Skip(size_t n) {
  begin_ += n;
  if (begin_ == end_) begin_ = end_ = 0;
}

bool Pipe::ReleaseIfEmpty() {
  if (buffered_size() > 0) return false;
  in_.reset();
  in_size_ = 0;
  begin_ = end_ = 0;
  Settle();
  return true;
}

void Pipe::TrimIfEmpty() {
  if (in_size_ > kKeepBufferBelow) ReleaseIfEmpty();
}

void Pipe::Forward(absl::Span<const uint8_t> bytes) {
  pending_.insert(pending_.end(), bytes.begin(), bytes.end());
  Settle();
}

absl::Span<const uint8_t> Pipe::BeginWrite() {
  if (write_busy_ || pending_.empty()) return {};
  std::swap(pending_, writing_);
  write_busy_ = true;
  return absl::MakeConstSpan(writing_);
}

size_t Pipe::EndWrite() {
  const size_t n = writing_.size();
  write_busy_ = false;
  // A queue's memory is kept for the next write, unless the budget counts
  // it: then it goes back, so idle connections hold none of the budget.
  if (writing_.capacity() > (budget_ != nullptr ? kInitialBuffer : kKeepBufferBelow)) {
    std::vector<uint8_t>().swap(writing_);
  } else {
    writing_.clear();
  }
  Settle();
  return n;
}

bool Pipe::MoveCutThrough(size_t most) {
  const size_t n = std::min({buffered_size(), cut_through_left_, most});
  if (n == 0) return false;
  Forward(buffered().subspan(0, n));
  Skip(n);
  cut_through_left_ -= n;
  return true;
}

void Pipe::ReplaceCutThroughRest(absl::Span<const uint8_t> bytes) {
  DCHECK_GE(buffered_size(), cut_through_left_);
  Forward(bytes);
  Skip(cut_through_left_);
  cut_through_left_ = 0;
}

void Pipe::Settle() {
  if (budget_ == nullptr) return;
  const size_t now = footprint();
  if (now > held_) budget_->Charge(now - held_);
  if (now < held_) budget_->Release(held_ - now);
  held_ = now;
}

}  // namespace kgw::agent
