// The HAProxy PROXY protocol, versions 1 (text) and 2 (binary): the header a
// load balancer writes at the start of a proxied TCP connection to tell the
// server where the connection really came from.
//
// The agent reads it first thing on every accepted client connection, before
// TLS, when GATEWAY_FEATURE_FLAGS_HAPROXY_PROTOCOL is on. It peeks at the
// socket (recv with MSG_PEEK), so ParseProxyHeader works on whatever bytes
// have arrived: it says how many bytes the header takes, that more bytes are
// needed, or that the connection does not start with a valid header. It is a
// pure function of its input; call it from any thread. A reader peeks up to
// kMaxProxyHeaderSize bytes, waits (with a deadline; the specification
// suggests at least 3 s) while it gets nullopt, then reads and drops
// header.size bytes. The specification forbids guessing whether a header is
// there: with the flag on, a connection without one is closed.
//
// Specification: HAProxy's doc/proxy-protocol.txt (revision 2020/03/05).
// Where the specification leaves a choice, this parser makes these:
//  - Errors are reported as soon as the bytes seen prove the header invalid,
//    not only once it is complete; a prefix of a valid header is never an
//    error. Waiting is bounded: a v1 line has its CRLF within 107 bytes and a
//    v2 header says its length in its first 16 bytes.
//  - v1 addresses must be accepted by inet_pton, so IPv4 numbers with leading
//    zeros are rejected and an IPv6 address may end in a dotted quad (inet_ntop
//    writes IPv4-mapped addresses that way). Ports are decimal 0-65535 with no
//    sign and no leading zeros ("0" itself is fine). Fields are separated by
//    exactly one space. Addresses are returned in inet_ntop's canonical form.
//  - v1 "PROXY UNKNOWN": anything after UNKNOWN up to the CRLF is ignored.
//  - v2 LOCAL (health checks): the family byte and everything after the
//    16-byte fixed part are skipped, as the specification asks; the header has
//    no addresses and no TLVs.
//  - v2 PROXY with AF_UNSPEC or an UNSPEC transport: accepted without
//    addresses; the block is skipped, since its layout is unknown.
//  - v2 DGRAM (UDP, unix datagram) is rejected: Kafka runs over TCP.
//  - v2 AF_UNIX stream: accepted without addresses (socket paths mean nothing
//    to the agent); the TLVs after the 216 address bytes are parsed.
//  - TLVs must fill the rest of the header exactly. A PP2_TYPE_CRC32C TLV must
//    be 4 bytes and its checksum must match. A second AUTHORITY or CRC32C TLV
//    is an error, so that there is never a doubt which one was meant.
#ifndef KGW_COMMON_NET_PROXY_PROTOCOL_H_
#define KGW_COMMON_NET_PROXY_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace kgw::net {

// v2 TLV types registered by the specification.
inline constexpr uint8_t kPp2TypeAlpn = 0x01;
inline constexpr uint8_t kPp2TypeAuthority = 0x02;
inline constexpr uint8_t kPp2TypeCrc32c = 0x03;
inline constexpr uint8_t kPp2TypeNoop = 0x04;
inline constexpr uint8_t kPp2TypeUniqueId = 0x05;
inline constexpr uint8_t kPp2TypeSsl = 0x20;
inline constexpr uint8_t kPp2TypeNetns = 0x30;

// The longest a v1 line may be, CRLF included.
inline constexpr size_t kMaxProxyHeaderV1Size = 107;
// The longest header of either version: a v2 header is its 16-byte fixed part
// plus at most 65535 bytes (its length field). A reader that has peeked this
// many bytes always gets a header or an error, never a request for more.
inline constexpr size_t kMaxProxyHeaderSize = 16 + 65535;

struct ProxyAddress {
  std::string ip;  // textual form, as inet_ntop writes it: "10.0.0.1", "2001:db8::1"
  uint16_t port = 0;

  bool operator==(const ProxyAddress&) const = default;
};

struct ProxyTlv {
  uint8_t type = 0;
  std::string value;  // raw bytes; PP2_TYPE_SSL keeps its sub-TLVs inside

  bool operator==(const ProxyTlv&) const = default;
};

struct ProxyHeader {
  int version = 0;  // 1 or 2
  // v2 LOCAL command, or v1 "PROXY UNKNOWN": the connection was not proxied
  // (health checks); use the socket's own addresses.
  bool local = false;
  // Set for TCP over IPv4 or IPv6; unset for LOCAL, UNKNOWN, AF_UNIX and
  // AF_UNSPEC, where the socket's own addresses are the ones to use.
  std::optional<ProxyAddress> source, destination;
  // Value of the v2 PP2_TYPE_AUTHORITY TLV, if there is one: the host name the
  // load balancer saw (the TLS SNI). Empty otherwise.
  std::string authority;
  // Every v2 TLV, in order (authority and checksum included).
  std::vector<ProxyTlv> tlvs;
  // Bytes the whole header takes on the wire; the connection's own data
  // starts right after.
  size_t size = 0;

  // One line for logs, e.g. "PROXY v2 10.0.0.1:4567 -> 10.0.0.2:9092",
  // "PROXY v2 [2001:db8::1]:4567 -> [2001:db8::2]:9092 authority \"b1.kafka\"",
  // "PROXY v2 LOCAL", "PROXY v1 UNKNOWN".
  std::string Describe() const;

  bool operator==(const ProxyHeader&) const = default;
};

// Parses a PROXY header (either version) at the start of `bytes`:
//  - a header: `bytes` starts with a complete, valid header of header.size bytes;
//  - std::nullopt: `bytes` is a valid prefix of a header; more bytes are needed
//    (never once bytes.size() >= kMaxProxyHeaderSize);
//  - InvalidArgument: `bytes` cannot be the start of a valid header. The message
//    is one line saying what is wrong, e.g. "not a PROXY protocol header: the
//    connection starts with 16 03 01 00 (a TLS handshake?)" or "PROXY v2 header:
//    address block of 4 bytes is too short for TCP over IPv4 (12)".
absl::StatusOr<std::optional<ProxyHeader>> ParseProxyHeader(absl::Span<const uint8_t> bytes);

// Encoders, for tests and tools. ParseProxyHeader returns what they were given
// (with version and size set, and addresses in inet_ntop's form); they fail
// with InvalidArgument for a header that cannot be written that way.
//
// v1: "PROXY UNKNOWN\r\n" when header.local; otherwise "PROXY TCP4 ..." or
// "PROXY TCP6 ...", which needs source and destination of the same family.
// v1 carries no TLVs and no authority.
absl::StatusOr<std::vector<uint8_t>> EncodeProxyHeaderV1(const ProxyHeader& header);

// v2: LOCAL with family AF_UNSPEC and nothing after the fixed part when
// header.local (no TLVs then); otherwise PROXY with TCP over IPv4 or IPv6,
// which needs source and destination of the same family, followed by
// header.tlvs as given. header.authority must be the value of the AUTHORITY
// TLV in header.tlvs, or empty if there is none. With `append_crc32c`, a
// PP2_TYPE_CRC32C TLV holding the header's checksum is written last.
absl::StatusOr<std::vector<uint8_t>> EncodeProxyHeaderV2(const ProxyHeader& header,
                                                         bool append_crc32c = false);

}  // namespace kgw::net

#endif  // KGW_COMMON_NET_PROXY_PROTOCOL_H_
