// A minimal HTTP/1.1 server for a node's operations endpoints (health checks,
// Prometheus metrics). It is not a general web server: it answers GET and HEAD
// on exact paths, one request per connection, and closes the connection after
// every response.
//
//   asio::io_context io;
//   http::HttpServer server(io);
//   server.Handle("/health/live", [] { return http::Response{.body = "ok\n"}; });
//   KGW_RETURN_IF_ERROR(server.Listen("0.0.0.0", 8080));
//   io.run();
//
// Threads: the server runs entirely on the thread that runs `io`; handlers are
// called there and must neither block nor throw. Handle(), Listen(), Stop() and
// the destructor must be called on that thread, or while `io` is not running.
// The io_context must outlive the server.
//
// Handlers see the request's path, query string and headers (Request); a
// handler that needs none of them may take no argument. A handler that has to
// wait for something (another server, say) is registered with HandleAsync and
// answers later, from any thread, through its Responder.
//
// Requests: the request head (request line and headers) may be at most
// `max_head_bytes` and must arrive within `read_timeout` of the connection
// being accepted, otherwise the connection is answered with 431 or closed.
// Query strings are ignored for routing. Errors go to the client as status
// codes: 400 for a malformed request line, 405 for methods other than GET and
// HEAD, 404 for paths with no handler.
#ifndef KGW_COMMON_HTTP_HTTP_SERVER_H_
#define KGW_COMMON_HTTP_HTTP_SERVER_H_

#include <asio.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kgw::http {

// What a handler is asked.
struct Request {
  std::string method;  // GET or HEAD
  std::string path;    // without the query string
  std::string query;   // after '?', without it; empty when there is none
  // Header names in lower case, values without surrounding spaces; a header
  // sent more than once keeps its last value.
  absl::flat_hash_map<std::string, std::string> headers;

  std::optional<std::string> Header(const std::string& lower_case_name) const;
};

// What a handler answers. For HEAD requests the server sends the headers this
// response would have (including its Content-Length) and no body.
struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Sent after Content-Type and Content-Length, in this order. Names and
  // values must not contain CR or LF.
  std::vector<std::pair<std::string, std::string>> headers;
};

using Handler = std::function<Response(const Request&)>;
// Sends the response; call it exactly once, from any thread. A response that
// comes after the connection's read_timeout (counted from its accept) or after
// Stop() is dropped, the connection being closed by then.
using Responder = std::function<void(Response)>;
using AsyncHandler = std::function<void(const Request&, Responder)>;

struct HttpServerOptions {
  // How long a client has, from being accepted, to send its request head; and
  // after the response, to close its side before the server does.
  std::chrono::milliseconds read_timeout{5000};
  // Largest accepted request head, including the blank line that ends it.
  std::size_t max_head_bytes = 8 * 1024;
};

class HttpServer {
 public:
  explicit HttpServer(asio::io_context& io, HttpServerOptions options = {});
  ~HttpServer();  // Stop()s.

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Routes GET and HEAD requests for exactly `path` (which starts with '/') to
  // `handler`. Registering a path twice is a programming error.
  void Handle(std::string path, Handler handler);
  void Handle(std::string path, std::function<Response()> handler);
  void HandleAsync(std::string path, AsyncHandler handler);

  // Binds `host` (an IP address literal such as "0.0.0.0", "127.0.0.1" or "::")
  // and `port` (0 picks a free port; see port()) with SO_REUSEADDR and starts
  // accepting. InvalidArgument for a bad host or port, FailedPrecondition if
  // already listening, Unavailable naming host:port and the OS error if the
  // socket cannot be bound or put into listening state.
  absl::Status Listen(const std::string& host, int port);

  // The port bound by Listen(), or 0 when not listening.
  int port() const { return port_; }

  // Stops accepting and closes every open connection. Responses not yet
  // written are dropped. Safe to call more than once.
  void Stop();

 private:
  class Connection;

  void Accept();
  // Parses a request head (ending in the blank line) and answers it through
  // `respond`, at once or (HandleAsync) later; `send_body` is false for HEAD
  // requests.
  void Dispatch(absl::string_view head,
                std::function<void(Response, bool send_body)> respond) const;

  const HttpServerOptions options_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;
  int port_ = 0;
  absl::flat_hash_map<std::string, AsyncHandler> routes_;
  // Connections remove themselves when they close; Stop() closes the rest.
  absl::flat_hash_map<Connection*, std::weak_ptr<Connection>> connections_;
  // Expires with the server, so accept completions already queued in the
  // io_context when it is destroyed know not to touch it.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace kgw::http

#endif  // KGW_COMMON_HTTP_HTTP_SERVER_H_
