// A blocking Kafka connection for end-to-end tests: sends one request built
// with the codec and returns the broker's response frame. Just enough for
// tests that need answers a client library does not expose (racks, raw
// response bytes); not for the gateway's data path.
#ifndef KGW_TESTS_E2E_KAFKA_TEST_CONNECTION_H_
#define KGW_TESTS_E2E_KAFKA_TEST_CONNECTION_H_

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/kafka/header.h"
#include "common/kafka/wire/writer.h"
#include "common/status/status_macros.h"

namespace kgw::kafka::test {

class Connection {
 public:
  static absl::StatusOr<Connection> Open(const std::string& host_port) {
    std::vector<std::string> hp = absl::StrSplit(host_port, ':');
    if (hp.size() != 2) return absl::InvalidArgumentError("bad address " + host_port);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(hp[0].c_str(), hp[1].c_str(), &hints, &res) != 0) {
      return absl::UnavailableError("cannot resolve " + host_port);
    }
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    timeval tv{.tv_sec = 20, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int rc = connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc != 0) {
      close(fd);
      return absl::UnavailableError("cannot connect to " + host_port);
    }
    return Connection(fd);
  }
  Connection(Connection&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Connection& operator=(Connection&&) = delete;
  ~Connection() {
    if (fd_ >= 0) close(fd_);
  }

  // Sends `body` as api_key/version and returns the response frame (header
  // and body, without the size prefix).
  template <typename Request>
  absl::StatusOr<std::vector<uint8_t>> Exchange(const Request& body, int16_t version) {
    KGW_RETURN_IF_ERROR(Send(body, version));
    return ReadFrame();
  }

  // Sends `body` as api_key/version without waiting for an answer (Produce
  // with acks=0 gets none).
  template <typename Request>
  absl::Status Send(const Request& body, int16_t version) {
    Writer w;
    EncodeRequestFrame(w, body, version, ++correlation_id_, "kgw-e2e-test");
    return WriteAll(w.data());
  }

  // Sends `payload` framed but without a Kafka header (a legacy SASL token)
  // and returns the answering frame.
  absl::StatusOr<std::vector<uint8_t>> ExchangeRaw(absl::Span<const uint8_t> payload) {
    Writer w;
    size_t mark = BeginFrame(w);
    for (uint8_t b : payload) w.WriteInt8(static_cast<int8_t>(b));
    EndFrame(w, mark);
    KGW_RETURN_IF_ERROR(WriteAll(w.data()));
    return ReadFrame();
  }

  int32_t last_correlation_id() const { return correlation_id_; }

 private:
  explicit Connection(int fd) : fd_(fd) {}
  absl::StatusOr<std::vector<uint8_t>> ReadFrame() {
    std::vector<uint8_t> size(4);
    KGW_RETURN_IF_ERROR(ReadAll(size));
    int32_t n = static_cast<int32_t>(ntohl(*reinterpret_cast<const uint32_t*>(size.data())));
    if (n < 0 || n > 64 << 20) return absl::DataLossError(absl::StrCat("frame size ", n));
    std::vector<uint8_t> frame(n);
    KGW_RETURN_IF_ERROR(ReadAll(frame));
    return frame;
  }
  absl::Status WriteAll(absl::Span<const uint8_t> data) {
    while (!data.empty()) {
      ssize_t n = write(fd_, data.data(), data.size());
      if (n <= 0) return absl::UnavailableError("write failed");
      data.remove_prefix(n);
    }
    return absl::OkStatus();
  }
  absl::Status ReadAll(std::vector<uint8_t>& out) {
    size_t got = 0;
    while (got < out.size()) {
      ssize_t n = read(fd_, out.data() + got, out.size() - got);
      if (n <= 0) return absl::UnavailableError("connection closed by the broker");
      got += n;
    }
    return absl::OkStatus();
  }
  int fd_;
  int32_t correlation_id_ = 0;
};

}  // namespace kgw::kafka::test

#endif  // KGW_TESTS_E2E_KAFKA_TEST_CONNECTION_H_
