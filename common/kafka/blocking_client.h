// A blocking, single-request-at-a-time Kafka connection with deadlines, for
// background work off the data path (the agent's metadata refresh). Requests
// are built with the codec; every call is bounded by the timeout given to
// Connect, so a dead broker costs at most that long.
//
// Thread-compatible: one thread uses a connection at a time.
#ifndef KGW_COMMON_KAFKA_BLOCKING_CLIENT_H_
#define KGW_COMMON_KAFKA_BLOCKING_CLIENT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

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

class BlockingConnection {
 public:
  // Resolves `host` and connects within `timeout`.
  static absl::StatusOr<BlockingConnection> Connect(const std::string& host, int port,
                                                    absl::Duration timeout,
                                                    std::string client_id);
  BlockingConnection(BlockingConnection&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)),
        timeout_(other.timeout_),
        client_id_(std::move(other.client_id_)),
        correlation_id_(other.correlation_id_),
        peer_(std::move(other.peer_)) {}
  BlockingConnection& operator=(BlockingConnection&&) = delete;
  ~BlockingConnection();

  // Sends `request` at `version` and decodes the response into `response`.
  template <typename Request, typename Response>
  absl::Status Call(const Request& request, int16_t version, Response* response) {
    Writer w;
    EncodeRequestFrame(w, request, version, ++correlation_id_, client_id_);
    KGW_ASSIGN_OR_RETURN(std::vector<uint8_t> frame, RoundTrip(w.data()));
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

  // Authenticates with SaslHandshake v1 and SaslAuthenticate v2 rounds.
  // PermissionDenied when the broker refuses the credentials.
  absl::Status Authenticate(const SaslCredentials& credentials);

  const std::string& peer() const { return peer_; }

 private:
  BlockingConnection(int fd, absl::Duration timeout, std::string client_id, std::string peer)
      : fd_(fd), timeout_(timeout), client_id_(std::move(client_id)), peer_(std::move(peer)) {}
  // Writes a whole request frame and reads one response frame (without its size).
  absl::StatusOr<std::vector<uint8_t>> RoundTrip(absl::Span<const uint8_t> request);
  absl::Status WriteAll(absl::Span<const uint8_t> data, absl::Time deadline);
  absl::Status ReadAll(uint8_t* data, size_t size, absl::Time deadline);

  int fd_;
  absl::Duration timeout_;
  std::string client_id_;
  int32_t correlation_id_ = 0;
  std::string peer_;
};

}  // namespace kgw::kafka

#endif  // KGW_COMMON_KAFKA_BLOCKING_CLIENT_H_
