#include "common/kafka/blocking_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_join.h"
#include "common/kafka/errors.h"
#include "common/kafka/messages/api_versions.h"
#include "common/kafka/messages/sasl_authenticate.h"
#include "common/kafka/messages/sasl_handshake.h"
#include "common/tls/tls_context.h"

namespace kgw::kafka {
namespace {

// A response larger than this is not something background metadata work asks for.
constexpr int32_t kMaxResponseBytes = 64 << 20;

int RemainingMillis(absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
}

// Waits for `events` on `fd` until `deadline`.
absl::Status Wait(int fd, short events, absl::Time deadline, const std::string& what) {
  while (true) {
    pollfd p{.fd = fd, .events = events, .revents = 0};
    const int rc = poll(&p, 1, RemainingMillis(deadline));
    if (rc > 0) return absl::OkStatus();
    if (rc == 0) return absl::DeadlineExceededError(absl::StrCat(what, ": timed out"));
    if (errno != EINTR) return absl::UnavailableError(absl::StrCat(what, ": ", strerror(errno)));
  }
}

// Whether OpenSSL error `e` is an alert the peer sent.
bool IsAlert(unsigned long e) {
  return ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET;
}

// After an OpenSSL call on `ssl` returned `rc` (with `error_number` the
// errno it left): waits for the socket when OpenSSL needs it, as `what`
// until `deadline`; otherwise the failure as one line. A connection the peer
// closed (or Interrupt shut down) reads as "<peer> closed the connection",
// as without TLS.
absl::Status AwaitTls(SSL* ssl, int fd, int rc, int error_number, absl::Time deadline,
                      const std::string& what, const std::string& peer, bool handshake) {
  switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_WANT_READ:
      return Wait(fd, POLLIN, deadline, what);
    case SSL_ERROR_WANT_WRITE:
      return Wait(fd, POLLOUT, deadline, what);
    case SSL_ERROR_ZERO_RETURN:
      return absl::UnavailableError(absl::StrCat(peer, " closed the connection"));
    case SSL_ERROR_SYSCALL:
      ERR_clear_error();
      if (error_number == EINTR) {
        if (absl::Now() < deadline) return absl::OkStatus();  // try again
        return absl::DeadlineExceededError(absl::StrCat(what, ": timed out"));
      }
      if (error_number == 0) {
        return absl::UnavailableError(absl::StrCat(peer, " closed the connection"));
      }
      return absl::UnavailableError(absl::StrCat(what, ": ", strerror(error_number)));
    default:
      if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ERR_clear_error();
        return absl::UnavailableError(absl::StrCat(peer, " closed the connection"));
      }
      if (!handshake && IsAlert(ERR_peek_error())) {
        return absl::UnavailableError(
            absl::StrCat(peer, " ended the TLS session: ", tls::OpenSslErrors()));
      }
      return absl::UnavailableError(
          absl::StrCat(what, ": ", handshake ? tls::HandshakeFailure(ssl) : tls::OpenSslErrors()));
  }
}

// The client side of the TLS handshake on the connected socket `fd`, until
// `deadline`. The SSL object is the caller's on success.
absl::StatusOr<SSL*> Handshake(int fd, const std::string& host, const std::string& peer,
                               const ConnectionTls& tls, absl::Time deadline) {
  const std::string what = absl::StrCat(peer, ": TLS handshake failed");
  if (tls.context == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": no TLS context"));
  }
  ERR_clear_error();
  SSL* ssl = SSL_new(tls.context.get());
  if (ssl == nullptr) return absl::InternalError(absl::StrCat(what, ": ", tls::OpenSslErrors()));
  absl::Cleanup free_ssl = [&ssl] {
    if (ssl != nullptr) SSL_free(ssl);
  };
  absl::Status status = tls::ConfigureClientSession(ssl, host, tls.verify_hostname);
  if (status.ok()) status = tls::AttachSocket(ssl, fd);
  if (!status.ok()) return absl::Status(status.code(), absl::StrCat(what, ": ", status.message()));
  while (true) {
    ERR_clear_error();
    errno = 0;
    const int rc = SSL_connect(ssl);
    if (rc == 1) return std::exchange(ssl, nullptr);
    KGW_RETURN_IF_ERROR(AwaitTls(ssl, fd, rc, errno, deadline, what, peer, /*handshake=*/true));
  }
}

}  // namespace

absl::StatusOr<BlockingConnection> BlockingConnection::Connect(
    const std::string& host, int port, absl::Duration timeout, std::string client_id,
    const std::optional<ConnectionTls>& tls) {
  const std::string peer = absl::StrCat(host, ":", port);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &addresses); rc != 0) {
    return absl::UnavailableError(absl::StrCat("cannot resolve ", peer, ": ", gai_strerror(rc)));
  }
  absl::Cleanup free_addresses = [addresses] { freeaddrinfo(addresses); };
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last = absl::UnavailableError(absl::StrCat("no address for ", peer));
  for (addrinfo* a = addresses; a != nullptr; a = a->ai_next) {
    int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      last = absl::UnavailableError(absl::StrCat("socket: ", strerror(errno)));
      continue;
    }
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = absl::UnavailableError(absl::StrCat("cannot connect to ", peer, ": ", strerror(errno)));
      close(fd);
      continue;
    }
    last = Wait(fd, POLLOUT, deadline, absl::StrCat("connecting to ", peer));
    int error = 0;
    socklen_t len = sizeof(error);
    if (last.ok() && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == 0) {
      if (!tls) return BlockingConnection(fd, nullptr, timeout, std::move(client_id), peer);
      absl::StatusOr<SSL*> ssl = Handshake(fd, host, peer, *tls, deadline);
      if (ssl.ok()) return BlockingConnection(fd, *ssl, timeout, std::move(client_id), peer);
      last = ssl.status();
    } else if (last.ok()) {
      last =
          absl::UnavailableError(absl::StrCat("cannot connect to ", peer, ": ", strerror(error)));
    }
    close(fd);
  }
  return last;
}

absl::Status BlockingConnection::Authenticate(const SaslCredentials& credentials) {
  KGW_ASSIGN_OR_RETURN(std::unique_ptr<SaslMechanism> mechanism, NewSaslMechanism(credentials));
  SaslHandshakeRequest handshake;
  handshake.mechanism = credentials.mechanism;
  SaslHandshakeResponse offered;
  KGW_RETURN_IF_ERROR(Call(handshake, /*version=*/1, &offered));
  if (offered.error_code != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(peer_, " does not offer SASL mechanism ", credentials.mechanism, ": ",
                     DescribeError(offered.error_code), "; it offers ",
                     absl::StrJoin(offered.mechanisms, ", ")));
  }
  KGW_ASSIGN_OR_RETURN(std::string message, mechanism->Start());
  while (true) {
    SaslAuthenticateRequest request;
    request.auth_bytes.assign(message.begin(), message.end());
    SaslAuthenticateResponse response;
    KGW_RETURN_IF_ERROR(Call(request, /*version=*/2, &response));
    if (response.error_code != 0) {
      return absl::PermissionDeniedError(absl::StrCat(
          peer_, " refused SASL ", credentials.mechanism, " authentication for user ",
          credentials.username, ": ", DescribeError(response.error_code), ", ",
          response.error_message.value_or("no message")));
    }
    KGW_ASSIGN_OR_RETURN(
        std::optional<std::string> next,
        mechanism->Next(std::string(response.auth_bytes.begin(), response.auth_bytes.end())));
    if (!next) return absl::OkStatus();
    message = *std::move(next);
  }
}

absl::Status BlockingConnection::FetchApiVersions(absl::string_view software_version) {
  ApiVersionsRequest request;
  request.client_software_name = "kgw";
  request.client_software_version = std::string(software_version);
  ApiVersionsResponse response;
  KGW_RETURN_IF_ERROR(Call(request, /*version=*/3, &response));
  if (response.error_code != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(peer_, " answered ApiVersions v3 with ", DescribeError(response.error_code)));
  }
  versions_.clear();
  for (const auto& v : response.api_keys) versions_[v.api_key] = {v.min_version, v.max_version};
  return absl::OkStatus();
}

absl::StatusOr<int16_t> BlockingConnection::PickVersion(int16_t api_key, absl::string_view name,
                                                        int16_t ours_min, int16_t ours_max) const {
  auto it = versions_.find(api_key);
  if (it == versions_.end()) {
    return absl::FailedPreconditionError(absl::StrCat(peer_, " does not support ", name));
  }
  const int16_t version = std::min(ours_max, it->second.second);
  if (version < ours_min || version < it->second.first) {
    return absl::FailedPreconditionError(
        absl::StrCat(peer_, " supports ", name, " versions ", it->second.first, "-",
                     it->second.second, ", kgw needs ", ours_min, "-", ours_max));
  }
  return version;
}

void BlockingConnection::Interrupt() {
  if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
}

BlockingConnection::~BlockingConnection() {
  // No close_notify: the broker takes a closed socket as the end, and the
  // session may already have failed.
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<std::vector<uint8_t>> BlockingConnection::RoundTrip(
    absl::Span<const uint8_t> request) {
  const absl::Time deadline = absl::Now() + timeout_;
  KGW_RETURN_IF_ERROR(WriteAll(request, deadline));
  uint8_t size_bytes[4];
  KGW_RETURN_IF_ERROR(ReadAll(size_bytes, sizeof(size_bytes), deadline));
  const int32_t size = static_cast<int32_t>((uint32_t{size_bytes[0]} << 24) |
                                            (uint32_t{size_bytes[1]} << 16) |
                                            (uint32_t{size_bytes[2]} << 8) | size_bytes[3]);
  if (size < 4 || size > kMaxResponseBytes) {
    return absl::DataLossError(absl::StrCat(peer_, ": response frame of ", size, " bytes"));
  }
  std::vector<uint8_t> frame(size);
  KGW_RETURN_IF_ERROR(ReadAll(frame.data(), frame.size(), deadline));
  return frame;
}

absl::Status BlockingConnection::WriteAll(absl::Span<const uint8_t> data, absl::Time deadline) {
  if (ssl_ != nullptr) {
    const std::string what = absl::StrCat("writing to ", peer_);
    while (!data.empty()) {
      ERR_clear_error();
      size_t written = 0;
      // After WANT_*, OpenSSL wants the same buffer again: it is only
      // advanced past what was written.
      errno = 0;
      const int rc = SSL_write_ex(ssl_, data.data(), data.size(), &written);
      if (rc == 1) {
        data.remove_prefix(written);
        continue;
      }
      absl::Status status = AwaitTls(ssl_, fd_, rc, errno, deadline, what, peer_, false);
      if (!status.ok()) return PeerAlertOr(std::move(status));
    }
    return absl::OkStatus();
  }
  while (!data.empty()) {
    const ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      KGW_RETURN_IF_ERROR(Wait(fd_, POLLOUT, deadline, absl::StrCat("writing to ", peer_)));
    } else {
      return absl::UnavailableError(absl::StrCat("writing to ", peer_, ": ", strerror(errno)));
    }
  }
  return absl::OkStatus();
}

absl::Status BlockingConnection::PeerAlertOr(absl::Status write_error) {
  if (!absl::IsUnavailable(write_error)) return write_error;
  ERR_clear_error();
  uint8_t byte;
  size_t n = 0;
  if (SSL_read_ex(ssl_, &byte, 1, &n) == 1 || !IsAlert(ERR_peek_error())) {
    ERR_clear_error();
    return write_error;
  }
  return absl::UnavailableError(
      absl::StrCat(peer_, " ended the TLS session: ", tls::OpenSslErrors()));
}

absl::Status BlockingConnection::ReadAll(uint8_t* data, size_t size, absl::Time deadline) {
  size_t got = 0;
  if (ssl_ != nullptr) {
    const std::string what = absl::StrCat("reading from ", peer_);
    while (got < size) {
      ERR_clear_error();
      size_t n = 0;
      errno = 0;
      const int rc = SSL_read_ex(ssl_, data + got, size - got, &n);
      if (rc == 1) {
        got += n;
        continue;
      }
      KGW_RETURN_IF_ERROR(AwaitTls(ssl_, fd_, rc, errno, deadline, what, peer_, false));
    }
    return absl::OkStatus();
  }
  while (got < size) {
    const ssize_t n = recv(fd_, data + got, size - got, 0);
    if (n > 0) {
      got += n;
    } else if (n == 0) {
      return absl::UnavailableError(absl::StrCat(peer_, " closed the connection"));
    } else if (errno == EAGAIN || errno == EINTR) {
      KGW_RETURN_IF_ERROR(Wait(fd_, POLLIN, deadline, absl::StrCat("reading from ", peer_)));
    } else {
      return absl::UnavailableError(absl::StrCat("reading from ", peer_, ": ", strerror(errno)));
    }
  }
  return absl::OkStatus();
}

}  // namespace kgw::kafka
