#include "agent/session.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/request_peek.h"
#include "agent/response_rewriter.h"
#include "asio/ssl/error.hpp"
#include "common/assignment/rendezvous.h"
#include "common/kafka/header.h"
#include "common/kafka/messages/api_versions.h"
#include "common/kafka/messages/produce.h"
#include "common/kafka/messages/sasl_handshake.h"
#include "glog/logging.h"

namespace kgw::agent {
namespace {

// Frames at least this large are cut through when the agent does not need
// them whole, read in pieces of at most kCutThroughRead.
constexpr size_t kCutThroughAbove = 64 * 1024;
constexpr size_t kCutThroughRead = 256 * 1024;
// The unread rest of a response at least this large is spliced
// (GATEWAY_ZERO_COPY), taken from the broker at most kSpliceChunk at a time.
constexpr size_t kSpliceAbove = 64 * 1024;
constexpr size_t kSpliceChunk = Splicer::kWantedPipeSize;
// How soon a client whose read the request budget refused is tried again.
constexpr auto kBudgetRetry = std::chrono::milliseconds(20);

// The correlation id that starts every response header (a big-endian int32).
int32_t CorrelationIdAt(const uint8_t* p) {
  return static_cast<int32_t>((uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
                              (uint32_t{p[2]} << 8) | p[3]);
}

// Whether a connection's first bytes are a PROXY protocol header (v1 text or
// the v2 signature), which a client sends only to an agent expecting one.
bool StartsWithProxyHeader(absl::Span<const uint8_t> b) {
  static constexpr std::string_view kV1 = "PROXY ";
  static constexpr std::string_view kV2 = std::string_view("\r\n\r\n\0\r\nQUIT\n", 12);
  const std::string_view head(reinterpret_cast<const char*>(b.data()), b.size());
  return head.substr(0, kV1.size()) == kV1 || head.substr(0, kV2.size()) == kV2;
}

}  // namespace

Session::Session(asio::ip::tcp::socket client, const asio::ip::tcp::endpoint& peer,
                 int local_port, const SessionEnv& env, SessionSet& owner,
                 ConnectionLimiter::Ticket ticket)
    : client_(std::move(client)),
      upstream_(client_.tcp().get_executor()),
      timer_(client_.tcp().get_executor()),
      budget_timer_(client_.tcp().get_executor()),
      env_(env),
      owner_(owner),
      ticket_(std::move(ticket)),
      handshake_(client_, peer, upstream_, ticket_, local_port, env),
      requests_(env.request_budget),
      last_activity_(Clock::now()) {}

void Session::Start() {
  // One deadline for the gates before the first request (PROXY header, TLS,
  // broker choice); the first request and the connect have their own.
  ArmTimer(absl::ToChronoMilliseconds(env_.config->upstream_connect_timeout));
  handshake_.Start(weak_from_this(),
                   {.broker_chosen = [this] { AuditOpen(); },
                    .first_request = [this] { OnAwaitingRequest(); },
                    .connected = [this] { OnConnected(); },
                    .failed = [this](const ClientHandshake::Failure& f) { OnHandshakeFailed(f); }});
}

void Session::OnHandshakeFailed(const ClientHandshake::Failure& failure) {
  if (!failure.bad_input.empty()) {
    CloseForBadInput(failure.bad_input, failure.what, failure.status);
    return;
  }
  Close(failure.reason);
}

void Session::OnAwaitingRequest() {
  // The client is read before the broker is connected to, and only its first
  // whole request opens the broker connection (Pump): connections that send
  // nothing, or too little too slowly, never reach a broker.
  last_activity_ = ready_at_ = Clock::now();
  env_.metrics->awaiting_request().Increment();
  ArmTimer(absl::ToChronoMilliseconds(
      std::min(env_.config->idle_timeout, env_.config->first_request_timeout)));
  Pump(Side::kClient);
}

void Session::ConnectToBroker() {
  env_.metrics->awaiting_request().Decrement();
  ArmTimer(absl::ToChronoMilliseconds(env_.config->upstream_connect_timeout));
  handshake_.ConnectNow();
}

void Session::OnConnected() {
  series().active_connections->Increment();
  last_activity_ = Clock::now();
  // The first request has been seen: only the idle bound is left to time.
  ArmTimer(absl::ToChronoMilliseconds(env_.config->idle_timeout));
  Pump(Side::kClient);
  Pump(Side::kBroker);
}

size_t Session::Queued(Side to) const {
  // What a splice toward `to` holds in its pipe is queued for it too.
  const Side from = to == Side::kClient ? Side::kBroker : Side::kClient;
  return To(to).queued() + Spliced(from).splicer.held();
}

int32_t Session::MaxFrameSize(Side from) const {
  // Requests are client input and bounded like a broker's
  // socket.request.max.bytes. Responses come from the brokers, which bound
  // them by the sizes clients ask for (fetch.max.bytes), so only the
  // protocol's own limit applies.
  if (from == Side::kBroker) return std::numeric_limits<int32_t>::max();
  // Before a SASL listener's client has authenticated, only small frames
  // (ApiVersions, the SASL exchange) are expected.
  if (env_.config->client_sasl() && !sasl_.authenticated()) {
    return static_cast<int32_t>(
        std::min(env_.config->max_frame_size, env_.config->sasl_max_receive_size));
  }
  return static_cast<int32_t>(env_.config->max_frame_size);
}

bool Session::CanRead(Side side) const {
  // While a run is spliced, the splice alone reads that side.
  if (closed_ || splicing(side) || !Serves(side)) return false;
  const auto hwm = static_cast<size_t>(env_.config->buffer_high_water_mark);
  if (side == Side::kClient) {
    if (Queued(Side::kBroker) >= hwm) return false;
    // The rest of a request being cut through is always taken: it is already
    // counted, and the broker cannot answer anything until it has it all.
    return requests_.cut_through_left() > 0 ||
           (!draining_ &&
            inflight_.size() < static_cast<size_t>(env_.config->max_inflight_requests));
  }
  return Queued(Side::kClient) < hwm;
}

void Session::Read(Side side, bool readable) {
  Pipe& pipe = From(side);
  Transport& t = side == Side::kBroker ? upstream_ : client_;
  pipe.TrimIfEmpty();
  // Nothing is buffered: hold no buffer until the socket has something to
  // read, so an idle connection costs its sockets and little else. (Not
  // while TLS holds received bytes, nor while bytes stream in: a read that
  // filled its room says more are probably waiting.)
  if (!readable && t.MayWaitToRead() && !pipe.last_read_filled() && pipe.ReleaseIfEmpty()) {
    pipe.reading = true;
    t.AsyncWaitToRead([self = shared_from_this(), side](const asio::error_code& ec) {
      self->OnReadable(side, ec);
    });
    return;
  }
  // What the frame being assembled still needs (a piece of it when it is
  // cut through); the pipe decides how much of that it makes room for.
  size_t want = 0;
  const absl::Span<const uint8_t> buffered = pipe.buffered();
  if (const size_t cutting = pipe.cut_through_left(); cutting > 0) {
    want = std::min(cutting - std::min(cutting, buffered.size()), kCutThroughRead);
  } else if (buffered.size() >= kafka::kFrameSizeBytes) {
    const int64_t frame = kafka::PeekFrameSize(buffered.data());
    if (frame >= 0 && frame <= MaxFrameSize(side)) {
      const size_t missing = kafka::kFrameSizeBytes + frame - buffered.size();
      want = MayCutThrough(side, static_cast<size_t>(frame)) ? std::min(missing, kCutThroughRead)
                                                              : missing;
    }
  }
  const absl::Span<uint8_t> room = pipe.ReadSpace(want);
  if (room.empty()) {
    WaitForBudget();  // only the request pipe has a budget
    return;
  }
  pipe.reading = true;
  t.AsyncReadSome(asio::buffer(room.data(), room.size()),
                  [self = shared_from_this(), side](const asio::error_code& ec, size_t n) {
                    self->OnRead(side, ec, n);
                  });
}

void Session::WaitForBudget() {
  if (waiting_for_budget_) return;
  waiting_for_budget_ = true;
  frame_started_.reset();  // the agent holds the client off, not the other way round
  budget_timer_.expires_after(kBudgetRetry);
  budget_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    self->waiting_for_budget_ = false;
    if (!ec) self->Pump(Side::kClient);
  });
}

void Session::OnReadable(Side side, const asio::error_code& ec) {
  From(side).reading = false;
  if (closed_) return;
  if (ec) {
    OnRead(side, ec, 0);  // the same as a failed read
    return;
  }
  // Reading may have been paused meanwhile (backpressure, a drain); the
  // next Pump reads then.
  if (CanRead(side)) Read(side, /*readable=*/true);
}

void Session::OnRead(Side side, const asio::error_code& ec, size_t n) {
  const bool from_broker = side == Side::kBroker;
  Pipe& pipe = From(side);
  pipe.reading = false;
  if (closed_) return;
  if (ec) {
    // The other side gets what is already queued for it, then both close.
    pipe.source_closed = true;
    const absl::Span<const uint8_t> partial = requests_.buffered();
    const size_t cutting = requests_.cut_through_left();
    if (!from_broker && cutting > partial.size()) {
      CloseForBadInput("frame", "request",
                       absl::DataLossError(absl::StrCat(
                           "the client closed the connection with ", cutting - partial.size(),
                           " bytes of a request still to come")));
      return;
    }
    auto head = kafka::NextFrame(partial, MaxFrameSize(Side::kClient));
    if (!from_broker && cutting == 0 && !partial.empty() && head.ok() && !head->has_value()) {
      // Nothing can be done with half a request; say so once, like any bad input.
      CloseForBadInput("frame", "request",
                       absl::DataLossError(absl::StrCat("the client closed the connection ",
                                                        partial.size(),
                                                        " bytes into an incomplete frame")));
      return;
    }
    const bool clean = ec == asio::error::eof || ec == asio::error::connection_reset ||
                       ec == asio::ssl::error::stream_truncated;
    if (!clean) {
      VLOG(1) << Who() << ": " << (from_broker ? "broker" : "client")
              << " read failed: " << ec.message();
    }
    if (close_reason_.empty()) {
      close_reason_ = absl::StrCat(from_broker ? "broker" : "client",
                                   clean ? " closed" : " read failed: ",
                                   clean ? "" : ec.message());
    }
    MaybeFinish();
    return;
  }
  last_activity_ = Clock::now();
  pipe.Received(n);
  if (from_broker) {
    series().bytes_broker_to_client->Increment(static_cast<double>(n));
  } else {
    bytes_from_client_ += n;
    series().bytes_client_to_broker->Increment(static_cast<double>(n));
  }
  Pump(side);
}

void Session::Pump(Side side) {
  if (closed_ || !Serves(side)) return;
  if (side == Side::kClient) {
    ProcessRequests();
  } else {
    ProcessResponses();
  }
  if (closed_) return;
  // A request is queued for the broker (or its cut-through begun): now the
  // broker. Reading the client waits until it is connected. (An ApiVersions
  // request the agent answered itself waits for the next one.)
  if (awaiting_request() && OwesBroker()) ConnectToBroker();
  Flush(Side::kBroker);
  Flush(Side::kClient);
  const Pipe& pipe = From(side);
  const bool held_off = side == Side::kClient && waiting_for_budget_;
  if (!pipe.reading && !pipe.source_closed && !held_off && CanRead(side)) Read(side);
  if (side == Side::kClient) NoteFrameProgress();
  MaybeFinish();
  // Answers free in-flight slots and buffer room for the client side.
  if (side == Side::kBroker && !requests_.reading && !requests_.source_closed &&
      !waiting_for_budget_ && CanRead(Side::kClient)) {
    Pump(Side::kClient);
  }
}

void Session::ProcessRequests() {
  if (splicing(Side::kClient) && !SpliceStep(Side::kClient)) return;
  while (!closed_ && CanRead(Side::kClient)) {
    if (requests_.cut_through_left() > 0) {
      if (StartSplice(Side::kClient)) {
        if (!SpliceStep(Side::kClient)) return;
        continue;
      }
      if (!requests_.MoveCutThrough()) return;
      continue;
    }
    const absl::Span<const uint8_t> buffered = requests_.buffered();
    const int32_t max_frame = MaxFrameSize(Side::kClient);
    auto frame = kafka::NextFrame(buffered, max_frame);
    if (!frame.ok() && max_frame < env_.config->max_frame_size &&
        kafka::PeekFrameSize(buffered.data()) > max_frame) {
      CloseForBadInput("frame", "request",
                       absl::InvalidArgumentError(absl::StrCat(
                           "frame size ", kafka::PeekFrameSize(buffered.data()),
                           " before authentication; GATEWAY_SASL_MAX_RECEIVE_SIZE allows ",
                           max_frame)));
      return;
    }
    if (!frame.ok()) {
      if (!seen_request_ && StartsWithProxyHeader(buffered)) {
        CloseForBadInput("proxy", "start of the connection",
                         absl::InvalidArgumentError(
                             "it is a PROXY protocol header, but "
                             "GATEWAY_FEATURE_FLAGS_HAPROXY_PROTOCOL is false"));
        return;
      }
      CloseForBadInput("frame", "request", frame.status());
      return;
    }
    if (!frame->has_value()) {
      if (StartRequestCutThrough()) continue;
      return;
    }
    seen_request_ = true;
    if (!HandleRequest(**frame)) return;
    requests_.Skip(kafka::kFrameSizeBytes + (*frame)->size());
  }
}

bool Session::HandleRequest(absl::Span<const uint8_t> frame) {
  const auto whole = absl::MakeConstSpan(frame.data() - kafka::kFrameSizeBytes,
                                         kafka::kFrameSizeBytes + frame.size());
  if (!replay_.empty()) ReplayAnsweredRequest();
  if (sasl_.IsRawToken(frame)) {
    inflight_.push_back({.api_key = -1, .sent = Clock::now()});
    requests_.Forward(whole);
    return true;
  }
  absl::StatusOr<RequestStart> start = PeekRequestStart(frame);
  if (!start.ok()) {
    CloseForBadInput("request", "request header", start.status());
    return false;
  }
  NoteRequest(*start, frame);
  if (start->api_key == kafka::SaslHandshakeRequest::kApiKey && start->api_version == 0) {
    // Raw tokens follow an accepted v0 handshake, so its mechanism must be known.
    if (absl::StatusOr<std::string> mechanism = SaslHandshakeMechanism(frame); !mechanism.ok()) {
      CloseForBadInput("request", "SaslHandshake v0 request", mechanism.status());
      return false;
    }
  }
  AuditAuthentication(sasl_.OnRequest(*start, frame));
  if (start->api_key == kafka::ApiVersionsRequest::kApiKey && AnswerApiVersions(*start, frame)) {
    return true;
  }
  bool expects_response = true;
  if (start->api_key == kafka::ProduceRequest::kApiKey) {
    absl::StatusOr<bool> expects = ProduceExpectsResponse(frame);
    if (!expects.ok()) {
      CloseForBadInput("request", absl::StrCat("Produce v", start->api_version, " request"),
                       expects.status());
      return false;
    }
    expects_response = *expects;
  }
  if (expects_response) {
    inflight_.push_back({.correlation_id = start->correlation_id,
                         .api_key = start->api_key,
                         .api_version = start->api_version,
                         .sent = Clock::now()});
  }
  requests_.Forward(whole);
  return true;
}

bool Session::AnswerApiVersions(const RequestStart& start, absl::Span<const uint8_t> frame) {
  // Only a connection's first request, before anything went to the broker.
  if (env_.api_versions == nullptr || !awaiting_request() || !inflight_.empty() ||
      Queued(Side::kBroker) > 0) {
    return false;
  }
  const ApiVersionsCache::Body body =
      env_.api_versions->Find(handshake_.broker(), start.api_version, Clock::now());
  if (body == nullptr || !ApiVersionsCache::Answerable(frame)) return false;
  // The answer's header is its correlation id alone, at every version.
  std::array<uint8_t, kafka::kFrameSizeBytes + 4> head;
  const auto size = static_cast<uint32_t>(4 + body->size());
  const auto id = static_cast<uint32_t>(start.correlation_id);
  for (int i = 0; i < 4; ++i) {
    head[i] = static_cast<uint8_t>(size >> (24 - 8 * i));
    head[4 + i] = static_cast<uint8_t>(id >> (24 - 8 * i));
  }
  responses_.Forward(head);
  responses_.Forward(*body);
  env_.metrics->ForApi(start.api_key).latency->Observe(0);
  env_.metrics->api_versions_answered().Increment();
  replay_.assign(frame.data() - kafka::kFrameSizeBytes, frame.data() + frame.size());
  replay_entry_ = {.correlation_id = start.correlation_id,
                   .api_key = start.api_key,
                   .api_version = start.api_version,
                   .replayed = true};
  return true;
}

void Session::ReplayAnsweredRequest() {
  replay_entry_.sent = Clock::now();
  inflight_.push_back(replay_entry_);
  requests_.Forward(replay_);
  replay_.clear();
  replay_.shrink_to_fit();
}

void Session::NoteRequest(const RequestStart& start, absl::Span<const uint8_t> frame) {
  env_.metrics->ForApi(start.api_key).requests->Increment();
  if (!client_key_) {
    // Every request header carries the client id; a connection keeps one.
    absl::StatusOr<std::string> client_id = RequestClientId(frame);
    if (client_id.ok()) {
      client_key_ = assignment::ClientKey(*client_id, handshake_.client_host());
    }
  }
}

AdvertisedAddress Session::AddressForClient(const control::RouteIndex* routes,
                                            int32_t node) const {
  return env_.router->AddressFor(routes, node,
                                 client_key_ ? *client_key_ : std::string_view());
}

bool Session::MayCutThrough(Side side, size_t size) const {
  if (size < kCutThroughAbove) return false;
  if (side == Side::kBroker) {
    if (inflight_.empty()) return false;
    const InFlight& request = inflight_.front();
    return ResponsePassesThrough(request) || WalksResponse(request.api_key, request.api_version);
  }
  const absl::Span<const uint8_t> b = requests_.buffered();
  if (sasl_.expecting_raw_tokens() || b.size() < kafka::kFrameSizeBytes + 2) return false;
  const uint8_t* key = &b[kafka::kFrameSizeBytes];
  return ((key[0] << 8) | key[1]) == kafka::ProduceRequest::kApiKey;
}

bool Session::StartRequestCutThrough() {
  const absl::Span<const uint8_t> b = requests_.buffered();
  if (b.size() < kafka::kFrameSizeBytes) return false;
  const auto size = static_cast<size_t>(kafka::PeekFrameSize(b.data()));  // checked by NextFrame
  if (!MayCutThrough(Side::kClient, size)) return false;
  // The header and acks come first; until they have arrived (or if they do
  // not parse) the request is assembled whole and checked then.
  const auto head = b.subspan(kafka::kFrameSizeBytes);
  absl::StatusOr<RequestStart> start = PeekRequestStart(head);
  if (!start.ok()) return false;
  absl::StatusOr<bool> expects_response = ProduceExpectsResponse(head);
  if (!expects_response.ok()) return false;
  if (!replay_.empty()) ReplayAnsweredRequest();
  seen_request_ = true;
  NoteRequest(*start, head);
  if (*expects_response) {
    inflight_.push_back({.correlation_id = start->correlation_id,
                         .api_key = start->api_key,
                         .api_version = start->api_version,
                         .sent = Clock::now()});
  }
  requests_.StartCutThrough(kafka::kFrameSizeBytes + size);
  return true;
}

bool Session::ResponsePassesThrough(const InFlight& request) const {
  return request.api_key >= 0 && !NeedsWholeResponse(request.api_key, request.api_version);
}

bool Session::StartResponseCutThrough() {
  const absl::Span<const uint8_t> b = responses_.buffered();
  if (b.size() < kafka::kFrameSizeBytes + 4) return false;  // size and correlation id
  const auto size = static_cast<size_t>(kafka::PeekFrameSize(b.data()));  // checked by NextFrame
  if (!MayCutThrough(Side::kBroker, size)) return false;
  InFlight request = std::move(inflight_.front());
  inflight_.pop_front();
  if (const int32_t id = CorrelationIdAt(&b[kafka::kFrameSizeBytes]);
      id != request.correlation_id) {
    CloseForBadInput("correlation",
                     absl::StrCat("api key ", request.api_key, " v", request.api_version,
                                  " response"),
                     absl::DataLossError(absl::StrCat("correlation id ", id, " where ",
                                                      request.correlation_id, " was expected")));
    return false;
  }
  env_.metrics->ForApi(request.api_key)
      .latency->Observe(std::chrono::duration<double>(Clock::now() - request.sent).count());
  responses_.StartCutThrough(kafka::kFrameSizeBytes + size);
  if (WalksResponse(request.api_key, request.api_version)) {
    walk_ = std::make_unique<kafka::ResponseWalk>(request.api_key, request.api_version,
                                                  kafka::kFrameSizeBytes + size);
  }
  return true;
}

bool Session::MoveWalkedResponse() {
  const size_t left = responses_.cut_through_left();
  const absl::Span<const uint8_t> b =
      responses_.buffered().first(std::min(responses_.buffered_size(), left));
  const auto what = [this] {
    return absl::StrCat("api key ", walk_->api_key(), " v", walk_->version(), " response");
  };
  if (!walk_->at_tail()) {
    absl::StatusOr<size_t> passed = walk_->Advance(b);
    if (!passed.ok()) {
      CloseForBadInput("response", what(), passed.status());
      return false;
    }
    if (*passed == 0) return false;
    return responses_.MoveCutThrough(*passed);
  }
  // The tail is the rest of the frame: rewrite it once it is all here.
  if (b.size() < left) return false;
  const std::shared_ptr<const control::RouteIndex> routes = env_.router->Snapshot();
  auto tail = RewriteWalkedTail(walk_->api_key(), walk_->version(), b, [&](int32_t node) {
    return AddressForClient(routes.get(), node);
  });
  if (!tail.ok()) {
    CloseForBadInput("response", what(), tail.status());
    return false;
  }
  if (!tail->has_value()) {
    responses_.MoveCutThrough();
  } else {
    env_.metrics->ForApi(walk_->api_key()).rewrites->Increment();
    if ((*tail)->endpoints_dropped) {
      VLOG(1) << Who() << ": NodeEndpoints of a streamed " << what()
              << " did not fit in place once rewritten and were left out";
    }
    responses_.ReplaceCutThroughRest((*tail)->bytes);
  }
  walk_.reset();
  return true;
}

void Session::ProcessResponses() {
  if (splicing(Side::kBroker) && !SpliceStep(Side::kBroker)) return;
  const auto hwm = static_cast<size_t>(env_.config->buffer_high_water_mark);
  while (!closed_ && Queued(Side::kClient) < hwm) {
    if (responses_.cut_through_left() > 0) {
      if (StartSplice(Side::kBroker)) {
        if (!SpliceStep(Side::kBroker)) return;
        continue;
      }
      if (walk_ != nullptr ? !MoveWalkedResponse() : !responses_.MoveCutThrough()) return;
      continue;
    }
    auto frame = kafka::NextFrame(responses_.buffered(), MaxFrameSize(Side::kBroker));
    if (!frame.ok()) {
      CloseForBadInput("frame", "response", frame.status());
      return;
    }
    if (!frame->has_value()) {
      if (StartResponseCutThrough()) continue;
      return;
    }
    if (!HandleResponse(**frame)) return;
    responses_.Skip(kafka::kFrameSizeBytes + (*frame)->size());
  }
}

bool Session::StartSplice(Side from) {
  const bool responses = from == Side::kBroker;
  const Pipe& pipe = From(from);
  // A walked response (Fetch v16+, ShareFetch) is spliced where its walk
  // need not look: the records, nearly all of its bytes. Of a request, only
  // a Produce is cut through, its header already read.
  const size_t unseen = responses && walk_ != nullptr ? walk_->opaque_ahead()
                                                      : pipe.cut_through_left();
  if (!connected() || !env_.config->zero_copy || splice_refused_ || client_.tls() ||
      upstream_.tls() || pipe.reading || pipe.buffered_size() > 0 || unseen < kSpliceAbove) {
    return false;
  }
  SpliceRun& run = Spliced(from);
  // Asio remembers the mode it set; asking it costs no system call, setting
  // it again would.
  asio::error_code ec;
  for (Transport* t : {&client_, &upstream_}) {
    if (!ec && !t->tcp().native_non_blocking()) t->tcp().native_non_blocking(true, ec);
  }
  const absl::Status opened = ec ? absl::InternalError(ec.message()) : run.splicer.Open();
  if (!opened.ok()) {
    // Copying works wherever splicing does not; say so, once per kind.
    splice_refused_ = true;
    LogLimited("splice", absl::StrCat(Who(), ": cannot splice (", opened.message(),
                                      "); copying instead"));
    return false;
  }
  run.left = unseen;
  return true;
}

bool Session::SpliceStep(Side from) {
  const bool responses = from == Side::kBroker;
  SpliceRun& run = Spliced(from);
  Pipe& pipe = From(from);
  const int source = (responses ? upstream_ : client_).tcp().native_handle();
  const int sink = (responses ? client_ : upstream_).tcp().native_handle();
  const char* const destination = responses ? "client" : "broker";
  bool source_dry = false;  // the source had nothing now, or the pipe was full
  bool sink_full = false;   // the destination took nothing now
  bool moved = true;
  while (moved && !closed_) {
    moved = false;
    if (run.left > 0 && !source_dry) {
      const ssize_t n = run.splicer.Fill(source, std::min(run.left, kSpliceChunk));
      if (n > 0) {
        const auto bytes = static_cast<size_t>(n);
        run.left -= bytes;
        pipe.CutThroughElsewhere(bytes);
        if (responses) {
          if (walk_ != nullptr) walk_->PassedUnseen(bytes);
          series().bytes_broker_to_client->Increment(static_cast<double>(bytes));
          env_.metrics->spliced_bytes_to_client().Increment(static_cast<double>(bytes));
        } else {
          bytes_from_client_ += bytes;
          series().bytes_client_to_broker->Increment(static_cast<double>(bytes));
          env_.metrics->spliced_bytes_to_broker().Increment(static_cast<double>(bytes));
        }
        last_activity_ = Clock::now();
        moved = true;
      } else if (n == 0) {
        // The frame can no longer be whole.
        if (!responses) {
          CloseForBadInput("frame", "request",
                           absl::DataLossError(absl::StrCat(
                               "the client closed the connection with ", run.left,
                               " bytes of a request still to come")));
        } else {
          Close(absl::StrCat("broker closed with ", run.left, " bytes of a response to come"));
        }
        return false;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        source_dry = true;
      } else if (errno != EINTR) {
        Close(absl::StrCat(responses ? "broker" : "client", " read failed: ",
                           std::strerror(errno)));
        return false;
      }
    }
    // Only behind what is queued the ordinary way.
    if (run.splicer.held() > 0 && !sink_full && To(responses ? Side::kClient : Side::kBroker)
                                                        .queued() == 0) {
      const ssize_t n = run.splicer.Drain(sink);
      if (n > 0) {
        if (responses) bytes_to_client_ += static_cast<size_t>(n);
        last_activity_ = Clock::now();
        source_dry = false;  // the pipe has room again
        moved = true;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        sink_full = true;
      } else if (n < 0 && errno != EINTR) {
        VLOG(1) << Who() << ": write to " << destination << " failed: " << std::strerror(errno);
        Close(absl::StrCat("write to ", destination, " failed: ", std::strerror(errno)));
        return false;
      }
    }
  }
  if (closed_) return false;
  if (!run.active()) {
    run.splicer.Close();  // an idle connection keeps no pipe
    return true;
  }
  // The pipe empties into the destination when it has room; with bytes
  // queued the ordinary way, their write's end calls again. An empty pipe
  // that took nothing means the source has sent nothing more yet.
  if (sink_full) WaitToSplice(from, /*write=*/true);
  if (run.left > 0 && source_dry && run.splicer.held() == 0) WaitToSplice(from, /*write=*/false);
  return false;
}

void Session::WaitToSplice(Side from, bool write) {
  SpliceRun& run = Spliced(from);
  bool& waiting = write ? run.write_wait : run.read_wait;
  if (waiting) return;
  waiting = true;
  // The source is read; the other side is written.
  const bool client_socket = (from == Side::kClient) != write;
  Transport& t = client_socket ? client_ : upstream_;
  t.tcp().async_wait(write ? asio::socket_base::wait_write : asio::socket_base::wait_read,
                     [self = shared_from_this(), from, write,
                      client_socket](const asio::error_code& ec) {
                       SpliceRun& r = self->Spliced(from);
                       (write ? r.write_wait : r.read_wait) = false;
                       if (self->closed_) return;
                       if (ec) {
                         self->Close(absl::StrCat("waiting for the ",
                                                  client_socket ? "client" : "broker",
                                                  " failed: ", ec.message()));
                         return;
                       }
                       self->Pump(from);
                     });
}

bool Session::HandleResponse(absl::Span<const uint8_t> frame) {
  const auto whole = absl::MakeConstSpan(frame.data() - kafka::kFrameSizeBytes,
                                         kafka::kFrameSizeBytes + frame.size());
  if (inflight_.empty()) {
    CloseForBadInput("correlation", "response",
                     absl::DataLossError("the broker answered with no request in flight"));
    return false;
  }
  InFlight request = std::move(inflight_.front());
  inflight_.pop_front();
  const double seconds = std::chrono::duration<double>(Clock::now() - request.sent).count();
  if (request.api_key < 0) {  // a raw SASL token answer
    sasl_.OnRawTokenAnswered();
    responses_.Forward(whole);
    return true;
  }
  const AgentMetrics::ApiSeries& api = env_.metrics->ForApi(request.api_key);
  // A replayed request's client had its answer long ago.
  if (!request.replayed) api.latency->Observe(seconds);
  // Only built for the log line of a connection being closed.
  auto what = [&request] {
    return absl::StrCat("api key ", request.api_key, " v", request.api_version, " response");
  };
  if (frame.size() < 4) {
    CloseForBadInput("response", what(), absl::DataLossError("shorter than a correlation id"));
    return false;
  }
  if (const int32_t id = CorrelationIdAt(frame.data()); id != request.correlation_id) {
    CloseForBadInput("correlation", what(),
                     absl::DataLossError(absl::StrCat("correlation id ", id, " where ",
                                                      request.correlation_id, " was expected")));
    return false;
  }
  AuditAuthentication(sasl_.OnResponse(request.api_key, request.api_version, frame));
  if (!MayRewrite(request.api_key, request.api_version)) {
    responses_.Forward(whole);
    return true;
  }
  const std::shared_ptr<const control::RouteIndex> routes = env_.router->Snapshot();
  auto rewritten = RewriteResponseFrame(
      request.api_key, request.api_version, frame,
      [&](int32_t node) { return AddressForClient(routes.get(), node); },
      [this](const std::vector<BrokerEndpoint>& seen) { env_.brokers_seen(seen); });
  if (!rewritten.ok()) {
    CloseForBadInput("response", what(), rewritten.status());
    return false;
  }
  const absl::Span<const uint8_t> out =
      rewritten->has_value() ? absl::MakeConstSpan(**rewritten) : whole;
  if (request.api_key == kafka::ApiVersionsRequest::kApiKey && env_.api_versions != nullptr) {
    env_.api_versions->Learn(handshake_.broker(), request.api_version,
                             out.subspan(kafka::kFrameSizeBytes), Clock::now());
  }
  if (request.replayed) return true;
  if (rewritten->has_value()) api.rewrites->Increment();
  responses_.Forward(out);
  return true;
}

void Session::Flush(Side to) {
  // Before the broker is connected, the client may have an answer from the
  // agent itself.
  if (closed_ || !Serves(to)) return;
  const absl::Span<const uint8_t> bytes = To(to).BeginWrite();
  if (bytes.empty()) return;
  Transport& t = to == Side::kBroker ? upstream_ : client_;
  t.AsyncWrite(asio::buffer(bytes.data(), bytes.size()),
               [self = shared_from_this(), to](const asio::error_code& ec, size_t) {
                 self->OnWritten(to, ec);
               });
}

void Session::OnWritten(Side to, const asio::error_code& ec) {
  const size_t written = To(to).EndWrite();
  if (closed_) return;
  if (ec) {
    VLOG(1) << Who() << ": write to " << (to == Side::kBroker ? "broker" : "client")
            << " failed: " << ec.message();
    Close(absl::StrCat("write to ", to == Side::kBroker ? "broker" : "client",
                       " failed: ", ec.message()));
    return;
  }
  last_activity_ = Clock::now();
  if (to == Side::kClient) bytes_to_client_ += written;
  Flush(to);
  // Room was made: the side that feeds this socket may read again.
  Pump(to == Side::kBroker ? Side::kClient : Side::kBroker);
}

void Session::Drain(Clock::time_point deadline) {
  if (closed_) return;
  draining_ = true;
  drain_deadline_ = deadline;
  if (!connected() || deadline <= Clock::now()) {
    Close("shutdown");
    return;
  }
  ArmTimerAt(std::min(deadline, timer_.expiry()));
  MaybeFinish();
}

void Session::MaybeFinish() {
  if (closed_) return;
  const bool flushed = Queued(Side::kClient) == 0 && Queued(Side::kBroker) == 0;
  // A closed side: deliver what is queued for the other one, then close.
  if ((requests_.source_closed || responses_.source_closed) && flushed) {
    Close();
    return;
  }
  if (requests_.source_closed && Queued(Side::kBroker) == 0) Close();
  if (closed_) return;
  if (responses_.source_closed && Queued(Side::kClient) == 0) Close();
  if (closed_) return;
  if (draining_ && inflight_.empty() && flushed && requests_.cut_through_left() == 0 &&
      responses_.cut_through_left() == 0) {
    Close("drained");
  }
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
    LOG(INFO) << "closing " << Who() << " at the end of the shutdown drain with "
              << inflight_.size() << " requests unanswered";
    Close("shutdown drain deadline");
    return;
  }
  if (!connected() && !awaiting_request()) {
    handshake_.TimedOut(now);
    return;
  }
  const auto first_request = absl::ToChronoMilliseconds(env_.config->first_request_timeout);
  if (!seen_request_ && now - ready_at_ >= first_request) {
    CloseForBadInput("silent", "start of the connection",
                     absl::DeadlineExceededError(absl::StrCat(
                         "no whole request within GATEWAY_FIRST_REQUEST_TIMEOUT (",
                         absl::FormatDuration(env_.config->first_request_timeout), "); ",
                         requests_.buffered_size(), " bytes arrived")));
    return;
  }
  const auto frame_timeout = absl::ToChronoMilliseconds(env_.config->frame_timeout);
  if (frame_started_ && now - *frame_started_ >= frame_timeout) {
    const size_t cutting = requests_.cut_through_left();
    CloseForBadInput(
        "slow", "request",
        absl::DeadlineExceededError(absl::StrCat(
            "a request frame did not arrive whole within GATEWAY_FRAME_TIMEOUT (",
            absl::FormatDuration(env_.config->frame_timeout), "); ",
            cutting > 0 ? absl::StrCat(cutting - std::min(cutting, requests_.buffered_size()),
                                       " bytes were still to come")
                        : absl::StrCat(requests_.buffered_size(), " bytes of it arrived"))));
    return;
  }
  const auto idle = absl::ToChronoMilliseconds(env_.config->idle_timeout);
  if (now - last_activity_ >= idle) {
    VLOG(1) << "closing idle " << Who();
    Close("idle timeout");
    return;
  }
  Clock::time_point next = last_activity_ + idle;
  if (draining_) next = std::min(next, drain_deadline_);
  if (!seen_request_) next = std::min(next, ready_at_ + first_request);
  if (frame_started_) next = std::min(next, *frame_started_ + frame_timeout);
  ArmTimerAt(next);
}

void Session::NoteFrameProgress() {
  const bool partial = requests_.buffered_size() > 0 || requests_.cut_through_left() > 0;
  // Only while the agent waits for the client (reading it, or splicing from
  // it): time it held off reading (backpressure, the budget, a drain) is not
  // the client's to answer for.
  if (!partial || !(requests_.reading || request_splice_.read_wait)) {
    frame_started_.reset();
    return;
  }
  if (frame_started_) return;
  frame_started_ = Clock::now();
  const Clock::time_point deadline =
      *frame_started_ + absl::ToChronoMilliseconds(env_.config->frame_timeout);
  if (deadline < timer_.expiry()) ArmTimerAt(deadline);
}

void Session::LogLimited(absl::string_view kind, const std::string& line) {
  WarnLimited(env_.log_limiter, kind, line);
}

void Session::CloseForBadInput(absl::string_view kind, const std::string& what,
                               const absl::Status& status) {
  int16_t api_key = -1;
  const bool client_input = kind == "request" || what == "request";
  if (const absl::Span<const uint8_t> b = requests_.buffered();
      client_input && requests_.cut_through_left() == 0 && b.size() >= 6) {
    // The request being framed when it failed starts at the buffer's head.
    api_key = static_cast<int16_t>((b[4] << 8) | b[5]);
  }
  const int32_t id = handshake_.broker();
  const std::string broker = id >= 0 ? absl::StrCat(" (broker ", id, ")") : "";
  const std::string api = api_key >= 0 ? absl::StrCat(" (api key ", api_key, ")") : "";
  LogLimited(kind, absl::StrCat("closing ", Who(), broker, ": bad ", what, api, ": ",
                                status.message()));
  env_.metrics->ClosedForBadInput(std::string(kind)).Increment();
  Close(absl::StrCat("bad ", what, api, ": ", status.message()));
}

audit::AuditEvent Session::NewAuditEvent(audit::EventType type) const {
  audit::AuditEvent e;
  e.type = type;
  e.time = absl::Now();
  e.node_id = env_.config->node.node_id;
  handshake_.Describe(e);
  e.sasl_mechanism = sasl_.mechanism();
  return e;
}

void Session::AuditOpen() {
  if (env_.audit == nullptr) return;
  env_.audit->Record(NewAuditEvent(audit::EventType::kConnectionOpen));
}

void Session::AuditAuthentication(const std::optional<SaslWatcher::Outcome>& outcome) {
  if (env_.audit == nullptr || !outcome) return;
  audit::AuditEvent e = NewAuditEvent(audit::EventType::kAuthentication);
  e.principal = sasl_.principal();
  e.success = outcome->success;
  e.error_code = outcome->error_code;
  e.error_message = outcome->error_message;
  env_.audit->Record(std::move(e));
}

void Session::Close(std::string reason) {
  if (closed_) return;
  auto self = shared_from_this();
  closed_ = true;
  if (!reason.empty()) close_reason_ = std::move(reason);
  if (connected()) series().active_connections->Decrement();
  if (awaiting_request()) env_.metrics->awaiting_request().Decrement();
  ticket_.Release();
  timer_.cancel();
  budget_timer_.cancel();
  handshake_.Stop();
  client_.Close();
  upstream_.Close();
  request_splice_.splicer.Close();
  response_splice_.splicer.Close();
  if (env_.audit != nullptr) {
    AuditAuthentication(sasl_.OnClose());
    audit::AuditEvent e = NewAuditEvent(audit::EventType::kConnectionClose);
    e.bytes_from_client = bytes_from_client_;
    e.bytes_to_client = bytes_to_client_;
    e.duration = absl::FromChrono(Clock::now() - started_);
    e.close_reason = close_reason_.empty() ? "closed" : close_reason_;
    env_.audit->Record(std::move(e));
  }
  owner_.erase(self);
}

}  // namespace kgw::agent
