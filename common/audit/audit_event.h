// Audit events: who connected to a gateway node and how (CONNECTION events
// when a client connection opens and closes, AUTHENTICATION events for SASL
// exchanges), and their JSON-lines form.
//
// An AuditEvent is plain data filled in by whoever observes the connection
// (kgw-agent's worker threads) and handed to AuditLog (audit_log.h), which
// writes ToJsonLine of it to its sinks. The JSON schema is documented in
// docs/audit-log.md; its keys are stable: tools parse these lines.
#ifndef KGW_COMMON_AUDIT_AUDIT_EVENT_H_
#define KGW_COMMON_AUDIT_AUDIT_EVENT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kgw::audit {

enum class EventType { kConnectionOpen, kConnectionClose, kAuthentication };

struct AuditEvent {
  EventType type = EventType::kConnectionOpen;
  absl::Time time;
  std::string node_id;  // GATEWAY_NODE_ID of the agent
  int listener_port = 0;
  int32_t broker_id = -1;      // -1: not yet known
  std::string client_address;  // "ip:port" of the TCP peer
  // From a PROXY protocol header; empty if none.
  std::string proxy_source_address, proxy_destination_address;
  std::string tls_version;                 // e.g. "TLSv1.3"; empty for plaintext
  std::string sni;                         // server name the client sent
  std::string client_certificate_subject;  // RFC 2253 form; empty when none
  std::string sasl_mechanism;

  // kConnectionClose only:
  uint64_t bytes_from_client = 0, bytes_to_client = 0;
  absl::Duration duration;
  // e.g. "client closed", "idle timeout", "bad input: ...", "shutdown"
  std::string close_reason;

  // kAuthentication only:
  // Where visible: the PLAIN user name, the SCRAM user name from client-first.
  std::string principal;
  bool success = false;
  int16_t error_code = 0;  // Kafka error code from SaslAuthenticate/SaslHandshake
  std::string error_message;
};

// The event as one JSON object on one line (no trailing newline), with
// camelCase keys in a fixed order:
//   always:          type, time, nodeId, listenerPort, brokerId, clientAddress
//   CONNECTION:      event ("OPEN" or "CLOSE")
//   when not empty:  proxySourceAddress, proxyDestinationAddress, tlsVersion,
//                    sni, clientCertificateSubject, saslMechanism
//   CLOSE:           bytesFromClient, bytesToClient, durationMs, closeReason
//   AUTHENTICATION:  principal (when not empty), success, errorCode,
//                    errorMessage (when not empty)
// `time` is RFC 3339 in UTC with milliseconds ("2025-03-04T05:06:07.089Z").
// Strings are escaped as JsonQuote does, so any bytes give valid JSON.
std::string ToJsonLine(const AuditEvent& e);

// `s` as a JSON string literal, quotes included: `"` and `\` are escaped
// with a backslash, control characters (U+0000-U+001F and U+007F) as \u00XX,
// valid UTF-8 is copied as it is, and each maximal invalid UTF-8 subpart
// (a stray continuation byte, a truncated sequence, an overlong form, a
// surrogate, a code point above U+10FFFF) becomes U+FFFD.
std::string JsonQuote(absl::string_view s);

}  // namespace kgw::audit

#endif  // KGW_COMMON_AUDIT_AUDIT_EVENT_H_
