#include "common/tls/tls_context.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace kgw::tls {
namespace {

bool IsIpAddress(const std::string& host) {
  unsigned char address[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), address) == 1 ||
         inet_pton(AF_INET6, host.c_str(), address) == 1;
}

// A missing or unreadable file is reported as such, with errno's words,
// rather than as whatever OpenSSL's loader makes of it.
absl::Status CheckReadable(absl::string_view what, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", what, " ", path, ": ", std::strerror(errno)));
  }
  std::fclose(f);
  return absl::OkStatus();
}

// PEM encrypted keys say so in their header: "BEGIN ENCRYPTED PRIVATE KEY"
// (PKCS#8) or "Proc-Type: 4,ENCRYPTED" (traditional).
bool LooksEncrypted(const std::string& path) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (absl::StrContains(line, "ENCRYPTED")) return true;
  }
  return false;
}

// OpenSSL asks for the key's password through this; `userdata` is the
// password while the key is loaded and null afterwards, so OpenSSL never
// falls back to prompting on the terminal.
int PasswordCallback(char* buf, int size, int /*rwflag*/, void* userdata) {
  const auto* password = static_cast<const std::string*>(userdata);
  if (password == nullptr || password->empty() || password->size() > static_cast<size_t>(size)) {
    return 0;
  }
  std::memcpy(buf, password->data(), password->size());
  return static_cast<int>(password->size());
}

int SocketOf(BIO* b) { return static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(b))); }

bool WouldBlock(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

int SocketWrite(BIO* b, const char* data, int size) {
  BIO_clear_retry_flags(b);
  const ssize_t n = send(SocketOf(b), data, size, MSG_NOSIGNAL);
  if (n < 0 && WouldBlock(errno)) BIO_set_retry_write(b);
  return static_cast<int>(n);
}

int SocketRead(BIO* b, char* data, int size) {
  BIO_clear_retry_flags(b);
  const ssize_t n = recv(SocketOf(b), data, size, 0);
  if (n < 0 && WouldBlock(errno)) BIO_set_retry_read(b);
  if (n == 0) BIO_set_flags(b, BIO_FLAGS_IN_EOF);
  return static_cast<int>(n);
}

long SocketCtrl(BIO* b, int cmd, long /*num*/, void* ptr) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_EOF:
      return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0 ? 1 : 0;
    case BIO_C_GET_FD:
      if (ptr != nullptr) *static_cast<int*>(ptr) = SocketOf(b);
      return SocketOf(b);
    default:
      return 0;
  }
}

// OpenSSL's own socket BIO writes with plain send(), which raises SIGPIPE on
// a connection the peer has reset; this one is the same with MSG_NOSIGNAL.
const BIO_METHOD* NoSigpipeSocketMethod() {
  static const BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "kgw socket");
    if (m == nullptr) return static_cast<BIO_METHOD*>(nullptr);
    BIO_meth_set_write(m, SocketWrite);
    BIO_meth_set_read(m, SocketRead);
    BIO_meth_set_ctrl(m, SocketCtrl);
    return m;
  }();
  return method;
}

}  // namespace

std::string OpenSslErrors() {
  std::string out;
  // OpenSSL often records the same reason at several levels; once is enough.
  std::set<std::string> seen;
  const char* data = nullptr;
  int flags = 0;
  while (unsigned long e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    const char* reason = ERR_reason_error_string(e);
    std::string entry = reason != nullptr ? reason : absl::StrCat("OpenSSL error ", e);
    if ((flags & ERR_TXT_STRING) != 0 && data != nullptr && *data != '\0') {
      absl::StrAppend(&entry, " (", data, ")");
    }
    if (!seen.insert(entry).second) continue;
    absl::StrAppend(&out, out.empty() ? "" : "; ", entry);
  }
  return out.empty() ? "no details from OpenSSL" : out;
}

absl::StatusOr<SslCtxPtr> NewClientContext(const TlsClientOptions& options) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx == nullptr) {
    return absl::InternalError(absl::StrCat("cannot create a TLS context: ", OpenSslErrors()));
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  // Set before anything is loaded: without it OpenSSL would prompt on the
  // terminal for an encrypted key's password.
  SSL_CTX_set_default_passwd_cb(ctx.get(), PasswordCallback);
  SSL_CTX_set_default_passwd_cb_userdata(ctx.get(), nullptr);

  if (options.ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
      return absl::InternalError(
          absl::StrCat("cannot load the system's CA certificates: ", OpenSslErrors()));
    }
  } else {
    if (absl::Status s = CheckReadable("CA file", options.ca_file); !s.ok()) return s;
    if (SSL_CTX_load_verify_locations(ctx.get(), options.ca_file.c_str(), nullptr) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot load CA file ", options.ca_file, ": ", OpenSslErrors()));
    }
  }

  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a client certificate needs both a certificate file and a key file; only the ",
                     options.cert_file.empty() ? "key file " + options.key_file
                                               : "certificate file " + options.cert_file,
                     " is given"));
  }
  if (options.cert_file.empty()) {
    if (!options.key_password.empty()) {
      return absl::InvalidArgumentError("a key password is given but no key file");
    }
    return ctx;
  }
  if (absl::Status s = CheckReadable("certificate file", options.cert_file); !s.ok()) return s;
  if (absl::Status s = CheckReadable("key file", options.key_file); !s.ok()) return s;
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), options.cert_file.c_str()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load certificate file ", options.cert_file, ": ", OpenSslErrors()));
  }
  SSL_CTX_set_default_passwd_cb_userdata(ctx.get(),
                                         const_cast<std::string*>(&options.key_password));
  const int loaded =
      SSL_CTX_use_PrivateKey_file(ctx.get(), options.key_file.c_str(), SSL_FILETYPE_PEM);
  SSL_CTX_set_default_passwd_cb_userdata(ctx.get(), nullptr);
  const unsigned long first_error = ERR_peek_error();
  if (loaded != 1 && ERR_GET_LIB(first_error) == ERR_LIB_X509 &&
      ERR_GET_REASON(first_error) == X509_R_KEY_VALUES_MISMATCH) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        "key file ", options.key_file, " does not belong to certificate file ", options.cert_file));
  }
  if (loaded != 1) {
    const bool hint = options.key_password.empty() && LooksEncrypted(options.key_file);
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load key file ", options.key_file, ": ", OpenSslErrors(),
                     hint ? " (the key is encrypted: it needs its password)" : ""));
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("key file ", options.key_file,
                                                   " does not belong to certificate file ",
                                                   options.cert_file, ": ", OpenSslErrors()));
  }
  return ctx;
}

absl::Status ConfigureClientSession(SSL* ssl, const std::string& host, bool verify_hostname) {
  if (ssl == nullptr) return absl::InvalidArgumentError("no TLS session to configure");
  if (host.empty()) return absl::InvalidArgumentError("no host name for the TLS session");
  ERR_clear_error();
  const bool ip = IsIpAddress(host);
  // RFC 6066: the server name is a host name, never a literal address.
  if (!ip && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot send ", host, " as the TLS server name: ", OpenSslErrors()));
  }
  if (!verify_hostname) return absl::OkStatus();
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (ip) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot verify the server against address ", host, ": ", OpenSslErrors()));
    }
    return absl::OkStatus();
  }
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot verify the server against host name ", host, ": ", OpenSslErrors()));
  }
  return absl::OkStatus();
}

absl::Status AttachSocket(SSL* ssl, int fd) {
  const BIO_METHOD* method = NoSigpipeSocketMethod();
  BIO* bio = method != nullptr ? BIO_new(method) : nullptr;
  if (bio == nullptr) {
    return absl::InternalError(absl::StrCat("cannot make a socket BIO: ", OpenSslErrors()));
  }
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(fd)));
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl, bio, bio);  // one reference, owned by `ssl` from here on
  return absl::OkStatus();
}

std::string HandshakeFailure(const SSL* ssl) {
  std::string errors = OpenSslErrors();
  const long verify = SSL_get_verify_result(ssl);
  if (verify == X509_V_OK) return errors;
  return absl::StrCat(errors, " (", X509_verify_cert_error_string(verify), ")");
}

absl::Time NotAfter(const X509* cert) {
  struct tm t {};
  if (cert == nullptr || ASN1_TIME_to_tm(X509_get0_notAfter(cert), &t) != 1) {
    return absl::InfinitePast();
  }
  return absl::FromTimeT(timegm(&t));
}

absl::StatusOr<absl::Time> PemCertificateNotAfter(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr, &X509_free);
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("no PEM certificate in it: ", OpenSslErrors()));
  }
  return NotAfter(cert.get());
}

}  // namespace kgw::tls
