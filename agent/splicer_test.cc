#include "agent/splicer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace kgw::agent {
namespace {

// A connected pair of loopback TCP sockets: {the connecting end, the accepted end}.
std::pair<int, int> TcpPair() {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), len), 0);
  EXPECT_EQ(listen(listener, 1), 0);
  EXPECT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int connecting = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_EQ(connect(connecting, reinterpret_cast<sockaddr*>(&addr), len), 0);
  const int accepted = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  close(listener);
  return {connecting, accepted};
}

void NonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

void WaitFor(int fd, short events) {
  pollfd p{.fd = fd, .events = events, .revents = 0};
  poll(&p, 1, 1000);
}

TEST(SplicerTest, MovesEveryByteInOrderFromOneSocketToAnother) {
  auto [producer, source] = TcpPair();
  auto [destination, consumer] = TcpPair();
  NonBlocking(source);
  NonBlocking(destination);
  // More than the pipe and both sockets' buffers hold, so every wait occurs.
  constexpr size_t kBytes = 8 << 20;
  std::vector<uint8_t> sent(kBytes);
  for (size_t i = 0; i < kBytes; ++i) sent[i] = static_cast<uint8_t>(i * 2654435761u >> 24);

  std::thread writer([&, fd = producer] {
    size_t off = 0;
    while (off < kBytes) {
      const ssize_t n = write(fd, sent.data() + off, kBytes - off);
      ASSERT_GT(n, 0);
      off += static_cast<size_t>(n);
    }
    shutdown(fd, SHUT_WR);
  });
  std::vector<uint8_t> received;
  std::thread reader([&, fd = consumer] {
    uint8_t buf[65536];
    while (true) {
      const ssize_t n = read(fd, buf, sizeof(buf));
      if (n <= 0) break;
      received.insert(received.end(), buf, buf + n);
    }
  });

  Splicer splicer;
  ASSERT_TRUE(splicer.Open().ok());
  size_t moved = 0;
  bool ended = false;
  while (!ended || splicer.held() > 0) {
    if (!ended) {
      const ssize_t n = splicer.Fill(source, 1 << 20);
      if (n == 0) ended = true;
      if (n > 0) moved += static_cast<size_t>(n);
      ASSERT_TRUE(n >= 0 || errno == EAGAIN) << std::strerror(errno);
      if (n < 0 && splicer.held() == 0) WaitFor(source, POLLIN);
    }
    const ssize_t m = splicer.Drain(destination);
    ASSERT_TRUE(m >= 0 || errno == EAGAIN) << std::strerror(errno);
    if (m < 0) WaitFor(destination, POLLOUT);
  }
  EXPECT_EQ(moved, kBytes);
  shutdown(destination, SHUT_WR);
  writer.join();
  reader.join();
  EXPECT_EQ(received, sent);
  splicer.Close();
  EXPECT_FALSE(splicer.open());
  for (int fd : {producer, source, destination, consumer}) close(fd);
}

TEST(SplicerTest, SaysWhenNothingHasArrived) {
  auto [peer, source] = TcpPair();
  NonBlocking(source);
  Splicer splicer;
  ASSERT_TRUE(splicer.Open().ok());
  EXPECT_EQ(splicer.Fill(source, 4096), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(splicer.held(), 0u);
  close(peer);
  WaitFor(source, POLLIN);
  EXPECT_EQ(splicer.Fill(source, 4096), 0);  // the end of the stream
  close(source);
}

// Reads what has arrived on fd until `bytes` have or a second passes.
std::string ReadSome(int fd, size_t bytes) {
  std::string got;
  char buf[4096];
  while (got.size() < bytes) {
    WaitFor(fd, POLLIN);
    const ssize_t n = read(fd, buf, std::min(sizeof(buf), bytes - got.size()));
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

TEST(SplicerTest, ReusesEmptyPipesOfItsThreadAndNeverOneThatHoldsBytes) {
  // A thread of its own, so that its pool starts empty.
  std::thread([] {
    auto [producer, source] = TcpPair();
    auto [destination, consumer] = TcpPair();
    NonBlocking(source);
    NonBlocking(destination);
    // fill: five bytes from the producer, taken into the pipe. drain: what
    // the pipe gives the destination, as the consumer reads it.
    auto fill = [&, source = source, producer = producer](Splicer& s, const char* text) {
      ASSERT_EQ(write(producer, text, 5), 5);
      WaitFor(source, POLLIN);
      ASSERT_EQ(s.Fill(source, 5), 5);
    };
    auto drain = [&, destination = destination, consumer = consumer](Splicer& s) {
      EXPECT_EQ(s.Drain(destination), 5);
      return ReadSome(consumer, 5);
    };
    EXPECT_EQ(Splicer::PooledOnThisThread(), 0u);

    // A pipe that still holds bytes when given up is closed, not pooled...
    Splicer left_full;
    ASSERT_TRUE(left_full.Open().ok());
    fill(left_full, "stale");
    left_full.Close();
    EXPECT_EQ(Splicer::PooledOnThisThread(), 0u);

    // ...so the next run through a pipe carries its own bytes only.
    Splicer next;
    ASSERT_TRUE(next.Open().ok());
    fill(next, "fresh");
    EXPECT_EQ(drain(next), "fresh");
    // An emptied pipe is kept, and the next Open takes it.
    next.Close();
    EXPECT_FALSE(next.open());
    EXPECT_EQ(Splicer::PooledOnThisThread(), 1u);
    Splicer again;
    ASSERT_TRUE(again.Open().ok());
    EXPECT_EQ(Splicer::PooledOnThisThread(), 0u);
    fill(again, "again");
    EXPECT_EQ(drain(again), "again");
    again.Close();

    // The pool keeps only so many; the rest are closed.
    std::vector<Splicer> many(Splicer::kPooledPipes + 3);
    for (Splicer& s : many) ASSERT_TRUE(s.Open().ok());
    EXPECT_EQ(Splicer::PooledOnThisThread(), 0u);
    for (Splicer& s : many) s.Close();
    EXPECT_EQ(Splicer::PooledOnThisThread(), Splicer::kPooledPipes);
    for (int fd : {producer, source, destination, consumer}) close(fd);
  }).join();
}

}  // namespace
}  // namespace kgw::agent
