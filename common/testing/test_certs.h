// Certificates made on the fly for tests: a CA and the certificates it
// issues, with chosen names, purposes and validity (expired ones included),
// written as PEM files. P-256 keys, so making them is cheap.
#ifndef KGW_COMMON_TESTING_TEST_CERTS_H_
#define KGW_COMMON_TESTING_TEST_CERTS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kgw::testing {

struct CertSpec {
  std::string common_name;
  std::vector<std::string> dns_names;  // subjectAltName DNS entries
  std::vector<std::string> ips;        // subjectAltName IP entries
  bool server = true;                  // extendedKeyUsage serverAuth
  bool client = false;                 // extendedKeyUsage clientAuth
  // Validity relative to now; both negative makes an expired certificate.
  absl::Duration not_before = absl::Hours(-1);
  absl::Duration not_after = absl::Hours(24 * 30);
};

class TestCa {
 public:
  // A self-signed CA named `name`.
  static absl::StatusOr<TestCa> Create(const std::string& name);
  TestCa(TestCa&&) noexcept;
  TestCa& operator=(TestCa&&) noexcept;
  ~TestCa();

  // Writes the CA certificate.
  absl::Status WriteCertificate(const std::string& path) const;
  // Issues a certificate for `spec` and writes it (PEM) and its key
  // (unencrypted PKCS#8 PEM).
  absl::Status Issue(const CertSpec& spec, const std::string& cert_path,
                     const std::string& key_path) const;

 private:
  struct Impl;
  explicit TestCa(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kgw::testing

#endif  // KGW_COMMON_TESTING_TEST_CERTS_H_
