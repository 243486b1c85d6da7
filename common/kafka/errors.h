// Names of Kafka protocol error codes.
//
// Responses carry errors as bare int16 codes. These functions turn a code
// into the name Apache Kafka gives it (org.apache.kafka.common.protocol.Errors,
// e.g. 27 -> "REBALANCE_IN_PROGRESS"), so that logs and status messages can
// say what went wrong rather than print a number. The table covers every code
// that Kafka 4.4.0 defines, -1 through 136; a code from a newer broker has no
// name here and is reported by its number.
#ifndef KGW_COMMON_KAFKA_ERRORS_H_
#define KGW_COMMON_KAFKA_ERRORS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/types/span.h"

namespace kgw::kafka {

struct KafkaErrorName {
  int16_t code;
  std::string_view name;
};

// Every known code with its name, in ascending order of code.
absl::Span<const KafkaErrorName> KnownKafkaErrors();

// The name of `code` ("NONE" for 0, "UNKNOWN_SERVER_ERROR" for -1), or an
// empty string_view for a code Kafka 4.4.0 does not define. The view refers
// to static storage.
std::string_view ErrorName(int16_t code);

// "REBALANCE_IN_PROGRESS (code 27)" for a known code, "unknown error code 300"
// otherwise.
std::string DescribeError(int16_t code);

}  // namespace kgw::kafka

#endif  // KGW_COMMON_KAFKA_ERRORS_H_
