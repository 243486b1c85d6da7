// Moves bytes from one socket to another through a kernel pipe (splice(2)),
// so that they never pass through the agent's memory: the kernel hands the
// received pages to the pipe and from the pipe to the sending socket, where
// a read and a write would copy each byte twice, plus the agent's own copy
// into its queue.
//
// A session uses it for the bytes of a large response it does not look at
// (session.h); plaintext sockets only, since TLS needs the bytes in user
// space. A splicer holds a pipe only while bytes move: Open before, Close
// after, so an idle connection holds no extra file descriptors. An empty
// pipe that Close gives up goes to a small pool of its thread (at most
// kPooledPipes), where the next Open on that thread takes it: creating,
// sizing and closing a pipe for every large request or response would cost
// four system calls each time.
//
// Not thread-safe: a splicer belongs to its session's worker thread.
#ifndef KGW_AGENT_SPLICER_H_
#define KGW_AGENT_SPLICER_H_

#include <sys/types.h>

#include <cstddef>

#include "absl/status/status.h"

namespace kgw::agent {

class Splicer {
 public:
  // What a pipe asks for (F_SETPIPE_SZ); the kernel may give less (its
  // per-user limits), which costs only more system calls.
  static constexpr size_t kWantedPipeSize = 256 * 1024;
  // Empty pipes kept per thread for the next Open.
  static constexpr size_t kPooledPipes = 4;

  Splicer() = default;
  ~Splicer() { Close(); }
  Splicer(const Splicer&) = delete;
  Splicer& operator=(const Splicer&) = delete;

  // Takes an empty pipe from this thread's pool, or creates one
  // (non-blocking). An error names why; the caller then copies instead.
  absl::Status Open();
  // Gives up the pipe: an empty one goes to this thread's pool if it has
  // room, any other is closed (what it still held is gone).
  void Close();
  // Empty pipes in the calling thread's pool (for tests).
  static size_t PooledOnThisThread();
  bool open() const { return read_fd_ >= 0; }

  // Moves at most `most` bytes that arrived on socket `from` into the pipe.
  // Returns the bytes moved, 0 at the end of the stream, or -1 with errno
  // set (EAGAIN: nothing to read now, or the pipe is full).
  ssize_t Fill(int from, size_t most);
  // Moves what the pipe holds to socket `to`, as much as it takes now.
  // Returns the bytes moved, or -1 with errno set (EAGAIN: `to` is full).
  ssize_t Drain(int to);
  // Bytes in the pipe, taken from the source and not yet sent.
  size_t held() const { return held_; }

 private:
  int read_fd_ = -1;
  int write_fd_ = -1;
  size_t held_ = 0;
};

}  // namespace kgw::agent

#endif  // KGW_AGENT_SPLICER_H_
