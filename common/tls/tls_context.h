// TLS client contexts for kgw's own outgoing connections (to Kafka brokers,
// and the agent's upstream connections), on OpenSSL.
//
// A context is made once from TlsClientOptions (the CA bundle, optionally a
// client certificate and key) and then shared by every connection made with
// it; each connection's SSL object gets its server name and the host name or
// address its certificate must match from ConfigureClientSession. Nothing
// here does I/O, so any transport can use it: BlockingConnection drives the
// SSL object over its own socket, Asio adopts the native SSL_CTX
// (asio::ssl::context(ctx.release())).
//
// Errors are one line that names the file at fault and OpenSSL's reason,
// e.g. "cannot load CA file /etc/kgw/ca.pem: no certificate or crl found".
//
// Thread-safety: an SSL_CTX may be shared across threads once made; an SSL
// object belongs to one thread at a time. OpenSSL's error queue is
// per-thread, so OpenSslErrors drains the calling thread's queue.
#ifndef KGW_COMMON_TLS_TLS_CONTEXT_H_
#define KGW_COMMON_TLS_TLS_CONTEXT_H_

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kgw::tls {

struct TlsClientOptions {
  // PEM file of the CA certificates that verify the server; empty: the
  // system's default roots (OpenSSL's default verify paths).
  std::string ca_file;
  // PEM client certificate (optionally followed by its chain) and its
  // private key, for servers that ask for one; both or neither.
  std::string cert_file;
  std::string key_file;
  // Password of an encrypted key_file; empty: the key is not encrypted.
  std::string key_password;
  // Whether the server's certificate must match the host name or address
  // connected to. Not used by NewClientContext (the host differs per
  // connection); callers pass it to ConfigureClientSession.
  bool verify_hostname = true;
};

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

// A TLS 1.2+ client context that verifies the server's certificate chain
// against `options.ca_file` (or the system roots) and presents the client
// certificate when one is given. InvalidArgument, naming the file and
// OpenSSL's reason, when a file cannot be read or parsed, when only one of
// cert_file/key_file is given, when the key password is wrong or when the key
// does not belong to the certificate.
absl::StatusOr<SslCtxPtr> NewClientContext(const TlsClientOptions& options);

// Drains this thread's OpenSSL error queue into one line ("; " between
// entries, each OpenSSL's reason plus any detail it recorded); "no details
// from OpenSSL" when the queue is empty.
std::string OpenSslErrors();

// When `cert` stops being valid (its notAfter); InfinitePast when OpenSSL
// cannot read the time.
absl::Time NotAfter(const X509* cert);

// NotAfter of the first certificate of a PEM text (a chain: the leaf);
// InvalidArgument when it holds none.
absl::StatusOr<absl::Time> PemCertificateNotAfter(const std::string& pem);

// Prepares a client session before its handshake: sends `host` as the
// server name (SNI) unless it is an IP address, and, with
// `verify_hostname`, makes the handshake fail unless the server's certificate
// names `host` (a DNS name, or an IP address in its subjectAltName).
// `host` is as connected to: a name, an IPv4 address or an IPv6 address
// without brackets. InvalidArgument when OpenSSL refuses `host`.
absl::Status ConfigureClientSession(SSL* ssl, const std::string& host, bool verify_hostname);

// Makes `ssl` read and write the connected socket `fd`, which the caller
// keeps owning; like SSL_set_fd, but a write to a connection the peer has
// closed fails with EPIPE instead of raising SIGPIPE. Works for blocking and
// non-blocking sockets (SSL_ERROR_WANT_READ/WANT_WRITE as usual).
absl::Status AttachSocket(SSL* ssl, int fd);

// Why the handshake on `ssl` failed, as one line: OpenSSL's errors, plus the
// certificate verification result when that is what failed, e.g.
// "certificate verify failed (unable to get local issuer certificate)".
// Drains this thread's error queue.
std::string HandshakeFailure(const SSL* ssl);

}  // namespace kgw::tls

#endif  // KGW_COMMON_TLS_TLS_CONTEXT_H_
