#include "agent/client_handshake.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/tls/tls_context.h"
#include "glog/logging.h"

namespace kgw::agent {
namespace {

std::string Endpoint(const asio::ip::tcp::endpoint& e) {
  return absl::StrCat(e.address().to_string(), ":", e.port());
}

std::string FormatAddress(const net::ProxyAddress& a) {
  const bool v6 = a.ip.find(':') != std::string::npos;
  return v6 ? absl::StrCat("[", a.ip, "]:", a.port) : absl::StrCat(a.ip, ":", a.port);
}

// Shared by the workers, so that bootstrap connections spread over the
// brokers whichever worker takes them.
std::atomic<uint32_t> next_bootstrap_broker{0};

// Bytes looked at in one go while reading a PROXY header; a longer header
// (v2 with many TLVs) is read in several.
constexpr size_t kProxyPeekBytes = 512;

// A broker's host name is looked up once and its addresses reused by the
// connections that follow for this long, like a proxy's resolver cache: a
// lookup per connection costs a trip through Asio's resolver thread and the
// system's resolver, which a connection storm would pay thousands of times
// a second. A failed connect forgets the name, so a broker that moved is
// looked up again at once.
constexpr auto kResolvedFor = std::chrono::seconds(10);

struct Resolved {
  asio::ip::tcp::resolver::results_type addresses;
  std::chrono::steady_clock::time_point until;
};

// Per worker thread ("host:port" to its addresses), so no lock is taken.
thread_local absl::flat_hash_map<std::string, Resolved> resolved;

std::string ResolvedKey(const BrokerEndpoint& b) { return absl::StrCat(b.host, ":", b.port); }

}  // namespace

ClientHandshake::ClientHandshake(Transport& client, const asio::ip::tcp::endpoint& peer,
                                 Transport& upstream, ConnectionLimiter::Ticket& ticket,
                                 int local_port, const SessionEnv& env)
    : client_(client),
      upstream_(upstream),
      ticket_(ticket),
      local_port_(local_port),
      env_(env),
      resolver_(client.tcp().get_executor()),
      peer_(peer) {}

const std::string& ClientHandshake::client_host() const {
  if (client_host_.empty()) client_host_ = peer_.address().to_string();
  return client_host_;
}

void ClientHandshake::Start(std::weak_ptr<void> owner, Callbacks callbacks) {
  owner_ = std::move(owner);
  callbacks_ = std::move(callbacks);
  if (env_.config->haproxy_protocol) {
    WaitForProxyHeader();
  } else {
    AfterProxyHeader();
  }
}

void ClientHandshake::Stop() {
  stopped_ = true;
  resolver_.cancel();
}

void ClientHandshake::WhenReadable(const char* awaited, void (ClientHandshake::*next)()) {
  client_.tcp().async_wait(
      asio::socket_base::wait_read,
      [this, hold = Hold(), awaited, next](const asio::error_code& ec) {
        if (stopped_) return;
        if (ec) {
          Fail({.reason = absl::StrCat("waiting for ", awaited, ": ", ec.message())});
          return;
        }
        (this->*next)();
      });
}

void ClientHandshake::WaitForProxyHeader() {
  phase_ = Phase::kProxyHeader;
  WhenReadable("a PROXY header", &ClientHandshake::ReadProxyHeader);
}

void ClientHandshake::ReadProxyHeader() {
  // Peeks, then takes exactly the header's bytes: what follows it (a TLS
  // ClientHello, a Kafka request) stays in the socket for the next reader.
  asio::ip::tcp::socket& s = client_.tcp();
  asio::error_code ec;
  s.non_blocking(true, ec);
  uint8_t peeked[kProxyPeekBytes];
  const size_t room = std::min(sizeof(peeked), net::kMaxProxyHeaderSize - proxy_bytes_.size());
  const size_t n = s.receive(asio::buffer(peeked, room), asio::socket_base::message_peek, ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    WaitForProxyHeader();
    return;
  }
  if ((ec || n == 0) && proxy_bytes_.empty()) {
    // A load balancer's TCP health check, typically: nothing to report.
    VLOG(1) << "closing " << Who() << ": closed before sending anything";
    Fail({.reason = "client closed before sending a PROXY header"});
    return;
  }
  if (ec || n == 0) {
    FailForBadInput("proxy", "PROXY header",
                    absl::DataLossError(absl::StrCat(
                        "the client closed the connection ", proxy_bytes_.size(),
                        " bytes into a PROXY protocol header")));
    return;
  }
  const size_t before = proxy_bytes_.size();
  proxy_bytes_.insert(proxy_bytes_.end(), peeked, peeked + n);
  absl::StatusOr<std::optional<net::ProxyHeader>> header =
      net::ParseProxyHeader(absl::MakeConstSpan(proxy_bytes_));
  if (!header.ok()) {
    FailForBadInput("proxy", "PROXY header", header.status());
    return;
  }
  // Every byte before a complete header belongs to it.
  const size_t take = header->has_value() ? (*header)->size - before : n;
  proxy_bytes_.resize(before + take);
  s.receive(asio::buffer(peeked, take), 0, ec);
  if (ec) {
    Fail({.reason = absl::StrCat("reading the PROXY header: ", ec.message())});
    return;
  }
  if (!header->has_value()) {
    WaitForProxyHeader();
    return;
  }
  proxy_ = std::move(**header);
  std::vector<uint8_t>().swap(proxy_bytes_);
  if (proxy_->source) client_host_ = proxy_->source->ip;
  AfterProxyHeader();
}

void ClientHandshake::AfterProxyHeader() {
  // The client's address is known now (the PROXY header's source, if any).
  if (ticket_.counts_addresses() && !ticket_.AddAddress(client_host())) {
    env_.metrics->ConnectionsRefused("per_address").Increment();
    LogLimited("refused",
               absl::StrCat("closing ", Who(), ": its address already holds the most connections "
                                               "GATEWAY_MAX_CONNECTIONS_PER_ADDRESS allows (",
                            env_.config->max_connections_per_address, ")"));
    Fail({.reason = "too many connections from the client's address"});
    return;
  }
  if (env_.tls_server == nullptr) {
    PickBroker();
    return;
  }
  phase_ = Phase::kTlsHandshake;
  WhenReadable("the TLS handshake", &ClientHandshake::StartTlsHandshake);
}

void ClientHandshake::StartTlsHandshake() {
  // A record that is not a TLS handshake is most likely a plaintext client:
  // say so rather than pass on OpenSSL's "wrong version number".
  uint8_t first = 0;
  asio::error_code ec;
  client_.tcp().non_blocking(true, ec);
  const size_t n =
      client_.tcp().receive(asio::buffer(&first, 1), asio::socket_base::message_peek, ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    AfterProxyHeader();  // woken with nothing to read: wait again
    return;
  }
  if (n == 0) {
    VLOG(1) << "closing " << Who() << ": closed before the TLS handshake";
    Fail({.reason = "client closed before the TLS handshake"});
    return;
  }
  if (first != 0x16) {
    const char* hint = first == 0 ? "; a plaintext Kafka client on a TLS port?"
                       : first == 'P' || first == '\r'
                           ? "; a PROXY protocol header? GATEWAY_FEATURE_FLAGS_HAPROXY_PROTOCOL "
                             "is false"
                           : "";
    FailForBadInput("tls", "TLS handshake",
                    absl::InvalidArgumentError(absl::StrCat(
                        "the connection does not start with a TLS handshake (first byte 0x",
                        absl::Hex(first, absl::kZeroPad2), hint, ")")));
    return;
  }
  SSL* ssl = env_.tls_server->NewSsl();
  if (ssl == nullptr) {
    Fail({.reason = "out of memory for a TLS session"});
    return;
  }
  client_.UseTls(ssl);
  client_.AsyncHandshake(TlsStream::Role::kServer,
                         [this, hold = Hold()](const asio::error_code& e) { OnTlsHandshake(e); });
}

void ClientHandshake::OnTlsHandshake(const asio::error_code& ec) {
  if (stopped_) return;
  if (ec) {
    FailForBadInput("tls", "TLS handshake",
                    absl::UnauthenticatedError(TlsFailure(client_.ssl(), ec.message())));
    return;
  }
  tls_version_ = TlsVersion(client_.ssl());
  sni_ = TlsServerName(client_.ssl());
  peer_subject_ = TlsPeerSubject(client_.ssl());
  PickBroker();
}

void ClientHandshake::PickBroker() {
  phase_ = Phase::kConnecting;
  std::shared_ptr<const ClusterSnapshot> cluster = env_.directory->Get();
  std::optional<int32_t> wanted;
  if (env_.sni != nullptr) {
    absl::StatusOr<std::optional<int32_t>> named = env_.sni->BrokerFor(sni_);
    if (!named.ok()) {
      FailForBadInput("sni", "TLS server name", named.status());
      return;
    }
    wanted = *named;
  } else {
    wanted = env_.ports->BrokerFor(local_port_);
  }
  const BrokerEndpoint* target = wanted ? cluster->Find(*wanted) : nullptr;
  if (target == nullptr && env_.sni != nullptr && wanted) {
    LogLimited("sni", absl::StrCat("closing ", Who(), ": the server name ", sni_,
                                   " names broker ", *wanted, ", which is not in the cluster"));
    broker_ = *wanted;
    Fail({.reason = absl::StrCat("broker ", *wanted,
                                 " named by the server name is not in the cluster")});
    return;
  }
  if (target == nullptr && !cluster->brokers.empty()) {
    // A bootstrap port or name: any live broker will do.
    bootstrap_ = true;
    target = NextBootstrapBroker(*cluster);
  }
  if (target == nullptr) {
    LogLimited("no_broker", absl::StrCat("closing ", Who(), ": no broker is known yet"));
    Fail({.reason = "no broker is known yet"});
    return;
  }
  broker_ = target->node_id;
  series_ = &env_.metrics->ForBroker(broker_);
  callbacks_.broker_chosen();
  if (!bootstrap_ && env_.broker_health != nullptr &&
      env_.broker_health->IsDown(broker_, Clock::now())) {
    // This port's own broker could not be reached a moment ago: say so at
    // once rather than make every client wait for the same failure.
    env_.metrics->ConnectionsRefused("broker_down").Increment();
    LogLimited("broker_down",
               absl::StrCat("closing ", Who(), ": broker ", broker_,
                            " could not be reached lately; trying it again shortly"));
    Fail({.reason = absl::StrCat("broker ", broker_, " is down")});
    return;
  }
  // From here the agent may answer the client (an ApiVersions it answers
  // itself, before any broker connection), so small answers must leave at
  // once: with Nagle's algorithm, one written while the client has not yet
  // acknowledged the TLS handshake's last flight waits for its delayed ACK.
  asio::error_code ignored;
  client_.tcp().set_option(asio::ip::tcp::no_delay(true), ignored);
  if (callbacks_.first_request) {
    target_ = *target;
    phase_ = Phase::kAwaitingRequest;
    callbacks_.first_request();
    return;
  }
  Connect(*target);
}

void ClientHandshake::ConnectNow() {
  if (stopped_ || phase_ != Phase::kAwaitingRequest || !target_) return;
  phase_ = Phase::kConnecting;
  const BrokerEndpoint target = *std::exchange(target_, std::nullopt);
  Connect(target);
}

const BrokerEndpoint* ClientHandshake::NextBootstrapBroker(const ClusterSnapshot& cluster) const {
  const size_t n = cluster.brokers.size();
  if (n == 0) return nullptr;
  const size_t start = next_bootstrap_broker.fetch_add(1, std::memory_order_relaxed) % n;
  const Clock::time_point now = Clock::now();
  const BrokerEndpoint* fallback = nullptr;
  for (size_t i = 0; i < n; ++i) {
    const BrokerEndpoint& b = cluster.brokers[(start + i) % n];
    if (std::find(tried_.begin(), tried_.end(), b.node_id) != tried_.end()) continue;
    if (env_.broker_health == nullptr || !env_.broker_health->IsDown(b.node_id, now)) return &b;
    if (fallback == nullptr) fallback = &b;
  }
  return fallback;
}

void ClientHandshake::OnConnectFailed(const BrokerEndpoint& target, const asio::error_code& ec) {
  resolved.erase(ResolvedKey(target));
  series_->upstream_connect_failures->Increment();
  if (env_.broker_health != nullptr) env_.broker_health->Failed(target.node_id, Clock::now());
  if (env_.broker_unreachable) env_.broker_unreachable();
  if (bootstrap_) {
    tried_.push_back(target.node_id);
    if (const BrokerEndpoint* next = NextBootstrapBroker(*env_.directory->Get())) {
      LogLimited("connect", absl::StrCat(Who(), ": cannot connect to broker ", target.node_id,
                                         " at ", target.host, ":", target.port, ": ",
                                         ec.message(), "; trying broker ", next->node_id));
      broker_ = next->node_id;
      series_ = &env_.metrics->ForBroker(broker_);
      Connect(*next);
      return;
    }
  }
  LogLimited("connect", absl::StrCat("closing ", Who(), ": cannot connect to broker ",
                                     target.node_id, " at ", target.host, ":", target.port, ": ",
                                     ec.message()));
  Fail({.reason = absl::StrCat("cannot connect to broker ", target.node_id, ": ", ec.message())});
}

void ClientHandshake::Connect(const BrokerEndpoint& target) {
  auto on_connect = [this, hold = Hold(), target](const asio::error_code& ec,
                                                  const asio::ip::tcp::endpoint&) {
    if (stopped_) return;
    if (ec) {
      OnConnectFailed(target, ec);
      return;
    }
    if (env_.broker_health != nullptr) env_.broker_health->Reached(target.node_id);
    OnTcpConnected(target);
  };
  asio::error_code not_an_ip;
  const asio::ip::address ip = asio::ip::make_address(target.host, not_an_ip);
  if (!not_an_ip) {
    // An address needs no lookup. A socket left open by a failed attempt
    // (a bootstrap connection trying another broker) starts afresh.
    asio::error_code ignored;
    upstream_.tcp().close(ignored);
    upstream_.tcp().async_connect(
        {ip, static_cast<uint16_t>(target.port)},
        [on_connect](const asio::error_code& ec) { on_connect(ec, {}); });
    return;
  }
  std::string key = ResolvedKey(target);
  if (auto it = resolved.find(key); it != resolved.end() && it->second.until > Clock::now()) {
    asio::async_connect(upstream_.tcp(), it->second.addresses, on_connect);
    return;
  }
  resolver_.async_resolve(target.host, std::to_string(target.port),
                          [this, on_connect, key = std::move(key)](
                              const asio::error_code& ec,
                              asio::ip::tcp::resolver::results_type results) {
                            if (stopped_) return;
                            if (ec) {
                              on_connect(ec, {});
                              return;
                            }
                            // On the worker's thread, like every handler here.
                            resolved[key] = {results, Clock::now() + kResolvedFor};
                            asio::async_connect(upstream_.tcp(), results, on_connect);
                          });
}

void ClientHandshake::OnTcpConnected(const BrokerEndpoint& target) {
  if (env_.upstream_tls == nullptr) {
    Finish();
    return;
  }
  SSL* ssl = SSL_new(env_.upstream_tls);
  absl::Status configured = ssl == nullptr
                                ? absl::ResourceExhaustedError("cannot allocate a TLS session")
                                : tls::ConfigureClientSession(ssl, target.host,
                                                              env_.upstream_verify_hostname);
  if (ssl != nullptr) upstream_.UseTls(ssl);
  if (!configured.ok()) {
    series_->upstream_connect_failures->Increment();
    LOG(WARNING) << "closing " << Who() << ": cannot start TLS to broker " << target.node_id
                 << ": " << configured.message();
    Fail({.reason = absl::StrCat("TLS to broker ", target.node_id, ": ", configured.message())});
    return;
  }
  upstream_.AsyncHandshake(
      TlsStream::Role::kClient,
      [this, hold = Hold(), target](const asio::error_code& ec) {
        if (stopped_) return;
        if (ec) {
          series_->upstream_connect_failures->Increment();
          const std::string why = TlsFailure(upstream_.ssl(), ec.message());
          LogLimited("connect", absl::StrCat("closing ", Who(), ": TLS handshake with broker ",
                                             target.node_id, " at ", target.host, ":",
                                             target.port, " failed: ", why));
          Fail({.reason = absl::StrCat("TLS handshake with broker ", target.node_id,
                                       " failed: ", why)});
          return;
        }
        Finish();
      });
}

void ClientHandshake::Finish() {
  phase_ = Phase::kDone;
  asio::error_code ignored;  // the client's was set when its broker was chosen
  upstream_.tcp().set_option(asio::ip::tcp::no_delay(true), ignored);
  callbacks_.connected();
}

void ClientHandshake::TimedOut(Clock::time_point now) {
  if (stopped_) return;
  std::string what;
  absl::string_view kind;
  switch (phase_) {
    case Phase::kProxyHeader:
      what = "no complete PROXY protocol header arrived";
      kind = "proxy";
      env_.metrics->ClosedForBadInput("proxy").Increment();
      break;
    case Phase::kTlsHandshake:
      what = "the TLS handshake did not complete";
      kind = "tls";
      env_.metrics->ClosedForBadInput("tls").Increment();
      break;
    case Phase::kAwaitingRequest:  // the session times this itself; for completeness
      what = "no whole request arrived";
      kind = "silent";
      env_.metrics->ClosedForBadInput("silent").Increment();
      break;
    case Phase::kConnecting:
    case Phase::kDone:
      what = absl::StrCat("connecting to broker ", broker_, " timed out");
      kind = "connect";
      if (series_ != nullptr) series_->upstream_connect_failures->Increment();
      if (env_.broker_health != nullptr && broker_ >= 0) {
        env_.broker_health->Failed(broker_, now);
        if (env_.broker_unreachable) env_.broker_unreachable();
      }
      break;
  }
  if (phase_ == Phase::kAwaitingRequest) {
    absl::StrAppend(&what, " within GATEWAY_FIRST_REQUEST_TIMEOUT");
  } else if (phase_ != Phase::kConnecting) {
    absl::StrAppend(&what, " within GATEWAY_UPSTREAM_CONNECT_TIMEOUT");
  }
  LogLimited(kind, absl::StrCat("closing ", Who(), ": ", what));
  Fail({.reason = std::move(what)});
}

void ClientHandshake::Fail(Failure failure) {
  stopped_ = true;
  callbacks_.failed(failure);
}

void ClientHandshake::FailForBadInput(absl::string_view kind, std::string what,
                                      absl::Status status) {
  Fail({.bad_input = std::string(kind), .what = std::move(what), .status = std::move(status)});
}

void ClientHandshake::LogLimited(absl::string_view kind, const std::string& line) const {
  WarnLimited(env_.log_limiter, kind, line);
}

std::string ClientHandshake::Who() const {
  std::string who = absl::StrCat("client ", Endpoint(peer_), " on port ", local_port_);
  if (proxy_ && proxy_->source && proxy_->destination) {
    absl::StrAppend(&who, " (original source: ", FormatAddress(*proxy_->source),
                    ", original destination: ", FormatAddress(*proxy_->destination), ")");
  }
  return who;
}

void ClientHandshake::Describe(audit::AuditEvent& e) const {
  e.listener_port = local_port_;
  e.broker_id = broker_;
  e.client_address = Endpoint(peer_);
  if (proxy_ && proxy_->source) e.proxy_source_address = FormatAddress(*proxy_->source);
  if (proxy_ && proxy_->destination) {
    e.proxy_destination_address = FormatAddress(*proxy_->destination);
  }
  e.tls_version = tls_version_;
  e.sni = sni_;
  e.client_certificate_subject = peer_subject_;
}

}  // namespace kgw::agent
