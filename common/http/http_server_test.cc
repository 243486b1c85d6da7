#include "common/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/http/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace kgw::http {
namespace {

using ::testing::HasSubstr;

constexpr int kClientTimeoutSeconds = 5;

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// A plain blocking TCP client for 127.0.0.1. Reads time out after
// kClientTimeoutSeconds so that a server that never answers or never closes
// fails the test instead of hanging it.
class Client {
 public:
  explicit Client(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    timeval timeout{.tv_sec = kClientTimeoutSeconds, .tv_usec = 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~Client() { close(fd_); }

  bool connected() const { return connected_; }
  // TCP_ESTABLISHED, TCP_CLOSE_WAIT (the server sent FIN), TCP_CLOSE (reset), ...
  int tcp_state() const {
    tcp_info info{};
    socklen_t len = sizeof info;
    getsockopt(fd_, IPPROTO_TCP, TCP_INFO, &info, &len);
    return info.tcpi_state;
  }

  bool Send(absl::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Everything the server sends until it closes the connection.
  absl::StatusOr<std::string> ReadUntilClosed() {
    std::string received;
    char buffer[4096];
    while (true) {
      ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n > 0) {
        received.append(buffer, static_cast<size_t>(n));
      } else if (n == 0) {
        return received;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return absl::DeadlineExceededError(absl::StrCat(
            "server did not close within ", kClientTimeoutSeconds, "s; got: ", received));
      } else if (errno != EINTR) {
        return absl::UnavailableError(absl::StrCat("recv: ", std::strerror(errno)));
      }
    }
  }

 private:
  int fd_;
  bool connected_ = false;
};

struct Reply {
  int status = 0;
  absl::flat_hash_map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

Reply ParseReply(absl::string_view raw) {
  Reply reply;
  size_t end_of_head = raw.find("\r\n\r\n");
  if (end_of_head == absl::string_view::npos) {
    ADD_FAILURE() << "no complete response head in: '" << raw << "'";
    return reply;
  }
  std::vector<absl::string_view> lines = absl::StrSplit(raw.substr(0, end_of_head), "\r\n");
  std::vector<absl::string_view> status_line = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
  EXPECT_EQ(status_line[0], "HTTP/1.1");
  EXPECT_TRUE(status_line.size() == 3 && absl::SimpleAtoi(status_line[1], &reply.status))
      << lines[0];
  for (size_t i = 1; i < lines.size(); ++i) {
    std::pair<absl::string_view, absl::string_view> header =
        absl::StrSplit(lines[i], absl::MaxSplits(": ", 1));
    reply.headers[absl::AsciiStrToLower(header.first)] = std::string(header.second);
  }
  reply.body = std::string(raw.substr(end_of_head + 4));
  return reply;
}

class HttpServerTest : public ::testing::Test {
 protected:
  // Creates the server; register handlers on it before Run().
  HttpServer& MakeServer(HttpServerOptions options = {}) {
    server_.emplace(io_, options);
    server_->Handle("/hello", [] { return Response{.body = "hello\n"}; });
    return *server_;
  }

  // Listens on 127.0.0.1 port 0 and runs the io_context on a thread of its own.
  void Run() {
    absl::Status listening = server_->Listen("127.0.0.1", 0);
    ASSERT_TRUE(listening.ok()) << listening;
    port_ = server_->port();
    ASSERT_GT(port_, 0);
    io_thread_ = std::thread([this] {
      io_.run();
      run_returned_ = true;
    });
  }

  void TearDown() override {
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
  }

  // Sends `request` on a new connection and parses what comes back before the
  // server closes the connection.
  Reply Exchange(absl::string_view request) {
    Client client(port_);
    EXPECT_TRUE(client.connected());
    EXPECT_TRUE(client.Send(request));
    absl::StatusOr<std::string> raw = client.ReadUntilClosed();
    if (!raw.ok()) {
      ADD_FAILURE() << raw.status();
      return Reply{};
    }
    return ParseReply(*raw);
  }

  Reply Get(absl::string_view target) {
    return Exchange(absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  }

  asio::io_context io_;
  std::optional<HttpServer> server_;  // destroyed before io_
  std::thread io_thread_;
  std::atomic<bool> run_returned_{false};
  int port_ = 0;
};

TEST_F(HttpServerTest, AnswersRegisteredPathWithBodyAndClosesConnection) {
  MakeServer();
  Run();

  Reply reply = Get("/hello");

  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "hello\n");
  EXPECT_EQ(reply.headers["content-type"], "text/plain; charset=utf-8");
  EXPECT_EQ(reply.headers["content-length"], "6");
  EXPECT_EQ(reply.headers["connection"], "close");
}

TEST_F(HttpServerTest, UsesStatusAndContentTypeChosenByHandler) {
  MakeServer().Handle("/json", [] {
    return Response{.status = 503, .content_type = "application/json", .body = "{}"};
  });
  Run();

  Reply reply = Get("/json");

  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(reply.headers["content-type"], "application/json");
  EXPECT_EQ(reply.body, "{}");
}

TEST_F(HttpServerTest, AcceptsHttp10Requests) {
  MakeServer();
  Run();

  EXPECT_EQ(Exchange("GET /hello HTTP/1.0\r\n\r\n").body, "hello\n");
}

TEST_F(HttpServerTest, IgnoresQueryStringWhenRouting) {
  MakeServer();
  Run();

  Reply reply = Get("/hello?verbose=1&x=%20");

  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "hello\n");
}

TEST_F(HttpServerTest, HandlersSeePathQueryAndHeadersAndMaySendHeaders) {
  Request seen;
  MakeServer().Handle("/echo", [&seen](const Request& request) {
    seen = request;
    return Response{.status = 401, .body = "no\n", .headers = {{"WWW-Authenticate", "Bearer"}}};
  });
  Run();

  Reply reply = Exchange(
      "GET /echo?a=1 HTTP/1.1\r\nHost: localhost\r\nAuthorization:  Bearer t0k \r\n"
      "X-Twice: 1\r\nx-twice: 2\r\nnot a header\r\n\r\n");

  EXPECT_EQ(reply.status, 401);
  EXPECT_EQ(reply.headers["www-authenticate"], "Bearer");
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.path, "/echo");
  EXPECT_EQ(seen.query, "a=1");
  EXPECT_EQ(seen.Header("authorization"), "Bearer t0k");
  EXPECT_EQ(seen.Header("x-twice"), "2");
  EXPECT_EQ(seen.Header("host"), "localhost");
  EXPECT_EQ(seen.Header("cookie"), std::nullopt);
}

TEST_F(HttpServerTest, AsyncHandlersAnswerFromAnotherThread) {
  std::thread answerer;
  MakeServer().HandleAsync("/later", [&answerer](const Request&, Responder respond) {
    answerer = std::thread([respond = std::move(respond)] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      respond(Response{.body = "later\n"});
    });
  });
  Run();

  Reply reply = Get("/later");
  Reply head = Exchange("HEAD /hello HTTP/1.1\r\n\r\n");

  answerer.join();
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "later\n");
  EXPECT_EQ(head.headers["content-length"], "6");
  EXPECT_EQ(head.body, "");
}

TEST_F(HttpServerTest, AnswersUnknownPathsWith404) {
  MakeServer();
  Run();

  for (absl::string_view target : {"/", "/nope", "/hello/", "/hell", "/hello/x", "/HELLO"}) {
    SCOPED_TRACE(target);
    EXPECT_EQ(Get(target).status, 404);
  }
}

TEST_F(HttpServerTest, AnswersOtherMethodsWith405AndAllowHeader) {
  MakeServer();
  Run();

  Reply reply = Exchange("POST /hello HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");

  EXPECT_EQ(reply.status, 405);
  EXPECT_EQ(reply.headers["allow"], "GET, HEAD");
  EXPECT_EQ(Exchange("DELETE /hello HTTP/1.1\r\n\r\n").status, 405);
  EXPECT_EQ(Exchange("get /hello HTTP/1.1\r\n\r\n").status, 405);  // methods are case-sensitive
}

TEST_F(HttpServerTest, AnswersMalformedRequestLinesWith400) {
  MakeServer();
  Run();

  for (absl::string_view request : {
           "garbage\r\n\r\n",
           "\r\n\r\n",
           "GET /hello\r\n\r\n",
           "GET /hello HTTP/1.1 extra\r\n\r\n",
           "GET  /hello HTTP/1.1\r\n\r\n",
           "GET hello HTTP/1.1\r\n\r\n",
           "GET http://example.com/hello HTTP/1.1\r\n\r\n",
           "GET /hello HTTP/2.0\r\n\r\n",
           "GET /hello FTP/1.1\r\n\r\n",
           "G(T /hello HTTP/1.1\r\n\r\n",
           "GET /he\x01llo HTTP/1.1\r\n\r\n",
       }) {
    SCOPED_TRACE(absl::CEscape(request));
    EXPECT_EQ(Exchange(request).status, 400);
  }
}

TEST_F(HttpServerTest, HeadSendsHeadersOfGetWithoutBody) {
  MakeServer();
  Run();

  Reply reply = Exchange("HEAD /hello HTTP/1.1\r\n\r\n");

  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers["content-length"], "6");
  EXPECT_EQ(reply.headers["content-type"], "text/plain; charset=utf-8");
  EXPECT_EQ(reply.body, "");
  EXPECT_EQ(Exchange("HEAD /nope HTTP/1.1\r\n\r\n").body, "");
}

// A request head of exactly `size` bytes, padded with a header.
std::string RequestHeadOfSize(size_t size) {
  std::string prefix = "GET /hello HTTP/1.1\r\nX-Pad: ";
  std::string suffix = "\r\n\r\n";
  return prefix + std::string(size - prefix.size() - suffix.size(), 'a') + suffix;
}

TEST_F(HttpServerTest, AcceptsRequestHeadOfExactlyTheLimit) {
  MakeServer();
  Run();

  EXPECT_EQ(Exchange(RequestHeadOfSize(8 * 1024)).status, 200);
}

TEST_F(HttpServerTest, AnswersOversizedRequestHeadWith431) {
  MakeServer();
  Run();

  EXPECT_EQ(Exchange(RequestHeadOfSize(8 * 1024 + 1)).status, 431);
  EXPECT_EQ(Exchange(RequestHeadOfSize(64 * 1024)).status, 431);
}

// Closing a socket with unread request bytes makes the kernel send a reset,
// which can destroy a response the client has not read yet. The server must
// send FIN and wait for the client to close instead.
TEST_F(HttpServerTest, FinishesWithFinNotResetWhenRequestBytesAreLeftUnread) {
  MakeServer();
  Run();
  Client client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send(RequestHeadOfSize(256 * 1024)));  // mostly never read

  ASSERT_TRUE(WaitFor([&] { return client.tcp_state() != TCP_ESTABLISHED; },
                      std::chrono::seconds(kClientTimeoutSeconds)));
  EXPECT_EQ(client.tcp_state(), TCP_CLOSE_WAIT);
  absl::StatusOr<std::string> received = client.ReadUntilClosed();
  ASSERT_TRUE(received.ok()) << received.status();
  EXPECT_EQ(ParseReply(*received).status, 431);
}

TEST_F(HttpServerTest, ClosesConnectionWhoseHeadDoesNotArriveInTime) {
  MakeServer({.read_timeout = std::chrono::milliseconds(100)});
  Run();
  Client client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send("GET /hello HTTP/1.1\r\n"));  // never finished

  absl::StatusOr<std::string> received = client.ReadUntilClosed();

  ASSERT_TRUE(received.ok()) << received.status();
  EXPECT_EQ(*received, "");
}

TEST_F(HttpServerTest, StopClosesListenerAndOpenConnections) {
  // A read timeout far beyond the client's, so only Stop() can close the idle
  // connection in time.
  MakeServer({.read_timeout = std::chrono::minutes(5)});
  Run();
  Client idle(port_);
  ASSERT_TRUE(idle.connected());
  ASSERT_TRUE(idle.Send("GET /hello HTTP/1.1\r\n"));
  // Connections are accepted in order, so once a later one is answered the
  // idle one is open on the server.
  ASSERT_EQ(Get("/hello").status, 200);

  asio::post(io_, [this] { server_->Stop(); });

  absl::StatusOr<std::string> received = idle.ReadUntilClosed();
  ASSERT_TRUE(received.ok()) << received.status();
  EXPECT_EQ(*received, "");
  // Nothing is left for the io_context to do: no accept, no timer, no socket.
  EXPECT_TRUE(WaitFor([this] { return run_returned_.load(); }, std::chrono::seconds(2)));
  EXPECT_FALSE(Client(port_).connected());
}

TEST_F(HttpServerTest, ListensAgainAfterStop) {
  HttpServer& server = MakeServer();
  ASSERT_TRUE(server.Listen("127.0.0.1", 0).ok());
  server.Stop();
  EXPECT_EQ(server.port(), 0);
  Run();  // listens again, with the aborted accept still queued

  EXPECT_EQ(Get("/hello").status, 200);
  EXPECT_EQ(Get("/hello").status, 200);
}

TEST_F(HttpServerTest, ListenNamesAddressAndOsErrorWhenPortIsTaken) {
  MakeServer();
  Run();
  asio::io_context other_io;  // io_ is running on another thread
  HttpServer second(other_io);

  absl::Status status = second.Listen("127.0.0.1", port_);

  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr(absl::StrCat("127.0.0.1:", port_)));
  EXPECT_THAT(status.message(), HasSubstr(std::strerror(EADDRINUSE)));
  EXPECT_EQ(second.port(), 0);
}

TEST_F(HttpServerTest, ListenRejectsBadHostPortAndSecondListen) {
  HttpServer& server = MakeServer();

  EXPECT_EQ(server.Listen("localhost", 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.Listen("127.0.0.1", 65536).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.Listen("127.0.0.1", -1).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(server.Listen("127.0.0.1", 0).ok());
  EXPECT_EQ(server.Listen("127.0.0.1", 0).code(), absl::StatusCode::kFailedPrecondition);
}

class HealthAndMetricsTest : public HttpServerTest {
 protected:
  void SetUp() override {
    registry_ = std::make_shared<prometheus::Registry>();
    AddHealthAndMetrics(MakeServer(), registry_, [this] { return ready_.load(); });
  }

  std::shared_ptr<prometheus::Registry> registry_;
  std::atomic<bool> ready_{false};
};

TEST_F(HealthAndMetricsTest, LiveIsAlwaysOk) {
  Run();

  Reply reply = Get("/health/live");

  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "ok\n");
}

TEST_F(HealthAndMetricsTest, ReadyFollowsTheReadinessCallback) {
  Run();

  Reply before = Get("/health/ready");
  ready_ = true;
  Reply after = Get("/health/ready");
  ready_ = false;
  Reply again = Get("/health/ready");

  EXPECT_EQ(before.status, 503);
  EXPECT_EQ(before.body, "not ready\n");
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body, "ready\n");
  EXPECT_EQ(again.status, 503);
}

TEST_F(HealthAndMetricsTest, MetricsServesRegistryInTextFormat) {
  prometheus::Counter& counter = prometheus::BuildCounter()
                                     .Name("kgw_test_total")
                                     .Help("Counts tests.")
                                     .Register(*registry_)
                                     .Add({});
  counter.Increment(3);
  Run();

  Reply reply = Get("/metrics?name[]=kgw_test_total");

  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(reply.body, HasSubstr("# TYPE kgw_test_total counter\n"));
  EXPECT_THAT(reply.body, HasSubstr("\nkgw_test_total 3\n"));
}

TEST(SerializeMetricsTest, RendersCurrentValuesWithLabels) {
  prometheus::Registry registry;
  auto& family = prometheus::BuildCounter().Name("kgw_requests_total").Help("h").Register(registry);
  family.Add({{"api", "produce"}}).Increment(2);
  family.Add({{"api", "fetch"}}).Increment(5);

  std::string text = SerializeMetrics(registry);

  EXPECT_THAT(text, HasSubstr("kgw_requests_total{api=\"produce\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("kgw_requests_total{api=\"fetch\"} 5\n"));
}

}  // namespace
}  // namespace kgw::http
