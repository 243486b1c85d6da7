#include "tools/kgwctl/channel.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace kgw::kgwctl {

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const Options& options) {
  if (!options.tls) {
    return grpc::CreateChannel(options.coordinator, grpc::InsecureChannelCredentials());
  }
  grpc::SslCredentialsOptions ssl;
  if (!options.tls_ca_file.empty()) {
    std::ifstream in(options.tls_ca_file);
    if (!in.is_open()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid KGWCTL_TLS_CA_FILE=\"", options.tls_ca_file, "\": cannot read it"));
    }
    std::stringstream pem;
    pem << in.rdbuf();
    ssl.pem_root_certs = pem.str();
    if (!absl::StrContains(ssl.pem_root_certs, "-----BEGIN CERTIFICATE-----")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid KGWCTL_TLS_CA_FILE=\"", options.tls_ca_file, "\": no PEM certificate in it"));
    }
  }
  // Empty pem_root_certs: gRPC verifies against the system's roots.
  return grpc::CreateChannel(options.coordinator, grpc::SslCredentials(ssl));
}

}  // namespace kgw::kgwctl
