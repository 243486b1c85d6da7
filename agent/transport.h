// One side of a session: a TCP socket, read and written either directly or
// through TLS. The choice is made once, before the first byte of Kafka
// traffic, so the data path pays one predictable branch per operation.
#ifndef KGW_AGENT_TRANSPORT_H_
#define KGW_AGENT_TRANSPORT_H_

#include <memory>
#include <utility>

#include "asio.hpp"
#include "asio/ssl.hpp"

namespace kgw::agent {

class Transport {
 public:
  using Tls = asio::ssl::stream<asio::ip::tcp::socket&>;

  explicit Transport(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}
  explicit Transport(const asio::any_io_executor& executor) : socket_(executor) {}

  asio::ip::tcp::socket& tcp() { return socket_; }
  const asio::ip::tcp::socket& tcp() const { return socket_; }

  // From now on, traffic goes through TLS on `ssl` (adopted: freed with the
  // transport). Call before any read or write.
  void UseTls(SSL* ssl) { tls_ = std::make_unique<Tls>(socket_, ssl); }
  bool tls() const { return tls_ != nullptr; }
  // The connection's OpenSSL object; null without TLS.
  SSL* ssl() const { return tls_ ? tls_->native_handle() : nullptr; }

  template <typename Handler>
  void AsyncHandshake(Tls::handshake_type type, Handler&& handler) {
    tls_->async_handshake(type, std::forward<Handler>(handler));
  }

  template <typename Buffers, typename Handler>
  void AsyncReadSome(const Buffers& buffers, Handler&& handler) {
    if (tls_) {
      tls_->async_read_some(buffers, std::forward<Handler>(handler));
    } else {
      socket_.async_read_some(buffers, std::forward<Handler>(handler));
    }
  }

  template <typename Buffers, typename Handler>
  void AsyncWrite(const Buffers& buffers, Handler&& handler) {
    if (tls_) {
      asio::async_write(*tls_, buffers, std::forward<Handler>(handler));
    } else {
      asio::async_write(socket_, buffers, std::forward<Handler>(handler));
    }
  }

  // Closes the socket at once (no TLS close_notify: Kafka clients do not
  // wait for one); pending operations complete with operation_aborted.
  void Close() {
    asio::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  asio::ip::tcp::socket socket_;
  std::unique_ptr<Tls> tls_;
};

}  // namespace kgw::agent

#endif  // KGW_AGENT_TRANSPORT_H_
