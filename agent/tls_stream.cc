#include "agent/tls_stream.h"

#include <cerrno>
#include <utility>

#include "asio/ssl/error.hpp"
#include "common/tls/tls_context.h"
#include "openssl/err.h"

namespace kgw::agent {

template <typename Retry>
void TlsStream::Wait(Next next, Retry&& retry) {
  // OpenSSL asks for a wait only after the socket said EAGAIN; a socket that
  // became ready since completes the wait at once.
  socket_.async_wait(
      next == Next::kWantRead ? asio::socket_base::wait_read : asio::socket_base::wait_write,
      std::forward<Retry>(retry));
}

template <typename Fn>
void TlsStream::Post(Fn&& fn) {
  asio::post(socket_.get_executor(), std::forward<Fn>(fn));
}

// The handshake, retried each time the socket is ready for what OpenSSL
// asked for.
struct TlsStream::HandshakeOp {
  TlsStream* stream;
  DoneHandler handler;

  void Step() {
    ERR_clear_error();
    asio::error_code ec;
    const Next next = stream->Classify(SSL_do_handshake(stream->ssl_), &ec);
    if (next == Next::kWantRead || next == Next::kWantWrite) {
      stream->Wait(next, [op = std::move(*this)](const asio::error_code& e) mutable {
        if (e) {
          op.handler(e);
        } else {
          op.Step();
        }
      });
      return;
    }
    stream->Post([h = std::move(handler), ec]() mutable { h(ec); });
  }
};

struct TlsStream::ReadOp {
  TlsStream* stream;
  asio::mutable_buffer buffer;
  IoHandler handler;

  void Step() {
    size_t n = 0;
    asio::error_code ec;
    const Next next = stream->ReadReady(buffer, &n, &ec);
    if (n == 0 && (next == Next::kWantRead || next == Next::kWantWrite)) {
      stream->Wait(next, [op = std::move(*this)](const asio::error_code& e) mutable {
        if (e) {
          op.handler(e, 0);
        } else {
          op.Step();
        }
      });
      return;
    }
    stream->Post([h = std::move(handler), ec, n]() mutable { h(ec, n); });
  }
};

struct TlsStream::WriteOp {
  TlsStream* stream;
  asio::const_buffer buffer;
  IoHandler handler;
  size_t written = 0;

  void Step() {
    asio::error_code ec;
    Next next = Next::kDone;
    while (written < buffer.size()) {
      ERR_clear_error();
      size_t n = 0;
      const int ret = SSL_write_ex(stream->ssl_, static_cast<const char*>(buffer.data()) + written,
                                   buffer.size() - written, &n);
      next = stream->Classify(ret, &ec);
      if (next != Next::kDone) break;
      written += n;
    }
    if (next == Next::kWantRead || next == Next::kWantWrite) {
      stream->Wait(next, [op = std::move(*this)](const asio::error_code& e) mutable {
        if (e) {
          op.handler(e, op.written);
        } else {
          op.Step();
        }
      });
      return;
    }
    stream->Post([h = std::move(handler), ec, n = written]() mutable { h(ec, n); });
  }
};

TlsStream::TlsStream(asio::ip::tcp::socket& socket, SSL* ssl) : socket_(socket), ssl_(ssl) {
  // Partial writes: SSL_write_ex returns after each record written, and
  // WriteOp resumes after it. A write that blocked is retried with the same
  // bytes, from a moved op (hence ACCEPT_MOVING_WRITE_BUFFER).
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                         SSL_MODE_RELEASE_BUFFERS);
  // Without read-ahead OpenSSL reads each record's header and body apart:
  // two system calls per record. Whatever it reads ahead counts as pending.
  SSL_set_read_ahead(ssl_, 1);
  socket_.non_blocking(true, attach_error_);
  if (!attach_error_ && !tls::AttachSocket(ssl_, socket_.native_handle()).ok()) {
    attach_error_ = asio::error::no_memory;
  }
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

bool TlsStream::drained() const {
  return last_read_would_block_ && !deferred_read_error_ && SSL_has_pending(ssl_) == 0;
}

void TlsStream::AsyncWaitReadable(DoneHandler handler) {
  SSL_free_buffers(ssl_);  // refuses, harmlessly, while a write is under way
  socket_.async_wait(asio::socket_base::wait_read, std::move(handler));
}

void TlsStream::AsyncHandshake(Role role, DoneHandler handler) {
  if (attach_error_) {
    Post([h = std::move(handler), ec = attach_error_]() mutable { h(ec); });
    return;
  }
  if (role == Role::kServer) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
  }
  HandshakeOp{this, std::move(handler)}.Step();
}

void TlsStream::AsyncReadSome(asio::mutable_buffer buffer, IoHandler handler) {
  ReadOp{this, buffer, std::move(handler)}.Step();
}

void TlsStream::AsyncWrite(asio::const_buffer buffer, IoHandler handler) {
  WriteOp{this, buffer, std::move(handler)}.Step();
}

TlsStream::Next TlsStream::ReadReady(asio::mutable_buffer buffer, size_t* n,
                                     asio::error_code* ec) {
  *n = 0;
  last_read_would_block_ = false;
  if (deferred_read_error_) {
    *ec = std::exchange(deferred_read_error_, {});
    return Next::kFailed;
  }
  auto* out = static_cast<char*>(buffer.data());
  // OpenSSL hands out one record per call; keep going while records are
  // ready, so that one wake-up takes everything that arrived.
  while (*n < buffer.size()) {
    ERR_clear_error();
    size_t got = 0;
    const int ret = SSL_read_ex(ssl_, out + *n, buffer.size() - *n, &got);
    asio::error_code error;
    const Next next = Classify(ret, &error);
    if (next == Next::kDone) {
      *n += got;
      continue;
    }
    if (next == Next::kWantRead) last_read_would_block_ = true;
    if (next == Next::kFailed) {
      if (*n == 0) {
        *ec = error;
      } else {
        deferred_read_error_ = error;
      }
    }
    return next;
  }
  return Next::kDone;
}

TlsStream::Next TlsStream::Classify(int ret, asio::error_code* ec) {
  if (ret > 0) return Next::kDone;
  // Read before anything else can touch errno or the error queue.
  const int saved_errno = errno;
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
      return Next::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return Next::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      *ec = asio::error::eof;
      break;
    case SSL_ERROR_SYSCALL:
      if (const unsigned long e = ERR_get_error(); e != 0) {
        *ec = asio::error_code(static_cast<int>(e), asio::error::get_ssl_category());
      } else if (saved_errno != 0 && ret < 0) {
        *ec = asio::error_code(saved_errno, asio::error::get_system_category());
      } else {
        *ec = asio::ssl::error::stream_truncated;  // the connection ended mid-stream
      }
      break;
    default: {
      const unsigned long e = ERR_get_error();
      if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        *ec = asio::ssl::error::stream_truncated;
      } else {
        *ec = asio::error_code(static_cast<int>(e), asio::error::get_ssl_category());
      }
      break;
    }
  }
  ERR_clear_error();
  return Next::kFailed;
}

}  // namespace kgw::agent
