// A blocking, single-request-at-a-time Kafka connection with deadlines, for
// background work off the data path (the agent's metadata refresh). Requests
// are built with the codec; every call is bounded by the timeout given to
// Connect, so a dead broker costs at most that long.
//
// Over TLS (SSL and SASL_SSL listeners) Connect shakes hands within the same
// deadline as the TCP connect, and every call then goes through OpenSSL on
// the same non-blocking socket with the same deadlines; SASL, when wanted,
// follows on the encrypted connection (Authenticate).
//
// Thread-compatible: one thread uses a connection at a time.
#ifndef KGW_COMMON_KAFKA_BLOCKING_CLIENT_H_
#define KGW_COMMON_KAFKA_BLOCKING_CLIENT_H_

#include <openssl/types.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/kafka/header.h"
#include "common/kafka/sasl.h"
#include "common/kafka/wire/reader.h"
#include "common/kafka/wire/writer.h"
#include "common/status/status_macros.h"

namespace kgw::kafka {

// TLS for a connection: a client context (tls::NewClientContext), shared by
// every connection made with it, and whether the broker's certificate must
// name the host connected to.
struct ConnectionTls {
  std::shared_ptr<SSL_CTX> context;
  bool verify_hostname = true;
};

class BlockingConnection {
 public:
  // Resolves `host` and connects within `timeout`; with `tls`, also shakes
  // hands within it. Unavailable (DeadlineExceeded on timeout) with one line
  // naming host:port, e.g. "127.0.0.1:9093: TLS handshake failed:
  // certificate verify failed (unable to get local issuer certificate)".
  static absl::StatusOr<BlockingConnection> Connect(
      const std::string& host, int port, absl::Duration timeout, std::string client_id,
      const std::optional<ConnectionTls>& tls = std::nullopt);
  BlockingConnection(BlockingConnection&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)),
        ssl_(std::exchange(other.ssl_, nullptr)),
        timeout_(other.timeout_),
        client_id_(std::move(other.client_id_)),
        correlation_id_(other.correlation_id_),
        peer_(std::move(other.peer_)),
        versions_(std::move(other.versions_)),
        on_bytes_(std::move(other.on_bytes_)) {}
  BlockingConnection& operator=(BlockingConnection&&) = delete;
  ~BlockingConnection();

  // Sends `request` at `version` and decodes the response into `response`.
  template <typename Request, typename Response>
  absl::Status Call(const Request& request, int16_t version, Response* response) {
    Writer w;
    EncodeRequestFrame(w, request, version, ++correlation_id_, client_id_);
    KGW_ASSIGN_OR_RETURN(std::vector<uint8_t> frame, RoundTrip(w.data()));
    if (on_bytes_) on_bytes_(Request::kApiKey, w.data().size() + 4 + frame.size());
    Reader r(frame);
    ResponseHeader response_header;
    KGW_RETURN_IF_ERROR(
        response_header.Decode(r, ResponseHeaderVersion(Response::kApiKey, version)));
    if (response_header.correlation_id != correlation_id_) {
      return absl::DataLossError(absl::StrCat(peer_, ": response correlation id ",
                                              response_header.correlation_id, ", expected ",
                                              correlation_id_));
    }
    return response->Decode(r, version);
  }

  // Asks the broker which versions it supports (ApiVersions v3), for
  // PickVersion. Call once, before anything else (before Authenticate).
  absl::Status FetchApiVersions(absl::string_view software_version);

  // The highest version of `Message`'s API that both the broker (as
  // FetchApiVersions learned) and the codec support, at least `min_wanted`.
  // FailedPrecondition naming the API when there is none.
  template <typename Message>
  absl::StatusOr<int16_t> PickVersion(int16_t min_wanted = Message::kMinVersion) const {
    return PickVersion(Message::kApiKey,
                       absl::string_view(Message::kName.data(), Message::kName.size()),
                       std::max(min_wanted, Message::kMinVersion), Message::kMaxVersion);
  }

  // Bounds every later call (a JoinGroup may legitimately wait for a whole
  // rebalance, longer than an ordinary request).
  void set_timeout(absl::Duration timeout) { timeout_ = timeout; }

  // Makes a call blocked in another thread fail at once (shuts the socket
  // down). Safe from any thread while the connection object lives.
  void Interrupt();

  // Authenticates with SaslHandshake v1 and SaslAuthenticate v2 rounds.
  // PermissionDenied when the broker refuses the credentials.
  absl::Status Authenticate(const SaslCredentials& credentials);

  const std::string& peer() const { return peer_; }

  // Called after each call that got its response, with the API key and the
  // bytes both frames took on the wire (sizes included, TLS records not).
  using ByteCounter = std::function<void(int16_t api_key, size_t bytes)>;
  void set_byte_counter(ByteCounter counter) { on_bytes_ = std::move(counter); }

 private:
  BlockingConnection(int fd, SSL* ssl, absl::Duration timeout, std::string client_id,
                     std::string peer)
      : fd_(fd),
        ssl_(ssl),
        timeout_(timeout),
        client_id_(std::move(client_id)),
        peer_(std::move(peer)) {}
  // Writes a whole request frame and reads one response frame (without its size).
  absl::StatusOr<std::vector<uint8_t>> RoundTrip(absl::Span<const uint8_t> request);
  absl::Status WriteAll(absl::Span<const uint8_t> data, absl::Time deadline);
  absl::Status ReadAll(uint8_t* data, size_t size, absl::Time deadline);
  // After a failed TLS write: a broker that refuses the session (say, a
  // missing client certificate under TLS 1.3, where the client's handshake
  // completes first) sends an alert and resets the connection, so the write
  // fails with "Connection reset by peer" while the alert, which says why,
  // waits unread. Returns the alert when there is one, else `write_error`.
  absl::Status PeerAlertOr(absl::Status write_error);
  absl::StatusOr<int16_t> PickVersion(int16_t api_key, absl::string_view name, int16_t ours_min,
                                      int16_t ours_max) const;

  int fd_;
  SSL* ssl_;  // owned; null without TLS
  absl::Duration timeout_;
  std::string client_id_;
  int32_t correlation_id_ = 0;
  std::string peer_;
  // api key -> (min, max) the broker supports; empty until FetchApiVersions.
  absl::flat_hash_map<int16_t, std::pair<int16_t, int16_t>> versions_;
  ByteCounter on_bytes_;
};

}  // namespace kgw::kafka

#endif  // KGW_COMMON_KAFKA_BLOCKING_CLIENT_H_
