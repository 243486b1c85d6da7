#include "agent/tls_stream.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asio/ssl.hpp"
#include "common/testing/test_certs.h"
#include "common/testing/wait_for.h"
#include "common/tls/test_tls.h"
#include "gtest/gtest.h"

namespace kgw::agent {
namespace {

using asio::ip::tcp;

// Both ends of one loopback TCP connection.
struct SocketPair {
  explicit SocketPair(asio::io_context& io) : server(io), client(io) {}
  tcp::socket server;
  tcp::socket client;
};

class TlsStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "tls_stream_test_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    absl::StatusOr<testing::TestCa> ca = testing::TestCa::Create("tls stream test CA");
    ASSERT_TRUE(ca.ok()) << ca.status();
    const std::string cert = dir_ + "/server.pem";
    const std::string key = dir_ + "/server.key";
    ASSERT_TRUE(ca->Issue({.common_name = "server"}, cert, key).ok());
    absl::StatusOr<tls::SslCtxPtr> server = tls::test::NewServerContext(cert, key);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ctx_ = *std::move(server);
    client_ctx_.reset(SSL_CTX_new(TLS_client_method()));
    ASSERT_NE(client_ctx_, nullptr);
    SSL_CTX_set_verify(client_ctx_.get(), SSL_VERIFY_NONE, nullptr);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<SocketPair> Connect() {
    auto pair = std::make_unique<SocketPair>(io_);
    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    pair->client.connect(acceptor.local_endpoint());
    acceptor.accept(pair->server);
    // As the agent's sessions do: without it Nagle holds small records back.
    pair->client.set_option(tcp::no_delay(true));
    pair->server.set_option(tcp::no_delay(true));
    return pair;
  }

  bool RunUntil(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(20)) {
    return testing::RunUntil(io_, done, timeout);
  }

  // Server and client streams over `pair`, handshaken with each other.
  void Handshake(SocketPair& pair, std::unique_ptr<TlsStream>* server,
                 std::unique_ptr<TlsStream>* client) {
    *server = std::make_unique<TlsStream>(pair.server, SSL_new(server_ctx_.get()));
    *client = std::make_unique<TlsStream>(pair.client, SSL_new(client_ctx_.get()));
    std::optional<asio::error_code> server_done, client_done;
    (*server)->AsyncHandshake(TlsStream::Role::kServer,
                              [&](const asio::error_code& ec) { server_done = ec; });
    (*client)->AsyncHandshake(TlsStream::Role::kClient,
                              [&](const asio::error_code& ec) { client_done = ec; });
    ASSERT_TRUE(RunUntil([&] { return server_done && client_done; }));
    ASSERT_FALSE(*server_done) << server_done->message();
    ASSERT_FALSE(*client_done) << client_done->message();
  }

  asio::io_context io_;
  std::string dir_;
  tls::SslCtxPtr server_ctx_;
  tls::SslCtxPtr client_ctx_;
};

std::string Pattern(size_t size, uint32_t seed) {
  std::string out(size, '\0');
  uint32_t x = seed;
  for (char& c : out) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

// Reads until `*into` holds `size` bytes or more, `chunk` bytes at a time at most;
// `*into` grows only by what was read. `*failed` is set on an error.
void ReadAll(TlsStream& stream, std::string* into, size_t size, size_t chunk,
             std::optional<asio::error_code>* failed) {
  if (into->size() == size) return;
  // Room for a whole chunk even near the end, as a session reads.
  auto room = std::make_shared<std::string>(chunk, '\0');
  stream.AsyncReadSome(asio::buffer(*room), [&stream, into, size, chunk, failed, room](
                                                const asio::error_code& ec, size_t n) {
    into->append(*room, 0, n);
    if (ec) {
      *failed = ec;
      return;
    }
    ReadAll(stream, into, size, chunk, failed);
  });
}

// Writes `data` in pieces of `piece` bytes, each once the last is written.
void WriteAll(TlsStream& stream, const std::string& data, size_t piece, size_t* written,
              std::optional<asio::error_code>* failed) {
  if (*written == data.size()) return;
  const size_t n = std::min(piece, data.size() - *written);
  stream.AsyncWrite(asio::buffer(data.data() + *written, n),
                    [&stream, &data, piece, written, failed, n](const asio::error_code& ec,
                                                                size_t done) {
                      if (ec) {
                        *failed = ec;
                        return;
                      }
                      EXPECT_EQ(done, n);
                      *written += done;
                      WriteAll(stream, data, piece, written, failed);
                    });
}

// 8 MiB written in large pieces each way at once, faster than the other end
// reads: writes block part way and resume, reads and writes interleave on
// each stream.
TEST_F(TlsStreamTest, MovesEightMebibytesEachWayAtOnce) {
  auto pair = Connect();
  std::unique_ptr<TlsStream> server, client;
  Handshake(*pair, &server, &client);
  if (HasFatalFailure()) return;
  const size_t kSize = 8 << 20;
  const std::string up = Pattern(kSize, 1), down = Pattern(kSize, 2);
  std::string got_up, got_down;
  size_t wrote_up = 0, wrote_down = 0;
  std::optional<asio::error_code> failed;
  // Large writes and odd-sized reads, both directions at once on each stream.
  WriteAll(*client, up, 1 << 20, &wrote_up, &failed);
  WriteAll(*server, down, 300 * 1024, &wrote_down, &failed);
  ReadAll(*server, &got_up, kSize, 7001, &failed);
  ReadAll(*client, &got_down, kSize, 65536, &failed);
  ASSERT_TRUE(RunUntil([&] {
    return failed.has_value() || (got_up.size() == kSize && got_down.size() == kSize);
  })) << got_up.size() << " and " << got_down.size() << " bytes arrived";
  ASSERT_FALSE(failed.has_value()) << failed->message();
  EXPECT_EQ(wrote_up, kSize);
  EXPECT_EQ(wrote_down, kSize);
  EXPECT_TRUE(got_up == up) << "the bytes to the server differ";
  EXPECT_TRUE(got_down == down) << "the bytes to the client differ";
}

// The agent stops reading an idle connection and waits for its socket to
// become readable, holding no buffer; that is only safe once nothing waits
// inside OpenSSL, which drained() tells.
TEST_F(TlsStreamTest, DrainedOnlyOnceEverythingReceivedWasRead) {
  auto pair = Connect();
  std::unique_ptr<TlsStream> server, client;
  Handshake(*pair, &server, &client);
  if (HasFatalFailure()) return;
  // Three records of 1,000 bytes, all sent before the server reads.
  const std::string data = Pattern(3000, 3);
  size_t written = 0;
  std::optional<asio::error_code> failed;
  WriteAll(*client, data, 1000, &written, &failed);
  ASSERT_TRUE(RunUntil([&] { return written == data.size() || failed; }));
  ASSERT_FALSE(failed.has_value()) << failed->message();
  usleep(20'000);  // let loopback deliver them

  std::string got;
  for (int i = 0; got.size() < data.size(); ++i) {
    std::optional<size_t> n;
    const size_t at = got.size();
    got.resize(at + 700);
    server->AsyncReadSome(asio::buffer(got.data() + at, 700),
                          [&](const asio::error_code& ec, size_t k) {
                            EXPECT_FALSE(ec) << ec.message();
                            n = k;
                          });
    ASSERT_TRUE(RunUntil([&] { return n.has_value(); }));
    got.resize(at + *n);
    // A read that filled its buffer may have left bytes behind.
    if (got.size() < data.size()) {
      EXPECT_FALSE(server->drained()) << "after read " << i;
    }
  }
  EXPECT_EQ(got, data);
  EXPECT_TRUE(server->drained());

  // Waiting for readability now sees the next record arrive.
  bool readable = false;
  pair->server.async_wait(tcp::socket::wait_read, [&](const asio::error_code& ec) {
    EXPECT_FALSE(ec) << ec.message();
    readable = true;
  });
  written = 0;
  const std::string more = "more";
  WriteAll(*client, more, 100, &written, &failed);
  ASSERT_TRUE(RunUntil([&] { return readable; }));
  std::string tail(16, '\0');
  std::optional<size_t> n;
  server->AsyncReadSome(asio::buffer(tail), [&](const asio::error_code& ec, size_t k) {
    EXPECT_FALSE(ec) << ec.message();
    n = k;
  });
  ASSERT_TRUE(RunUntil([&] { return n.has_value(); }));
  EXPECT_EQ(tail.substr(0, *n), more);
  EXPECT_TRUE(server->drained());
}

TEST_F(TlsStreamTest, CloseNotifyIsEndOfFileAndABareCloseIsTruncation) {
  for (const bool notify : {true, false}) {
    SCOPED_TRACE(notify ? "close_notify" : "bare close");
    auto pair = Connect();
    std::unique_ptr<TlsStream> server, client;
    Handshake(*pair, &server, &client);
    if (HasFatalFailure()) return;
    if (notify) SSL_shutdown(client->ssl());
    pair->client.close();
    std::optional<asio::error_code> result;
    char byte;
    server->AsyncReadSome(asio::buffer(&byte, 1), [&](const asio::error_code& ec, size_t n) {
      EXPECT_EQ(n, 0u);
      result = ec;
    });
    ASSERT_TRUE(RunUntil([&] { return result.has_value(); }));
    EXPECT_EQ(*result, notify ? asio::error_code(asio::error::eof)
                              : asio::error_code(asio::ssl::error::stream_truncated))
        << result->message();
  }
}

TEST_F(TlsStreamTest, PlaintextPeerFailsTheHandshakeWithOpenSslsReason) {
  auto pair = Connect();
  TlsStream server(pair->server, SSL_new(server_ctx_.get()));
  std::optional<asio::error_code> result;
  server.AsyncHandshake(TlsStream::Role::kServer,
                        [&](const asio::error_code& ec) { result = ec; });
  const std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  asio::write(pair->client, asio::buffer(http));
  ASSERT_TRUE(RunUntil([&] { return result.has_value(); }));
  ASSERT_TRUE(*result);
  EXPECT_EQ(result->category(), asio::error::get_ssl_category());
  EXPECT_NE(result->message().find("http request"), std::string::npos) << result->message();
}

// Another TLS implementation's client (Asio's stream, with its own buffers)
// against a server stream, both directions.
TEST_F(TlsStreamTest, InteroperatesWithAsiosStream) {
  auto pair = Connect();
  TlsStream server(pair->server, SSL_new(server_ctx_.get()));
  asio::ssl::context context(asio::ssl::context::tls_client);
  context.set_verify_mode(asio::ssl::verify_none);
  asio::ssl::stream<tcp::socket&> client(pair->client, context);
  std::optional<asio::error_code> server_done, client_done;
  server.AsyncHandshake(TlsStream::Role::kServer,
                        [&](const asio::error_code& ec) { server_done = ec; });
  client.async_handshake(asio::ssl::stream_base::client,
                         [&](const asio::error_code& ec) { client_done = ec; });
  ASSERT_TRUE(RunUntil([&] { return server_done && client_done; }));
  ASSERT_FALSE(*server_done) << server_done->message();
  ASSERT_FALSE(*client_done) << client_done->message();

  const std::string up = Pattern(1 << 20, 4), down = Pattern(1 << 20, 5);
  std::string got_up, got_down(down.size(), '\0');
  std::optional<asio::error_code> failed;
  size_t wrote_down = 0;
  bool up_written = false, down_read = false;
  asio::async_write(client, asio::buffer(up), [&](const asio::error_code& ec, size_t) {
    EXPECT_FALSE(ec) << ec.message();
    up_written = true;
  });
  asio::async_read(client, asio::buffer(got_down), [&](const asio::error_code& ec, size_t) {
    EXPECT_FALSE(ec) << ec.message();
    down_read = true;
  });
  ReadAll(server, &got_up, up.size(), 10000, &failed);
  WriteAll(server, down, 100000, &wrote_down, &failed);
  ASSERT_TRUE(RunUntil([&] {
    return failed.has_value() || (up_written && down_read && got_up.size() == up.size());
  }));
  ASSERT_FALSE(failed.has_value()) << failed->message();
  EXPECT_TRUE(got_up == up);
  EXPECT_TRUE(got_down == down);
}

#if !defined(__SANITIZE_ADDRESS__)
// The point of the stream: after a busy exchange, an idle TLS connection
// holds no record buffers. Asio's stream held four of about 17 KiB each for
// the connection's life, on top of OpenSSL's own.
TEST_F(TlsStreamTest, IdleConnectionsHoldNoRecordBuffers) {
  constexpr int kConnections = 50;
  std::vector<std::unique_ptr<SocketPair>> pairs;
  std::vector<std::unique_ptr<TlsStream>> servers, clients;
  for (int i = 0; i < kConnections; ++i) {
    pairs.push_back(Connect());
    servers.emplace_back();
    clients.emplace_back();
    Handshake(*pairs.back(), &servers.back(), &clients.back());
    if (HasFatalFailure()) return;
  }
  const auto in_use = [] { return mallinfo2().uordblks; };
  const size_t before = in_use();
  // Each connection moves 64 KiB each way, then goes idle.
  const std::string data = Pattern(64 * 1024, 6);
  for (int i = 0; i < kConnections; ++i) {
    std::string got_up, got_down;
    size_t wrote_up = 0, wrote_down = 0;
    std::optional<asio::error_code> failed;
    WriteAll(*clients[i], data, data.size(), &wrote_up, &failed);
    WriteAll(*servers[i], data, data.size(), &wrote_down, &failed);
    ReadAll(*servers[i], &got_up, data.size(), 10000, &failed);
    ReadAll(*clients[i], &got_down, data.size(), 10000, &failed);
    ASSERT_TRUE(RunUntil([&] {
      return failed.has_value() ||
             (got_up.size() == data.size() && got_down.size() == data.size());
    }));
    ASSERT_FALSE(failed.has_value()) << failed->message();
    // Both ends idle as a session's would: waiting for their sockets.
    for (TlsStream* end : {servers[i].get(), clients[i].get()}) {
      ASSERT_TRUE(end->drained());
      end->AsyncWaitReadable([](const asio::error_code&) {});
    }
  }
  const double per_pair =
      (static_cast<double>(in_use()) - static_cast<double>(before)) / kConnections;
  // Both ends of each connection count: anything near one 17 KiB record
  // buffer per end left behind fails this.
  EXPECT_LT(per_pair, 8 * 1024.0) << "bytes kept per idle connection (both ends)";
}
#endif

}  // namespace
}  // namespace kgw::agent
