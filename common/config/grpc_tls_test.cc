#include "common/config/grpc_tls.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "common/testing/test_certs.h"
#include "gtest/gtest.h"
#include "openssl/evp.h"
#include "openssl/pem.h"

namespace kgw::config {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string ToPem(const std::function<int(BIO*)>& write) {
  BIO* bio = BIO_new(BIO_s_mem());
  std::string pem;
  if (write(bio) == 1) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    pem.assign(data, static_cast<size_t>(len));
  }
  BIO_free(bio);
  return pem;
}

class GrpcTlsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "grpc_tls_test_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    absl::StatusOr<testing::TestCa> ca = testing::TestCa::Create("grpc tls test CA");
    ASSERT_TRUE(ca.ok()) << ca.status();
    cert_ = Path("node.pem");
    key_ = Path("node.key");
    other_key_ = Path("other.key");
    ca_ = Path("ca.pem");
    expired_cert_ = Path("expired.pem");
    expired_key_ = Path("expired.key");
    ASSERT_TRUE(ca->WriteCertificate(ca_).ok());
    ASSERT_TRUE(ca->Issue({.common_name = "grpc tls test"}, cert_, key_).ok());
    ASSERT_TRUE(ca->Issue({.common_name = "other"}, Path("other.pem"), other_key_).ok());
    ASSERT_TRUE(ca->Issue({.common_name = "expired",
                           .not_before = absl::Hours(-2),
                           .not_after = absl::Minutes(-1)},
                          expired_cert_, expired_key_)
                    .ok());
    not_pem_ = Write("not.pem", "hello\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return absl::StrCat(dir_, "/", name); }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = Path(name);
    std::ofstream(path) << text;
    return path;
  }

  static absl::StatusOr<Settings> ParseEnv(const std::map<std::string, std::string>& env) {
    return Parse(GrpcTlsSettingSpecs(), env, {});
  }
  static absl::StatusOr<GrpcTlsConfig> Read(const std::map<std::string, std::string>& env) {
    absl::StatusOr<Settings> s = ParseEnv(env);
    if (!s.ok()) return s.status();
    return ReadGrpcTlsConfig(*s);
  }

  std::string dir_, cert_, key_, other_key_, ca_, expired_cert_, expired_key_, not_pem_;
};

TEST_F(GrpcTlsConfigTest, DefaultsArePlaintextWithoutClientAuth) {
  absl::StatusOr<GrpcTlsConfig> c = Read({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->enabled);
  EXPECT_FALSE(c->has_certificate());
  EXPECT_EQ(c->ca_pem, "");
  EXPECT_EQ(c->client_auth, GrpcClientAuth::kNone);
  EXPECT_TRUE(RequireGrpcServerCertificate(*c).ok());
}

TEST_F(GrpcTlsConfigTest, ReadsCertificateKeyCaAndClientAuth) {
  absl::StatusOr<GrpcTlsConfig> c = Read({{"GATEWAY_GRPC_TLS", "true"},
                                          {"GATEWAY_GRPC_TLS_CERT_FILE", cert_},
                                          {"GATEWAY_GRPC_TLS_KEY_FILE", key_},
                                          {"GATEWAY_GRPC_TLS_CA_FILE", ca_},
                                          {"GATEWAY_GRPC_TLS_CLIENT_AUTH", "require"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->enabled);
  EXPECT_TRUE(c->has_certificate());
  EXPECT_THAT(c->cert_pem, StartsWith("-----BEGIN CERTIFICATE-----"));
  EXPECT_THAT(c->key_pem, StartsWith("-----BEGIN PRIVATE KEY-----"));
  EXPECT_THAT(c->ca_pem, StartsWith("-----BEGIN CERTIFICATE-----"));
  EXPECT_EQ(c->cert_file, cert_);
  EXPECT_EQ(c->client_auth, GrpcClientAuth::kRequire);
  EXPECT_EQ(GrpcClientAuthName(c->client_auth), "REQUIRE");
  EXPECT_TRUE(RequireGrpcServerCertificate(*c).ok());
}

TEST_F(GrpcTlsConfigTest, TlsWithoutFilesDialsWithTheSystemRootsButCannotServe) {
  absl::StatusOr<GrpcTlsConfig> c = Read({{"GATEWAY_GRPC_TLS", "true"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->enabled);
  EXPECT_EQ(c->ca_pem, "");
  absl::Status server = RequireGrpcServerCertificate(*c);
  EXPECT_TRUE(absl::IsInvalidArgument(server));
  EXPECT_THAT(server.message(), HasSubstr("GATEWAY_GRPC_TLS_CERT_FILE"));
}

TEST_F(GrpcTlsConfigTest, FilesOrClientAuthWithoutTlsAreContradictions) {
  for (const auto& [name, value] :
       std::map<std::string, std::string>{{"GATEWAY_GRPC_TLS_CERT_FILE", cert_},
                                          {"GATEWAY_GRPC_TLS_KEY_FILE", key_},
                                          {"GATEWAY_GRPC_TLS_CA_FILE", ca_},
                                          {"GATEWAY_GRPC_TLS_CLIENT_AUTH", "OPTIONAL"}}) {
    absl::StatusOr<GrpcTlsConfig> c = Read({{name, value}});
    ASSERT_FALSE(c.ok()) << name;
    EXPECT_TRUE(absl::IsInvalidArgument(c.status()));
    EXPECT_THAT(std::string(c.status().message()), StartsWith(absl::StrCat("invalid ", name)));
    EXPECT_THAT(c.status().message(), HasSubstr("without GATEWAY_GRPC_TLS=true"));
    EXPECT_EQ(c.status().message().find('\n'), absl::string_view::npos);
  }
  // NONE is the default and says nothing about TLS.
  EXPECT_TRUE(Read({{"GATEWAY_GRPC_TLS_CLIENT_AUTH", "NONE"}}).ok());
}

TEST_F(GrpcTlsConfigTest, CertificateAndKeyComeTogether) {
  absl::StatusOr<GrpcTlsConfig> c =
      Read({{"GATEWAY_GRPC_TLS", "true"}, {"GATEWAY_GRPC_TLS_CERT_FILE", cert_}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr("GATEWAY_GRPC_TLS_CERT_FILE without GATEWAY_GRPC_TLS_KEY_FILE"));
  c = Read({{"GATEWAY_GRPC_TLS", "true"}, {"GATEWAY_GRPC_TLS_KEY_FILE", key_}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr("GATEWAY_GRPC_TLS_KEY_FILE without GATEWAY_GRPC_TLS_CERT_FILE"));
}

TEST_F(GrpcTlsConfigTest, ClientAuthNeedsACaFile) {
  for (const char* mode : {"OPTIONAL", "REQUIRE"}) {
    absl::StatusOr<GrpcTlsConfig> c = Read({{"GATEWAY_GRPC_TLS", "true"},
                                            {"GATEWAY_GRPC_TLS_CERT_FILE", cert_},
                                            {"GATEWAY_GRPC_TLS_KEY_FILE", key_},
                                            {"GATEWAY_GRPC_TLS_CLIENT_AUTH", mode}});
    ASSERT_FALSE(c.ok()) << mode;
    EXPECT_THAT(c.status().message(), HasSubstr(absl::StrCat("GATEWAY_GRPC_TLS_CLIENT_AUTH=", mode,
                                                             " without GATEWAY_GRPC_TLS_CA_FILE")));
  }
}

TEST_F(GrpcTlsConfigTest, UnknownClientAuthModeIsRefusedWhenParsing) {
  absl::StatusOr<Settings> s = ParseEnv({{"GATEWAY_GRPC_TLS_CLIENT_AUTH", "SOMETIMES"}});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("invalid GATEWAY_GRPC_TLS_CLIENT_AUTH"));
}

TEST_F(GrpcTlsConfigTest, MissingFileIsRefusedWhenParsing) {
  const std::string missing = absl::StrCat(dir_, "/missing.pem");
  for (const char* name :
       {"GATEWAY_GRPC_TLS_CERT_FILE", "GATEWAY_GRPC_TLS_KEY_FILE", "GATEWAY_GRPC_TLS_CA_FILE"}) {
    absl::StatusOr<Settings> s = ParseEnv({{"GATEWAY_GRPC_TLS", "true"}, {name, missing}});
    ASSERT_FALSE(s.ok()) << name;
    EXPECT_THAT(s.status().message(), HasSubstr(absl::StrCat("invalid ", name, "=\"", missing)));
    EXPECT_THAT(s.status().message(), HasSubstr("cannot read the file"));
  }
}

TEST_F(GrpcTlsConfigTest, FilesWithoutPemAreRefused) {
  absl::StatusOr<GrpcTlsConfig> c =
      Read({{"GATEWAY_GRPC_TLS", "true"}, {"GATEWAY_GRPC_TLS_CA_FILE", not_pem_}});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), absl::StrCat("invalid GATEWAY_GRPC_TLS_CA_FILE=\"", not_pem_,
                                               "\": no PEM certificate in it"));
  c = Read({{"GATEWAY_GRPC_TLS", "true"},
            {"GATEWAY_GRPC_TLS_CERT_FILE", not_pem_},
            {"GATEWAY_GRPC_TLS_KEY_FILE", key_}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("GATEWAY_GRPC_TLS_CERT_FILE=\""));
  EXPECT_THAT(c.status().message(), HasSubstr("no PEM certificate"));
  // A certificate where the key should be.
  c = Read({{"GATEWAY_GRPC_TLS", "true"},
            {"GATEWAY_GRPC_TLS_CERT_FILE", cert_},
            {"GATEWAY_GRPC_TLS_KEY_FILE", cert_}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("GATEWAY_GRPC_TLS_KEY_FILE=\""));
  EXPECT_THAT(c.status().message(), HasSubstr("no unencrypted PEM private key"));
}

TEST_F(GrpcTlsConfigTest, KeyMustBelongToTheCertificate) {
  absl::StatusOr<GrpcTlsConfig> c = Read({{"GATEWAY_GRPC_TLS", "true"},
                                          {"GATEWAY_GRPC_TLS_CERT_FILE", cert_},
                                          {"GATEWAY_GRPC_TLS_KEY_FILE", other_key_}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("does not belong to the certificate"));
}

TEST_F(GrpcTlsConfigTest, ExpiredCertificateIsRefused) {
  absl::StatusOr<GrpcTlsConfig> c = Read({{"GATEWAY_GRPC_TLS", "true"},
                                          {"GATEWAY_GRPC_TLS_CERT_FILE", expired_cert_},
                                          {"GATEWAY_GRPC_TLS_KEY_FILE", expired_key_}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("GATEWAY_GRPC_TLS_CERT_FILE=\""));
  EXPECT_THAT(c.status().message(), HasSubstr("has expired"));
}

TEST_F(GrpcTlsConfigTest, EncryptedKeyIsRefusedWithoutPrompting) {
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  const std::string encrypted = ToPem([&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, pkey, EVP_aes_128_cbc(), nullptr, 0, nullptr,
                                    const_cast<char*>("passphrase"));
  });
  EVP_PKEY_free(pkey);
  ASSERT_THAT(encrypted, HasSubstr("ENCRYPTED"));
  const std::string path = Write("encrypted.key", encrypted);
  absl::StatusOr<GrpcTlsConfig> c = Read({{"GATEWAY_GRPC_TLS", "true"},
                                          {"GATEWAY_GRPC_TLS_CERT_FILE", cert_},
                                          {"GATEWAY_GRPC_TLS_KEY_FILE", path}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("no unencrypted PEM private key"));
}

}  // namespace
}  // namespace kgw::config
