#include "agent/pipe.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace kgw::agent {
namespace {

// Reads `n` bytes of `value` into the pipe as a socket would: as much as the
// room it offers allows per read. Returns false if it offered none.
bool Arrive(Pipe& pipe, size_t n, size_t want, uint8_t value = 7) {
  while (n > 0) {
    absl::Span<uint8_t> room = pipe.ReadSpace(want);
    if (room.empty()) return false;
    const size_t take = std::min(n, room.size());
    std::memset(room.data(), value, take);
    pipe.Received(take);
    n -= take;
  }
  return true;
}

TEST(PipeTest, AnnouncedFrameSizeAllocatesNothing) {
  Pipe pipe;
  constexpr size_t kAnnounced = 100 << 20;
  // Six bytes of a frame that says it is 100 MiB long.
  ASSERT_TRUE(Arrive(pipe, 6, kAnnounced));
  EXPECT_EQ(pipe.buffered_size(), 6u);
  for (int i = 0; i < 10; ++i) ASSERT_FALSE(pipe.ReadSpace(kAnnounced).empty());
  EXPECT_EQ(pipe.footprint(), Pipe::kInitialBuffer);
}

TEST(PipeTest, BufferGrowsAsBytesArriveUpToTheWholeFrame) {
  Pipe pipe;
  constexpr size_t kFrame = 3 << 20;
  size_t arrived = 0;
  while (arrived < kFrame) {
    absl::Span<uint8_t> room = pipe.ReadSpace(kFrame - arrived);
    ASSERT_FALSE(room.empty());
    const size_t take = std::min(room.size(), kFrame - arrived);
    pipe.Received(take);
    arrived += take;
    // Never more than about twice what has arrived.
    EXPECT_LE(pipe.footprint(), std::max(Pipe::kInitialBuffer, 4 * arrived)) << arrived;
  }
  EXPECT_EQ(pipe.buffered_size(), kFrame);
  // Doubling: a few dozen reallocations, not one per read.
  EXPECT_LE(pipe.footprint(), 2 * kFrame);
}

TEST(PipeTest, SkippedBytesMakeRoomWithoutGrowing) {
  Pipe pipe;
  ASSERT_TRUE(Arrive(pipe, 10000, 10000));
  pipe.Skip(9000);
  ASSERT_TRUE(Arrive(pipe, 10000, 10000));
  EXPECT_EQ(pipe.buffered_size(), 11000u);
  EXPECT_EQ(pipe.footprint(), Pipe::kInitialBuffer);
}

TEST(PipeTest, IdleReleasesTheBufferAndLargeOnesAreTrimmed) {
  Pipe pipe;
  ASSERT_TRUE(Arrive(pipe, 100, 100));
  EXPECT_FALSE(pipe.ReleaseIfEmpty());  // bytes are still buffered
  pipe.Skip(100);
  EXPECT_TRUE(pipe.ReleaseIfEmpty());
  EXPECT_EQ(pipe.footprint(), 0u);

  ASSERT_TRUE(Arrive(pipe, 4 << 20, 4 << 20));
  pipe.TrimIfEmpty();
  EXPECT_GT(pipe.footprint(), Pipe::kKeepBufferBelow);  // still holds the frame
  pipe.Skip(4 << 20);
  pipe.TrimIfEmpty();
  EXPECT_EQ(pipe.footprint(), 0u);
}

// A read that fills all the room it had says more bytes are likely waiting:
// the session keeps the buffer and reads straight on. A shorter one says the
// socket was drained: the buffer may go while the connection waits.
TEST(PipeTest, OnlyAReadThatFilledItsRoomCountsAsStreaming) {
  Pipe pipe;
  EXPECT_FALSE(pipe.last_read_filled());
  absl::Span<uint8_t> room = pipe.ReadSpace(1 << 20);
  pipe.Received(room.size());
  EXPECT_TRUE(pipe.last_read_filled());
  pipe.Skip(pipe.buffered_size());
  room = pipe.ReadSpace(1 << 20);
  pipe.Received(room.size() - 1);
  EXPECT_FALSE(pipe.last_read_filled());
  // Bytes that are read are those that arrived, whatever the buffer held.
  pipe.Skip(pipe.buffered_size());
  ASSERT_TRUE(Arrive(pipe, 3000, 3000, 42));
  for (uint8_t b : pipe.buffered()) ASSERT_EQ(b, 42);
}

TEST(PipeTest, QueuedBytesAreWrittenInOrder) {
  Pipe pipe;
  const std::vector<uint8_t> a = {1, 2, 3};
  const std::vector<uint8_t> b = {4, 5};
  pipe.Forward(a);
  absl::Span<const uint8_t> first = pipe.BeginWrite();
  EXPECT_EQ(std::vector<uint8_t>(first.begin(), first.end()), a);
  EXPECT_TRUE(pipe.write_busy());
  pipe.Forward(b);  // queued behind the write under way
  EXPECT_TRUE(pipe.BeginWrite().empty());
  EXPECT_EQ(pipe.queued(), 5u);
  EXPECT_EQ(pipe.EndWrite(), 3u);
  absl::Span<const uint8_t> second = pipe.BeginWrite();
  EXPECT_EQ(std::vector<uint8_t>(second.begin(), second.end()), b);
  EXPECT_EQ(pipe.EndWrite(), 2u);
  EXPECT_EQ(pipe.queued(), 0u);
  EXPECT_TRUE(pipe.BeginWrite().empty());
}

TEST(PipeTest, CutThroughMovesOnlyTheFramesBytes) {
  Pipe pipe;
  ASSERT_TRUE(Arrive(pipe, 100, 100, 1));
  pipe.StartCutThrough(150);
  EXPECT_TRUE(pipe.MoveCutThrough());
  EXPECT_EQ(pipe.cut_through_left(), 50u);
  EXPECT_FALSE(pipe.MoveCutThrough());  // nothing more has arrived
  ASSERT_TRUE(Arrive(pipe, 80, 80, 2));  // the frame's last 50 bytes and 30 of the next
  EXPECT_TRUE(pipe.MoveCutThrough());
  EXPECT_EQ(pipe.cut_through_left(), 0u);
  EXPECT_EQ(pipe.queued(), 150u);
  EXPECT_EQ(pipe.buffered_size(), 30u);
}

TEST(PipeTest, BudgetRefusesGrowthButNotTheFloor) {
  BufferBudget budget(/*limit=*/64 * 1024, /*floor=*/Pipe::kInitialBuffer);
  Pipe hog(&budget);
  // Grows as far as the budget lets it.
  size_t arrived = 0;
  while (true) {
    absl::Span<uint8_t> room = hog.ReadSpace(1 << 20);
    if (room.empty()) break;
    hog.Received(room.size());
    arrived += room.size();
    ASSERT_LT(arrived, size_t{1} << 20) << "the budget never refused";
  }
  EXPECT_LE(budget.used(), budget.limit());
  EXPECT_EQ(static_cast<size_t>(budget.used()), hog.held());
  EXPECT_GT(budget.refusals(), 0u);
  // A new connection still gets its first buffer...
  Pipe other(&budget);
  ASSERT_TRUE(Arrive(other, 100, 100));
  // ...but not more while the budget is spent.
  ASSERT_TRUE(Arrive(other, Pipe::kInitialBuffer - 100, 1 << 20));
  EXPECT_TRUE(other.ReadSpace(1 << 20).empty());
  // The hog hands its bytes on and lets go of its buffer: the other grows.
  hog.Skip(hog.buffered_size());
  hog.ReleaseIfEmpty();
  EXPECT_FALSE(other.ReadSpace(1 << 20).empty());
}

TEST(PipeTest, AFullQueueNeverStopsTheFirstRead) {
  BufferBudget budget(/*limit=*/1 << 20, /*floor=*/Pipe::kInitialBuffer);
  Pipe pipe(&budget);
  // Bytes queued for the broker spend the whole budget...
  const std::vector<uint8_t> big(2 << 20, 1);
  pipe.Forward(big);
  EXPECT_GT(budget.used(), budget.limit());
  // ...yet the connection still reads (what it reads moves on as well).
  EXPECT_FALSE(pipe.ReadSpace(1 << 20).empty());
  // Once written, a budgeted queue keeps no memory for the next write.
  pipe.BeginWrite();
  pipe.EndWrite();
  EXPECT_EQ(pipe.footprint(), Pipe::kInitialBuffer);
  EXPECT_EQ(static_cast<size_t>(budget.used()), Pipe::kInitialBuffer);
}

TEST(PipeTest, BudgetCountsQueuesAndIsReturnedOnDestruction) {
  BufferBudget budget(/*limit=*/1 << 20, /*floor=*/0);
  {
    Pipe pipe(&budget);
    ASSERT_TRUE(Arrive(pipe, 1000, 1000));
    pipe.Forward(pipe.buffered());
    pipe.Skip(1000);
    EXPECT_EQ(static_cast<size_t>(budget.used()), pipe.footprint());
    pipe.BeginWrite();
    pipe.EndWrite();
    EXPECT_EQ(static_cast<size_t>(budget.used()), pipe.footprint());
  }
  EXPECT_EQ(budget.used(), 0);
}

}  // namespace
}  // namespace kgw::agent
