#include "common/testing/test_certs.h"

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "openssl/err.h"
#include "openssl/evp.h"
#include "openssl/pem.h"
#include "openssl/x509.h"
#include "openssl/x509v3.h"

namespace kgw::testing {
namespace {

struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertDeleter {
  void operator()(X509* c) const { X509_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using Cert = std::unique_ptr<X509, CertDeleter>;

absl::Status OpenSslError(absl::string_view what) {
  const unsigned long e = ERR_get_error();
  return absl::InternalError(absl::StrCat(what, ": ",
                                          e != 0 ? ERR_reason_error_string(e) : "unknown error"));
}

bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

absl::StatusOr<Cert> NewCertificate(const std::string& common_name, EVP_PKEY* key,
                                    absl::Duration not_before, absl::Duration not_after) {
  static long serial = 1;
  Cert cert(X509_new());
  if (!cert) return OpenSslError("X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), absl::ToInt64Seconds(not_before));
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), absl::ToInt64Seconds(not_after));
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  return cert;
}

absl::Status WritePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return absl::InternalError(absl::StrCat("cannot write ", path));
  const bool ok = cert != nullptr ? PEM_write_X509(f, cert) == 1
                                  : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr,
                                                         nullptr) == 1;
  std::fclose(f);
  return ok ? absl::OkStatus() : OpenSslError(absl::StrCat("writing ", path));
}

}  // namespace

struct TestCa::Impl {
  Key key;
  Cert cert;
};

TestCa::TestCa(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TestCa::TestCa(TestCa&&) noexcept = default;
TestCa& TestCa::operator=(TestCa&&) noexcept = default;
TestCa::~TestCa() = default;

absl::StatusOr<TestCa> TestCa::Create(const std::string& name) {
  auto impl = std::make_unique<Impl>();
  impl->key.reset(EVP_EC_gen("P-256"));
  if (!impl->key) return OpenSslError("EVP_EC_gen");
  absl::StatusOr<Cert> cert =
      NewCertificate(name, impl->key.get(), absl::Hours(-1), absl::Hours(24 * 365));
  if (!cert.ok()) return cert.status();
  impl->cert = *std::move(cert);
  X509* c = impl->cert.get();
  X509_set_issuer_name(c, X509_get_subject_name(c));
  if (!AddExtension(c, c, NID_basic_constraints, "critical,CA:TRUE") ||
      !AddExtension(c, c, NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !AddExtension(c, c, NID_subject_key_identifier, "hash")) {
    return OpenSslError("CA extensions");
  }
  if (X509_sign(c, impl->key.get(), EVP_sha256()) == 0) return OpenSslError("signing the CA");
  return TestCa(std::move(impl));
}

absl::Status TestCa::WriteCertificate(const std::string& path) const {
  return WritePem(path, impl_->cert.get(), nullptr);
}

absl::Status TestCa::Issue(const CertSpec& spec, const std::string& cert_path,
                           const std::string& key_path) const {
  Key key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("EVP_EC_gen");
  absl::StatusOr<Cert> made =
      NewCertificate(spec.common_name, key.get(), spec.not_before, spec.not_after);
  if (!made.ok()) return made.status();
  X509* c = made->get();
  X509_set_issuer_name(c, X509_get_subject_name(impl_->cert.get()));
  std::vector<std::string> alt;
  for (const std::string& d : spec.dns_names) alt.push_back("DNS:" + d);
  for (const std::string& ip : spec.ips) alt.push_back("IP:" + ip);
  std::vector<std::string> usage;
  if (spec.server) usage.push_back("serverAuth");
  if (spec.client) usage.push_back("clientAuth");
  if (!AddExtension(c, impl_->cert.get(), NID_basic_constraints, "CA:FALSE") ||
      (!alt.empty() &&
       !AddExtension(c, impl_->cert.get(), NID_subject_alt_name, absl::StrJoin(alt, ","))) ||
      (!usage.empty() &&
       !AddExtension(c, impl_->cert.get(), NID_ext_key_usage, absl::StrJoin(usage, ","))) ||
      !AddExtension(c, impl_->cert.get(), NID_authority_key_identifier, "keyid")) {
    return OpenSslError("certificate extensions");
  }
  if (X509_sign(c, impl_->key.get(), EVP_sha256()) == 0) {
    return OpenSslError("signing the certificate");
  }
  if (absl::Status s = WritePem(cert_path, c, nullptr); !s.ok()) return s;
  return WritePem(key_path, nullptr, key.get());
}

}  // namespace kgw::testing
