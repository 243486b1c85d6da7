// TLS on one connected TCP socket, with OpenSSL reading and writing the
// socket itself and Asio only waiting for it to become readable or writable.
//
// Asio's ssl::stream puts a BIO pair and two buffers of its own between
// OpenSSL and the socket: four buffers of about 17 KiB that live as long as
// the connection, and one more copy of every byte each way. Here OpenSSL
// reads and writes the non-blocking socket directly, so the only record
// buffers are OpenSSL's, which SSL_MODE_RELEASE_BUFFERS gives back whenever
// nothing waits in them: an idle TLS connection costs its SSL object and
// little else.
//
// One read and one write may be outstanding at the same time, as with a
// plain socket. Handlers run from the socket's executor, never inside the
// call that starts the operation.
#ifndef KGW_AGENT_TLS_STREAM_H_
#define KGW_AGENT_TLS_STREAM_H_

#include <cstddef>

#include "absl/functional/any_invocable.h"
#include "asio.hpp"
#include "openssl/ssl.h"

namespace kgw::agent {

class TlsStream {
 public:
  enum class Role { kServer, kClient };
  using DoneHandler = absl::AnyInvocable<void(const asio::error_code&)>;
  using IoHandler = absl::AnyInvocable<void(const asio::error_code&, size_t)>;

  // Adopts `ssl` (freed with the stream) and makes it read and write
  // `socket`, which must outlive the stream and is made non-blocking.
  TlsStream(asio::ip::tcp::socket& socket, SSL* ssl);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  SSL* ssl() const { return ssl_; }

  void AsyncHandshake(Role role, DoneHandler handler);
  // Reads at least one byte into `buffer` (as many as are ready, up to its
  // size), or fails: asio::error::eof after the peer's close_notify,
  // asio::ssl::error::stream_truncated when the connection ends without one.
  void AsyncReadSome(asio::mutable_buffer buffer, IoHandler handler);
  // Writes all of `buffer`, or fails with what was written so far.
  void AsyncWrite(asio::const_buffer buffer, IoHandler handler);

  // True when the last read found the socket empty and nothing received
  // waits inside OpenSSL: until the socket becomes readable, a read would
  // find nothing. Only then may a caller wait for readability instead of
  // reading: the socket cannot tell of bytes OpenSSL already holds.
  bool drained() const;
  // For a drained stream: gives OpenSSL's empty record buffers back (a read
  // that found nothing leaves one allocated) and waits until the socket is
  // readable.
  void AsyncWaitReadable(DoneHandler handler);

 private:
  struct HandshakeOp;
  struct ReadOp;
  struct WriteOp;

  // What one OpenSSL call asked for next.
  enum class Next { kDone, kWantRead, kWantWrite, kFailed };

  // The outcome of `ret` from an SSL_* call, with `*ec` set on failure.
  // Must run right after the call, on the same thread.
  Next Classify(int ret, asio::error_code* ec);
  // Reads until `buffer` is full or nothing more is ready; `*n` is what was
  // read. A failure after some bytes is kept for the next read.
  Next ReadReady(asio::mutable_buffer buffer, size_t* n, asio::error_code* ec);
  template <typename Retry>
  void Wait(Next next, Retry&& retry);
  template <typename Fn>
  void Post(Fn&& fn);

  asio::ip::tcp::socket& socket_;
  SSL* ssl_;
  asio::error_code attach_error_;
  // A read that failed after returning bytes reports the failure next time.
  asio::error_code deferred_read_error_;
  bool last_read_would_block_ = false;
};

}  // namespace kgw::agent

#endif  // KGW_AGENT_TLS_STREAM_H_
