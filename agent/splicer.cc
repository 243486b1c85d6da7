#include "agent/splicer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace kgw::agent {

absl::Status Splicer::Open() {
  if (open()) return absl::OkStatus();
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    return absl::ResourceExhaustedError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  read_fd_ = fds[0];
  write_fd_ = fds[1];
  held_ = 0;
  // Best effort: a refused size leaves the default (16 pages).
  (void)fcntl(write_fd_, F_SETPIPE_SZ, static_cast<int>(kWantedPipeSize));
  return absl::OkStatus();
}

void Splicer::Close() {
  if (read_fd_ >= 0) ::close(read_fd_);
  if (write_fd_ >= 0) ::close(write_fd_);
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
