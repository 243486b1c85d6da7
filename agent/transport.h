// One side of a session: a TCP socket, read and written either directly or
// through TLS. The choice is made once, before the first byte of Kafka
// traffic, so the data path pays one predictable branch per operation.
#ifndef KGW_AGENT_TRANSPORT_H_
#define KGW_AGENT_TRANSPORT_H_

#include <memory>
#include <utility>

#include "agent/tls_stream.h"
#include "asio.hpp"

namespace kgw::agent {

class Transport {
 public:
  explicit Transport(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}
  explicit Transport(const asio::any_io_executor& executor) : socket_(executor) {}

  asio::ip::tcp::socket& tcp() { return socket_; }
  const asio::ip::tcp::socket& tcp() const { return socket_; }

  // From now on, traffic goes through TLS on `ssl` (adopted: freed with the
  // transport). Call before any read or write.
  void UseTls(SSL* ssl) { tls_ = std::make_unique<TlsStream>(socket_, ssl); }
  bool tls() const { return tls_ != nullptr; }
  // The connection's OpenSSL object; null without TLS.
  SSL* ssl() const { return tls_ ? tls_->ssl() : nullptr; }

  template <typename Handler>
  void AsyncHandshake(TlsStream::Role role, Handler&& handler) {
    tls_->AsyncHandshake(role, std::forward<Handler>(handler));
  }

  // True when a wait for the socket to become readable cannot miss bytes
  // already received: always for a plain socket (the caller knows whether
  // its last read emptied it), under TLS only when nothing waits in OpenSSL.
  bool MayWaitToRead() const { return !tls_ || tls_->drained(); }
  // Waits until the socket is readable, holding no buffer meanwhile (under
  // TLS, OpenSSL's empty ones are given back). Only when MayWaitToRead().
  template <typename Handler>
  void AsyncWaitToRead(Handler&& handler) {
    if (tls_) {
      tls_->AsyncWaitReadable(std::forward<Handler>(handler));
    } else {
      socket_.async_wait(asio::socket_base::wait_read, std::forward<Handler>(handler));
    }
  }

  template <typename Handler>
  void AsyncReadSome(asio::mutable_buffer buffer, Handler&& handler) {
    if (tls_) {
      tls_->AsyncReadSome(buffer, std::forward<Handler>(handler));
    } else {
      socket_.async_read_some(buffer, std::forward<Handler>(handler));
    }
  }

  template <typename Handler>
  void AsyncWrite(asio::const_buffer buffer, Handler&& handler) {
    if (tls_) {
      tls_->AsyncWrite(buffer, std::forward<Handler>(handler));
    } else {
      asio::async_write(socket_, buffer, std::forward<Handler>(handler));
    }
  }

  // Closes the socket at once (no TLS close_notify: Kafka clients do not
  // wait for one); pending operations complete with operation_aborted. No
  // shutdown first: close alone ends the connection the same way (a FIN
  // after what is queued, a reset when received bytes were left unread),
  // and a connection storm pays one system call per socket less.
  void Close() {
    asio::error_code ignored;
    socket_.close(ignored);
  }

 private:
  asio::ip::tcp::socket socket_;
  std::unique_ptr<TlsStream> tls_;
};

}  // namespace kgw::agent

#endif  // KGW_AGENT_TRANSPORT_H_
