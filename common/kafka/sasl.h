// SASL for kgw's own connections to brokers: PLAIN and SCRAM-SHA-256/512
// (RFC 5802, RFC 7677) as Kafka speaks them, inside SaslAuthenticate
// requests after a SaslHandshake that names the mechanism.
//
// A SaslMechanism produces the client's messages one at a time; the
// transport (BlockingConnection::Authenticate, later the group client) moves
// them. Written on OpenSSL so that it does not depend on librdkafka, whose
// Debian build cannot do SCRAM against Kafka 4.x.
#ifndef KGW_COMMON_KAFKA_SASL_H_
#define KGW_COMMON_KAFKA_SASL_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kgw::kafka {

struct SaslCredentials {
  std::string mechanism;  // "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512"
  std::string username;
  std::string password;
};

class SaslMechanism {
 public:
  virtual ~SaslMechanism() = default;
  // The client's first message.
  virtual absl::StatusOr<std::string> Start() = 0;
  // Given the server's answer to the last message: the next client message,
  // or nullopt when the exchange is complete and the server was verified.
  virtual absl::StatusOr<std::optional<std::string>> Next(absl::string_view server) = 0;
};

// InvalidArgument for a mechanism other than the three supported.
absl::StatusOr<std::unique_ptr<SaslMechanism>> NewSaslMechanism(const SaslCredentials& c);

// For tests: SCRAM with a fixed client nonce.
std::unique_ptr<SaslMechanism> NewScramForTest(const SaslCredentials& c, std::string nonce);

}  // namespace kgw::kafka

#endif  // KGW_COMMON_KAFKA_SASL_H_
