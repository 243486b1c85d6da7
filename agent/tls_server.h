// The agent's TLS server side: one OpenSSL context built from
// GATEWAY_SSL_CERT_FILE, GATEWAY_SSL_KEY_FILE and, for mTLS,
// GATEWAY_SSL_CA_FILE, rebuilt when those files change. Connections take the
// context in force when they are accepted; a rebuilt one serves only later
// connections, so a certificate rotation drops nothing.
//
// Thread-safe.
#ifndef KGW_AGENT_TLS_SERVER_H_
#define KGW_AGENT_TLS_SERVER_H_

#include <sys/types.h>

#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/agent_config.h"
#include "openssl/ssl.h"

namespace kgw::agent {

class TlsServer {
 public:
  // Loads the files; a one-line error naming the setting, the file and
  // OpenSSL's reason when they do not make a usable context.
  static absl::StatusOr<std::unique_ptr<TlsServer>> Create(const ServerTlsConfig& config);

  // A server-side SSL for one new connection, owned by the caller; null when
  // OpenSSL cannot allocate one.
  SSL* NewSsl() const;

  // Rebuilds the context when a file's inode, size or modification time
  // changed: nullopt when nothing changed, OK after a reload, the error when
  // the new files do not load (the previous context stays in force).
  std::optional<absl::Status> ReloadIfChanged();

  // One line about the certificate in force: subject, issuer and expiry.
  std::string Describe() const;
  // When the certificate in force expires.
  absl::Time NotAfter() const;

 private:
  struct FileStamp {
    ino_t inode = 0;
    off_t size = 0;
    timespec modified{};
    bool operator==(const FileStamp& o) const {
      return inode == o.inode && size == o.size && modified.tv_sec == o.modified.tv_sec &&
             modified.tv_nsec == o.modified.tv_nsec;
    }
  };
  struct Loaded {
    std::shared_ptr<SSL_CTX> context;
    std::string description;
    absl::Time not_after = absl::InfinitePast();
  };

  explicit TlsServer(ServerTlsConfig config) : config_(std::move(config)) {}
  absl::StatusOr<Loaded> Load() const;
  std::optional<FileStamp> Stamp(const std::string& path) const;

  const ServerTlsConfig config_;
  mutable std::mutex mu_;
  std::shared_ptr<SSL_CTX> context_ ABSL_GUARDED_BY(mu_);
  std::string description_ ABSL_GUARDED_BY(mu_);
  absl::Time not_after_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::optional<FileStamp> stamps_[3];  // cert, key, CA; touched by ReloadIfChanged only
};

// Facts about an established TLS connection, for logs and the audit log.
std::string TlsVersion(const SSL* ssl);        // "TLSv1.3"
std::string TlsServerName(const SSL* ssl);     // the SNI the client sent; empty when none
std::string TlsPeerSubject(const SSL* ssl);    // RFC 2253; empty without a client certificate
// Why a handshake failed, in words: OpenSSL's reason plus, when a
// certificate was rejected, the verification error ("certificate has expired").
std::string TlsFailure(const SSL* ssl, const std::string& asio_message);

}  // namespace kgw::agent

#endif  // KGW_AGENT_TLS_SERVER_H_
