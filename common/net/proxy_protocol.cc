#include "common/net/proxy_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/net/crc32c.h"
#include "common/status/status_macros.h"

namespace kgw::net {
namespace {

constexpr absl::string_view kV1Prefix = "PROXY ";
constexpr std::array<uint8_t, 12> kV2Signature = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                                  0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
// Signature, version and command, family and transport, length.
constexpr size_t kV2FixedSize = 16;
constexpr size_t kTlvHeaderSize = 3;
constexpr size_t kCrc32cSize = 4;
constexpr size_t kShownBytes = 8;

// v2 command, family and transport values (the nibbles of bytes 13 and 14).
constexpr uint8_t kCommandLocal = 0x0;
constexpr uint8_t kCommandProxy = 0x1;
constexpr uint8_t kFamilyUnspec = 0x0;
constexpr uint8_t kFamilyInet = 0x1;
constexpr uint8_t kFamilyInet6 = 0x2;
constexpr uint8_t kFamilyUnix = 0x3;
constexpr uint8_t kTransportStream = 0x1;
constexpr uint8_t kTransportDgram = 0x2;

// By family: the size of the addresses before the TLVs with a STREAM
// transport, and names for messages.
constexpr std::array<size_t, 4> kAddressSizes = {0, 2 * 4 + 2 * 2, 2 * 16 + 2 * 2, 2 * 108};
constexpr std::array<const char*, 4> kStreamNames = {"", "TCP over IPv4", "TCP over IPv6",
                                                     "UNIX stream"};
constexpr std::array<const char*, 4> kDatagramNames = {
    "a datagram transport of an unspecified family", "UDP over IPv4", "UDP over IPv6",
    "UNIX datagram"};

constexpr std::array<const char*, 5> kV1FieldNames = {
    "protocol", "source address", "destination address", "source port", "destination port"};

absl::string_view AsText(absl::Span<const uint8_t> bytes) {
  return absl::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

std::string Quote(absl::string_view text) {
  return absl::StrCat("\"", absl::CHexEscape(text), "\"");
}

uint16_t ReadUint16(absl::Span<const uint8_t> bytes, size_t offset) {
  return static_cast<uint16_t>((bytes[offset] << 8) | bytes[offset + 1]);
}

void AppendUint16(std::vector<uint8_t>& out, uint16_t value) {
  out.push_back(static_cast<uint8_t>(value >> 8));
  out.push_back(static_cast<uint8_t>(value));
}

// What a connection that does not start with a header probably is.
absl::string_view Guess(absl::Span<const uint8_t> bytes) {
  if (bytes.size() >= 2 && bytes[0] == 0x16 && bytes[1] == 0x03) return " (a TLS handshake?)";
  // A Kafka request starts with its int32 size, and requests are far below 64 KiB.
  if (bytes.size() >= 2 && bytes[0] == 0x00 && bytes[1] == 0x00) return " (a Kafka request?)";
  const absl::string_view text = AsText(bytes);
  for (absl::string_view start : {"GET ", "POST ", "PUT ", "HEAD ", "PRI * HTTP/2"}) {
    if (absl::StartsWith(text, start)) return " (an HTTP request?)";
  }
  return "";
}

absl::Status NotAHeader(absl::Span<const uint8_t> bytes) {
  std::string shown;
  for (size_t i = 0; i < std::min(bytes.size(), kShownBytes); ++i) {
    absl::StrAppend(&shown, i == 0 ? "" : " ", absl::Hex(bytes[i], absl::kZeroPad2));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "not a PROXY protocol header: the connection starts with ", shown, Guess(bytes)));
}

absl::Status V1Error(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("PROXY v1 header: ", what));
}

absl::Status V2Error(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("PROXY v2 header: ", what));
}

// `text` as an address of family `af` in inet_ntop's form, or nullopt if
// inet_pton rejects it.
std::optional<std::string> CanonicalIp(int af, absl::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN || absl::StrContains(text, '\0')) {
    return std::nullopt;
  }
  const std::string terminated(text);
  in6_addr address;  // large enough for either family
  if (inet_pton(af, terminated.c_str(), &address) != 1) return std::nullopt;
  char canonical[INET6_ADDRSTRLEN];
  if (inet_ntop(af, &address, canonical, sizeof(canonical)) == nullptr) return std::nullopt;
  return std::string(canonical);
}

// Whether some address of family `af` starts with `prefix`. Every prefix of a
// valid address becomes one again with one of these endings: it ends inside
// or after a hex group, inside or after a dotted-quad number, or after a
// colon, and needs at most the rest of a group, a "::" or the remaining
// numbers of a dotted quad.
bool CouldBecomeIp(int af, absl::string_view prefix) {
  for (absl::string_view ending :
       {"", "0", ":", "::", ".0", ".0.0", ".0.0.0", "0.0", "0.0.0", "0.0.0.0"}) {
    if (CanonicalIp(af, absl::StrCat(prefix, ending))) return true;
  }
  return false;
}

// Whether `text` is a v1 port, or the start of one: decimal, no sign, no
// leading zeros, at most 65535.
bool IsPortPrefix(absl::string_view text) {
  if (text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  return value <= 65535;
}

uint16_t PortValue(absl::string_view text) {
  uint32_t value = 0;
  for (char c : text) value = value * 10 + static_cast<uint32_t>(c - '0');
  return static_cast<uint16_t>(value);
}

// `bytes` starts with kV1Prefix.
absl::StatusOr<std::optional<ProxyHeader>> ParseV1(absl::Span<const uint8_t> bytes) {
  const absl::string_view seen = AsText(bytes.first(std::min(bytes.size(), kMaxProxyHeaderV1Size)));
  size_t line_end = seen.find_first_of("\r\n", kV1Prefix.size());
  // Whether the CR was seen, so that no more fields can follow, and whether
  // its LF was seen too.
  bool line_known = false;
  bool complete = false;
  if (line_end == absl::string_view::npos) {
    if (bytes.size() >= kMaxProxyHeaderV1Size) {
      return absl::InvalidArgumentError(
          absl::StrCat("PROXY v1 header has no CRLF within ", kMaxProxyHeaderV1Size, " bytes"));
    }
    line_end = seen.size();
  } else if (seen[line_end] == '\n') {
    return V1Error("the line ends with a LF without a CR before it");
  } else if (line_end + 2 > kMaxProxyHeaderV1Size) {
    return absl::InvalidArgumentError(
        absl::StrCat("PROXY v1 header has no CRLF within ", kMaxProxyHeaderV1Size, " bytes"));
  } else {
    line_known = true;
    if (line_end + 1 < bytes.size()) {
      if (bytes[line_end + 1] != '\n') return V1Error("CR not followed by LF");
      complete = true;
    }
  }

  const absl::string_view content = seen.substr(kV1Prefix.size(), line_end - kV1Prefix.size());
  const std::vector<absl::string_view> fields = absl::StrSplit(content, ' ');
  const absl::string_view protocol = fields[0];
  const bool protocol_known = line_known || fields.size() > 1;
  ProxyHeader header;
  header.version = 1;
  header.size = line_end + 2;
  if (protocol == "UNKNOWN" && protocol_known) {
    // The rest of the line is ignored.
    if (!complete) return std::nullopt;
    header.local = true;
    return header;
  }
  int af;
  if (protocol == "TCP4") {
    af = AF_INET;
  } else if (protocol == "TCP6") {
    af = AF_INET6;
  } else if (!protocol_known &&
             (absl::StartsWith("TCP4", protocol) || absl::StartsWith("TCP6", protocol) ||
              absl::StartsWith("UNKNOWN", protocol))) {
    return std::nullopt;
  } else {
    return V1Error(
        absl::StrCat("unknown protocol ", Quote(protocol), " (expected TCP4, TCP6 or UNKNOWN)"));
  }

  for (size_t i = 1; i < std::min(fields.size(), kV1FieldNames.size()); ++i) {
    const absl::string_view field = fields[i];
    // Only the last field seen before the CR may still grow.
    const bool partial = !line_known && i + 1 == fields.size();
    const char* name = kV1FieldNames[i];
    if (i <= 2) {
      if (partial ? CouldBecomeIp(af, field) : CanonicalIp(af, field).has_value()) continue;
      absl::string_view hint;
      if (field.empty()) {
        hint = " (fields are separated by exactly one space)";
      } else if (af == AF_INET && absl::StrContains(field, ':')) {
        hint = " (an IPv6 address in a TCP4 line?)";
      } else if (af == AF_INET6 && CanonicalIp(AF_INET, field)) {
        hint = " (an IPv4 address in a TCP6 line?)";
      }
      return V1Error(absl::StrCat(name, " ", Quote(field), " is not a valid ",
                                  af == AF_INET ? "IPv4" : "IPv6", " address", hint));
    }
    if (!IsPortPrefix(field) || (!partial && field.empty())) {
      return V1Error(absl::StrCat(name, " ", Quote(field),
                                  " is not a decimal number from 0 to 65535 without leading "
                                  "zeros"));
    }
  }
  if (fields.size() > kV1FieldNames.size()) {
    return V1Error("extra text after the destination port");
  }
  if (!line_known) return std::nullopt;
  if (fields.size() < kV1FieldNames.size()) {
    return V1Error(absl::StrCat("the line ends before the ", kV1FieldNames[fields.size()]));
  }
  if (!complete) return std::nullopt;
  header.source = ProxyAddress{*CanonicalIp(af, fields[1]), PortValue(fields[3])};
  header.destination = ProxyAddress{*CanonicalIp(af, fields[2]), PortValue(fields[4])};
  return header;
}

ProxyAddress ReadV2Address(int af, absl::Span<const uint8_t> address, uint16_t port) {
  in6_addr raw;  // large enough for either family
  std::copy(address.begin(), address.end(), reinterpret_cast<uint8_t*>(&raw));
  char text[INET6_ADDRSTRLEN];
  // inet_ntop fails only for an unknown family or a short buffer.
  if (inet_ntop(af, &raw, text, sizeof(text)) == nullptr) text[0] = '\0';
  return ProxyAddress{text, port};
}

// `bytes` starts with (a prefix of) kV2Signature.
absl::StatusOr<std::optional<ProxyHeader>> ParseV2(absl::Span<const uint8_t> bytes) {
  if (bytes.size() <= kV2Signature.size()) return std::nullopt;
  const int version = bytes[12] >> 4;
  const int command = bytes[12] & 0x0f;
  if (version != 2) return V2Error(absl::StrCat("unsupported version ", version));
  if (command != kCommandLocal && command != kCommandProxy) {
    return V2Error(absl::StrCat("unsupported command ", command, " (expected 0 LOCAL or 1 PROXY)"));
  }
  if (bytes.size() <= 13) return std::nullopt;
  const uint8_t family = bytes[13] >> 4;
  const uint8_t transport = bytes[13] & 0x0f;
  // The size of the addresses before the TLVs, when the block's layout is
  // known. LOCAL ignores the family; AF_UNSPEC and UNSPEC say nothing about
  // the layout, so their blocks are skipped whole.
  std::optional<size_t> address_size;
  if (command == kCommandProxy) {
    if (family > kFamilyUnix) {
      return V2Error(absl::StrCat("unsupported address family ", family));
    }
    if (transport > kTransportDgram) {
      return V2Error(absl::StrCat("unsupported transport protocol ", transport));
    }
    if (transport == kTransportDgram) {
      return V2Error(
          absl::StrCat(kDatagramNames[family], " is not supported (Kafka runs over TCP)"));
    }
    if (family != kFamilyUnspec && transport == kTransportStream) {
      address_size = kAddressSizes[family];
    }
  }
  if (bytes.size() < kV2FixedSize) return std::nullopt;
  const size_t length = ReadUint16(bytes, 14);
  const size_t total = kV2FixedSize + length;
  if (address_size && length < *address_size) {
    return V2Error(absl::StrCat("address block of ", length, " bytes is too short for ",
                                kStreamNames[family], " (", *address_size, ")"));
  }

  ProxyHeader header;
  header.version = 2;
  header.local = command == kCommandLocal;
  header.size = total;
  std::optional<size_t> crc_offset;
  bool has_authority = false;
  if (address_size) {
    // TLVs are checked as far as they have arrived, so that one that cannot
    // fit is reported before the rest of the header comes.
    size_t offset = kV2FixedSize + *address_size;
    while (offset < total) {
      const size_t left = total - offset;
      if (left < kTlvHeaderSize) {
        return V2Error(absl::StrCat(left, " bytes after the last TLV are too few for another (",
                                    kTlvHeaderSize, ")"));
      }
      if (bytes.size() < offset + kTlvHeaderSize) return std::nullopt;
      const uint8_t type = bytes[offset];
      const size_t value_size = ReadUint16(bytes, offset + 1);
      const std::string name = absl::StrCat("TLV 0x", absl::Hex(type, absl::kZeroPad2));
      if (value_size > left - kTlvHeaderSize) {
        return V2Error(absl::StrCat(name, " of ", value_size, " bytes runs ",
                                    value_size - (left - kTlvHeaderSize),
                                    " bytes past the end of the header"));
      }
      if (type == kPp2TypeCrc32c) {
        if (crc_offset) return V2Error("a second CRC32C TLV");
        if (value_size != kCrc32cSize) {
          return V2Error(absl::StrCat("CRC32C TLV of ", value_size, " bytes (expected 4)"));
        }
        crc_offset = offset + kTlvHeaderSize;
      } else if (type == kPp2TypeAuthority) {
        if (has_authority) return V2Error("a second AUTHORITY TLV");
        has_authority = true;
      }
      if (bytes.size() < offset + kTlvHeaderSize + value_size) return std::nullopt;
      header.tlvs.push_back(
          ProxyTlv{type, std::string(AsText(bytes.subspan(offset + kTlvHeaderSize, value_size)))});
      if (type == kPp2TypeAuthority) header.authority = header.tlvs.back().value;
      offset += kTlvHeaderSize + value_size;
    }
  }
  if (bytes.size() < total) return std::nullopt;

  if (crc_offset) {
    // The checksum covers the whole header with its own four bytes zeroed.
    constexpr std::array<uint8_t, kCrc32cSize> kZeros = {};
    uint32_t crc = Crc32c(bytes.first(*crc_offset));
    crc = ExtendCrc32c(crc, kZeros);
    crc = ExtendCrc32c(crc,
                       bytes.subspan(*crc_offset + kCrc32cSize, total - *crc_offset - kCrc32cSize));
    const uint32_t sent =
        (uint32_t{ReadUint16(bytes, *crc_offset)} << 16) | ReadUint16(bytes, *crc_offset + 2);
    if (crc != sent) {
      return V2Error(absl::StrCat("CRC32C checksum 0x", absl::Hex(sent, absl::kZeroPad8),
                                  " does not match the header's 0x",
                                  absl::Hex(crc, absl::kZeroPad8)));
    }
  }
  if (address_size && (family == kFamilyInet || family == kFamilyInet6)) {
    const int af = family == kFamilyInet ? AF_INET : AF_INET6;
    const size_t ip_size = family == kFamilyInet ? 4 : 16;
    const auto block = bytes.subspan(kV2FixedSize);
    header.source = ReadV2Address(af, block.subspan(0, ip_size), ReadUint16(block, 2 * ip_size));
    header.destination =
        ReadV2Address(af, block.subspan(ip_size, ip_size), ReadUint16(block, 2 * ip_size + 2));
  }
  return header;
}

std::string FormatAddress(const ProxyAddress& address) {
  if (absl::StrContains(address.ip, ':')) return absl::StrCat("[", address.ip, "]:", address.port);
  return absl::StrCat(address.ip, ":", address.port);
}

// A source and destination the encoders can write.
struct EncodableAddresses {
  int af = AF_UNSPEC;
  in6_addr source{}, destination{};  // the first 4 bytes for AF_INET
  std::string source_text, destination_text;
};

absl::StatusOr<EncodableAddresses> AddressesToEncode(const ProxyHeader& header) {
  if (!header.source || !header.destination) {
    return absl::InvalidArgumentError(
        "a PROXY header that is not local needs a source and a destination address");
  }
  EncodableAddresses out;
  for (int af : {AF_INET, AF_INET6}) {
    if (inet_pton(af, header.source->ip.c_str(), &out.source) == 1) {
      out.af = af;
      break;
    }
  }
  if (out.af == AF_UNSPEC) {
    return absl::InvalidArgumentError(
        absl::StrCat("source ", Quote(header.source->ip), " is not an IP address"));
  }
  if (inet_pton(out.af, header.destination->ip.c_str(), &out.destination) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("destination ", Quote(header.destination->ip), " is not an ",
                     out.af == AF_INET ? "IPv4" : "IPv6", " address like the source"));
  }
  out.source_text =
      ReadV2Address(out.af, {reinterpret_cast<const uint8_t*>(&out.source), 16}, 0).ip;
  out.destination_text =
      ReadV2Address(out.af, {reinterpret_cast<const uint8_t*>(&out.destination), 16}, 0).ip;
  return out;
}

}  // namespace

std::string ProxyHeader::Describe() const {
  std::string out = absl::StrCat("PROXY v", version);
  if (local) {
    absl::StrAppend(&out, version == 1 ? " UNKNOWN" : " LOCAL");
  } else if (source && destination) {
    absl::StrAppend(&out, " ", FormatAddress(*source), " -> ", FormatAddress(*destination));
  } else {
    absl::StrAppend(&out, " without addresses");
  }
  if (!authority.empty()) absl::StrAppend(&out, " authority ", Quote(authority));
  return out;
}

absl::StatusOr<std::optional<ProxyHeader>> ParseProxyHeader(absl::Span<const uint8_t> bytes) {
  if (bytes.empty()) return std::nullopt;
  if (bytes[0] == kV2Signature[0]) {
    const size_t n = std::min(bytes.size(), kV2Signature.size());
    if (!std::equal(bytes.begin(), bytes.begin() + n, kV2Signature.begin())) {
      return NotAHeader(bytes);
    }
    return ParseV2(bytes);
  }
  const size_t n = std::min(bytes.size(), kV1Prefix.size());
  if (AsText(bytes.first(n)) != kV1Prefix.substr(0, n)) return NotAHeader(bytes);
  if (bytes.size() < kV1Prefix.size()) return std::nullopt;
  return ParseV1(bytes);
}

absl::StatusOr<std::vector<uint8_t>> EncodeProxyHeaderV1(const ProxyHeader& header) {
  if (!header.tlvs.empty() || !header.authority.empty()) {
    return absl::InvalidArgumentError("PROXY v1 carries no TLVs and no authority");
  }
  std::string line;
  if (header.local) {
    if (header.source || header.destination) {
      return absl::InvalidArgumentError("a local PROXY header carries no addresses");
    }
    line = "PROXY UNKNOWN\r\n";
  } else {
    KGW_ASSIGN_OR_RETURN(const EncodableAddresses addresses, AddressesToEncode(header));
    line = absl::StrCat("PROXY ", addresses.af == AF_INET ? "TCP4 " : "TCP6 ",
                        addresses.source_text, " ", addresses.destination_text, " ",
                        header.source->port, " ", header.destination->port, "\r\n");
  }
  return std::vector<uint8_t>(line.begin(), line.end());
}

absl::StatusOr<std::vector<uint8_t>> EncodeProxyHeaderV2(const ProxyHeader& header,
                                                         bool append_crc32c) {
  std::vector<uint8_t> out(kV2Signature.begin(), kV2Signature.end());
  if (header.local) {
    if (header.source || header.destination || !header.tlvs.empty() || !header.authority.empty() ||
        append_crc32c) {
      return absl::InvalidArgumentError(
          "a LOCAL PROXY header is written without addresses and TLVs");
    }
    out.insert(out.end(), {0x20 | kCommandLocal, (kFamilyUnspec << 4) | 0, 0, 0});
    return out;
  }
  KGW_ASSIGN_OR_RETURN(const EncodableAddresses addresses, AddressesToEncode(header));
  const auto authority =
      std::find_if(header.tlvs.begin(), header.tlvs.end(),
                   [](const ProxyTlv& t) { return t.type == kPp2TypeAuthority; });
  const std::string tlv_authority = authority == header.tlvs.end() ? "" : authority->value;
  if (header.authority != tlv_authority) {
    return absl::InvalidArgumentError(absl::StrCat("authority ", Quote(header.authority),
                                                   " is not the value of the AUTHORITY TLV, ",
                                                   Quote(tlv_authority)));
  }

  const bool v4 = addresses.af == AF_INET;
  const uint8_t family = v4 ? kFamilyInet : kFamilyInet6;
  out.push_back(0x20 | kCommandProxy);
  out.push_back(static_cast<uint8_t>((family << 4) | kTransportStream));
  AppendUint16(out, 0);  // the length, filled in below
  const size_t ip_size = v4 ? 4 : 16;
  const auto* source = reinterpret_cast<const uint8_t*>(&addresses.source);
  const auto* destination = reinterpret_cast<const uint8_t*>(&addresses.destination);
  out.insert(out.end(), source, source + ip_size);
  out.insert(out.end(), destination, destination + ip_size);
  AppendUint16(out, header.source->port);
  AppendUint16(out, header.destination->port);
  for (const ProxyTlv& tlv : header.tlvs) {
    if (tlv.value.size() > 0xffff) {
      return absl::InvalidArgumentError(
          absl::StrCat("TLV value of ", tlv.value.size(), " bytes (at most 65535)"));
    }
    out.push_back(tlv.type);
    AppendUint16(out, static_cast<uint16_t>(tlv.value.size()));
    out.insert(out.end(), tlv.value.begin(), tlv.value.end());
  }
  size_t crc_offset = 0;
  if (append_crc32c) {
    out.push_back(kPp2TypeCrc32c);
    AppendUint16(out, kCrc32cSize);
    crc_offset = out.size();
    out.insert(out.end(), kCrc32cSize, 0);
  }
  const size_t length = out.size() - kV2FixedSize;
  if (length > 0xffff) {
    return absl::InvalidArgumentError(
        absl::StrCat("addresses and TLVs of ", length, " bytes (at most 65535)"));
  }
  out[14] = static_cast<uint8_t>(length >> 8);
  out[15] = static_cast<uint8_t>(length);
  if (append_crc32c) {
    const uint32_t crc = Crc32c(out);
    for (size_t i = 0; i < kCrc32cSize; ++i) {
      out[crc_offset + i] = static_cast<uint8_t>(crc >> (8 * (kCrc32cSize - 1 - i)));
    }
  }
  return out;
}

}  // namespace kgw::net
