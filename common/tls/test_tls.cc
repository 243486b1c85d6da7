#include "common/tls/test_tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace kgw::tls::test {
namespace {

absl::Status Failed(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", OpenSslErrors()));
}

}  // namespace

absl::Status EncryptKeyFile(const std::string& key_path, const std::string& password,
                            const std::string& out_path) {
  FILE* in = std::fopen(key_path.c_str(), "r");
  if (in == nullptr) return absl::InternalError(absl::StrCat("cannot read ", key_path));
  EVP_PKEY* key = PEM_read_PrivateKey(in, nullptr, nullptr, nullptr);
  std::fclose(in);
  if (key == nullptr) return Failed(absl::StrCat("cannot read the key in ", key_path));
  FILE* out = std::fopen(out_path.c_str(), "w");
  int written = 0;
  if (out != nullptr) {
    written =
        PEM_write_PKCS8PrivateKey(out, key, EVP_aes_256_cbc(), const_cast<char*>(password.data()),
                                  static_cast<int>(password.size()), nullptr, nullptr);
    std::fclose(out);
  }
  EVP_PKEY_free(key);
  if (written != 1) return Failed(absl::StrCat("cannot write ", out_path));
  return absl::OkStatus();
}

absl::StatusOr<SslCtxPtr> NewServerContext(const std::string& cert_path,
                                           const std::string& key_path,
                                           const std::string& client_ca_path) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (ctx == nullptr) return Failed("SSL_CTX_new");
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_path.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), key_path.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Failed(absl::StrCat("cannot use ", cert_path, " and ", key_path));
  }
  if (!client_ca_path.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), client_ca_path.c_str(), nullptr) != 1) {
      return Failed(absl::StrCat("cannot load ", client_ca_path));
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return ctx;
}

absl::StatusOr<std::unique_ptr<TestTlsServer>> TestTlsServer::Start(SslCtxPtr context,
                                                                    Session session,
                                                                    bool handshake) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(fd, 16) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    close(fd);
    return absl::InternalError(absl::StrCat("cannot listen on 127.0.0.1: ", std::strerror(error)));
  }
  std::unique_ptr<TestTlsServer> server(new TestTlsServer(std::move(context), std::move(session),
                                                          handshake, fd, ntohs(address.sin_port)));
  server->acceptor_ = std::thread([s = server.get()] { s->Accept(); });
  return server;
}

TestTlsServer::~TestTlsServer() {
  std::vector<std::thread> sessions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (int fd : open_) shutdown(fd, SHUT_RDWR);
  }
  shutdown(listener_, SHUT_RDWR);
  acceptor_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    sessions.swap(sessions_);
  }
  for (std::thread& t : sessions) t.join();
  close(listener_);
}

int TestTlsServer::accepted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return accepted_;
}

std::vector<std::string> TestTlsServer::handshake_errors() const {
  std::lock_guard<std::mutex> lock(mu_);
  return handshake_errors_;
}

void TestTlsServer::Accept() {
  while (true) {
    const int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      if (fd >= 0) close(fd);
      return;
    }
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    ++accepted_;
    open_.push_back(fd);
    sessions_.emplace_back([this, fd] { Serve(fd); });
  }
}

void TestTlsServer::Serve(int fd) {
  timeval timeout{.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  SSL* ssl = nullptr;
  bool ok = true;
  if (handshake_) {
    ERR_clear_error();
    ssl = SSL_new(context_.get());
    ok = ssl != nullptr && AttachSocket(ssl, fd).ok();
    if (ok && SSL_accept(ssl) != 1) {
      ok = false;
      std::lock_guard<std::mutex> lock(mu_);
      handshake_errors_.push_back(HandshakeFailure(ssl));
    }
  }
  if (ok) session_(ssl, fd);
  if (ssl != nullptr) SSL_free(ssl);
  std::lock_guard<std::mutex> lock(mu_);
  open_.erase(std::find(open_.begin(), open_.end(), fd));
  close(fd);
}

}  // namespace kgw::tls::test
