#include "common/net/proxy_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kgw::net {

// Readable failures; kept outside the unnamed namespace so that gtest finds them.
void PrintTo(const ProxyAddress& address, std::ostream* os) {
  *os << address.ip << " port " << address.port;
}

void PrintTo(const ProxyTlv& tlv, std::ostream* os) {
  *os << absl::StrCat("{0x", absl::Hex(tlv.type, absl::kZeroPad2), ", \"",
                      absl::CHexEscape(tlv.value), "\"}");
}

void PrintTo(const ProxyHeader& header, std::ostream* os) {
  *os << header.Describe() << " (size " << header.size << ", " << header.tlvs.size() << " TLVs)";
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<uint8_t> Bytes(absl::string_view text) { return {text.begin(), text.end()}; }

std::vector<uint8_t> Concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const std::vector<uint8_t> kSignature = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                         0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

// A v2 header with the given version/command and family/transport bytes and
// `block` after the length, which is block.size() unless `length` says otherwise.
std::vector<uint8_t> V2(uint8_t version_command, uint8_t family_transport,
                        const std::vector<uint8_t>& block,
                        std::optional<uint16_t> length = std::nullopt) {
  std::vector<uint8_t> out = kSignature;
  const uint16_t n = length.value_or(static_cast<uint16_t>(block.size()));
  out.insert(out.end(), {version_command, family_transport, static_cast<uint8_t>(n >> 8),
                         static_cast<uint8_t>(n)});
  return Concat(out, block);
}

std::vector<uint8_t> Tlv(uint8_t type, absl::string_view value) {
  std::vector<uint8_t> out = {type, static_cast<uint8_t>(value.size() >> 8),
                              static_cast<uint8_t>(value.size())};
  return Concat(out, Bytes(value));
}

// 10.0.0.1:4567 -> 10.0.0.2:9092
const std::vector<uint8_t> kIpv4Addresses = {10, 0, 0, 1, 10, 0, 0, 2, 0x11, 0xd7, 0x23, 0x84};

std::vector<uint8_t> Ipv6Addresses() {
  // [2001:db8::1]:4567 -> [2001:db8::2]:9092
  std::vector<uint8_t> out = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                              0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  out.insert(out.end(), {0x11, 0xd7, 0x23, 0x84});
  return out;
}

ProxyHeader MustParse(const std::vector<uint8_t>& bytes) {
  auto parsed = ParseProxyHeader(bytes);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  if (!parsed.ok()) return {};
  EXPECT_TRUE(parsed->has_value()) << "needs more bytes";
  return parsed->value_or(ProxyHeader{});
}

// The error for `bytes`, or "" when there is none.
std::string ErrorOf(const std::vector<uint8_t>& bytes) {
  auto parsed = ParseProxyHeader(bytes);
  if (parsed.ok()) return "";
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(parsed.status().message());
}

bool NeedsMore(const std::vector<uint8_t>& bytes) {
  auto parsed = ParseProxyHeader(bytes);
  return parsed.ok() && !parsed->has_value();
}

TEST(ProxyProtocolV1Test, ParsesTcp4) {
  const std::string line = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
  const ProxyHeader header = MustParse(Bytes(line + "GET / HTTP/1.1\r\n"));
  EXPECT_EQ(header.version, 1);
  EXPECT_FALSE(header.local);
  EXPECT_EQ(header.source, (ProxyAddress{"192.168.0.1", 56324}));
  EXPECT_EQ(header.destination, (ProxyAddress{"192.168.0.11", 443}));
  EXPECT_EQ(header.size, line.size());
  EXPECT_TRUE(header.tlvs.empty());
  EXPECT_EQ(header.Describe(), "PROXY v1 192.168.0.1:56324 -> 192.168.0.11:443");
}

TEST(ProxyProtocolV1Test, ParsesTcp6AndReturnsCanonicalAddresses) {
  const ProxyHeader header =
      MustParse(Bytes("PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::ffff:10.0.0.2 0 65535\r\n"));
  EXPECT_EQ(header.source, (ProxyAddress{"2001:db8::1", 0}));
  EXPECT_EQ(header.destination, (ProxyAddress{"::ffff:10.0.0.2", 65535}));
  EXPECT_EQ(header.Describe(), "PROXY v1 [2001:db8::1]:0 -> [::ffff:10.0.0.2]:65535");
}

TEST(ProxyProtocolV1Test, UnknownIgnoresTheRestOfTheLine) {
  for (std::string line : {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN ::1 ::2 1 2\r\n",
                           "PROXY UNKNOWN anything \t at all\r\n"}) {
    const ProxyHeader header = MustParse(Bytes(line + std::string(2, '\0')));
    EXPECT_EQ(header.version, 1) << line;
    EXPECT_TRUE(header.local) << line;
    EXPECT_FALSE(header.source.has_value()) << line;
    EXPECT_FALSE(header.destination.has_value()) << line;
    EXPECT_EQ(header.size, line.size()) << line;
    EXPECT_EQ(header.Describe(), "PROXY v1 UNKNOWN");
  }
}

TEST(ProxyProtocolV1Test, LinesOfUpTo107BytesAreAccepted) {
  const std::string longest = "PROXY UNKNOWN " + std::string(91, 'f') + "\r\n";
  ASSERT_EQ(longest.size(), kMaxProxyHeaderV1Size);
  EXPECT_EQ(MustParse(Bytes(longest)).size, 107u);
  const std::string too_long = "PROXY UNKNOWN " + std::string(92, 'f') + "\r\n";
  EXPECT_EQ(ErrorOf(Bytes(too_long)), "PROXY v1 header has no CRLF within 107 bytes");
  // Known as soon as the 107th byte is not the LF of a CRLF.
  EXPECT_EQ(ErrorOf(Bytes(too_long.substr(0, 107))),
            "PROXY v1 header has no CRLF within 107 bytes");
}

TEST(ProxyProtocolV1Test, EveryPrefixOfEveryAddressFormWaitsForMore) {
  const std::vector<std::string> ipv4 = {"0.0.0.0", "255.255.255.255", "10.20.30.40", "1.0.10.100",
                                         "9.99.199.249"};
  const std::vector<std::string> ipv6 = {"::",
                                         "::1",
                                         "1::",
                                         "1:2:3:4:5:6:7:8",
                                         "1::2:3:4:5:6:7",
                                         "1:2:3:4:5:6:7::",
                                         "::ffff:1.2.3.4",
                                         "1:2:3:4:5:6:1.2.3.4",
                                         "fe80::abcd:ef01",
                                         "ABCD:EF01::",
                                         "2001:db8:0:0:1::1",
                                         "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"};
  std::vector<std::string> lines;
  for (const auto& a : ipv4) lines.push_back("PROXY TCP4 " + a + " " + a + " 0 65535\r\n");
  for (const auto& a : ipv6) {
    // Two of the longest do not fit in 107 bytes.
    lines.push_back("PROXY TCP6 " + a + " ::1 9 10\r\n");
    lines.push_back("PROXY TCP6 ::1 " + a + " 9 10\r\n");
  }
  for (const std::string& line : lines) {
    const std::vector<uint8_t> bytes = Bytes(line);
    EXPECT_EQ(MustParse(bytes).size, bytes.size()) << line;
    for (size_t n = 0; n < bytes.size(); ++n) {
      EXPECT_TRUE(NeedsMore({bytes.begin(), bytes.begin() + n}))
          << absl::CHexEscape(line.substr(0, n)) << ": "
          << ErrorOf({bytes.begin(), bytes.begin() + n});
    }
  }
}

TEST(ProxyProtocolV2Test, ParsesTcpOverIpv4WithTlvs) {
  // Client connected over TLS, certificate verified, one sub-TLV: the TLS version.
  const std::string ssl = std::string("\x01\x00\x00\x00\x00\x21\x00\x07", 8) + "TLSv1.3";
  const std::vector<uint8_t> tlvs =
      Concat(Concat(Tlv(kPp2TypeAlpn, "h2"), Tlv(kPp2TypeAuthority, "b1.kafka.example.com")),
             Concat(Tlv(kPp2TypeNoop, ""), Tlv(kPp2TypeSsl, ssl)));
  const std::vector<uint8_t> bytes = V2(0x21, 0x11, Concat(kIpv4Addresses, tlvs));
  const ProxyHeader header = MustParse(Concat(bytes, {0x00, 0x00, 0x00, 0x10}));
  EXPECT_EQ(header.version, 2);
  EXPECT_FALSE(header.local);
  EXPECT_EQ(header.source, (ProxyAddress{"10.0.0.1", 4567}));
  EXPECT_EQ(header.destination, (ProxyAddress{"10.0.0.2", 9092}));
  EXPECT_EQ(header.authority, "b1.kafka.example.com");
  EXPECT_EQ(header.size, bytes.size());
  EXPECT_THAT(header.tlvs, ElementsAre(ProxyTlv{kPp2TypeAlpn, "h2"},
                                       ProxyTlv{kPp2TypeAuthority, "b1.kafka.example.com"},
                                       ProxyTlv{kPp2TypeNoop, ""}, ProxyTlv{kPp2TypeSsl, ssl}));
  EXPECT_EQ(header.Describe(),
            "PROXY v2 10.0.0.1:4567 -> 10.0.0.2:9092 authority \"b1.kafka.example.com\"");
  // The encoder writes the very same bytes.
  auto encoded = EncodeProxyHeaderV2(header);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_EQ(*encoded, bytes);
}

TEST(ProxyProtocolV2Test, ParsesTcpOverIpv6) {
  const std::vector<uint8_t> bytes = V2(0x21, 0x21, Ipv6Addresses());
  const ProxyHeader header = MustParse(bytes);
  EXPECT_EQ(header.source, (ProxyAddress{"2001:db8::1", 4567}));
  EXPECT_EQ(header.destination, (ProxyAddress{"2001:db8::2", 9092}));
  EXPECT_TRUE(header.authority.empty());
  EXPECT_EQ(header.size, 16u + 36u);
  EXPECT_EQ(header.Describe(), "PROXY v2 [2001:db8::1]:4567 -> [2001:db8::2]:9092");
}

TEST(ProxyProtocolV2Test, LocalSkipsWhateverBlockItHas) {
  const ProxyHeader empty = MustParse(V2(0x20, 0x00, {}));
  EXPECT_TRUE(empty.local);
  EXPECT_EQ(empty.size, 16u);
  EXPECT_EQ(empty.Describe(), "PROXY v2 LOCAL");

  // Receivers must not assume LOCAL has no block, and must ignore the family,
  // even one PROXY would reject; a malformed TLV in it does not matter.
  for (uint8_t family : {0x11, 0x12, 0x45, 0xff}) {
    const std::vector<uint8_t> block = Concat(kIpv4Addresses, {0x02, 0xff, 0xff});
    const ProxyHeader header = MustParse(Concat(V2(0x20, family, block), {0x00}));
    EXPECT_TRUE(header.local);
    EXPECT_FALSE(header.source.has_value());
    EXPECT_TRUE(header.tlvs.empty());
    EXPECT_EQ(header.size, 16u + block.size());
  }
}

TEST(ProxyProtocolV2Test, UnixStreamHasNoAddressesButKeepsTlvs) {
  std::vector<uint8_t> block(216, 0);
  const std::string path = "/run/lb.sock";
  std::copy(path.begin(), path.end(), block.begin());
  const ProxyHeader header =
      MustParse(V2(0x21, 0x31, Concat(block, Tlv(kPp2TypeAuthority, "kafka.local"))));
  EXPECT_FALSE(header.local);
  EXPECT_FALSE(header.source.has_value());
  EXPECT_FALSE(header.destination.has_value());
  EXPECT_EQ(header.authority, "kafka.local");
  EXPECT_EQ(header.size, 16u + 216u + 3u + 11u);
  EXPECT_EQ(header.Describe(), "PROXY v2 without addresses authority \"kafka.local\"");
}

TEST(ProxyProtocolV2Test, UnspecifiedFamilyOrTransportIsAcceptedWithoutAddresses) {
  for (uint8_t family_transport : {0x00, 0x01, 0x10, 0x20, 0x30}) {
    const std::vector<uint8_t> block = {1, 2, 3, 4, 5};  // not TLVs: skipped unread
    const ProxyHeader header = MustParse(V2(0x21, family_transport, block));
    EXPECT_FALSE(header.local);
    EXPECT_FALSE(header.source.has_value());
    EXPECT_TRUE(header.tlvs.empty());
    EXPECT_EQ(header.size, 21u);
  }
}

TEST(ProxyProtocolV2Test, ChecksumIsVerified) {
  ProxyHeader header;
  header.source = ProxyAddress{"10.0.0.1", 4567};
  header.destination = ProxyAddress{"10.0.0.2", 9092};
  header.tlvs = {{kPp2TypeUniqueId, "conn-1"}};
  auto encoded = EncodeProxyHeaderV2(header, /*append_crc32c=*/true);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  const ProxyHeader parsed = MustParse(*encoded);
  ASSERT_EQ(parsed.tlvs.size(), 2u);
  EXPECT_EQ(parsed.tlvs[1].type, kPp2TypeCrc32c);

  // A changed byte anywhere, the checksum included, is caught.
  for (size_t i : {size_t{16}, size_t{27}, encoded->size() - 10, encoded->size() - 1}) {
    std::vector<uint8_t> corrupted = *encoded;
    corrupted[i] ^= 0x40;
    EXPECT_THAT(ErrorOf(corrupted), HasSubstr("CRC32C checksum")) << i;
    EXPECT_THAT(ErrorOf(corrupted), HasSubstr("does not match")) << i;
  }
  // A checksum of zeros is not "no checksum".
  header.tlvs.push_back({kPp2TypeCrc32c, std::string(4, '\0')});
  auto zeroed = EncodeProxyHeaderV2(header);
  ASSERT_TRUE(zeroed.ok());
  EXPECT_THAT(ErrorOf(*zeroed), HasSubstr("CRC32C checksum 0x00000000 does not match"));
}

TEST(ProxyProtocolV2Test, AcceptsAChecksumComputedByAnotherImplementation) {
  // 0xfc857c25 was computed with a separate bitwise CRC-32C over these bytes
  // with the checksum zeroed.
  const std::vector<uint8_t> bytes =
      V2(0x21, 0x11, Concat(kIpv4Addresses, {kPp2TypeCrc32c, 0x00, 0x04, 0xfc, 0x85, 0x7c, 0x25}));
  EXPECT_EQ(MustParse(bytes).source, (ProxyAddress{"10.0.0.1", 4567}));
  ProxyHeader header{.source = ProxyAddress{"10.0.0.1", 4567},
                     .destination = ProxyAddress{"10.0.0.2", 9092}};
  EXPECT_EQ(*EncodeProxyHeaderV2(header, /*append_crc32c=*/true), bytes);
}

TEST(ProxyProtocolTest, EveryPrefixOfAValidHeaderWaitsAndTrailingBytesAreNotConsumed) {
  std::vector<uint8_t> unix_block(216, 'u');
  const std::vector<std::vector<uint8_t>> headers = {
      Bytes("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
      Bytes("PROXY TCP6 2001:db8::1 ::ffff:10.0.0.2 0 65535\r\n"),
      Bytes("PROXY UNKNOWN\r\n"),
      Bytes("PROXY UNKNOWN 1.2.3.4 whatever\r\n"),
      V2(0x21, 0x11,
         Concat(kIpv4Addresses, Concat(Tlv(kPp2TypeAuthority, "a.b"), Tlv(kPp2TypeNoop, "")))),
      V2(0x21, 0x21, Concat(Ipv6Addresses(), Tlv(0xe0, std::string(300, 'x')))),
      V2(0x20, 0x00, {}),
      V2(0x20, 0x11, kIpv4Addresses),
      V2(0x21, 0x31, Concat(unix_block, Tlv(kPp2TypeAlpn, "kafka"))),
      V2(0x21, 0x00, {9, 9, 9}),
      *EncodeProxyHeaderV2(ProxyHeader{.source = ProxyAddress{"1.2.3.4", 1},
                                       .destination = ProxyAddress{"5.6.7.8", 2},
                                       .authority = "x",
                                       .tlvs = {{kPp2TypeAuthority, "x"}}},
                           /*append_crc32c=*/true),
  };
  for (const std::vector<uint8_t>& header : headers) {
    const std::string shown = absl::CHexEscape(
        absl::string_view(reinterpret_cast<const char*>(header.data()), header.size()));
    for (size_t n = 0; n < header.size(); ++n) {
      const std::vector<uint8_t> prefix(header.begin(), header.begin() + n);
      EXPECT_TRUE(NeedsMore(prefix)) << shown << " cut at " << n << ": " << ErrorOf(prefix);
    }
    EXPECT_EQ(MustParse(header).size, header.size()) << shown;
    // The client's own bytes after the header are left alone, whatever they are.
    for (const std::vector<uint8_t>& trailer :
         {Bytes("\r\n"), Bytes("\n"), Bytes(" "), std::vector<uint8_t>(200, 0x16), kSignature}) {
      EXPECT_EQ(MustParse(Concat(header, trailer)).size, header.size()) << shown;
    }
  }
}

struct InvalidCase {
  std::vector<uint8_t> bytes;
  std::string message;  // a fragment of the error
};

TEST(ProxyProtocolTest, RejectsInvalidInputWithAClearMessage) {
  const std::vector<uint8_t> ipv4_block = kIpv4Addresses;
  const std::vector<InvalidCase> cases = {
      // Not a header at all.
      {Bytes(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)),
       "not a PROXY protocol header: the connection starts with 16 03 01 02 00 01 00 01 "
       "(a TLS handshake?)"},
      {Bytes(std::string("\x00\x00\x00\x2a\x00\x12", 6)),
       "not a PROXY protocol header: the connection starts with 00 00 00 2a 00 12 "
       "(a Kafka request?)"},
      {Bytes("GET / HTTP/1.1\r\n"), "starts with 47 45 54 20 2f 20 48 54 (an HTTP request?)"},
      {Bytes("POST /x"), "(an HTTP request?)"},
      {Bytes("PRI * HTTP/2.0\r\n"), "(an HTTP request?)"},
      {Bytes("\x16"), "not a PROXY protocol header: the connection starts with 16"},
      {Bytes("Q"), "not a PROXY protocol header: the connection starts with 51"},
      {Bytes("proxy TCP4"), "not a PROXY protocol header"},
      {Bytes("PROXY\r\n"), "starts with 50 52 4f 58 59 0d 0a"},
      {Bytes("PROXYTCP4"), "not a PROXY protocol header"},
      {Bytes(std::string("\r\n\r\n\0\r\nQUIT\r", 12)), "not a PROXY protocol header"},
      {Bytes("\r\n\r\nGET"), "not a PROXY protocol header"},
      // v1 line structure.
      {Bytes("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), "PROXY v1 header: the line ends with a LF"},
      {Bytes("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n"), "PROXY v1 header: CR not followed by LF"},
      {Bytes("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX"), "PROXY v1 header: CR not followed by LF"},
      {Bytes("PROXY UNKNOWN" + std::string(94, ' ')),
       "PROXY v1 header has no CRLF within 107 bytes"},
      {Bytes("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"),
       "PROXY v1 header: unknown protocol \"TCP5\" (expected TCP4, TCP6 or UNKNOWN)"},
      {Bytes("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"), "unknown protocol \"tcp4\""},
      {Bytes("PROXY UNKNOWNX\r\n"), "unknown protocol \"UNKNOWNX\""},
      {Bytes("PROXY \r\n"), "unknown protocol \"\""},
      {Bytes("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), "unknown protocol \"\""},
      {Bytes("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"),
       "PROXY v1 header: destination address \"\" is not a valid IPv4 address (fields are "
       "separated by exactly one space)"},
      {Bytes("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"),
       "PROXY v1 header: extra text after the destination port"},
      {Bytes("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), "extra text after the destination port"},
      {Bytes("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"),
       "PROXY v1 header: the line ends before the destination port"},
      {Bytes("PROXY TCP4\r\n"), "the line ends before the source address"},
      {Bytes("PROXY TCP6 ::1\r\n"), "the line ends before the destination address"},
      // v1 addresses.
      {Bytes("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"),
       "PROXY v1 header: source address \"01.2.3.4\" is not a valid IPv4 address"},
      {Bytes("PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n"), "\"256.2.3.4\" is not a valid IPv4"},
      {Bytes("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"), "\"1.2.3\" is not a valid IPv4 address"},
      {Bytes("PROXY TCP4 1.2.3.4 5.6.7.8.9 1 2\r\n"),
       "destination address \"5.6.7.8.9\" is not a valid IPv4 address"},
      {Bytes("PROXY TCP4 host 5.6.7.8 1 2\r\n"), "\"host\" is not a valid IPv4 address"},
      {Bytes("PROXY TCP4 ::1 ::2 1 2\r\n"),
       "source address \"::1\" is not a valid IPv4 address (an IPv6 address in a TCP4 line?)"},
      {Bytes("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n"),
       "source address \"1.2.3.4\" is not a valid IPv6 address (an IPv4 address in a TCP6 "
       "line?)"},
      {Bytes("PROXY TCP6 2001:db8::1::2 ::1 1 2\r\n"), "\"2001:db8::1::2\" is not a valid IPv6"},
      {Bytes("PROXY TCP6 12345::1 ::1 1 2\r\n"), "\"12345::1\" is not a valid IPv6"},
      {Bytes("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n"), "is not a valid IPv6"},
      {Bytes("PROXY TCP6 ::1 [::2] 1 2\r\n"), "destination address \"[::2]\" is not a valid"},
      {Bytes(std::string("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n", 33)),
       "source address \"1.2.3.4\\x00\" is not a valid IPv4 address"},
      // v1 ports.
      {Bytes("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"),
       "PROXY v1 header: source port \"65536\" is not a decimal number from 0 to 65535 without "
       "leading zeros"},
      {Bytes("PROXY TCP4 1.2.3.4 5.6.7.8 1 080\r\n"), "destination port \"080\" is not"},
      {Bytes("PROXY TCP4 1.2.3.4 5.6.7.8 00 1\r\n"), "source port \"00\" is not"},
      {Bytes("PROXY TCP4 1.2.3.4 5.6.7.8 +80 1\r\n"), "source port \"+80\" is not"},
      {Bytes("PROXY TCP4 1.2.3.4 5.6.7.8 -1 1\r\n"), "source port \"-1\" is not"},
      {Bytes("PROXY TCP4 1.2.3.4 5.6.7.8 8a 1\r\n"), "source port \"8a\" is not"},
      {Bytes("PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n"), "destination port \"\" is not"},
      {Bytes("PROXY TCP4 1.2.3.4 5.6.7.8 100000 1\r\n"), "source port \"100000\" is not"},
      // v2 fixed part.
      {V2(0x31, 0x11, ipv4_block), "PROXY v2 header: unsupported version 3"},
      {V2(0x11, 0x11, ipv4_block), "PROXY v2 header: unsupported version 1"},
      {V2(0x22, 0x11, ipv4_block),
       "PROXY v2 header: unsupported command 2 (expected 0 LOCAL or 1 PROXY)"},
      {V2(0x2f, 0x11, ipv4_block), "unsupported command 15"},
      {V2(0x21, 0x41, ipv4_block), "PROXY v2 header: unsupported address family 4"},
      {V2(0x21, 0xf1, ipv4_block), "unsupported address family 15"},
      {V2(0x21, 0x13, ipv4_block), "PROXY v2 header: unsupported transport protocol 3"},
      {V2(0x21, 0x12, ipv4_block),
       "PROXY v2 header: UDP over IPv4 is not supported (Kafka runs over TCP)"},
      {V2(0x21, 0x22, Ipv6Addresses()), "UDP over IPv6 is not supported"},
      {V2(0x21, 0x32, std::vector<uint8_t>(216)), "UNIX datagram is not supported"},
      {V2(0x21, 0x02, {}), "a datagram transport of an unspecified family is not supported"},
      // v2 address block and TLVs.
      {V2(0x21, 0x11, {10, 0, 0, 1}),
       "PROXY v2 header: address block of 4 bytes is too short for TCP over IPv4 (12)"},
      {V2(0x21, 0x21, ipv4_block), "address block of 12 bytes is too short for TCP over IPv6 (36)"},
      {V2(0x21, 0x31, std::vector<uint8_t>(108)),
       "address block of 108 bytes is too short for UNIX stream (216)"},
      {V2(0x21, 0x11, Concat(ipv4_block, Tlv(kPp2TypeAuthority, "abcdefghij")), 12 + 3 + 5),
       "PROXY v2 header: TLV 0x02 of 10 bytes runs 5 bytes past the end of the header"},
      {V2(0x21, 0x11, Concat(ipv4_block, {0x04, 0x00})),
       "PROXY v2 header: 2 bytes after the last TLV are too few for another (3)"},
      {V2(0x21, 0x11, Concat(Concat(ipv4_block, Tlv(kPp2TypeNoop, "")), {0xe0})),
       "1 bytes after the last TLV are too few for another (3)"},
      {V2(0x21, 0x11, Concat(ipv4_block, Tlv(kPp2TypeCrc32c, "abc"))),
       "PROXY v2 header: CRC32C TLV of 3 bytes (expected 4)"},
      {V2(0x21, 0x11,
          Concat(ipv4_block, Concat(Tlv(kPp2TypeCrc32c, "abcd"), Tlv(kPp2TypeCrc32c, "abcd")))),
       "PROXY v2 header: a second CRC32C TLV"},
      {V2(0x21, 0x11,
          Concat(ipv4_block, Concat(Tlv(kPp2TypeAuthority, "a"), Tlv(kPp2TypeAuthority, "b")))),
       "PROXY v2 header: a second AUTHORITY TLV"},
  };
  for (const InvalidCase& c : cases) {
    const std::string shown = absl::CHexEscape(
        absl::string_view(reinterpret_cast<const char*>(c.bytes.data()), c.bytes.size()));
    const std::string error = ErrorOf(c.bytes);
    EXPECT_THAT(error, HasSubstr(c.message)) << shown;
    // One line.
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
}

TEST(ProxyProtocolTest, ReportsWhatIsAlreadyInvalidWithoutWaitingForTheRest) {
  // v1: the CRLF is not there yet in any of these.
  EXPECT_THAT(ErrorOf(Bytes("PROXY TCP5")), HasSubstr("unknown protocol \"TCP5\""));
  EXPECT_THAT(ErrorOf(Bytes("PROXY X")), HasSubstr("unknown protocol \"X\""));
  EXPECT_THAT(ErrorOf(Bytes("PROXY TCP4 1.2.3.4.")), HasSubstr("\"1.2.3.4.\" is not a valid"));
  EXPECT_THAT(ErrorOf(Bytes("PROXY TCP4 300")), HasSubstr("\"300\" is not a valid IPv4"));
  EXPECT_THAT(ErrorOf(Bytes("PROXY TCP4 01")), HasSubstr("\"01\" is not a valid IPv4"));
  EXPECT_THAT(ErrorOf(Bytes("PROXY TCP4 ::")), HasSubstr("(an IPv6 address in a TCP4 line?)"));
  EXPECT_THAT(ErrorOf(Bytes("PROXY TCP6 1.2")), HasSubstr("\"1.2\" is not a valid IPv6"));
  EXPECT_THAT(ErrorOf(Bytes("PROXY TCP6 1:2:3:4:5:6:7:8:")), HasSubstr("is not a valid IPv6"));
  EXPECT_THAT(ErrorOf(Bytes("PROXY TCP6 1::2::")), HasSubstr("is not a valid IPv6"));
  EXPECT_TRUE(NeedsMore(Bytes("PROXY TCP4 1.2.3.4 5.6.7.8 0")));
  EXPECT_THAT(ErrorOf(Bytes("PROXY TCP4 1.2.3.4 5.6.7.8 01")), HasSubstr("\"01\" is not a"));
  EXPECT_THAT(ErrorOf(Bytes("PROXY TCP4 1.2.3.4 5.6.7.8 65536")), HasSubstr("\"65536\""));
  EXPECT_THAT(ErrorOf(Bytes("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ")), HasSubstr("extra text"));
  // The CR ends the line even before its LF arrives.
  EXPECT_THAT(ErrorOf(Bytes("PROXY TCP4 1.2.3\r")), HasSubstr("\"1.2.3\" is not a valid IPv4"));
  EXPECT_THAT(ErrorOf(Bytes("PROXY TCP4 1.2.3.4\r")), HasSubstr("ends before the destination"));
  EXPECT_TRUE(NeedsMore(Bytes("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r")));
  EXPECT_TRUE(NeedsMore(Bytes("PROXY UNKNOWN whatever comes")));

  // v2: the version, command, family and transport as soon as their byte is there.
  std::vector<uint8_t> fixed = kSignature;
  fixed.push_back(0x31);
  EXPECT_THAT(ErrorOf(fixed), HasSubstr("unsupported version 3"));
  fixed.back() = 0x21;
  EXPECT_TRUE(NeedsMore(fixed));
  fixed.push_back(0x12);
  EXPECT_THAT(ErrorOf(fixed), HasSubstr("UDP over IPv4 is not supported"));
  // The length as soon as it is there, before the block.
  const std::vector<uint8_t> short_block = V2(0x21, 0x11, {10, 0, 0, 1});
  EXPECT_THAT(ErrorOf({short_block.begin(), short_block.begin() + 16}),
              HasSubstr("address block of 4 bytes is too short"));
  // A TLV that cannot fit, as soon as its length is there.
  const std::vector<uint8_t> overrun =
      V2(0x21, 0x11, Concat(kIpv4Addresses, {kPp2TypeAuthority, 0x01, 0x00}), 100);
  EXPECT_THAT(ErrorOf(overrun), HasSubstr("TLV 0x02 of 256 bytes runs 171 bytes past the end"));
  // A second CRC32C TLV as soon as its type and length are there.
  const std::vector<uint8_t> second_crc =
      V2(0x21, 0x11,
         Concat(kIpv4Addresses, Concat(Tlv(kPp2TypeCrc32c, "abcd"), {kPp2TypeCrc32c, 0, 4})), 200);
  EXPECT_THAT(ErrorOf(second_crc), HasSubstr("a second CRC32C TLV"));
}

TEST(ProxyProtocolTest, NeverWaitsBeyondTheLongestHeader) {
  // The longest v2 header: a 65535-byte block.
  const std::vector<uint8_t> padding = Tlv(kPp2TypeNoop, std::string(65535 - 12 - 3, 'p'));
  const std::vector<uint8_t> longest = V2(0x21, 0x11, Concat(kIpv4Addresses, padding));
  ASSERT_EQ(longest.size(), kMaxProxyHeaderSize);
  EXPECT_EQ(MustParse(longest).size, kMaxProxyHeaderSize);
  EXPECT_TRUE(NeedsMore({longest.begin(), longest.end() - 1}));
  // A v1 line gives up long before.
  const std::vector<uint8_t> endless = Bytes("PROXY UNKNOWN " + std::string(200, '.'));
  EXPECT_TRUE(NeedsMore({endless.begin(), endless.begin() + 106}));
  EXPECT_FALSE(ErrorOf({endless.begin(), endless.begin() + 107}).empty());
}

TEST(ProxyProtocolTest, EmptyInputWaitsForMore) { EXPECT_TRUE(NeedsMore({})); }

TEST(ProxyProtocolEncodeTest, V1RoundTrips) {
  const std::vector<ProxyHeader> headers = {
      {.local = true},
      {.source = ProxyAddress{"192.168.0.1", 56324}, .destination = ProxyAddress{"10.0.0.2", 0}},
      {.source = ProxyAddress{"2001:db8::1", 65535},
       .destination = ProxyAddress{"::ffff:10.0.0.2", 9092}},
  };
  for (ProxyHeader header : headers) {
    auto encoded = EncodeProxyHeaderV1(header);
    ASSERT_TRUE(encoded.ok()) << encoded.status();
    header.version = 1;
    header.size = encoded->size();
    EXPECT_EQ(MustParse(*encoded), header) << header.Describe();
  }
  EXPECT_EQ(*EncodeProxyHeaderV1(headers[0]), Bytes("PROXY UNKNOWN\r\n"));
  EXPECT_EQ(*EncodeProxyHeaderV1(headers[1]), Bytes("PROXY TCP4 192.168.0.1 10.0.0.2 56324 0\r\n"));
}

TEST(ProxyProtocolEncodeTest, V2RoundTrips) {
  const std::vector<ProxyHeader> headers = {
      {.local = true},
      {.source = ProxyAddress{"192.168.0.1", 56324}, .destination = ProxyAddress{"10.0.0.2", 0}},
      {.source = ProxyAddress{"2001:db8::1", 65535},
       .destination = ProxyAddress{"::ffff:10.0.0.2", 9092},
       .authority = "b1.kafka",
       .tlvs = {{kPp2TypeAlpn, "kafka"},
                {kPp2TypeAuthority, "b1.kafka"},
                {0xe1, std::string("\0\xff", 2)},
                {kPp2TypeNoop, ""}}},
  };
  for (ProxyHeader header : headers) {
    auto encoded = EncodeProxyHeaderV2(header);
    ASSERT_TRUE(encoded.ok()) << encoded.status();
    header.version = 2;
    header.size = encoded->size();
    EXPECT_EQ(MustParse(*encoded), header) << header.Describe();
  }
  EXPECT_EQ(*EncodeProxyHeaderV2(headers[0]), V2(0x20, 0x00, {}));
}

TEST(ProxyProtocolEncodeTest, RandomHeadersRoundTripThroughBothVersions) {
  std::mt19937 random(20240501);
  auto byte = [&] { return static_cast<uint8_t>(random()); };
  auto address = [&](int af) {
    uint8_t raw[16];
    for (uint8_t& b : raw) b = byte();
    char text[INET6_ADDRSTRLEN];
    EXPECT_NE(inet_ntop(af, raw, text, sizeof(text)), nullptr);
    return ProxyAddress{text, static_cast<uint16_t>(random())};
  };
  for (int i = 0; i < 300; ++i) {
    const int af = i % 2 ? AF_INET : AF_INET6;
    ProxyHeader header{.source = address(af), .destination = address(af)};
    auto v1 = EncodeProxyHeaderV1(header);
    ASSERT_TRUE(v1.ok()) << v1.status();
    ProxyHeader expected = header;
    expected.version = 1;
    expected.size = v1->size();
    EXPECT_EQ(MustParse(*v1), expected) << header.Describe();

    const int tlv_count = static_cast<int>(random() % 5);
    for (int t = 0; t < tlv_count; ++t) {
      uint8_t type = byte();
      if (type == kPp2TypeCrc32c || type == kPp2TypeAuthority) type = kPp2TypeUniqueId;
      std::string value(random() % 40, '\0');
      for (char& c : value) c = static_cast<char>(byte());
      header.tlvs.push_back({type, value});
    }
    if (random() % 2) {
      header.authority = absl::StrCat("broker-", i, ".kafka.example.com");
      header.tlvs.insert(
          header.tlvs.begin() + static_cast<long>(random() % (header.tlvs.size() + 1)),
          ProxyTlv{kPp2TypeAuthority, header.authority});
    }
    const bool crc = random() % 2;
    auto v2 = EncodeProxyHeaderV2(header, crc);
    ASSERT_TRUE(v2.ok()) << v2.status();
    const ProxyHeader parsed = MustParse(*v2);
    expected = header;
    expected.version = 2;
    expected.size = v2->size();
    if (crc) {
      ASSERT_FALSE(parsed.tlvs.empty());
      EXPECT_EQ(parsed.tlvs.back().type, kPp2TypeCrc32c);
      expected.tlvs.push_back(parsed.tlvs.back());
    }
    EXPECT_EQ(parsed, expected) << header.Describe();
  }
}

TEST(ProxyProtocolEncodeTest, RejectsHeadersItCannotWrite) {
  const ProxyAddress v4{"10.0.0.1", 1};
  const ProxyAddress v6{"::1", 2};
  EXPECT_EQ(EncodeProxyHeaderV1({.source = v4}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeProxyHeaderV2({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(EncodeProxyHeaderV1({.source = v4, .destination = v6}).status().message(),
              HasSubstr("destination \"::1\" is not an IPv4 address like the source"));
  EXPECT_THAT(EncodeProxyHeaderV2({.source = ProxyAddress{"kafka", 1}, .destination = v4})
                  .status()
                  .message(),
              HasSubstr("source \"kafka\" is not an IP address"));
  EXPECT_THAT(EncodeProxyHeaderV1({.local = true, .source = v4}).status().message(),
              HasSubstr("carries no addresses"));
  EXPECT_THAT(EncodeProxyHeaderV1({.source = v4, .destination = v4, .tlvs = {{kPp2TypeNoop, ""}}})
                  .status()
                  .message(),
              HasSubstr("PROXY v1 carries no TLVs"));
  EXPECT_THAT(EncodeProxyHeaderV2({.local = true, .tlvs = {{kPp2TypeNoop, ""}}}).status().message(),
              HasSubstr("LOCAL"));
  EXPECT_THAT(
      EncodeProxyHeaderV2({.source = v4, .destination = v4, .authority = "a"}).status().message(),
      HasSubstr("is not the value of the AUTHORITY TLV"));
  EXPECT_THAT(
      EncodeProxyHeaderV2(
          {.source = v4, .destination = v4, .tlvs = {{kPp2TypeNoop, std::string(70000, 'x')}}})
          .status()
          .message(),
      HasSubstr("TLV value of 70000 bytes"));
  EXPECT_THAT(EncodeProxyHeaderV2({.source = v4,
                                   .destination = v4,
                                   .tlvs = {{kPp2TypeNoop, std::string(40000, 'x')},
                                            {kPp2TypeNoop, std::string(40000, 'y')}}})
                  .status()
                  .message(),
              HasSubstr("(at most 65535)"));
}

TEST(ProxyProtocolTest, DescribeEscapesTheAuthority) {
  const ProxyHeader header{.version = 2,
                           .source = ProxyAddress{"10.0.0.1", 1},
                           .destination = ProxyAddress{"10.0.0.2", 2},
                           .authority = "evil\n\"host\""};
  EXPECT_EQ(header.Describe(),
            "PROXY v2 10.0.0.1:1 -> 10.0.0.2:2 authority \"evil\\n\\\"host\\\"\"");
}

}  // namespace
}  // namespace kgw::net
