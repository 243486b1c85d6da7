#include "agent/client_handshake.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/tls_server.h"
#include "asio/ssl.hpp"
#include "common/testing/test_certs.h"
#include "common/testing/wait_for.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace kgw::agent {
namespace {

using ::testing::HasSubstr;
using tcp = asio::ip::tcp;

// One accepted client connection and its handshake, held as a session holds
// them, with what the handshake reported.
struct Connection {
  Connection(tcp::socket socket, int port, const SessionEnv& env,
             ConnectionLimiter::Ticket place)
      : client(std::move(socket)),
        upstream(client.tcp().get_executor()),
        ticket(std::move(place)),
        handshake(client, client.tcp().remote_endpoint(), upstream, ticket, port, env) {}

  bool finished() const { return connected || failure.has_value(); }

  Transport client;
  Transport upstream;
  ConnectionLimiter::Ticket ticket;
  ClientHandshake handshake;
  bool broker_chosen = false;
  bool paused = false;  // first_request was called
  bool connected = false;
  std::optional<ClientHandshake::Failure> failure;
};

class ClientHandshakeTest : public ::testing::Test {
 protected:
  ClientHandshakeTest() : metrics_(registry_) {
    env_.config = &config_;
    env_.ports = &ports_;
    env_.router = nullptr;  // only forwarding rewrites addresses
    env_.directory = &directory_;
    env_.metrics = &metrics_;
    env_.broker_unreachable = [this] { ++unreachable_; };
    // Unless a test says otherwise, the listening port names broker 2.
    ports_.port_start = port_;
    ports_.min_broker_id = 2;
    AcceptBrokerConnections();
  }

  // A port nothing listens on: connecting to it is refused.
  int ClosedPort() {
    tcp::acceptor a(io_, {asio::ip::address_v4::loopback(), 0});
    return a.local_endpoint().port();
  }

  void SetBrokers(std::vector<BrokerEndpoint> brokers) {
    directory_.Set({.brokers = std::move(brokers)});
  }
  BrokerEndpoint FakeBroker(int32_t id) const {
    return {.node_id = id, .host = "127.0.0.1", .port = broker_.local_endpoint().port()};
  }
  BrokerEndpoint RefusingBroker(int32_t id) {
    return {.node_id = id, .host = "127.0.0.1", .port = ClosedPort()};
  }

  // The client's end of a new connection to the listener (blocking).
  tcp::socket Dial() {
    tcp::socket s(io_);
    s.connect(listener_.local_endpoint());
    return s;
  }

  // Accepts the connection Dial made and starts its handshake.
  // With `pause`, the handshake stops before connecting, as a session has it.
  std::shared_ptr<Connection> Accept(ConnectionLimiter::Ticket ticket = {}, bool pause = false) {
    auto c = std::make_shared<Connection>(listener_.accept(), port_, env_, std::move(ticket));
    Connection* raw = c.get();
    std::function<void()> first_request;
    if (pause) first_request = [raw] { raw->paused = true; };
    c->handshake.Start(c, {.broker_chosen = [raw] { raw->broker_chosen = true; },
                           .first_request = std::move(first_request),
                           .connected = [raw] { raw->connected = true; },
                           .failed = [raw](const ClientHandshake::Failure& f) {
                             raw->failure = f;
                           }});
    return c;
  }

  // Runs the handshakes (and the fake broker) until `done` holds.
  bool RunUntil(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(10)) {
    return testing::RunUntil(io_, done, timeout);
  }

  // Runs until `c` has connected or failed.
  bool Finish(const std::shared_ptr<Connection>& c) {
    return RunUntil([&c] { return c->finished(); });
  }

  // Whether a new client connection gets through the handshake to `broker`.
  ::testing::AssertionResult ConnectsTo(int32_t broker) {
    tcp::socket client = Dial();
    auto c = Accept();
    if (!Finish(c)) return ::testing::AssertionFailure() << "the handshake did not finish";
    if (!c->connected) return ::testing::AssertionFailure() << c->failure->reason;
    if (c->handshake.broker() != broker || c->handshake.series() != &metrics_.ForBroker(broker)) {
      return ::testing::AssertionFailure() << "connected to broker " << c->handshake.broker();
    }
    return ::testing::AssertionSuccess();
  }

  double Failures(int32_t broker) {
    return metrics_.ForBroker(broker).upstream_connect_failures->Value();
  }

  asio::io_context io_;
  prometheus::Registry registry_;
  AgentMetrics metrics_;
  AgentConfig config_;
  PortMap ports_;
  BrokerDirectory directory_;
  SessionEnv env_{};
  int unreachable_ = 0;
  tcp::acceptor listener_{io_, {asio::ip::address_v4::loopback(), 0}};
  const int port_ = listener_.local_endpoint().port();
  // The fake broker: accepts TCP connections and keeps them.
  tcp::acceptor broker_{io_, {asio::ip::address_v4::loopback(), 0}};
  std::vector<tcp::socket> broker_connections_;

 private:
  void AcceptBrokerConnections() {
    broker_.async_accept([this](const asio::error_code& ec, tcp::socket s) {
      if (ec) return;
      broker_connections_.push_back(std::move(s));
      AcceptBrokerConnections();
    });
  }
};

void Send(tcp::socket& s, std::string_view bytes) {
  asio::write(s, asio::buffer(bytes.data(), bytes.size()));
}

// Bytes that arrived on `t` and were not read yet.
size_t Available(Transport& t) {
  asio::error_code ec;
  return t.tcp().available(ec);
}

// The next `n` bytes the client sent, or what arrived of them within 5 s.
std::string Receive(Transport& t, size_t n) {
  testing::WaitFor([&] { return Available(t) >= n; }, absl::Seconds(5));
  std::string bytes(std::min(n, Available(t)), '\0');
  asio::read(t.tcp(), asio::buffer(bytes.data(), bytes.size()));
  return bytes;
}

TEST_F(ClientHandshakeTest, ConnectsToTheBrokerItsPortNames) {
  SetBrokers({RefusingBroker(1), FakeBroker(2)});
  tcp::socket client = Dial();
  auto c = Accept();
  ASSERT_TRUE(Finish(c));
  ASSERT_TRUE(c->connected) << c->failure->reason;
  EXPECT_TRUE(c->broker_chosen);
  EXPECT_EQ(c->handshake.broker(), 2);
  EXPECT_EQ(c->handshake.series(), &metrics_.ForBroker(2));
  EXPECT_EQ(c->handshake.phase(), ClientHandshake::Phase::kDone);
  EXPECT_EQ(c->handshake.client_host(), "127.0.0.1");
  EXPECT_EQ(c->handshake.Who(), absl::StrCat("client 127.0.0.1:", client.local_endpoint().port(),
                                             " on port ", port_));
  EXPECT_EQ(c->upstream.tcp().remote_endpoint().port(), broker_.local_endpoint().port());
  ASSERT_TRUE(RunUntil([this] { return broker_connections_.size() == 1; }));
  EXPECT_EQ(Failures(1), 0);
  // Both sockets send small requests and responses at once.
  tcp::no_delay client_delay, upstream_delay;
  c->client.tcp().get_option(client_delay);
  c->upstream.tcp().get_option(upstream_delay);
  EXPECT_TRUE(client_delay.value());
  EXPECT_TRUE(upstream_delay.value());
}

// A session pauses the handshake until the client's first request is whole:
// no broker connection is made before ConnectNow.
TEST_F(ClientHandshakeTest, PausedHandshakeConnectsOnlyWhenTold) {
  SetBrokers({FakeBroker(2)});
  tcp::socket client = Dial();
  auto c = Accept({}, /*pause=*/true);
  ASSERT_TRUE(RunUntil([&c] { return c->paused || c->finished(); }));
  ASSERT_FALSE(c->failure.has_value()) << c->failure->reason;
  EXPECT_TRUE(c->broker_chosen);
  EXPECT_EQ(c->handshake.broker(), 2);
  EXPECT_EQ(c->handshake.series(), &metrics_.ForBroker(2));
  EXPECT_EQ(c->handshake.phase(), ClientHandshake::Phase::kAwaitingRequest);
  // The session may answer the client before any broker connection.
  tcp::no_delay client_delay;
  c->client.tcp().get_option(client_delay);
  EXPECT_TRUE(client_delay.value());
  RunUntil([] { return false; }, absl::Milliseconds(200));
  EXPECT_FALSE(c->connected);
  EXPECT_TRUE(broker_connections_.empty());
  EXPECT_FALSE(c->upstream.tcp().is_open());

  c->handshake.ConnectNow();
  ASSERT_TRUE(Finish(c));
  ASSERT_TRUE(c->connected) << c->failure->reason;
  EXPECT_EQ(c->handshake.phase(), ClientHandshake::Phase::kDone);
  ASSERT_TRUE(RunUntil([this] { return broker_connections_.size() == 1; }));
}

TEST_F(ClientHandshakeTest, ProxyV1HeaderIsTakenExactlyAndNamesTheClient) {
  config_.haproxy_protocol = true;
  SetBrokers({FakeBroker(2)});
  tcp::socket client = Dial();
  Send(client, "PROXY TCP4 192.0.2.10 192.0.2.20 45678 9092\r\nafter");
  auto c = Accept();
  ASSERT_TRUE(Finish(c));
  ASSERT_TRUE(c->connected) << c->failure->reason;
  ASSERT_TRUE(c->handshake.proxy().has_value());
  EXPECT_EQ(c->handshake.proxy()->source, (net::ProxyAddress{"192.0.2.10", 45678}));
  EXPECT_EQ(c->handshake.client_host(), "192.0.2.10");
  EXPECT_THAT(c->handshake.Who(), HasSubstr(" (original source: 192.0.2.10:45678, original "
                                            "destination: 192.0.2.20:9092)"));
  audit::AuditEvent e;
  c->handshake.Describe(e);
  EXPECT_EQ(e.proxy_source_address, "192.0.2.10:45678");
  EXPECT_EQ(e.broker_id, 2);
  EXPECT_EQ(e.listener_port, port_);
  // What followed the header is the forwarder's.
  EXPECT_EQ(Receive(c->client, 5), "after");
}

TEST_F(ClientHandshakeTest, ProxyV2HeaderSplitAcrossTwoWrites) {
  config_.haproxy_protocol = true;
  SetBrokers({FakeBroker(2)});
  net::ProxyHeader h;
  h.source = net::ProxyAddress{"2001:db8::1", 4567};
  h.destination = net::ProxyAddress{"2001:db8::2", 9092};
  absl::StatusOr<std::vector<uint8_t>> header = net::EncodeProxyHeaderV2(h);
  ASSERT_TRUE(header.ok()) << header.status();
  const std::string bytes(header->begin(), header->end());

  tcp::socket client = Dial();
  auto c = Accept();
  Send(client, bytes.substr(0, 10));
  ASSERT_TRUE(testing::WaitFor([&c] { return Available(c->client) == 10; }, absl::Seconds(5)));
  // The handshake takes the first part and waits for the rest.
  ASSERT_TRUE(RunUntil([&c] { return Available(c->client) == 0; }));
  EXPECT_FALSE(c->finished());
  EXPECT_EQ(c->handshake.phase(), ClientHandshake::Phase::kProxyHeader);
  Send(client, bytes.substr(10) + "x");
  ASSERT_TRUE(Finish(c));
  ASSERT_TRUE(c->connected) << c->failure->reason;
  EXPECT_EQ(c->handshake.client_host(), "2001:db8::1");
  EXPECT_THAT(c->handshake.Who(), HasSubstr("(original source: [2001:db8::1]:4567, "));
  EXPECT_EQ(Receive(c->client, 1), "x");
}

TEST_F(ClientHandshakeTest, GarbageInsteadOfAProxyHeaderIsBadInput) {
  config_.haproxy_protocol = true;
  SetBrokers({FakeBroker(2)});
  tcp::socket client = Dial();
  Send(client, "GET / HTTP/1.1\r\n\r\n");
  auto c = Accept();
  ASSERT_TRUE(Finish(c));
  ASSERT_TRUE(c->failure.has_value());
  EXPECT_EQ(c->failure->bad_input, "proxy");
  EXPECT_EQ(c->failure->what, "PROXY header");
  EXPECT_EQ(c->failure->status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(c->broker_chosen);
}

TEST_F(ClientHandshakeTest, ClosingInsideTheProxyHeaderIsBadInput) {
  config_.haproxy_protocol = true;
  SetBrokers({FakeBroker(2)});
  tcp::socket client = Dial();
  auto c = Accept();
  Send(client, "PROXY TCP4 ");
  ASSERT_TRUE(testing::WaitFor([&c] { return Available(c->client) == 11; }, absl::Seconds(5)));
  ASSERT_TRUE(RunUntil([&c] { return Available(c->client) == 0; }));
  client.close();
  ASSERT_TRUE(Finish(c));
  ASSERT_TRUE(c->failure.has_value());
  EXPECT_EQ(c->failure->bad_input, "proxy");
  EXPECT_EQ(c->failure->status.message(),
            "the client closed the connection 11 bytes into a PROXY protocol header");
}

TEST_F(ClientHandshakeTest, ClientClosingBeforeSendingAnythingIsQuiet) {
  config_.haproxy_protocol = true;
  SetBrokers({FakeBroker(2)});
  tcp::socket client = Dial();
  client.close();
  auto c = Accept();
  ASSERT_TRUE(Finish(c));
  ASSERT_TRUE(c->failure.has_value());
  EXPECT_EQ(c->failure->bad_input, "");
  EXPECT_EQ(c->failure->reason, "client closed before sending a PROXY header");
}

TEST_F(ClientHandshakeTest, BootstrapPortSkipsABrokerThatRefuses) {
  ports_.min_broker_id = 9;  // names broker 9, which is not in the cluster
  SetBrokers({RefusingBroker(1), FakeBroker(2)});
  // Bootstrap connections take turns over the brokers, so of two in a row
  // at least one tries broker 1 first.
  EXPECT_TRUE(ConnectsTo(2));
  EXPECT_TRUE(ConnectsTo(2));
  EXPECT_GE(Failures(1), 1);
  EXPECT_EQ(unreachable_, Failures(1));
}

TEST_F(ClientHandshakeTest, BrokersNamedByAHostNameAreLookedUpAndReached) {
  BrokerEndpoint named = FakeBroker(2);
  named.host = "localhost";
  SetBrokers({named});
  EXPECT_TRUE(ConnectsTo(2));
  EXPECT_TRUE(ConnectsTo(2));  // with the addresses kept from the first lookup
  // A name whose port refuses fails as an address does.
  BrokerEndpoint refusing = RefusingBroker(2);
  refusing.host = "localhost";
  SetBrokers({refusing});
  tcp::socket client = Dial();
  auto c = Accept();
  ASSERT_TRUE(Finish(c));
  ASSERT_TRUE(c->failure.has_value());
  EXPECT_THAT(c->failure->reason, HasSubstr("cannot connect to broker 2"));
  SetBrokers({named});
  EXPECT_TRUE(ConnectsTo(2));
}

TEST_F(ClientHandshakeTest, BootstrapFailsWhenEveryBrokerRefuses) {
  ports_.min_broker_id = 9;
  SetBrokers({RefusingBroker(1), RefusingBroker(2)});
  tcp::socket client = Dial();
  auto c = Accept();
  ASSERT_TRUE(Finish(c));
  ASSERT_TRUE(c->failure.has_value());
  EXPECT_EQ(c->failure->bad_input, "");
  const std::string refused = asio::error_code(asio::error::connection_refused).message();
  EXPECT_EQ(c->failure->reason,
            absl::StrCat("cannot connect to broker ", c->handshake.broker(), ": ", refused));
  EXPECT_EQ(Failures(1), 1);
  EXPECT_EQ(Failures(2), 1);
}

TEST_F(ClientHandshakeTest, BootstrapAvoidsABrokerMarkedDown) {
  BrokerHealth health;
  env_.broker_health = &health;
  health.Failed(1, BrokerHealth::Clock::now());
  ports_.min_broker_id = 9;
  SetBrokers({RefusingBroker(1), FakeBroker(2)});
  EXPECT_TRUE(ConnectsTo(2));
  EXPECT_TRUE(ConnectsTo(2));
  EXPECT_EQ(Failures(1), 0);
}

TEST_F(ClientHandshakeTest, PortWhoseBrokerIsDownRefusesWithoutConnecting) {
  BrokerHealth health;
  env_.broker_health = &health;
  health.Failed(2, BrokerHealth::Clock::now());
  SetBrokers({FakeBroker(2)});
  tcp::socket client = Dial();
  auto c = Accept();
  ASSERT_TRUE(Finish(c));
  ASSERT_TRUE(c->failure.has_value());
  EXPECT_EQ(c->failure->reason, "broker 2 is down");
  EXPECT_TRUE(c->broker_chosen);  // the audit log has the connection open first
  EXPECT_EQ(metrics_.ConnectionsRefused("broker_down").Value(), 1);
  EXPECT_FALSE(c->upstream.tcp().is_open());
}

TEST_F(ClientHandshakeTest, AddressHoldingItsMostConnectionsIsRefused) {
  config_.max_connections_per_address = 1;
  ConnectionLimiter limiter({.max_per_address = 1});
  SetBrokers({FakeBroker(2)});
  tcp::socket first_client = Dial();
  auto first = Accept(limiter.Accept(absl::Now()).ticket);
  ASSERT_TRUE(Finish(first));
  ASSERT_TRUE(first->connected);

  tcp::socket second_client = Dial();
  auto second = Accept(limiter.Accept(absl::Now()).ticket);
  ASSERT_TRUE(Finish(second));
  ASSERT_TRUE(second->failure.has_value());
  EXPECT_EQ(second->failure->reason, "too many connections from the client's address");
  EXPECT_FALSE(second->broker_chosen);
  EXPECT_EQ(metrics_.ConnectionsRefused("per_address").Value(), 1);
}

TEST_F(ClientHandshakeTest, TimeoutWaitingForTheProxyHeaderCountsAsBadProxyInput) {
  config_.haproxy_protocol = true;
  SetBrokers({FakeBroker(2)});
  tcp::socket client = Dial();
  auto c = Accept();
  c->handshake.TimedOut(ClientHandshake::Clock::now());
  ASSERT_TRUE(c->failure.has_value());
  EXPECT_EQ(c->failure->bad_input, "");
  EXPECT_EQ(c->failure->reason,
            "no complete PROXY protocol header arrived within GATEWAY_UPSTREAM_CONNECT_TIMEOUT");
  EXPECT_EQ(metrics_.ClosedForBadInput("proxy").Value(), 1);
}

TEST_F(ClientHandshakeTest, TimeoutConnectingMarksTheBrokerDown) {
  BrokerHealth health;
  env_.broker_health = &health;
  SetBrokers({FakeBroker(2)});
  tcp::socket client = Dial();
  auto c = Accept();
  ASSERT_EQ(c->handshake.phase(), ClientHandshake::Phase::kConnecting);  // resolving
  const auto now = ClientHandshake::Clock::now();
  c->handshake.TimedOut(now);
  ASSERT_TRUE(c->failure.has_value());
  EXPECT_EQ(c->failure->reason, "connecting to broker 2 timed out");
  EXPECT_EQ(Failures(2), 1);
  EXPECT_TRUE(health.IsDown(2, now));
  EXPECT_EQ(unreachable_, 1);
  // The resolve under way reports nothing more.
  RunUntil([] { return false; }, absl::Milliseconds(200));
  EXPECT_FALSE(c->connected);
}

// TLS towards the client: a server certificate from a test CA.
class ClientHandshakeTlsTest : public ClientHandshakeTest {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "client_handshake_test_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    absl::StatusOr<testing::TestCa> ca = testing::TestCa::Create("client handshake test CA");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ServerTlsConfig tls{.cert_file = dir_ + "/agent.pem", .key_file = dir_ + "/agent.key"};
    ASSERT_TRUE(ca->Issue({.common_name = "agent", .dns_names = {"*.example.com"}},
                          tls.cert_file, tls.key_file)
                    .ok());
    absl::StatusOr<std::unique_ptr<TlsServer>> server = TlsServer::Create(tls);
    ASSERT_TRUE(server.ok()) << server.status();
    tls_server_ = *std::move(server);
    env_.tls_server = tls_server_.get();
    client_context_.set_verify_mode(asio::ssl::verify_none);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Starts a TLS handshake from `client` that asks for `server_name` and
  // trusts any certificate; `done` is set when it ends.
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> StartTlsClient(tcp::socket& client,
                                                                 const char* server_name,
                                                                 bool* done) {
    auto tls = std::make_unique<asio::ssl::stream<tcp::socket&>>(client, client_context_);
    SSL_set_tlsext_host_name(tls->native_handle(), server_name);
    tls->async_handshake(asio::ssl::stream_base::client,
                         [done](const asio::error_code&) { *done = true; });
    return tls;
  }

  std::string dir_;
  std::unique_ptr<TlsServer> tls_server_;
  asio::ssl::context client_context_{asio::ssl::context::tls_client};
};

TEST_F(ClientHandshakeTlsTest, PlaintextClientOnATlsPortIsToldSo) {
  SetBrokers({FakeBroker(2)});
  tcp::socket client = Dial();
  Send(client, std::string("\0\0\0\x10\0\x12\0\x03", 8));  // an ApiVersions request, say
  auto c = Accept();
  ASSERT_TRUE(Finish(c));
  ASSERT_TRUE(c->failure.has_value());
  EXPECT_EQ(c->failure->bad_input, "tls");
  EXPECT_EQ(c->failure->what, "TLS handshake");
  EXPECT_THAT(c->failure->status.message(),
              HasSubstr("(first byte 0x00; a plaintext Kafka client on a TLS port?)"));
}

TEST_F(ClientHandshakeTlsTest, ServerNameChoosesTheBroker) {
  SniRoute route("broker{{nodeId}}.example.com", "bootstrap.example.com");
  env_.sni = &route;
  SetBrokers({RefusingBroker(1), FakeBroker(2)});
  tcp::socket client = Dial();
  bool client_done = false;
  auto tls = StartTlsClient(client, "broker2.example.com", &client_done);
  auto c = Accept();
  ASSERT_TRUE(RunUntil([&] { return client_done && c->finished(); }));
  ASSERT_TRUE(c->connected) << c->failure->reason;
  EXPECT_EQ(c->handshake.broker(), 2);
  EXPECT_EQ(c->handshake.sni(), "broker2.example.com");
  EXPECT_THAT(c->handshake.tls_version(), HasSubstr("TLS"));
}

TEST_F(ClientHandshakeTlsTest, ServerNameOfABrokerNotInTheClusterIsRefused) {
  SniRoute route("broker{{nodeId}}.example.com", "bootstrap.example.com");
  env_.sni = &route;
  SetBrokers({FakeBroker(2)});
  tcp::socket client = Dial();
  bool client_done = false;
  auto tls = StartTlsClient(client, "broker7.example.com", &client_done);
  auto c = Accept();
  ASSERT_TRUE(Finish(c));
  ASSERT_TRUE(c->failure.has_value());
  EXPECT_EQ(c->failure->reason, "broker 7 named by the server name is not in the cluster");
  EXPECT_EQ(c->handshake.broker(), 7);
  EXPECT_FALSE(c->broker_chosen);
}

}  // namespace
}  // namespace kgw::agent
