// GrpcTlsConfig (common/config/grpc_tls.h) as gRPC credentials: the one place
// the PEM texts are handed to gRPC. Header-only, so kgw_config itself does
// not depend on gRPC; its users (agent, coordinator) link gRPC anyway.
#ifndef KGW_COMMON_CONFIG_GRPC_CREDENTIALS_H_
#define KGW_COMMON_CONFIG_GRPC_CREDENTIALS_H_

#include <memory>

#include "common/config/grpc_tls.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace kgw::config {

// Dialling a coordinator (agents, and followers forwarding to the leader):
// plaintext, or TLS verified against the CA file (empty: the system's
// roots), presenting this node's certificate when it has one.
inline std::shared_ptr<grpc::ChannelCredentials> GrpcChannelCredentials(
    const GrpcTlsConfig& tls) {
  if (!tls.enabled) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = tls.ca_pem;
  ssl.pem_private_key = tls.key_pem;
  ssl.pem_cert_chain = tls.cert_pem;
  return grpc::SslCredentials(ssl);
}

// A coordinator's server: plaintext, or TLS with its certificate, asking
// clients for theirs as GATEWAY_GRPC_TLS_CLIENT_AUTH says.
inline std::shared_ptr<grpc::ServerCredentials> GrpcServerCredentials(const GrpcTlsConfig& tls) {
  if (!tls.enabled) return grpc::InsecureServerCredentials();
  grpc_ssl_client_certificate_request_type request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  switch (tls.client_auth) {
    case GrpcClientAuth::kNone: break;
    case GrpcClientAuth::kOptional:
      request = GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
      break;
    case GrpcClientAuth::kRequire:
      request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
      break;
  }
  grpc::SslServerCredentialsOptions ssl(request);
  ssl.pem_root_certs = tls.ca_pem;
  ssl.pem_key_cert_pairs.push_back({.private_key = tls.key_pem, .cert_chain = tls.cert_pem});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace kgw::config

#endif  // KGW_COMMON_CONFIG_GRPC_CREDENTIALS_H_
