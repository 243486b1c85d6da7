#include "tools/kgwctl/channel.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace kgw::kgwctl {
namespace {

// The contents of the PEM file `path` given as `setting`; InvalidArgument
// when it cannot be read or holds no PEM block starting with `begin`.
absl::StatusOr<std::string> ReadPem(absl::string_view setting, const std::string& path,
                                    absl::string_view begin, absl::string_view what) {
  std::ifstream in(path);
  if (!in.is_open()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", setting, "=\"", path, "\": cannot read it"));
  }
  std::stringstream pem;
  pem << in.rdbuf();
  if (!absl::StrContains(pem.str(), begin)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", setting, "=\"", path, "\": no ", what, " in it"));
  }
  return pem.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const Options& options) {
  if (!options.tls) {
    return grpc::CreateChannel(options.coordinator, grpc::InsecureChannelCredentials());
  }
  grpc::SslCredentialsOptions ssl;
  if (!options.tls_ca_file.empty()) {
    KGW_ASSIGN_OR_RETURN(ssl.pem_root_certs,
                         ReadPem("KGWCTL_TLS_CA_FILE", options.tls_ca_file,
                                 "-----BEGIN CERTIFICATE-----", "PEM certificate"));
  }
  if (!options.tls_cert_file.empty()) {
    KGW_ASSIGN_OR_RETURN(ssl.pem_cert_chain,
                         ReadPem("KGWCTL_TLS_CERT_FILE", options.tls_cert_file,
                                 "-----BEGIN CERTIFICATE-----", "PEM certificate"));
    // "-----BEGIN PRIVATE KEY-----", "-----BEGIN EC PRIVATE KEY-----", ...
    KGW_ASSIGN_OR_RETURN(ssl.pem_private_key, ReadPem("KGWCTL_TLS_KEY_FILE", options.tls_key_file,
                                                      "PRIVATE KEY-----", "PEM private key"));
  }
  // Empty pem_root_certs: gRPC verifies against the system's roots.
  return grpc::CreateChannel(options.coordinator, grpc::SslCredentials(ssl));
}

}  // namespace kgw::kgwctl
