// libFuzzer target for the PROXY protocol header parser, which reads the
// first bytes of every client connection when the agent sits behind a load
// balancer. Beyond not crashing, it holds the parser to its contract:
//  - errors are InvalidArgument with a one-line message;
//  - a header never claims more bytes than it was given, nor more than
//    kMaxProxyHeaderSize (107 for v1), and "more bytes needed" never comes
//    once kMaxProxyHeaderSize bytes are there;
//  - the header's own bytes alone parse to the same header, and every
//    shorter prefix of them asks for more bytes, never an error;
//  - a header with addresses re-encodes and parses back to itself, and a v2
//    one re-encodes to the very bytes it was read from.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/net/proxy_protocol.h"

namespace {

using kgw::net::ProxyHeader;

void Check(bool condition) {
  if (!condition) std::abort();
}

// Prefixes checked for a header of `size` bytes: all of them for short
// headers; for long ones the first and last few hundred and a spread between,
// so that a 64 KiB header does not cost 64K parses.
bool ShouldCheckPrefix(size_t n, size_t size) {
  constexpr size_t kEdge = 320;
  return size <= 2 * kEdge || n < kEdge || size - n <= kEdge || n % 97 == 0;
}

void CheckReencodes(const ProxyHeader& header, absl::Span<const uint8_t> wire) {
  if (!header.source.has_value()) return;
  auto encoded = header.version == 1 ? kgw::net::EncodeProxyHeaderV1(header)
                                     : kgw::net::EncodeProxyHeaderV2(header);
  Check(encoded.ok());
  // v2 has one encoding for TCP over IPv4/IPv6; v1 text may differ (case,
  // zero compression) but must mean the same.
  if (header.version == 2) {
    Check(std::equal(encoded->begin(), encoded->end(), wire.begin(), wire.end()));
  }
  auto reparsed = kgw::net::ParseProxyHeader(*encoded);
  Check(reparsed.ok() && reparsed->has_value());
  ProxyHeader expected = header;
  expected.size = encoded->size();
  Check(**reparsed == expected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::Span<const uint8_t> bytes(data, size);
  auto parsed = kgw::net::ParseProxyHeader(bytes);
  if (!parsed.ok()) {
    Check(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    Check(!parsed.status().message().empty());
    Check(parsed.status().message().find('\n') == absl::string_view::npos);
    return 0;
  }
  if (!parsed->has_value()) {
    Check(size < kgw::net::kMaxProxyHeaderSize);
    return 0;
  }
  const ProxyHeader& header = **parsed;
  Check(header.version == 1 || header.version == 2);
  Check(header.size > 0 && header.size <= size && header.size <= kgw::net::kMaxProxyHeaderSize);
  if (header.version == 1) {
    Check(header.size <= kgw::net::kMaxProxyHeaderV1Size);
    Check(header.tlvs.empty() && header.authority.empty());
  }
  Check(header.source.has_value() == header.destination.has_value());
  Check(!(header.local && header.source.has_value()));
  (void)header.Describe();

  const absl::Span<const uint8_t> wire = bytes.first(header.size);
  auto again = kgw::net::ParseProxyHeader(wire);
  Check(again.ok() && again->has_value() && **again == header);
  for (size_t n = 0; n < header.size; ++n) {
    if (!ShouldCheckPrefix(n, header.size)) continue;
    auto prefix = kgw::net::ParseProxyHeader(wire.first(n));
    Check(prefix.ok() && !prefix->has_value());
  }
  CheckReencodes(header, wire);
  return 0;
}
