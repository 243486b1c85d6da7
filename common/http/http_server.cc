#include "common/http/http_server.h"

#include <array>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "glog/logging.h"

namespace kgw::http {
namespace {

// std::string_view, not absl::string_view: Debian's Abseil has its own type,
// which Asio does not accept.
constexpr std::string_view kEndOfHead = "\r\n\r\n";

absl::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "";  // the reason phrase is optional in HTTP/1.1
  }
}

Response Error(int status) {
  return Response{.status = status, .body = absl::StrCat(status, " ", ReasonPhrase(status), "\n")};
}

// A method is an RFC 9110 token.
bool IsToken(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
        !absl::StrContains("!#$%&'*+-.^_`|~", c)) {
      return false;
    }
  }
  return true;
}

// Origin-form only ("/path?query"): this server is never a proxy target.
bool IsOriginForm(absl::string_view target) {
  if (!absl::StartsWith(target, "/")) return false;
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::string Serialize(const Response& response, bool send_body) {
  std::string out = absl::StrCat("HTTP/1.1 ", response.status, " ", ReasonPhrase(response.status),
                                 "\r\nContent-Type: ", response.content_type,
                                 "\r\nContent-Length: ", response.body.size(), "\r\n");
  if (response.status == 405) absl::StrAppend(&out, "Allow: GET, HEAD\r\n");
  for (const auto& [name, value] : response.headers) {
    DCHECK_EQ(absl::StrCat(name, value).find_first_of("\r\n"), std::string::npos) << name;
    absl::StrAppend(&out, name, ": ", value, "\r\n");
  }
  absl::StrAppend(&out, "Connection: close\r\n\r\n");
  if (send_body) absl::StrAppend(&out, response.body);
  return out;
}

std::string HostPort(absl::string_view host, int port) {
  return absl::StrContains(host, ':') ? absl::StrCat("[", host, "]:", port)
                                      : absl::StrCat(host, ":", port);
}

// The header lines after the request line, up to the blank line.
absl::flat_hash_map<std::string, std::string> ParseHeaders(absl::string_view head) {
  absl::flat_hash_map<std::string, std::string> headers;
  std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos || colon == 0) continue;
    absl::string_view name = lines[i].substr(0, colon);
    if (!IsToken(name)) continue;
    headers[absl::AsciiStrToLower(name)] =
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
  }
  return headers;
}

}  // namespace

std::optional<std::string> Request::Header(const std::string& lower_case_name) const {
  auto it = headers.find(lower_case_name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

// One accepted socket: read the head, write one response, then linger until
// the client closes so that unread request bytes do not turn our close into a
// reset that could destroy the response in flight. A deadline bounds each
// phase. Every completion holds a shared_ptr, so the connection lives until
// its last operation finishes.
class HttpServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(HttpServer* server, asio::ip::tcp::socket socket)
      : server_(server), socket_(std::move(socket)), deadline_(socket_.get_executor()) {}

  ~Connection() {
    if (server_ != nullptr) server_->connections_.erase(this);
  }

  void Start() {
    ArmDeadline();
    asio::async_read_until(
        socket_, asio::dynamic_buffer(head_, server_->options_.max_head_bytes), kEndOfHead,
        [self = shared_from_this()](std::error_code ec, std::size_t n) { self->OnHead(ec, n); });
  }

  // Idempotent; detaches from the server, so a closed connection never touches it.
  void Close() {
    if (server_ != nullptr) {
      server_->connections_.erase(this);
      server_ = nullptr;
    }
    deadline_.cancel();
    std::error_code ignored;
    socket_.close(ignored);
  }

 private:
  void ArmDeadline() {
    deadline_.expires_after(server_->options_.read_timeout);
    deadline_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (!ec) self->Close();
    });
  }

  void OnHead(std::error_code ec, std::size_t n) {
    if (server_ == nullptr) return;      // closed: timed out or stopped
    if (ec == asio::error::not_found) {  // the buffer filled up without a blank line
      Respond(Error(431), /*send_body=*/true);
    } else if (ec) {
      VLOG(1) << "http: dropping connection before a full request head: " << ec.message();
      Close();
    } else {
      // The answer may come from another thread: it hops onto the connection's
      // executor before touching the connection.
      server_->Dispatch(absl::string_view(head_).substr(0, n),
                        [self = shared_from_this()](Response response, bool send_body) {
                          asio::post(self->socket_.get_executor(),
                                     [self, response = std::move(response), send_body] {
                                       if (self->server_ != nullptr) {
                                         self->Respond(response, send_body);
                                       }
                                     });
                        });
    }
  }

  void Respond(const Response& response, bool send_body) {
    out_ = Serialize(response, send_body);
    asio::async_write(socket_, asio::buffer(out_),
                      [self = shared_from_this()](std::error_code ec, std::size_t) {
                        if (ec || self->server_ == nullptr) {
                          self->Close();
                          return;
                        }
                        std::error_code ignored;
                        self->socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
                        self->ArmDeadline();
                        self->DrainUntilClosed();
                      });
  }

  void DrainUntilClosed() {
    socket_.async_read_some(asio::buffer(drain_),
                            [self = shared_from_this()](std::error_code ec, std::size_t) {
                              if (ec || self->server_ == nullptr) {
                                self->Close();  // EOF: the client has closed its side
                                return;
                              }
                              self->DrainUntilClosed();
                            });
  }

  HttpServer* server_;  // null once closed
  asio::ip::tcp::socket socket_;
  asio::steady_timer deadline_;
  std::string head_;
  std::string out_;
  std::array<char, 1024> drain_;
};

HttpServer::HttpServer(asio::io_context& io, HttpServerOptions options)
    : options_(options), acceptor_(io), accept_retry_(io) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(std::string path, std::function<Response()> handler) {
  CHECK(handler != nullptr) << path;
  Handle(std::move(path), [handler = std::move(handler)](const Request&) { return handler(); });
}

void HttpServer::Handle(std::string path, Handler handler) {
  CHECK(handler != nullptr) << path;
  HandleAsync(std::move(path), [handler = std::move(handler)](const Request& request,
                                                              Responder respond) {
    respond(handler(request));
  });
}

void HttpServer::HandleAsync(std::string path, AsyncHandler handler) {
  CHECK(absl::StartsWith(path, "/")) << "http path must start with '/': " << path;
  CHECK(handler != nullptr) << path;
  bool inserted = routes_.emplace(path, std::move(handler)).second;
  CHECK(inserted) << "http path registered twice: " << path;
}

absl::Status HttpServer::Listen(const std::string& host, int port) {
  if (acceptor_.is_open()) {
    return absl::FailedPreconditionError(absl::StrCat("http: already listening on port ", port_,
                                                      "; cannot listen on ", HostPort(host, port)));
  }
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("http: port out of range: ", port));
  }
  std::error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("http: listen host is not an IP address: '", host, "'"));
  }
  asio::ip::tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  auto fail = [&](absl::string_view step) {
    std::error_code ignored;
    acceptor_.close(ignored);
    return absl::UnavailableError(absl::StrCat("http: cannot listen on ", HostPort(host, port),
                                               ": ", step, ": ", ec.message()));
  };
  // With ASIO_NO_DEPRECATED these calls return void and report through `ec`.
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return fail("socket");
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("SO_REUSEADDR");
  acceptor_.bind(endpoint, ec);
  if (ec) return fail("bind");
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  asio::ip::tcp::endpoint bound = acceptor_.local_endpoint(ec);
  if (ec) return fail("getsockname");
  port_ = bound.port();
  LOG(INFO) << "http: listening on " << bound;
  Accept();
  return absl::OkStatus();
}

void HttpServer::Stop() {
  std::error_code ignored;
  acceptor_.close(ignored);
  accept_retry_.cancel();
  port_ = 0;
  std::vector<std::shared_ptr<Connection>> open;
  for (auto& [raw, weak] : connections_) {
    if (auto connection = weak.lock()) open.push_back(std::move(connection));
  }
  connections_.clear();
  for (auto& connection : open) connection->Close();
}

void HttpServer::Accept() {
  acceptor_.async_accept([this, alive = std::weak_ptr<char>(alive_)](std::error_code ec,
                                                                     asio::ip::tcp::socket socket) {
    // operation_aborted: Stop() ran, even if a later Listen() reopened the acceptor.
    if (alive.expired() || ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      auto connection = std::make_shared<Connection>(this, std::move(socket));
      connections_.emplace(connection.get(), connection);
      connection->Start();
      Accept();
      return;
    }
    // Typically EMFILE: the listening socket stays readable, so accepting again
    // at once would spin. Back off briefly instead.
    LOG_EVERY_N(WARNING, 100) << "http: accept failed: " << ec.message();
    accept_retry_.expires_after(std::chrono::milliseconds(100));
    accept_retry_.async_wait([this, alive](std::error_code wait_ec) {
      if (!wait_ec && !alive.expired() && acceptor_.is_open()) Accept();
    });
  });
}

void HttpServer::Dispatch(absl::string_view head,
                          std::function<void(Response, bool send_body)> respond) const {
  absl::string_view request_line = head.substr(0, head.find("\r\n"));
  std::vector<absl::string_view> parts = absl::StrSplit(request_line, ' ');
  if (parts.size() != 3 || !IsToken(parts[0]) || !IsOriginForm(parts[1]) ||
      (parts[2] != "HTTP/1.1" && parts[2] != "HTTP/1.0")) {
    VLOG(1) << "http: malformed request line: " << absl::CHexEscape(request_line.substr(0, 200));
    return respond(Error(400), true);
  }
  absl::string_view method = parts[0];
  const bool send_body = method != "HEAD";
  if (method != "GET" && method != "HEAD") return respond(Error(405), send_body);
  const size_t question = parts[1].find('?');
  absl::string_view path = parts[1].substr(0, question);
  auto route = routes_.find(path);
  if (route == routes_.end()) return respond(Error(404), send_body);
  Request request{.method = std::string(method), .path = std::string(path)};
  if (question != absl::string_view::npos) {
    request.query = std::string(parts[1].substr(question + 1));
  }
  request.headers = ParseHeaders(head);
  route->second(request, [respond = std::move(respond), send_body](Response response) {
    respond(std::move(response), send_body);
  });
}

}  // namespace kgw::http
