// The client context and session set-up against a real TLS server on
// 127.0.0.1, with certificates made for each test run: trusted, untrusted,
// expired, for other names; client certificates, encrypted keys; and files
// that are missing or not what they claim to be.
#include "common/tls/tls_context.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/test_certs.h"
#include "common/testing/wait_for.h"
#include "common/tls/test_tls.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kgw::tls {
namespace {

using ::kgw::testing::CertSpec;
using ::kgw::testing::TestCa;
using test::TestTlsServer;
using ::testing::HasSubstr;
using ::testing::Not;

// PEM files of a certificate and its key.
struct Files {
  std::string cert;
  std::string key;
};

// What a session of the test server saw.
struct Seen {
  std::mutex mu;
  std::optional<std::string> server_name;  // SNI; nullopt when none was sent
  bool client_certificate = false;
};

// Writes "ok" after the handshake (the client reads it, which in TLS 1.3 is
// also when a refused client certificate shows), then waits for the client
// to close.
TestTlsServer::Session OkSession(Seen* seen) {
  return [seen](SSL* ssl, int /*fd*/) {
    {
      std::lock_guard<std::mutex> lock(seen->mu);
      const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
      seen->server_name = name != nullptr ? std::optional<std::string>(name) : std::nullopt;
      X509* peer = SSL_get1_peer_certificate(ssl);
      seen->client_certificate = peer != nullptr;
      X509_free(peer);
    }
    size_t written = 0;
    SSL_write_ex(ssl, "ok", 2, &written);
    char byte;
    size_t n = 0;
    SSL_read_ex(ssl, &byte, 1, &n);
  };
}

int ConnectTcp(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0)
      << strerror(errno);
  timeval timeout{.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return fd;
}

// Connects to `port` as `host`, shakes hands and reads the server's "ok".
// The error says where it failed: "handshake: ..." or "read: ...".
absl::Status Handshake(SSL_CTX* ctx, int port, const std::string& host, bool verify_hostname) {
  const int fd = ConnectTcp(port);
  SSL* ssl = SSL_new(ctx);
  absl::Status status = ConfigureClientSession(ssl, host, verify_hostname);
  if (status.ok()) status = AttachSocket(ssl, fd);
  if (status.ok() && SSL_connect(ssl) != 1) {
    status = absl::UnavailableError(absl::StrCat("handshake: ", HandshakeFailure(ssl)));
  }
  if (status.ok()) {
    char ok[2];
    size_t n = 0;
    if (SSL_read_ex(ssl, ok, sizeof(ok), &n) != 1 || std::string(ok, n) != "ok") {
      status = absl::UnavailableError(absl::StrCat("read: ", OpenSslErrors()));
    }
  }
  SSL_free(ssl);
  close(fd);
  return status;
}

class TlsContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/kgw_tls_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr) << strerror(errno);
    dir_ = pattern;
    absl::StatusOr<TestCa> ca = TestCa::Create("kgw test ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_.emplace(*std::move(ca));
    ca_file_ = dir_ + "/ca.pem";
    ASSERT_TRUE(ca_->WriteCertificate(ca_file_).ok());
  }
  void TearDown() override { std::system(absl::StrCat("rm -rf '", dir_, "'").c_str()); }

  std::string Write(const std::string& name, const std::string& contents) {
    const std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream(path) << contents;
    return path;
  }

  // Issues `spec` (by this test's CA unless `ca` is given) into NAME.pem and
  // NAME.key.
  Files Issue(const std::string& name, const CertSpec& spec, const TestCa* ca = nullptr) {
    Files files{absl::StrCat(dir_, "/", name, ".pem"), absl::StrCat(dir_, "/", name, ".key")};
    absl::Status s = (ca != nullptr ? *ca : *ca_).Issue(spec, files.cert, files.key);
    EXPECT_TRUE(s.ok()) << s;
    return files;
  }

  // Starts a server presenting `identity` (demanding a client certificate of
  // this test's CA with `require_client_certificate`).
  void Serve(const Files& identity, bool require_client_certificate = false) {
    absl::StatusOr<SslCtxPtr> ctx = test::NewServerContext(
        identity.cert, identity.key, require_client_certificate ? ca_file_ : "");
    ASSERT_TRUE(ctx.ok()) << ctx.status();
    absl::StatusOr<std::unique_ptr<TestTlsServer>> server =
        TestTlsServer::Start(*std::move(ctx), OkSession(&seen_));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  SslCtxPtr Client(const TlsClientOptions& options) {
    absl::StatusOr<SslCtxPtr> ctx = NewClientContext(options);
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    return ctx.ok() ? *std::move(ctx) : nullptr;
  }

  absl::Status HandshakeAs(const std::string& host, const TlsClientOptions& options) {
    SslCtxPtr ctx = Client(options);
    if (ctx == nullptr) return absl::InternalError("no client context");
    return Handshake(ctx.get(), server_->port(), host, options.verify_hostname);
  }

  Files Broker(const TestCa* ca = nullptr) {
    return Issue("broker",
                 {.common_name = "broker", .dns_names = {"localhost"}, .ips = {"127.0.0.1"}}, ca);
  }
  Files ClientIdentity(const std::string& name = "client") {
    return Issue(name, {.common_name = "kgw client", .server = false, .client = true});
  }

  std::string dir_;
  std::optional<TestCa> ca_;
  std::string ca_file_;
  Seen seen_;
  std::unique_ptr<TestTlsServer> server_;
};

TEST_F(TlsContextTest, HandshakeSucceedsWithTheRightCaAndTheAddressInTheCertificate) {
  Serve(Broker());

  absl::Status s = HandshakeAs("127.0.0.1", {.ca_file = ca_file_});

  EXPECT_TRUE(s.ok()) << s;
  std::lock_guard<std::mutex> lock(seen_.mu);
  EXPECT_EQ(seen_.server_name, std::nullopt) << "an address is never sent as the server name";
  EXPECT_FALSE(seen_.client_certificate);
}

TEST_F(TlsContextTest, SendsTheHostNameAsServerNameAndVerifiesIt) {
  Serve(Broker());

  absl::Status s = HandshakeAs("localhost", {.ca_file = ca_file_});

  EXPECT_TRUE(s.ok()) << s;
  std::lock_guard<std::mutex> lock(seen_.mu);
  EXPECT_EQ(seen_.server_name, "localhost");
}

TEST_F(TlsContextTest, CertificateOfAnotherCaIsNotTrusted) {
  absl::StatusOr<TestCa> other = TestCa::Create("someone else's ca");
  ASSERT_TRUE(other.ok()) << other.status();
  Serve(Broker(&*other));

  absl::Status s = HandshakeAs("127.0.0.1", {.ca_file = ca_file_});

  EXPECT_EQ(s.message(),
            "handshake: certificate verify failed (unable to get local issuer certificate)");
  // The server's side of the story: the client told it why it gave up.
  ASSERT_TRUE(kgw::testing::WaitFor([&] { return !server_->handshake_errors().empty(); },
                                    absl::Seconds(5)));
  EXPECT_THAT(server_->handshake_errors()[0], HasSubstr("unknown ca"));
}

TEST_F(TlsContextTest, SystemRootsDoNotTrustTheTestCa) {
  Serve(Broker());

  absl::Status s = HandshakeAs("127.0.0.1", {});

  EXPECT_THAT(std::string(s.message()), HasSubstr("certificate verify failed"));
}

TEST_F(TlsContextTest, TheExpiryOfAPemCertificateIsItsNotAfter) {
  const absl::Time before = absl::Now();
  Files files = Issue("soon", {.common_name = "broker", .not_after = absl::Hours(36)});
  std::ifstream in(files.cert);
  const std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

  absl::StatusOr<absl::Time> not_after = PemCertificateNotAfter(pem);

  ASSERT_TRUE(not_after.ok()) << not_after.status();
  // Certificate times have one-second resolution, and OpenSSL dates them by
  // time(), whose coarse clock may trail absl::Now() by a tick: a certificate
  // issued just after `before` can be dated a second earlier.
  EXPECT_GE(*not_after, before + absl::Hours(36) - absl::Seconds(2));
  EXPECT_LE(*not_after, absl::Now() + absl::Hours(36));
  EXPECT_FALSE(PemCertificateNotAfter("not a certificate").ok());
}

TEST_F(TlsContextTest, ExpiredCertificateIsRefused) {
  Serve(Issue("expired", {.common_name = "broker",
                          .ips = {"127.0.0.1"},
                          .not_before = -absl::Hours(48),
                          .not_after = -absl::Hours(24)}));

  absl::Status s = HandshakeAs("127.0.0.1", {.ca_file = ca_file_});

  EXPECT_EQ(s.message(), "handshake: certificate verify failed (certificate has expired)");
}

TEST_F(TlsContextTest, CertificateForOtherNamesIsRefusedUnlessVerificationIsOff) {
  Serve(Issue(
      "elsewhere",
      {.common_name = "elsewhere", .dns_names = {"broker.example.com"}, .ips = {"10.1.2.3"}}));

  absl::Status by_address = HandshakeAs("127.0.0.1", {.ca_file = ca_file_});
  absl::Status by_name = HandshakeAs("localhost", {.ca_file = ca_file_});
  absl::Status unchecked =
      HandshakeAs("127.0.0.1", {.ca_file = ca_file_, .verify_hostname = false});

  EXPECT_EQ(by_address.message(), "handshake: certificate verify failed (IP address mismatch)");
  EXPECT_EQ(by_name.message(), "handshake: certificate verify failed (hostname mismatch)");
  EXPECT_TRUE(unchecked.ok()) << unchecked;
}

// The host name checked need not be the address connected to (127.0.0.1
// here), as with a broker behind a name.
TEST_F(TlsContextTest, WildcardsCoverOneWholeLabelOnly) {
  Serve(Issue("wild", {.common_name = "wild", .dns_names = {"*.brokers.test", "b*.example.test"}}));

  absl::Status whole_label = HandshakeAs("node1.brokers.test", {.ca_file = ca_file_});
  absl::Status parent = HandshakeAs("brokers.test", {.ca_file = ca_file_});
  absl::Status two_labels = HandshakeAs("a.node1.brokers.test", {.ca_file = ca_file_});
  absl::Status partial = HandshakeAs("bar.example.test", {.ca_file = ca_file_});

  EXPECT_TRUE(whole_label.ok()) << whole_label;
  EXPECT_THAT(std::string(parent.message()), HasSubstr("(hostname mismatch)"));
  EXPECT_THAT(std::string(two_labels.message()), HasSubstr("(hostname mismatch)"));
  EXPECT_THAT(std::string(partial.message()), HasSubstr("(hostname mismatch)"));
}

TEST_F(TlsContextTest, PresentsTheClientCertificateWhenTheServerDemandsOne) {
  Serve(Broker(), /*require_client_certificate=*/true);
  const Files client = ClientIdentity();
  const std::string& cert = client.cert;
  const std::string& key = client.key;

  absl::Status without = HandshakeAs("127.0.0.1", {.ca_file = ca_file_});
  absl::Status with =
      HandshakeAs("127.0.0.1", {.ca_file = ca_file_, .cert_file = cert, .key_file = key});

  // TLS 1.3: the client finishes its handshake before the server checks it,
  // so the refusal arrives with the first read.
  EXPECT_THAT(std::string(without.message()), HasSubstr("certificate required")) << without;
  EXPECT_TRUE(with.ok()) << with;
  std::lock_guard<std::mutex> lock(seen_.mu);
  EXPECT_TRUE(seen_.client_certificate);
}

TEST_F(TlsContextTest, EncryptedKeyLoadsWithItsPassword) {
  Serve(Broker(), /*require_client_certificate=*/true);
  const Files client = ClientIdentity();
  const std::string& cert = client.cert;
  const std::string key = dir_ + "/client-encrypted.key";
  ASSERT_TRUE(test::EncryptKeyFile(client.key, "s3cret", key).ok());

  absl::Status s = HandshakeAs(
      "127.0.0.1",
      {.ca_file = ca_file_, .cert_file = cert, .key_file = key, .key_password = "s3cret"});
  absl::StatusOr<SslCtxPtr> wrong = NewClientContext(
      {.ca_file = ca_file_, .cert_file = cert, .key_file = key, .key_password = "guess"});
  absl::StatusOr<SslCtxPtr> none =
      NewClientContext({.ca_file = ca_file_, .cert_file = cert, .key_file = key});

  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong.status().message()),
              HasSubstr(absl::StrCat("cannot load key file ", key, ": ")));
  EXPECT_THAT(std::string(wrong.status().message()), Not(HasSubstr("guess")));
  EXPECT_THAT(std::string(wrong.status().message()), Not(HasSubstr("needs its password")));
  EXPECT_THAT(std::string(none.status().message()),
              HasSubstr("(the key is encrypted: it needs its password)"));
}

TEST_F(TlsContextTest, MissingFilesAreNamed) {
  const std::string missing = dir_ + "/missing.pem";

  absl::StatusOr<SslCtxPtr> ca = NewClientContext({.ca_file = missing});
  absl::StatusOr<SslCtxPtr> cert =
      NewClientContext({.ca_file = ca_file_, .cert_file = missing, .key_file = ca_file_});
  absl::StatusOr<SslCtxPtr> key =
      NewClientContext({.ca_file = ca_file_, .cert_file = ca_file_, .key_file = missing});

  EXPECT_EQ(ca.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ca.status().message(),
            absl::StrCat("cannot read CA file ", missing, ": No such file or directory"));
  EXPECT_EQ(cert.status().message(),
            absl::StrCat("cannot read certificate file ", missing, ": No such file or directory"));
  EXPECT_EQ(key.status().message(),
            absl::StrCat("cannot read key file ", missing, ": No such file or directory"));
}

TEST_F(TlsContextTest, GarbageFilesAreRefusedWithOpenSslsReason) {
  const std::string garbage = Write("garbage.pem", "this is not PEM\n");
  const std::string empty = Write("empty.pem", "");
  const std::string cert = ClientIdentity().cert;

  absl::StatusOr<SslCtxPtr> ca = NewClientContext({.ca_file = garbage});
  absl::StatusOr<SslCtxPtr> no_ca = NewClientContext({.ca_file = empty});
  absl::StatusOr<SslCtxPtr> bad_cert =
      NewClientContext({.ca_file = ca_file_, .cert_file = garbage, .key_file = garbage});
  absl::StatusOr<SslCtxPtr> bad_key =
      NewClientContext({.ca_file = ca_file_, .cert_file = cert, .key_file = garbage});

  EXPECT_EQ(ca.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ca.status().message()),
              HasSubstr(absl::StrCat("cannot load CA file ", garbage, ": ")));
  EXPECT_THAT(std::string(no_ca.status().message()),
              HasSubstr(absl::StrCat("cannot load CA file ", empty)));
  EXPECT_THAT(std::string(bad_cert.status().message()),
              HasSubstr(absl::StrCat("cannot load certificate file ", garbage, ": ")));
  EXPECT_THAT(std::string(bad_key.status().message()),
              HasSubstr(absl::StrCat("cannot load key file ", garbage, ": ")));
  EXPECT_THAT(std::string(bad_key.status().message()), Not(HasSubstr("password")));
  for (const auto* s : {&ca, &no_ca, &bad_cert, &bad_key}) {
    EXPECT_THAT(std::string(s->status().message()), Not(HasSubstr("no details from OpenSSL")))
        << s->status();
    EXPECT_THAT(std::string(s->status().message()), Not(HasSubstr("\n")));
  }
}

TEST_F(TlsContextTest, KeyMustBelongToTheCertificate) {
  const std::string cert = ClientIdentity("a").cert;
  const std::string key = ClientIdentity("b").key;

  absl::StatusOr<SslCtxPtr> ctx =
      NewClientContext({.ca_file = ca_file_, .cert_file = cert, .key_file = key});

  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ctx.status().message(),
            absl::StrCat("key file ", key, " does not belong to certificate file ", cert));
}

TEST_F(TlsContextTest, CertificateAndKeyComeTogether) {
  absl::StatusOr<SslCtxPtr> cert_only =
      NewClientContext({.ca_file = ca_file_, .cert_file = ca_file_});
  absl::StatusOr<SslCtxPtr> key_only = NewClientContext({.ca_file = ca_file_, .key_file = "/k"});
  absl::StatusOr<SslCtxPtr> password_only =
      NewClientContext({.ca_file = ca_file_, .key_password = "x"});

  EXPECT_THAT(std::string(cert_only.status().message()),
              HasSubstr(absl::StrCat("only the certificate file ", ca_file_, " is given")));
  EXPECT_THAT(std::string(key_only.status().message()), HasSubstr("only the key file /k is given"));
  EXPECT_EQ(password_only.status().message(), "a key password is given but no key file");
}

TEST_F(TlsContextTest, SessionNeedsAHost) {
  SslCtxPtr ctx = Client({.ca_file = ca_file_});
  ASSERT_NE(ctx, nullptr);
  SSL* ssl = SSL_new(ctx.get());

  absl::Status empty = ConfigureClientSession(ssl, "", true);
  absl::Status none = ConfigureClientSession(nullptr, "localhost", true);

  EXPECT_EQ(empty.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(none.code(), absl::StatusCode::kInvalidArgument);
  SSL_free(ssl);
}

TEST_F(TlsContextTest, OpenSslErrorsDrainsTheQueueIntoOneLine) {
  ERR_clear_error();
  EXPECT_EQ(OpenSslErrors(), "no details from OpenSSL");
  ERR_raise_data(ERR_LIB_SSL, SSL_R_CERTIFICATE_VERIFY_FAILED, "detail %d", 7);
  ERR_raise(ERR_LIB_SSL, SSL_R_NO_CERTIFICATES_RETURNED);

  EXPECT_EQ(OpenSslErrors(), "certificate verify failed (detail 7); no certificates returned");
  EXPECT_EQ(OpenSslErrors(), "no details from OpenSSL");
}

// A peer that has gone away makes writes fail with EPIPE, not kill the
// process with SIGPIPE (which would end this test binary).
TEST_F(TlsContextTest, WritingToAClosedPeerFailsWithoutSigpipe) {
  const Files broker = Broker();
  absl::StatusOr<SslCtxPtr> server_ctx = test::NewServerContext(broker.cert, broker.key);
  ASSERT_TRUE(server_ctx.ok()) << server_ctx.status();
  absl::StatusOr<std::unique_ptr<TestTlsServer>> server =
      TestTlsServer::Start(*std::move(server_ctx), [](SSL*, int) {});  // closes at once
  ASSERT_TRUE(server.ok()) << server.status();
  SslCtxPtr ctx = Client({.ca_file = ca_file_});
  ASSERT_NE(ctx, nullptr);
  const int fd = ConnectTcp((*server)->port());
  SSL* ssl = SSL_new(ctx.get());
  ASSERT_TRUE(ConfigureClientSession(ssl, "127.0.0.1", true).ok());
  ASSERT_TRUE(AttachSocket(ssl, fd).ok());
  ASSERT_EQ(SSL_connect(ssl), 1) << HandshakeFailure(ssl);

  const std::string chunk(64 << 10, 'x');
  int failed_at = -1;
  for (int i = 0; i < 1000 && failed_at < 0; ++i) {
    size_t written = 0;
    if (SSL_write_ex(ssl, chunk.data(), chunk.size(), &written) != 1) failed_at = i;
  }

  EXPECT_GE(failed_at, 0) << "writes to a closed connection kept succeeding";
  ERR_clear_error();
  SSL_free(ssl);
  close(fd);
}

}  // namespace
}  // namespace kgw::tls
