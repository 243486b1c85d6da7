#include "agent/tls_server.h"

#include <sys/stat.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/tls/tls_context.h"
#include "openssl/bio.h"
#include "openssl/err.h"
#include "openssl/x509.h"

namespace kgw::agent {
namespace {

// Drains OpenSSL's error queue into one line.
std::string OpenSslReason() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(e);
    absl::StrAppend(&out, out.empty() ? "" : "; ",
                    reason != nullptr ? reason : absl::StrCat("error ", e));
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

std::string NameText(const X509_NAME* name) {
  if (name == nullptr) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "";
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string text(data, size > 0 ? static_cast<size_t>(size) : 0);
  BIO_free(bio);
  return text;
}

std::string TimeText(const ASN1_TIME* t) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "";
  ASN1_TIME_print(bio, t);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string text(data, size > 0 ? static_cast<size_t>(size) : 0);
  BIO_free(bio);
  return text;
}

int PasswordCallback(char* buf, int size, int /*rwflag*/, void* userdata) {
  const auto* password = static_cast<const std::string*>(userdata);
  if (password == nullptr || password->empty()) return 0;
  const int n = std::min<int>(size, static_cast<int>(password->size()));
  std::memcpy(buf, password->data(), static_cast<size_t>(n));
  return n;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsServer>> TlsServer::Create(const ServerTlsConfig& config) {
  std::unique_ptr<TlsServer> server(new TlsServer(config));
  // Stamps first: a file replaced while it loads is loaded again next time.
  server->stamps_[0] = server->Stamp(config.cert_file);
  server->stamps_[1] = server->Stamp(config.key_file);
  server->stamps_[2] = server->Stamp(config.ca_file);
  absl::StatusOr<Loaded> loaded = server->Load();
  if (!loaded.ok()) return loaded.status();
  std::lock_guard<std::mutex> lock(server->mu_);
  server->context_ = std::move(loaded->context);
  server->description_ = std::move(loaded->description);
  server->not_after_ = loaded->not_after;
  return server;
}

absl::StatusOr<TlsServer::Loaded> TlsServer::Load() const {
  ERR_clear_error();
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) return absl::InternalError(absl::StrCat("cannot create a TLS context: ", OpenSslReason()));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                     SSL_OP_NO_RENEGOTIATION);
  // Idle connections give their read and write buffers back.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  auto fail = [](absl::string_view setting, const std::string& path) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load ", setting, "=", path, ": ", OpenSslReason()));
  };
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), config_.cert_file.c_str()) != 1) {
    return fail("GATEWAY_SSL_CERT_FILE", config_.cert_file);
  }
  std::string password = config_.key_password;
  SSL_CTX_set_default_passwd_cb(ctx.get(), PasswordCallback);
  SSL_CTX_set_default_passwd_cb_userdata(ctx.get(), &password);
  const int key_ok =
      SSL_CTX_use_PrivateKey_file(ctx.get(), config_.key_file.c_str(), SSL_FILETYPE_PEM);
  SSL_CTX_set_default_passwd_cb_userdata(ctx.get(), nullptr);
  if (key_ok != 1) {
    return fail("GATEWAY_SSL_KEY_FILE", config_.key_file);
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "GATEWAY_SSL_KEY_FILE=", config_.key_file, " does not belong to GATEWAY_SSL_CERT_FILE=",
        config_.cert_file, ": ", OpenSslReason()));
  }
  if (config_.client_auth != ClientAuth::kNone) {
    if (SSL_CTX_load_verify_locations(ctx.get(), config_.ca_file.c_str(), nullptr) != 1) {
      return fail("GATEWAY_SSL_CA_FILE", config_.ca_file);
    }
    // Tells clients which CAs their certificate must come from.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config_.ca_file.c_str());
    if (names == nullptr) return fail("GATEWAY_SSL_CA_FILE", config_.ca_file);
    SSL_CTX_set_client_CA_list(ctx.get(), names);
    int mode = SSL_VERIFY_PEER;
    if (config_.client_auth == ClientAuth::kRequire) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx.get(), mode, nullptr);
  }
  // Resumed sessions must know which verification they passed.
  static constexpr unsigned char kSessionContext[] = "kgw-agent";
  SSL_CTX_set_session_id_context(ctx.get(), kSessionContext, sizeof(kSessionContext) - 1);

  std::string description;
  if (const X509* cert = SSL_CTX_get0_certificate(ctx.get()); cert != nullptr) {
    description = absl::StrCat("subject ", NameText(X509_get_subject_name(cert)), ", issuer ",
                               NameText(X509_get_issuer_name(cert)), ", valid until ",
                               TimeText(X509_get0_notAfter(cert)));
    if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "GATEWAY_SSL_CERT_FILE=", config_.cert_file, " has expired (", description, ")"));
    }
  }
  const absl::Time not_after = tls::NotAfter(SSL_CTX_get0_certificate(ctx.get()));
  return Loaded{std::move(ctx), std::move(description), not_after};
}

std::optional<TlsServer::FileStamp> TlsServer::Stamp(const std::string& path) const {
  if (path.empty()) return std::nullopt;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{st.st_ino, st.st_size, st.st_mtim};
}

SSL* TlsServer::NewSsl() const {
  std::shared_ptr<SSL_CTX> ctx;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ctx = context_;
  }
  // The SSL holds its own reference to the context.
  return SSL_new(ctx.get());
}

std::optional<absl::Status> TlsServer::ReloadIfChanged() {
  std::optional<FileStamp> now[3] = {Stamp(config_.cert_file), Stamp(config_.key_file),
                                     Stamp(config_.ca_file)};
  bool changed = false;
  for (int i = 0; i < 3; ++i) changed |= now[i] != stamps_[i];
  if (!changed) return std::nullopt;
  for (int i = 0; i < 3; ++i) stamps_[i] = now[i];
  absl::StatusOr<Loaded> loaded = Load();
  if (!loaded.ok()) return loaded.status();
  std::lock_guard<std::mutex> lock(mu_);
  context_ = std::move(loaded->context);
  description_ = std::move(loaded->description);
  not_after_ = loaded->not_after;
  return absl::OkStatus();
}

std::string TlsServer::Describe() const {
  std::lock_guard<std::mutex> lock(mu_);
  return description_;
}

absl::Time TlsServer::NotAfter() const {
  std::lock_guard<std::mutex> lock(mu_);
  return not_after_;
}

std::string TlsVersion(const SSL* ssl) { return ssl == nullptr ? "" : SSL_get_version(ssl); }

std::string TlsServerName(const SSL* ssl) {
  const char* name = ssl == nullptr ? nullptr : SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  return name == nullptr ? "" : name;
}

std::string TlsPeerSubject(const SSL* ssl) {
  if (ssl == nullptr) return "";
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return "";
  std::string subject = NameText(X509_get_subject_name(cert));
  X509_free(cert);
  return subject;
}

std::string TlsFailure(const SSL* ssl, const std::string& asio_message) {
  std::string out = asio_message;
  if (ssl != nullptr) {
    const long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      absl::StrAppend(&out, " (", X509_verify_cert_error_string(verify), ")");
    }
  }
  return out;
}

}  // namespace kgw::agent
