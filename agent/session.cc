#include "agent/session.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/request_peek.h"
#include "agent/response_rewriter.h"
#include "common/assignment/rendezvous.h"
#include "common/kafka/header.h"
#include "common/kafka/messages/api_versions.h"
#include "common/kafka/messages/produce.h"
#include "common/kafka/messages/sasl_handshake.h"
#include "common/kafka/wire/reader.h"
#include "glog/logging.h"

namespace kgw::agent {
namespace {

constexpr size_t kInitialBuffer = 16 * 1024;
// Buffers that grew past this for one large frame are released once empty.
constexpr size_t kKeepBufferBelow = 1 << 20;
constexpr size_t kMinReadSpace = 4096;

constexpr int Index(bool broker) { return broker ? 1 : 0; }

std::string Host(const asio::ip::tcp::socket& s) {
  asio::error_code ec;
  auto e = s.remote_endpoint(ec);
  return ec ? "" : e.address().to_string();
}

std::string Endpoint(const asio::ip::tcp::socket& s) {
  asio::error_code ec;
  auto e = s.remote_endpoint(ec);
  if (ec) return "unknown";
  return absl::StrCat(e.address().to_string(), ":", e.port());
}

int32_t BigEndian32(const uint8_t* p) {
  return static_cast<int32_t>((uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
                              (uint32_t{p[2]} << 8) | p[3]);
}

void PutBigEndian32(std::vector<uint8_t>& out, uint32_t v) {
  const uint8_t bytes[4] = {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                            static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
  out.insert(out.end(), bytes, bytes + 4);
}

// Raw token round trips that follow a successful SaslHandshake v0; zero when
// the mechanism's length is not known in advance.
int LegacySaslRounds(const std::string& mechanism) {
  if (mechanism == "PLAIN" || mechanism == "OAUTHBEARER") return 1;
  if (mechanism == "SCRAM-SHA-256" || mechanism == "SCRAM-SHA-512") return 2;
  return 0;
}

std::atomic<uint32_t> next_bootstrap_broker{0};

}  // namespace

Session::Session(asio::ip::tcp::socket client, int local_port, const SessionEnv& env,
                 SessionSet& owner)
    : client_(std::move(client)),
      upstream_(client_.get_executor()),
      resolver_(client_.get_executor()),
      timer_(client_.get_executor()),
      local_port_(local_port),
      env_(env),
      owner_(owner),
      client_address_(Endpoint(client_)),
      client_host_(Host(client_)),
      last_activity_(Clock::now()) {}

void Session::Start() {
  std::shared_ptr<const ClusterSnapshot> cluster = env_.directory->Get();
  const BrokerEndpoint* target = cluster->Find(env_.ports->BrokerFor(local_port_));
  if (target == nullptr && !cluster->brokers.empty()) {
    // A bootstrap port: any live broker will do.
    target = &cluster->brokers[next_bootstrap_broker.fetch_add(1, std::memory_order_relaxed) %
                               cluster->brokers.size()];
  }
  if (target == nullptr) {
    LOG(WARNING) << "closing client " << client_address_ << " on port " << local_port_
                 << ": no broker is known yet";
    Close();
    return;
  }
  broker_ = target->node_id;
  series_ = &env_.metrics->ForBroker(broker_);
  Connect(*target);
}

void Session::Connect(const BrokerEndpoint& target) {
  ArmTimer(absl::ToChronoMilliseconds(env_.config->upstream_connect_timeout));
  auto self = shared_from_this();
  auto on_connect = [self, target](const asio::error_code& ec, const asio::ip::tcp::endpoint&) {
    if (self->closed_) return;
    if (ec) {
      self->series_->upstream_connect_failures->Increment();
      LOG(WARNING) << "closing client " << self->client_address_ << " on port "
                   << self->local_port_ << ": cannot connect to broker " << target.node_id
                   << " at " << target.host << ":" << target.port << ": " << ec.message();
      self->Close();
      return;
    }
    self->OnConnected();
  };
  resolver_.async_resolve(
      target.host, std::to_string(target.port),
      [self, target, on_connect](const asio::error_code& ec,
                                 asio::ip::tcp::resolver::results_type results) {
        if (self->closed_) return;
        if (ec) {
          on_connect(ec, {});
          return;
        }
        asio::async_connect(self->upstream_, results, on_connect);
      });
}

void Session::OnConnected() {
  connected_ = true;
  asio::error_code ignored;
  client_.set_option(asio::ip::tcp::no_delay(true), ignored);
  upstream_.set_option(asio::ip::tcp::no_delay(true), ignored);
  series_->active_connections->Increment();
  last_activity_ = Clock::now();
  ArmTimer(absl::ToChronoMilliseconds(env_.config->idle_timeout));
  Pump(Side::kClient);
  Pump(Side::kBroker);
}

size_t Session::Queued(Side to) const {
  const int i = Index(to == Side::kBroker);
  return pending_[i].size() + writing_[i].size();
}

int32_t Session::MaxFrameSize(Side from) const {
  // Requests are client input and bounded like a broker's
  // socket.request.max.bytes. Responses come from the brokers, which bound
  // them by the sizes clients ask for (fetch.max.bytes), so only the
  // protocol's own limit applies.
  return from == Side::kClient ? static_cast<int32_t>(env_.config->max_frame_size)
                               : std::numeric_limits<int32_t>::max();
}

bool Session::CanRead(Side side) const {
  if (closed_ || !connected_) return false;
  const auto hwm = static_cast<size_t>(env_.config->buffer_high_water_mark);
  if (side == Side::kClient) {
    return !draining_ && Queued(Side::kBroker) < hwm &&
           inflight_.size() < static_cast<size_t>(env_.config->max_inflight_requests);
  }
  return Queued(Side::kClient) < hwm;
}

void Session::Read(Side side) {
  const bool from_broker = side == Side::kBroker;
  Buffer& b = from_broker ? from_broker_ : from_client_;
  if (b.size() == 0) {
    b.begin = b.end = 0;
    if (b.data.size() > kKeepBufferBelow) std::vector<uint8_t>().swap(b.data);
  }
  if (b.data.empty()) b.data.resize(kInitialBuffer);
  // Room for the frame being assembled, or at least kMinReadSpace.
  size_t want = kMinReadSpace;
  if (b.size() >= kafka::kFrameSizeBytes) {
    const int64_t frame = BigEndian32(&b.data[b.begin]);
    if (frame >= 0 && frame <= MaxFrameSize(side)) {
      want = std::max<size_t>(want, kafka::kFrameSizeBytes + frame - b.size());
    }
  }
  if (b.data.size() - b.end < want) {
    if (b.begin > 0) {
      std::memmove(b.data.data(), b.data.data() + b.begin, b.size());
      b.end -= b.begin;
      b.begin = 0;
    }
    if (b.data.size() - b.end < want) b.data.resize(std::max(b.end + want, b.data.size() * 2));
  }
  reading_[Index(from_broker)] = true;
  asio::ip::tcp::socket& s = from_broker ? upstream_ : client_;
  s.async_read_some(asio::buffer(b.data.data() + b.end, b.data.size() - b.end),
                    [self = shared_from_this(), side](const asio::error_code& ec, size_t n) {
                      self->OnRead(side, ec, n);
                    });
}

void Session::OnRead(Side side, const asio::error_code& ec, size_t n) {
  const bool from_broker = side == Side::kBroker;
  reading_[Index(from_broker)] = false;
  if (closed_) return;
  if (ec) {
    // The other side gets what is already queued for it, then both close.
    eof_[Index(from_broker)] = true;
    const Buffer& partial = from_client_;
    auto head = kafka::NextFrame(absl::MakeConstSpan(partial.data.data() + partial.begin,
                                                     partial.size()),
                                 MaxFrameSize(Side::kClient));
    if (!from_broker && partial.size() > 0 && head.ok() && !head->has_value()) {
      // Nothing can be done with half a request; say so once, like any bad input.
      CloseForBadInput("frame", "request",
                       absl::DataLossError(absl::StrCat("the client closed the connection ",
                                                        partial.size(),
                                                        " bytes into an incomplete frame")));
      return;
    }
    if (ec != asio::error::eof && ec != asio::error::connection_reset) {
      VLOG(1) << "client " << client_address_ << ": " << (from_broker ? "broker" : "client")
              << " read failed: " << ec.message();
    }
    MaybeFinish();
    return;
  }
  last_activity_ = Clock::now();
  if (from_broker) {
    from_broker_.end += n;
    series_->bytes_broker_to_client->Increment(static_cast<double>(n));
  } else {
    from_client_.end += n;
    series_->bytes_client_to_broker->Increment(static_cast<double>(n));
  }
  Pump(side);
}

void Session::Pump(Side side) {
  if (closed_ || !connected_) return;
  if (side == Side::kClient) {
    ProcessRequests();
  } else {
    ProcessResponses();
  }
  if (closed_) return;
  Flush(Side::kBroker);
  Flush(Side::kClient);
  const int i = Index(side == Side::kBroker);
  if (!reading_[i] && !eof_[i] && CanRead(side)) Read(side);
  MaybeFinish();
  // Answers free in-flight slots and buffer room for the client side.
  if (side == Side::kBroker && !reading_[0] && !eof_[0] && CanRead(Side::kClient)) {
    Pump(Side::kClient);
  }
}

void Session::ProcessRequests() {
  Buffer& b = from_client_;
  while (!closed_ && CanRead(Side::kClient)) {
    auto frame = kafka::NextFrame(absl::MakeConstSpan(b.data.data() + b.begin, b.size()),
                                  MaxFrameSize(Side::kClient));
    if (!frame.ok()) {
      CloseForBadInput("frame", "request", frame.status());
      return;
    }
    if (!frame->has_value()) return;
    if (!HandleRequest(**frame)) return;
    b.begin += kafka::kFrameSizeBytes + (*frame)->size();
  }
}

bool Session::HandleRequest(absl::Span<const uint8_t> frame) {
  const uint8_t* whole = frame.data() - kafka::kFrameSizeBytes;
  std::vector<uint8_t>& out = pending_[Index(true)];
  if (raw_tokens_left_ > 0 || (raw_until_request_ && !LooksLikeRequest(frame))) {
    if (raw_tokens_left_ > 0) --raw_tokens_left_;
    inflight_.push_back({.api_key = -1, .sent = Clock::now()});
    out.insert(out.end(), whole, whole + kafka::kFrameSizeBytes + frame.size());
    return true;
  }
  raw_until_request_ = false;
  absl::StatusOr<RequestStart> start = PeekRequestStart(frame);
  if (!start.ok()) {
    CloseForBadInput("request", "request header", start.status());
    return false;
  }
  env_.metrics->ForApi(start->api_key).requests->Increment();
  if (!client_key_) {
    // Every request header carries the client id; a connection keeps one.
    absl::StatusOr<std::string> client_id = RequestClientId(frame);
    if (client_id.ok()) client_key_ = assignment::ClientKey(*client_id, client_host_);
  }
  bool expects_response = true;
  if (start->api_key == kafka::ProduceResponse::kApiKey) {
    absl::StatusOr<bool> expects = ProduceExpectsResponse(frame);
    if (!expects.ok()) {
      CloseForBadInput("request", absl::StrCat("Produce v", start->api_version, " request"),
                       expects.status());
      return false;
    }
    expects_response = *expects;
  }
  InFlight entry{.correlation_id = start->correlation_id,
                 .api_key = start->api_key,
                 .api_version = start->api_version,
                 .sent = Clock::now()};
  if (start->api_key == kafka::SaslHandshakeRequest::kApiKey && start->api_version == 0) {
    absl::StatusOr<std::string> mechanism = SaslHandshakeMechanism(frame);
    if (!mechanism.ok()) {
      CloseForBadInput("request", "SaslHandshake v0 request", mechanism.status());
      return false;
    }
    entry.handshake_v0_mechanism = *mechanism;
  }
  if (expects_response) inflight_.push_back(std::move(entry));
  out.insert(out.end(), whole, whole + kafka::kFrameSizeBytes + frame.size());
  return true;
}

void Session::ProcessResponses() {
  Buffer& b = from_broker_;
  const auto hwm = static_cast<size_t>(env_.config->buffer_high_water_mark);
  while (!closed_ && Queued(Side::kClient) < hwm) {
    auto frame = kafka::NextFrame(absl::MakeConstSpan(b.data.data() + b.begin, b.size()),
                                  MaxFrameSize(Side::kBroker));
    if (!frame.ok()) {
      CloseForBadInput("frame", "response", frame.status());
      return;
    }
    if (!frame->has_value()) return;
    if (!HandleResponse(**frame)) return;
    b.begin += kafka::kFrameSizeBytes + (*frame)->size();
  }
}

bool Session::HandleResponse(absl::Span<const uint8_t> frame) {
  const uint8_t* whole = frame.data() - kafka::kFrameSizeBytes;
  std::vector<uint8_t>& out = pending_[Index(false)];
  if (inflight_.empty()) {
    CloseForBadInput("correlation", "response",
                     absl::DataLossError("the broker answered with no request in flight"));
    return false;
  }
  InFlight request = std::move(inflight_.front());
  inflight_.pop_front();
  const double seconds = std::chrono::duration<double>(Clock::now() - request.sent).count();
  if (request.api_key < 0) {  // a raw SASL token answer
    out.insert(out.end(), whole, whole + kafka::kFrameSizeBytes + frame.size());
    return true;
  }
  const AgentMetrics::ApiSeries& api = env_.metrics->ForApi(request.api_key);
  api.latency->Observe(seconds);
  // Only built for the log line of a connection being closed.
  auto what = [&request] {
    return absl::StrCat("api key ", request.api_key, " v", request.api_version, " response");
  };
  if (frame.size() < 4) {
    CloseForBadInput("response", what(), absl::DataLossError("shorter than a correlation id"));
    return false;
  }
  if (const int32_t id = BigEndian32(frame.data()); id != request.correlation_id) {
    CloseForBadInput("correlation", what(),
                     absl::DataLossError(absl::StrCat("correlation id ", id, " where ",
                                                      request.correlation_id, " was expected")));
    return false;
  }
  if (!request.handshake_v0_mechanism.empty() && frame.size() >= 6 &&
      frame[4] == 0 && frame[5] == 0) {
    // Accepted: raw SASL tokens follow, without Kafka headers.
    raw_tokens_left_ = LegacySaslRounds(request.handshake_v0_mechanism);
    raw_until_request_ = raw_tokens_left_ == 0;
  }
  if (!MayRewrite(request.api_key, request.api_version)) {
    out.insert(out.end(), whole, whole + kafka::kFrameSizeBytes + frame.size());
    return true;
  }
  // ApiVersions answers always use header v0, whatever version was asked.
  const int16_t header_version =
      request.api_key == kafka::ApiVersionsResponse::kApiKey
          ? 0
          : kafka::ResponseHeaderVersion(request.api_key, request.api_version);
  if (header_version < 0) {
    CloseForBadInput("response", what(),
                     absl::UnimplementedError("the agent cannot parse this version"));
    return false;
  }
  kafka::Reader r(frame);
  kafka::ResponseHeader header;
  if (absl::Status s = header.Decode(r, header_version); !s.ok()) {
    CloseForBadInput("response", what(), s);
    return false;
  }
  const size_t header_size = r.position();
  const std::shared_ptr<const control::RouteIndex> routes = env_.router->Snapshot();
  const std::string_view client_key = client_key_ ? *client_key_ : std::string_view();
  auto rewritten = RewriteResponse(
      request.api_key, request.api_version, frame.subspan(header_size),
      [&](int32_t node) { return env_.router->AddressFor(routes.get(), node, client_key); },
      [this](const std::vector<BrokerEndpoint>& seen) { env_.brokers_seen(seen); });
  if (!rewritten.ok()) {
    CloseForBadInput("response", what(), rewritten.status());
    return false;
  }
  if (!rewritten->has_value()) {
    out.insert(out.end(), whole, whole + kafka::kFrameSizeBytes + frame.size());
    return true;
  }
  api.rewrites->Increment();
  const std::vector<uint8_t>& body = **rewritten;
  PutBigEndian32(out, static_cast<uint32_t>(header_size + body.size()));
  out.insert(out.end(), frame.data(), frame.data() + header_size);
  out.insert(out.end(), body.begin(), body.end());
  return true;
}

void Session::Flush(Side to) {
  const int i = Index(to == Side::kBroker);
  if (closed_ || write_busy_[i] || pending_[i].empty()) return;
  std::swap(pending_[i], writing_[i]);
  write_busy_[i] = true;
  asio::ip::tcp::socket& s = to == Side::kBroker ? upstream_ : client_;
  asio::async_write(s, asio::buffer(writing_[i]),
                    [self = shared_from_this(), to](const asio::error_code& ec, size_t) {
                      self->OnWritten(to, ec);
                    });
}

void Session::OnWritten(Side to, const asio::error_code& ec) {
  const int i = Index(to == Side::kBroker);
  write_busy_[i] = false;
  if (closed_) return;
  if (ec) {
    VLOG(1) << "client " << client_address_ << ": write to "
            << (to == Side::kBroker ? "broker" : "client") << " failed: " << ec.message();
    Close();
    return;
  }
  last_activity_ = Clock::now();
  if (writing_[i].capacity() > kKeepBufferBelow) {
    std::vector<uint8_t>().swap(writing_[i]);
  } else {
    writing_[i].clear();
  }
  Flush(to);
  // Room was made: the side that feeds this socket may read again.
  Pump(to == Side::kBroker ? Side::kClient : Side::kBroker);
}

void Session::Drain(Clock::time_point deadline) {
  if (closed_) return;
  draining_ = true;
  drain_deadline_ = deadline;
  if (!connected_ || deadline <= Clock::now()) {
    Close();
    return;
  }
  ArmTimerAt(std::min(deadline, timer_.expiry()));
  MaybeFinish();
}

void Session::MaybeFinish() {
  if (closed_) return;
  const bool flushed = Queued(Side::kClient) == 0 && Queued(Side::kBroker) == 0;
  // A closed side: deliver what is queued for the other one, then close.
  if ((eof_[0] || eof_[1]) && flushed) {
    Close();
    return;
  }
  if (eof_[0] && Queued(Side::kBroker) == 0) Close();
  if (closed_) return;
  if (eof_[1] && Queued(Side::kClient) == 0) Close();
  if (closed_) return;
  if (draining_ && inflight_.empty() && flushed) Close();
}

void Session::ArmTimer(Clock::duration after) { ArmTimerAt(Clock::now() + after); }

void Session::ArmTimerAt(Clock::time_point when) {
  timer_.expires_at(when);
  timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    if (!ec) self->OnTimer();
  });
}

void Session::OnTimer() {
  if (closed_) return;
  const Clock::time_point now = Clock::now();
  if (draining_ && now >= drain_deadline_) {
    LOG(INFO) << "closing client " << client_address_ << " on port " << local_port_
              << " at the end of the shutdown drain with " << inflight_.size()
              << " requests unanswered";
    Close();
    return;
  }
  if (!connected_) {
    series_->upstream_connect_failures->Increment();
    LOG(WARNING) << "closing client " << client_address_ << " on port " << local_port_
                 << ": connecting to broker " << broker_ << " timed out";
    Close();
    return;
  }
  const auto idle = absl::ToChronoMilliseconds(env_.config->idle_timeout);
  if (now - last_activity_ >= idle) {
    VLOG(1) << "closing idle client " << client_address_ << " on port " << local_port_;
    Close();
    return;
  }
  Clock::time_point next = last_activity_ + idle;
  if (draining_) next = std::min(next, drain_deadline_);
  ArmTimerAt(next);
}

void Session::CloseForBadInput(absl::string_view kind, const std::string& what,
                               const absl::Status& status) {
  int16_t api_key = -1;
  const bool client_input = kind == "request" || what == "request";
  if (client_input && from_client_.size() >= 6) {
    // The request being framed when it failed starts at the buffer's head.
    api_key = static_cast<int16_t>((from_client_.data[from_client_.begin + 4] << 8) |
                                   from_client_.data[from_client_.begin + 5]);
  }
  LOG(WARNING) << "closing client " << client_address_ << " on port " << local_port_
               << " (broker " << broker_ << "): bad " << what
               << (api_key >= 0 ? absl::StrCat(" (api key ", api_key, ")") : "")
               << ": " << status.message();
  env_.metrics->ClosedForBadInput(std::string(kind)).Increment();
  Close();
}

void Session::Close() {
  if (closed_) return;
  auto self = shared_from_this();
  closed_ = true;
  if (connected_) series_->active_connections->Decrement();
  asio::error_code ignored;
  timer_.cancel();
  resolver_.cancel();
  client_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  client_.close(ignored);
  upstream_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  upstream_.close(ignored);
  owner_.erase(self);
}

}  // namespace kgw::agent
