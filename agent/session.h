// One client connection and its connection to a broker.
//
// A Session lives on one worker thread: both sockets, their buffers and the
// queue of requests awaiting responses are touched only there, so nothing in
// it is locked. Requests pass through as opaque frames (only their first
// bytes are read); responses are matched to requests in order and, when
// they carry broker addresses, rewritten (see response_rewriter.h).
//
// Before the first request, a client connection may pass three gates,
// bounded by GATEWAY_UPSTREAM_CONNECT_TIMEOUT together: a PROXY protocol
// header (GATEWAY_FEATURE_FLAGS_HAPROXY_PROTOCOL), the TLS handshake
// (GATEWAY_SECURITY_PROTOCOL SSL or SASL_SSL), and the choice of broker, by
// port or by the TLS server name (GATEWAY_ROUTING_MECHANISM=host). Then the
// session reads the client's first request (within
// GATEWAY_FIRST_REQUEST_TIMEOUT), and only once it is whole connects to the
// broker (within GATEWAY_UPSTREAM_CONNECT_TIMEOUT again), so that a
// connection that sends nothing, or too little too slowly, never costs a
// broker connection. A first request that is ApiVersions the agent can
// answer itself (api_versions_cache.h) is answered at once, and the broker is
// connected to only for the next request, the ApiVersions request being sent
// to it just ahead. The broker connection may itself be TLS
// (KAFKA_SECURITY_PROTOCOL SSL or SASL_SSL). The session's ClientHandshake
// (client_handshake.h) takes the connection through these steps; the session
// holds the deadlines and forwards afterwards.
//
// Flow control: a side is read only while the bytes queued for the other
// side stay under GATEWAY_BUFFER_HIGH_WATER_MARK and, for the client, while
// fewer than GATEWAY_MAX_INFLIGHT_REQUESTS requests await responses and the
// agent's request budget (GATEWAY_MAX_BUFFERED_REQUEST_BYTES) has room. A
// socket that stops reading therefore slows its peer down through TCP.
//
// Hostile clients: request buffers grow with the bytes that arrive (see
// pipe.h); a started frame must complete within GATEWAY_FRAME_TIMEOUT and the
// first request arrive within GATEWAY_FIRST_REQUEST_TIMEOUT; on a SASL
// listener, frames before authentication are capped at
// GATEWAY_SASL_MAX_RECEIVE_SIZE.
#ifndef KGW_AGENT_SESSION_H_
#define KGW_AGENT_SESSION_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "absl/status/status.h"
#include "agent/agent_metrics.h"
#include "agent/client_handshake.h"
#include "agent/connection_limiter.h"
#include "agent/pipe.h"
#include "agent/request_peek.h"
#include "agent/sasl_watcher.h"
#include "agent/session_env.h"
#include "agent/splicer.h"
#include "agent/transport.h"
#include "common/audit/audit_log.h"
#include "common/kafka/response_walk.h"
#include "asio.hpp"

namespace kgw::agent {

class Session;

// The sessions of one worker; touched only on that worker's thread.
using SessionSet = std::unordered_set<std::shared_ptr<Session>>;

class Session : public std::enable_shared_from_this<Session> {
 public:
  using Clock = std::chrono::steady_clock;

  // `ticket` is the connection's place under the agent's connection limits;
  // the session adds the client's address to it and gives it back on close.
  Session(asio::ip::tcp::socket client, const asio::ip::tcp::endpoint& peer, int local_port,
          const SessionEnv& env, SessionSet& owner, ConnectionLimiter::Ticket ticket = {});
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Picks the broker for this port, reads the first request, connects, then
  // forwards both ways.
  void Start();
  // Stops taking requests; closes once in-flight requests are answered, or
  // at `deadline`.
  void Drain(Clock::time_point deadline);
  // The broker this session forwards to; -1 until it is chosen.
  int32_t broker() const { return handshake_.broker(); }

 private:
  enum class Side { kClient, kBroker };

  struct InFlight {
    int32_t correlation_id = 0;
    int16_t api_key = -1;  // -1: a raw SASL token
    int16_t api_version = 0;
    Clock::time_point sent;
    // An ApiVersions request the agent answered itself, replayed to the
    // broker: its answer refreshes the cache and goes no further.
    bool replayed = false;
  };

  // The handshake paused after choosing the broker: the client's first
  // request is read before the broker is connected to.
  void OnAwaitingRequest();
  // The first request is framed: the handshake goes on to the broker.
  void ConnectToBroker();
  // The handshake's ends: the broker connection is up, or it gave up.
  void OnConnected();
  void OnHandshakeFailed(const ClientHandshake::Failure& failure);
  // Reads what `side` sent. With nothing buffered from it (and no TLS) it
  // first waits for the socket to be readable, unless `readable` says it is.
  void Read(Side side, bool readable = false);
  void OnReadable(Side side, const asio::error_code& ec);
  void OnRead(Side side, const asio::error_code& ec, size_t n);
  void Pump(Side side);
  void ProcessRequests();
  void ProcessResponses();
  // Each returns false after closing the session.
  bool HandleRequest(absl::Span<const uint8_t> frame);
  bool HandleResponse(absl::Span<const uint8_t> frame);
  // The connection's first request is an ApiVersions the cache can answer
  // (api_versions_cache.h): queues the answer for the client, keeps the
  // request for the broker and returns true. False when it must go to the
  // broker.
  bool AnswerApiVersions(const RequestStart& start, absl::Span<const uint8_t> frame);
  // Queues the ApiVersions request answered by the agent for the broker, ahead
  // of the request that makes the session connect.
  void ReplayAnsweredRequest();
  // Something is queued or awaited from the broker: it must be connected to.
  bool OwesBroker() const {
    return !inflight_.empty() || Queued(Side::kBroker) > 0 || requests_.cut_through_left() > 0;
  }
  // Counts a request and learns the client id from its header; `frame` may
  // be only the start of the request.
  void NoteRequest(const RequestStart& start, absl::Span<const uint8_t> frame);
  // Cut-through: a large frame the agent does not need whole (a Produce
  // request, a response it never rewrites) is forwarded as it arrives rather
  // than assembled first, which saves memory, copies and page faults and lets
  // the broker or client start on it sooner. Each Start* returns true when it
  // took the frame at the buffer's head that way (after its checks and
  // bookkeeping); false leaves it to be assembled whole (or closed the
  // session: check closed_).
  bool StartRequestCutThrough();
  bool StartResponseCutThrough();
  bool ResponsePassesThrough(const InFlight& request) const;
  // A large Fetch or ShareFetch response, which may end with NodeEndpoints,
  // is cut through too, following its structure (walk_): what the walk has
  // passed moves on, and its tail is held until it has arrived and then
  // forwarded rewritten within the same size. Returns false when nothing
  // could move (more bytes are needed) or after closing.
  bool MoveWalkedResponse();
  // Zero-copy (GATEWAY_ZERO_COPY): bytes of a frame being cut through that
  // the agent does not look at go from one socket to the other through a
  // kernel pipe (splicer.h): the rest of a Produce request after its header,
  // the rest of a response never rewritten, the records a walk passes. A
  // run starts only once everything read of the frame before it has been
  // queued, and its pipe is emptied only once that queue has been written,
  // so the bytes keep their order. `from` names the side read. StartSplice
  // returns false when nothing is spliced now (TLS, too little to splice,
  // the kernel refused a pipe).
  bool StartSplice(Side from);
  // Moves what it can. True when the run is through (go on with the frame);
  // false while it waits for a socket (it arranges to be called again) or
  // after closing.
  bool SpliceStep(Side from);
  // Calls Pump(from) once the destination can take more (`write`) or the
  // source has sent more.
  void WaitToSplice(Side from, bool write);
  struct SpliceRun {
    Splicer splicer;
    size_t left = 0;  // bytes still to take from the source this way
    bool read_wait = false;
    bool write_wait = false;
    bool active() const { return left > 0 || splicer.held() > 0; }
  };
  SpliceRun& Spliced(Side from) {
    return from == Side::kClient ? request_splice_ : response_splice_;
  }
  const SpliceRun& Spliced(Side from) const {
    return from == Side::kClient ? request_splice_ : response_splice_;
  }
  bool splicing(Side from) const { return Spliced(from).active(); }
  // Where this client is told broker `node` is, under `routes`.
  AdvertisedAddress AddressForClient(const control::RouteIndex* routes, int32_t node) const;
  // Whether the incomplete frame of `size` bytes at the head of the buffer
  // from `side` may be cut through, so reading need not make room for all of it.
  bool MayCutThrough(Side side, size_t size) const;
  void Flush(Side to);
  void OnWritten(Side to, const asio::error_code& ec);
  bool CanRead(Side side) const;
  int32_t MaxFrameSize(Side from) const;
  size_t Queued(Side to) const;
  void ArmTimer(Clock::duration after);
  void ArmTimerAt(Clock::time_point when);
  void OnTimer();
  // Starts or stops the clock of the request frame under way: it runs while
  // part of a frame has arrived and the agent waits for the rest.
  void NoteFrameProgress();
  // The budget refused more room: reading the client resumes a little later.
  void WaitForBudget();
  // Logs `line` at WARNING unless lines of `kind` are being held back.
  void LogLimited(absl::string_view kind, const std::string& line);
  void MaybeFinish();
  // Closes both sockets; `reason` goes to the audit log.
  void Close(std::string reason = "");
  void CloseForBadInput(absl::string_view kind, const std::string& what,
                        const absl::Status& status);
  // "client A:P on port N", plus the PROXY header's addresses when there
  // was one: the start of every log line about this session.
  std::string Who() const { return handshake_.Who(); }
  // The broker connection is up: the handshake has finished.
  bool connected() const { return handshake_.phase() == ClientHandshake::Phase::kDone; }
  // The broker is chosen and the client's first request is being read.
  bool awaiting_request() const {
    return handshake_.phase() == ClientHandshake::Phase::kAwaitingRequest;
  }
  // Whether `side` is read and pumped now: both once the broker is connected,
  // the client alone while its first request is read before that.
  bool Serves(Side side) const {
    return connected() || (side == Side::kClient && awaiting_request());
  }
  // The chosen broker's metrics; once a broker is chosen.
  const AgentMetrics::BrokerSeries& series() const { return *handshake_.series(); }
  // Audit events; no-ops without an audit log.
  audit::AuditEvent NewAuditEvent(audit::EventType type) const;
  void AuditOpen();
  void AuditAuthentication(const std::optional<SaslWatcher::Outcome>& outcome);
  // The pipe that reads from `side`, and the one that writes to it.
  Pipe& From(Side side) { return side == Side::kClient ? requests_ : responses_; }
  const Pipe& From(Side side) const { return side == Side::kClient ? requests_ : responses_; }
  Pipe& To(Side side) { return side == Side::kClient ? responses_ : requests_; }
  const Pipe& To(Side side) const { return side == Side::kClient ? responses_ : requests_; }

  Transport client_;
  Transport upstream_;
  asio::steady_timer timer_;
  asio::steady_timer budget_timer_;
  const SessionEnv& env_;
  SessionSet& owner_;
  ConnectionLimiter::Ticket ticket_;
  // Everything before forwarding; it keeps what it learned of the client
  // and the broker for the session's whole life.
  ClientHandshake handshake_;
  SaslWatcher sasl_;
  std::string close_reason_;
  uint64_t bytes_from_client_ = 0;
  uint64_t bytes_to_client_ = 0;
  const Clock::time_point started_ = Clock::now();
  // assignment::ClientKey of the client id (from the first request that
  // parses) and client host; decides which agent each broker is advertised at.
  std::optional<std::string> client_key_;

  Pipe requests_;   // client to broker
  Pipe responses_;  // broker to client
  // The walk through the response being cut through, if it is walked.
  std::unique_ptr<kafka::ResponseWalk> walk_;
  // The runs being spliced, one per direction.
  SpliceRun request_splice_;
  SpliceRun response_splice_;
  bool splice_refused_ = false;  // the kernel refused: this session copies
  // Requests awaiting their responses, oldest first: Kafka answers in order.
  std::deque<InFlight> inflight_;
  // The ApiVersions request the agent answered, whole, until it is replayed
  // to the broker (empty otherwise), and its entry for inflight_ then.
  std::vector<uint8_t> replay_;
  InFlight replay_entry_;

  bool seen_request_ = false;  // a request was framed: no PROXY header can follow
  bool waiting_for_budget_ = false;
  // When the client could first be read (its gates passed):
  // GATEWAY_FIRST_REQUEST_TIMEOUT runs from here.
  Clock::time_point ready_at_;
  // When the agent began waiting for the rest of the request frame under way.
  std::optional<Clock::time_point> frame_started_;
  bool closed_ = false;
  bool draining_ = false;
  Clock::time_point drain_deadline_;
  Clock::time_point last_activity_;
};

}  // namespace kgw::agent

#endif  // KGW_AGENT_SESSION_H_
