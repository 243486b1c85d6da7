// TLS fixtures for tests, next to the certificates of
// common/testing/test_certs.h: a server context from PEM files, encrypted
// copies of keys, and a small TLS server on 127.0.0.1 that runs a callback
// for each connection.
//
// Errors are Internal with OpenSSL's reasons; tests ASSERT on them.
#ifndef KGW_COMMON_TLS_TEST_TLS_H_
#define KGW_COMMON_TLS_TEST_TLS_H_

#include <openssl/ssl.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/tls/tls_context.h"

namespace kgw::tls::test {

// Writes the key in `key_path` to `out_path` encrypted with `password`
// (PKCS#8, AES-256-CBC).
absl::Status EncryptKeyFile(const std::string& key_path, const std::string& password,
                            const std::string& out_path);

// A server context presenting the certificate and key in the given PEM
// files; with `client_ca_path` it demands a client certificate issued by the
// CA in that file.
absl::StatusOr<SslCtxPtr> NewServerContext(const std::string& cert_path,
                                           const std::string& key_path,
                                           const std::string& client_ca_path = "");

// A TLS server on 127.0.0.1 with a port of its own. Each accepted connection
// gets a thread: the server handshake (unless `handshake` is false), then
// `session` with the SSL object (null without handshake) and the blocking
// socket, which reads time out after 10 s. Handshake failures are recorded.
// The destructor shuts down the listener and every open connection and joins
// the threads.
class TestTlsServer {
 public:
  using Session = std::function<void(SSL* ssl, int fd)>;

  static absl::StatusOr<std::unique_ptr<TestTlsServer>> Start(SslCtxPtr context, Session session,
                                                              bool handshake = true);
  ~TestTlsServer();

  int port() const { return port_; }
  // Connections accepted so far.
  int accepted() const;
  // OpenSSL's reasons for server handshakes that failed, in order.
  std::vector<std::string> handshake_errors() const;

 private:
  TestTlsServer(SslCtxPtr context, Session session, bool handshake, int listener, int port)
      : context_(std::move(context)),
        session_(std::move(session)),
        handshake_(handshake),
        listener_(listener),
        port_(port) {}
  void Accept();
  void Serve(int fd);

  const SslCtxPtr context_;
  const Session session_;
  const bool handshake_;
  const int listener_;
  const int port_;
  std::thread acceptor_;
  mutable std::mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int accepted_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<int> open_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> sessions_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> handshake_errors_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kgw::tls::test

#endif  // KGW_COMMON_TLS_TEST_TLS_H_
