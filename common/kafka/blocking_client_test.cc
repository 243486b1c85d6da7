// BlockingConnection over TLS against a fake broker on 127.0.0.1 that
// answers ApiVersions (tls::test::TestTlsServer with certificates made per
// run): calls work, and the handshake, the deadlines and Interrupt fail the
// way the metadata refresher and the group member expect.
#include "common/kafka/blocking_client.h"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/kafka/header.h"
#include "common/kafka/messages/api_versions.h"
#include "common/kafka/messages/metadata.h"
#include "common/testing/test_certs.h"
#include "common/testing/wait_for.h"
#include "common/tls/test_tls.h"
#include "common/tls/tls_context.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kgw::kafka {
namespace {

using ::kgw::testing::CertSpec;
using ::kgw::testing::TestCa;
using ::testing::HasSubstr;
using tls::test::TestTlsServer;

// PEM files of a certificate and its key.
struct Files {
  std::string cert;
  std::string key;
};

bool ReadExactly(SSL* ssl, uint8_t* data, size_t size) {
  size_t got = 0;
  while (got < size) {
    size_t n = 0;
    if (SSL_read_ex(ssl, data + got, size - got, &n) != 1) return false;
    got += n;
  }
  return true;
}

// What the fake broker does with each request.
enum class Behaviour { kAnswer, kSilent, kClose };

struct FakeBroker {
  Behaviour behaviour = Behaviour::kAnswer;
  int extra_api_keys = 0;  // pads ApiVersions responses to many TLS records
  std::atomic<int> requests{0};
};

// Serves ApiVersions v3 requests until the client goes away.
TestTlsServer::Session BrokerSession(FakeBroker* broker) {
  return [broker](SSL* ssl, int fd) {
    if (ssl == nullptr) {  // no handshake: silent until the client goes away
      char byte;
      while (recv(fd, &byte, 1, 0) > 0) {
      }
      return;
    }
    while (true) {
      uint8_t size_bytes[4];
      if (!ReadExactly(ssl, size_bytes, sizeof(size_bytes))) return;
      const uint32_t size = (uint32_t{size_bytes[0]} << 24) | (uint32_t{size_bytes[1]} << 16) |
                            (uint32_t{size_bytes[2]} << 8) | size_bytes[3];
      std::vector<uint8_t> frame(size);
      if (size < 4 || !ReadExactly(ssl, frame.data(), frame.size())) return;
      ++broker->requests;
      if (broker->behaviour == Behaviour::kClose) return;
      if (broker->behaviour == Behaviour::kSilent) {
        uint8_t byte;
        ReadExactly(ssl, &byte, 1);  // until the client closes or 10 s pass
        return;
      }
      const int16_t api_key = static_cast<int16_t>((frame[0] << 8) | frame[1]);
      const int16_t version = static_cast<int16_t>((frame[2] << 8) | frame[3]);
      Reader r(absl::MakeConstSpan(frame));
      RequestHeader header;
      if (api_key != ApiVersionsRequest::kApiKey ||
          !header.Decode(r, RequestHeaderVersion(api_key, version)).ok()) {
        return;
      }
      ApiVersionsResponse response;
      response.api_keys.push_back(
          {.api_key = ApiVersionsRequest::kApiKey, .min_version = 0, .max_version = 4});
      response.api_keys.push_back(
          {.api_key = MetadataRequest::kApiKey, .min_version = 0, .max_version = 12});
      for (int i = 0; i < broker->extra_api_keys; ++i) {
        response.api_keys.push_back(
            {.api_key = static_cast<int16_t>(1000 + i), .min_version = 0, .max_version = 1});
      }
      Writer w;
      const size_t mark = BeginFrame(w);
      ResponseHeader{.correlation_id = header.correlation_id}.Encode(w, 0);
      response.Encode(w, version);
      EndFrame(w, mark);
      size_t written = 0;
      if (SSL_write_ex(ssl, w.data().data(), w.data().size(), &written) != 1) return;
    }
  };
}

class BlockingConnectionTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/kgw_blocking_tls_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    absl::StatusOr<TestCa> ca = TestCa::Create("kgw test ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_.emplace(*std::move(ca));
    ca_file_ = dir_ + "/ca.pem";
    ASSERT_TRUE(ca_->WriteCertificate(ca_file_).ok());
  }
  void TearDown() override {
    server_.reset();
    std::system(absl::StrCat("rm -rf '", dir_, "'").c_str());
  }

  // Issues `spec` (by this test's CA unless `ca` is given) into NAME.pem and
  // NAME.key.
  Files Issue(const std::string& name, const CertSpec& spec, const TestCa* ca = nullptr) {
    Files files{absl::StrCat(dir_, "/", name, ".pem"), absl::StrCat(dir_, "/", name, ".key")};
    absl::Status s = (ca != nullptr ? *ca : *ca_).Issue(spec, files.cert, files.key);
    EXPECT_TRUE(s.ok()) << s;
    return files;
  }

  Files Broker(const TestCa* ca = nullptr) {
    return Issue("broker",
                 {.common_name = "broker", .dns_names = {"localhost"}, .ips = {"127.0.0.1"}}, ca);
  }

  void Serve(const Files& identity, bool require_client_certificate = false,
             bool handshake = true) {
    absl::StatusOr<tls::SslCtxPtr> ctx = tls::test::NewServerContext(
        identity.cert, identity.key, require_client_certificate ? ca_file_ : "");
    ASSERT_TRUE(ctx.ok()) << ctx.status();
    absl::StatusOr<std::unique_ptr<TestTlsServer>> server =
        TestTlsServer::Start(*std::move(ctx), BrokerSession(&broker_), handshake);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  ConnectionTls Tls(tls::TlsClientOptions options) {
    if (options.ca_file.empty()) options.ca_file = ca_file_;
    absl::StatusOr<tls::SslCtxPtr> ctx = tls::NewClientContext(options);
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    return {.context = ctx.ok() ? std::shared_ptr<SSL_CTX>(*std::move(ctx)) : nullptr,
            .verify_hostname = options.verify_hostname};
  }

  absl::StatusOr<BlockingConnection> Connect(const ConnectionTls& tls,
                                             const std::string& host = "127.0.0.1",
                                             absl::Duration timeout = absl::Seconds(10)) {
    return BlockingConnection::Connect(host, server_->port(), timeout, "kgw-test", tls);
  }

  std::string Peer(const std::string& host = "127.0.0.1") const {
    return absl::StrCat(host, ":", server_->port());
  }

  std::string dir_;
  std::optional<TestCa> ca_;
  std::string ca_file_;
  FakeBroker broker_;
  std::unique_ptr<TestTlsServer> server_;
};

TEST_F(BlockingConnectionTlsTest, CallsGoThroughTlsAfterTheHandshake) {
  broker_.extra_api_keys = 8000;  // a response of ~56 KB: several TLS records
  Serve(Broker());

  absl::StatusOr<BlockingConnection> c = Connect(Tls({}));
  ASSERT_TRUE(c.ok()) << c.status();
  absl::Status first = c->FetchApiVersions("test");
  absl::Status second = c->FetchApiVersions("test");

  EXPECT_TRUE(first.ok()) << first;
  EXPECT_TRUE(second.ok()) << second;
  EXPECT_EQ(broker_.requests.load(), 2);
  absl::StatusOr<int16_t> metadata = c->PickVersion<MetadataRequest>();
  ASSERT_TRUE(metadata.ok()) << metadata.status();
  EXPECT_EQ(*metadata, 12);
}

TEST_F(BlockingConnectionTlsTest, MovedConnectionKeepsItsSession) {
  Serve(Broker());
  absl::StatusOr<BlockingConnection> c = Connect(Tls({}), "localhost");
  ASSERT_TRUE(c.ok()) << c.status();

  std::optional<BlockingConnection> moved;
  moved.emplace(*std::move(c));
  absl::Status s = moved->FetchApiVersions("test");

  EXPECT_TRUE(s.ok()) << s;
}

TEST_F(BlockingConnectionTlsTest, ByteCounterSeesEveryAnsweredCallAndMovesWithTheConnection) {
  Serve(Broker());
  absl::StatusOr<BlockingConnection> c = Connect(Tls({}));
  ASSERT_TRUE(c.ok()) << c.status();
  std::vector<std::pair<int16_t, size_t>> counted;
  c->set_byte_counter(
      [&counted](int16_t api_key, size_t bytes) { counted.emplace_back(api_key, bytes); });

  ASSERT_TRUE(c->FetchApiVersions("test").ok());
  std::optional<BlockingConnection> moved;
  moved.emplace(*std::move(c));
  ASSERT_TRUE(moved->FetchApiVersions("test").ok());

  ASSERT_EQ(counted.size(), 2u);
  EXPECT_EQ(counted[0].first, ApiVersionsRequest::kApiKey);
  // A request frame (size, header, body) and the response frame with its size.
  EXPECT_GT(counted[0].second, 2 * sizeof(int32_t) + 8);
  EXPECT_EQ(counted[1], counted[0]);
}

TEST_F(BlockingConnectionTlsTest, UntrustedBrokerFailsTheHandshakeInOneLine) {
  absl::StatusOr<TestCa> other = TestCa::Create("another ca");
  ASSERT_TRUE(other.ok());
  Serve(Broker(&*other));

  absl::StatusOr<BlockingConnection> c = Connect(Tls({}));

  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(c.status().message(),
            absl::StrCat(Peer(),
                         ": TLS handshake failed: certificate verify failed (unable to "
                         "get local issuer certificate)"));
}

TEST_F(BlockingConnectionTlsTest, BrokerCertificateMustNameTheAddressUnlessVerificationIsOff) {
  Serve(Issue("elsewhere", {.common_name = "elsewhere", .dns_names = {"broker.test"}}));

  absl::StatusOr<BlockingConnection> checked = Connect(Tls({}));
  absl::StatusOr<BlockingConnection> unchecked = Connect(Tls({.verify_hostname = false}));

  EXPECT_EQ(checked.status().message(),
            absl::StrCat(Peer(),
                         ": TLS handshake failed: certificate verify failed (IP address "
                         "mismatch)"));
  ASSERT_TRUE(unchecked.ok()) << unchecked.status();
  EXPECT_TRUE(unchecked->FetchApiVersions("test").ok());
}

TEST_F(BlockingConnectionTlsTest, SilentServerFailsTheHandshakeAtTheDeadline) {
  Serve(Broker(), false, /*handshake=*/false);  // accepts, never answers
  const absl::Time start = absl::Now();

  absl::StatusOr<BlockingConnection> c = Connect(Tls({}), "127.0.0.1", absl::Milliseconds(300));

  EXPECT_EQ(c.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(c.status().message(), absl::StrCat(Peer(), ": TLS handshake failed: timed out"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST_F(BlockingConnectionTlsTest, UnansweredRequestTimesOut) {
  broker_.behaviour = Behaviour::kSilent;
  Serve(Broker());
  absl::StatusOr<BlockingConnection> c = Connect(Tls({}), "127.0.0.1", absl::Milliseconds(300));
  ASSERT_TRUE(c.ok()) << c.status();
  const absl::Time start = absl::Now();

  absl::Status s = c->FetchApiVersions("test");

  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(s.message(), absl::StrCat("reading from ", Peer(), ": timed out"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST_F(BlockingConnectionTlsTest, InterruptEndsACallBlockedInAnotherThread) {
  broker_.behaviour = Behaviour::kSilent;
  Serve(Broker());
  absl::StatusOr<BlockingConnection> c = Connect(Tls({}), "127.0.0.1", absl::Seconds(30));
  ASSERT_TRUE(c.ok()) << c.status();
  absl::Status result;
  std::atomic<bool> done{false};
  std::thread caller([&] {
    result = c->FetchApiVersions("test");
    done = true;
  });
  ASSERT_TRUE(
      kgw::testing::WaitFor([&] { return broker_.requests.load() == 1; }, absl::Seconds(10)));
  const absl::Time start = absl::Now();

  c->Interrupt();

  EXPECT_TRUE(kgw::testing::WaitFor([&] { return done.load(); }, absl::Seconds(5)));
  caller.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(result.code(), absl::StatusCode::kUnavailable) << result;
  // Closed by us, or reset by the server on seeing that: either way, named.
  EXPECT_THAT(std::string(result.message()), HasSubstr(Peer()));
}

TEST_F(BlockingConnectionTlsTest, BrokerClosingTheConnectionIsReportedAsSuch) {
  broker_.behaviour = Behaviour::kClose;
  Serve(Broker());
  absl::StatusOr<BlockingConnection> c = Connect(Tls({}));
  ASSERT_TRUE(c.ok()) << c.status();

  absl::Status s = c->FetchApiVersions("test");

  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(s.message(), absl::StrCat(Peer(), " closed the connection"));
}

TEST_F(BlockingConnectionTlsTest, BrokerDemandingAClientCertificateGetsOne) {
  Serve(Broker(), /*require_client_certificate=*/true);
  const Files client =
      Issue("client", {.common_name = "kgw client", .server = false, .client = true});
  const std::string& cert = client.cert;
  const std::string& key = client.key;

  absl::StatusOr<BlockingConnection> without = Connect(Tls({}));
  absl::Status without_call = without.ok() ? without->FetchApiVersions("test") : without.status();
  absl::StatusOr<BlockingConnection> with = Connect(Tls({.cert_file = cert, .key_file = key}));
  absl::Status with_call = with.ok() ? with->FetchApiVersions("test") : with.status();

  // TLS 1.3: the refusal arrives after the client's side of the handshake.
  EXPECT_EQ(without_call.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(std::string(without_call.message()),
            absl::StrCat(Peer(),
                         " ended the TLS session: tlsv13 alert certificate required "
                         "(SSL alert number 116)"));
  EXPECT_TRUE(with_call.ok()) << with_call;
}

TEST_F(BlockingConnectionTlsTest, ConnectionWithoutAContextIsRefused) {
  Serve(Broker());

  absl::StatusOr<BlockingConnection> c = Connect(ConnectionTls{});

  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), absl::StrCat(Peer(), ": TLS handshake failed: no TLS context"));
}

TEST_F(BlockingConnectionTlsTest, PlaintextConnectionsAreUnchanged) {
  // A plaintext client against a TLS server: the broker sees garbage and the
  // client times out or sees the connection closed, without a crash.
  Serve(Broker());
  absl::StatusOr<BlockingConnection> c = BlockingConnection::Connect(
      "127.0.0.1", server_->port(), absl::Milliseconds(500), "kgw-test");
  ASSERT_TRUE(c.ok()) << c.status();

  absl::Status s = c->FetchApiVersions("test");

  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace kgw::kafka
