#include "agent/splicer.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kgw::agent {
namespace {

// Empty pipes of one thread, as {read end, write end}; closed when the
// thread ends.
class PipePool {
 public:
  PipePool() = default;
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;
  ~PipePool() {
    for (size_t i = 0; i < size_; ++i) {
      ::close(pipes_[i].first);
      ::close(pipes_[i].second);
    }
  }
  bool Take(std::pair<int, int>& pipe) {
    if (size_ == 0) return false;
    pipe = pipes_[--size_];
    return true;
  }
  bool Give(std::pair<int, int> pipe) {
    if (size_ == pipes_.size()) return false;
    pipes_[size_++] = pipe;
    return true;
  }
  size_t size() const { return size_; }

 private:
  std::array<std::pair<int, int>, Splicer::kPooledPipes> pipes_{};
  size_t size_ = 0;
};

PipePool& ThisThreadsPipes() {
  thread_local PipePool pool;
  return pool;
}

}  // namespace

size_t Splicer::PooledOnThisThread() { return ThisThreadsPipes().size(); }

absl::Status Splicer::Open() {
  if (open()) return absl::OkStatus();
  held_ = 0;
  if (std::pair<int, int> pooled; ThisThreadsPipes().Take(pooled)) {
    read_fd_ = pooled.first;
    write_fd_ = pooled.second;
    return absl::OkStatus();
  }
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    return absl::ResourceExhaustedError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  read_fd_ = fds[0];
  write_fd_ = fds[1];
  // Best effort: a refused size leaves the default (16 pages).
  (void)fcntl(write_fd_, F_SETPIPE_SZ, static_cast<int>(kWantedPipeSize));
  return absl::OkStatus();
}

void Splicer::Close() {
  if (!open()) return;
  // held_ counts exactly what the splices into and out of this pipe moved,
  // and nothing else writes to it, so a pipe that holds nothing is empty:
  // the next run cannot see a byte of this one.
  if (held_ == 0 && ThisThreadsPipes().Give({read_fd_, write_fd_})) {
    read_fd_ = write_fd_ = -1;
    return;
  }
  ::close(read_fd_);
  ::close(write_fd_);
  read_fd_ = write_fd_ = -1;
  held_ = 0;
}

ssize_t Splicer::Fill(int from, size_t most) {
  const ssize_t n =
      splice(from, nullptr, write_fd_, nullptr, most, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n > 0) held_ += static_cast<size_t>(n);
  return n;
}

ssize_t Splicer::Drain(int to) {
  if (held_ == 0) return 0;
  const ssize_t n =
      splice(read_fd_, nullptr, to, nullptr, held_, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n > 0) held_ -= static_cast<size_t>(n);
  return n;
}

}  // namespace kgw::agent
