#include "common/config/grpc_tls.h"


#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "openssl/bio.h"
#include "openssl/err.h"
#include "openssl/evp.h"
#include "openssl/pem.h"
#include "openssl/x509.h"

namespace kgw::config {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

absl::Status Invalid(absl::string_view setting, absl::string_view path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid ", setting, "=\"", path, "\": ", what));
}

absl::StatusOr<std::string> ReadPem(absl::string_view setting, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) return Invalid(setting, path, "cannot read the file");
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return Invalid(setting, path, "cannot read the file");
  return text.str();
}

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Refuses to prompt on the terminal for a passphrase: gRPC cannot use an
// encrypted key either.
int NoPassphrase(char*, int, int, void*) { return -1; }

// The certificates in `pem`, in order; none when it holds no PEM certificate.
std::vector<X509Ptr> Certificates(const std::string& pem) {
  std::vector<X509Ptr> certs;
  BioPtr bio = MemoryBio(pem);
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr)) {
    certs.emplace_back(cert);
  }
  ERR_clear_error();  // the end of the input reads as an error
  return certs;
}

}  // namespace

std::vector<SettingSpec> GrpcTlsSettingSpecs() {
  return {
      {.name = kGrpcTls,
       .type = SettingType::kBool,
       .description = "Coordinators serve gRPC (agent streams, admin API) over TLS; agents and "
                      "coordinators dial coordinators over TLS",
       .default_value = "false"},
      {.name = kGrpcTlsCertFile,
       .type = SettingType::kString,
       .description = "PEM certificate chain of this node for gRPC: a coordinator's server "
                      "certificate (required with TLS; also its client certificate towards the "
                      "leader), an agent's optional client certificate",
       .validator = CheckReadableFile,
       .allowed_hint = "a readable PEM file"},
      {.name = kGrpcTlsKeyFile,
       .type = SettingType::kString,
       .description = "PEM private key (unencrypted) of GATEWAY_GRPC_TLS_CERT_FILE",
       .validator = CheckReadableFile,
       .allowed_hint = "a readable PEM file"},
      {.name = kGrpcTlsCaFile,
       .type = SettingType::kString,
       .description = "PEM CA certificates that verify gRPC peers: the coordinators' "
                      "certificates and, on coordinators, client certificates",
       .default_description = "the system's roots (servers only)",
       .validator = CheckReadableFile,
       .allowed_hint = "a readable PEM file"},
      {.name = kGrpcTlsClientAuth,
       .type = SettingType::kEnum,
       .description = "Coordinators: whether gRPC clients must present a certificate that "
                      "GATEWAY_GRPC_TLS_CA_FILE verifies (agents ignore it)",
       .default_value = "NONE",
       .allowed = {"NONE", "OPTIONAL", "REQUIRE"}},
  };
}

absl::string_view GrpcClientAuthName(GrpcClientAuth mode) {
  switch (mode) {
    case GrpcClientAuth::kNone:
      return "NONE";
    case GrpcClientAuth::kOptional:
      return "OPTIONAL";
    case GrpcClientAuth::kRequire:
      return "REQUIRE";
  }
  return "NONE";
}

absl::StatusOr<GrpcTlsConfig> ReadGrpcTlsConfig(const Settings& settings) {
  GrpcTlsConfig c;
  c.enabled = settings.GetBool(kGrpcTls);
  if (settings.Has(kGrpcTlsCertFile)) c.cert_file = settings.GetString(kGrpcTlsCertFile);
  if (settings.Has(kGrpcTlsKeyFile)) c.key_file = settings.GetString(kGrpcTlsKeyFile);
  if (settings.Has(kGrpcTlsCaFile)) c.ca_file = settings.GetString(kGrpcTlsCaFile);
  const std::string& auth = settings.GetString(kGrpcTlsClientAuth);
  c.client_auth = auth == "REQUIRE"    ? GrpcClientAuth::kRequire
                  : auth == "OPTIONAL" ? GrpcClientAuth::kOptional
                                       : GrpcClientAuth::kNone;

  if (!c.enabled) {
    for (const auto& [name, value] :
         {std::pair{kGrpcTlsCertFile, &c.cert_file}, std::pair{kGrpcTlsKeyFile, &c.key_file},
          std::pair{kGrpcTlsCaFile, &c.ca_file}}) {
      if (!value->empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid ", name, " without GATEWAY_GRPC_TLS=true: the file is only used for TLS"));
      }
    }
    if (c.client_auth != GrpcClientAuth::kNone) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid GATEWAY_GRPC_TLS_CLIENT_AUTH=", auth,
                       " without GATEWAY_GRPC_TLS=true: client certificates need TLS"));
    }
    return c;
  }
  if (c.cert_file.empty() != c.key_file.empty()) {
    return absl::InvalidArgumentError(
        c.cert_file.empty()
            ? "invalid GATEWAY_GRPC_TLS_KEY_FILE without GATEWAY_GRPC_TLS_CERT_FILE: give both "
              "or neither"
            : "invalid GATEWAY_GRPC_TLS_CERT_FILE without GATEWAY_GRPC_TLS_KEY_FILE: give both "
              "or neither");
  }
  if (c.client_auth != GrpcClientAuth::kNone && c.ca_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid GATEWAY_GRPC_TLS_CLIENT_AUTH=", auth,
                     " without GATEWAY_GRPC_TLS_CA_FILE: client certificates are verified "
                     "against that CA file"));
  }

  if (!c.ca_file.empty()) {
    KGW_ASSIGN_OR_RETURN(c.ca_pem, ReadPem(kGrpcTlsCaFile, c.ca_file));
    if (Certificates(c.ca_pem).empty()) {
      return Invalid(kGrpcTlsCaFile, c.ca_file, "no PEM certificate in it");
    }
  }
  if (!c.cert_file.empty()) {
    KGW_ASSIGN_OR_RETURN(c.cert_pem, ReadPem(kGrpcTlsCertFile, c.cert_file));
    KGW_ASSIGN_OR_RETURN(c.key_pem, ReadPem(kGrpcTlsKeyFile, c.key_file));
    std::vector<X509Ptr> chain = Certificates(c.cert_pem);
    if (chain.empty()) return Invalid(kGrpcTlsCertFile, c.cert_file, "no PEM certificate in it");
    BioPtr bio = MemoryBio(c.key_pem);
    PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
    ERR_clear_error();
    if (key == nullptr) {
      return Invalid(kGrpcTlsKeyFile, c.key_file, "no unencrypted PEM private key in it");
    }
    if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
      ERR_clear_error();
      return Invalid(kGrpcTlsKeyFile, c.key_file,
                     absl::StrCat("the key does not belong to the certificate in ", c.cert_file));
    }
    if (X509_cmp_current_time(X509_get0_notAfter(chain.front().get())) < 0) {
      return Invalid(kGrpcTlsCertFile, c.cert_file,
                     "the certificate has expired; peers would refuse it");
    }
  }
  return c;
}

absl::Status RequireGrpcServerCertificate(const GrpcTlsConfig& tls) {
  if (!tls.enabled || tls.has_certificate()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "GATEWAY_GRPC_TLS=true needs GATEWAY_GRPC_TLS_CERT_FILE and GATEWAY_GRPC_TLS_KEY_FILE: the "
      "coordinator's server certificate");
}

}  // namespace kgw::config
