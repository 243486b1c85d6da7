// TLS on the control plane's gRPC connections: the coordinators' server
// (agent streams, kgw.v1.Admin, health, reflection) and the connections that
// dial it (agents, and followers forwarding admin mutations to the leader).
// Both executables declare the same GATEWAY_GRPC_TLS_* settings; what each
// means per role:
//
//   setting                      coordinator                   agent
//   GATEWAY_GRPC_TLS             serve and dial over TLS       dial over TLS
//   GATEWAY_GRPC_TLS_CERT_FILE   server (and forwarding        client certificate
//   GATEWAY_GRPC_TLS_KEY_FILE    client) certificate; required (mTLS), optional
//   GATEWAY_GRPC_TLS_CA_FILE     verifies the leader and       verifies the
//                                client certificates           coordinators
//   GATEWAY_GRPC_TLS_CLIENT_AUTH NONE | OPTIONAL | REQUIRE     ignored
//
// The files are read, parsed and checked once, at start-up: a restart picks
// up new certificates. This header knows nothing of gRPC; the executables map
// the PEM texts onto gRPC's credentials.
#ifndef KGW_COMMON_CONFIG_GRPC_TLS_H_
#define KGW_COMMON_CONFIG_GRPC_TLS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/config/settings.h"

namespace kgw::config {

inline constexpr absl::string_view kGrpcTls = "GATEWAY_GRPC_TLS";
inline constexpr absl::string_view kGrpcTlsCertFile = "GATEWAY_GRPC_TLS_CERT_FILE";
inline constexpr absl::string_view kGrpcTlsKeyFile = "GATEWAY_GRPC_TLS_KEY_FILE";
inline constexpr absl::string_view kGrpcTlsCaFile = "GATEWAY_GRPC_TLS_CA_FILE";
inline constexpr absl::string_view kGrpcTlsClientAuth = "GATEWAY_GRPC_TLS_CLIENT_AUTH";

// Whether a coordinator asks gRPC clients for a certificate.
enum class GrpcClientAuth {
  kNone,      // does not ask
  kOptional,  // asks; a certificate sent must verify against the CA file
  kRequire,   // a client without a verified certificate is refused
};

struct GrpcTlsConfig {
  bool enabled = false;  // GATEWAY_GRPC_TLS
  // Paths as configured (for messages) and their PEM contents; empty when unset.
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  std::string cert_pem;  // the certificate chain, leaf first
  std::string key_pem;
  std::string ca_pem;  // empty: verify servers against the system's roots
  GrpcClientAuth client_auth = GrpcClientAuth::kNone;

  bool has_certificate() const { return !cert_pem.empty(); }
};

// GATEWAY_GRPC_TLS, _CERT_FILE, _KEY_FILE, _CA_FILE and _CLIENT_AUTH.
std::vector<SettingSpec> GrpcTlsSettingSpecs();

// Reads and checks the settings and the files they name. InvalidArgument with
// a one-line message naming the setting when:
//  - a file setting or CLIENT_AUTH other than NONE is given without
//    GATEWAY_GRPC_TLS=true;
//  - only one of the certificate and the key is given;
//  - CLIENT_AUTH is OPTIONAL or REQUIRE without a CA file;
//  - a file cannot be read, holds no PEM certificate (or key), the key does
//    not belong to the certificate, or the certificate has expired.
// Rules of one role (a coordinator needs a certificate) are the caller's;
// see RequireGrpcServerCertificate.
absl::StatusOr<GrpcTlsConfig> ReadGrpcTlsConfig(const Settings& settings);

// For a server: InvalidArgument unless TLS is off or a certificate and key
// are configured.
absl::Status RequireGrpcServerCertificate(const GrpcTlsConfig& tls);

// "NONE", "OPTIONAL" or "REQUIRE", as the setting spells it.
absl::string_view GrpcClientAuthName(GrpcClientAuth mode);

}  // namespace kgw::config

#endif  // KGW_COMMON_CONFIG_GRPC_TLS_H_
