// CRC-32C (Castagnoli), the checksum of iSCSI and SCTP (RFC 4960 appendix B),
// which PROXY protocol v2 headers may carry in a PP2_TYPE_CRC32C TLV.
//
// A plain table-driven implementation: the headers it checks are small and
// rare (one per connection), so no hardware instructions are needed.
#ifndef KGW_COMMON_NET_CRC32C_H_
#define KGW_COMMON_NET_CRC32C_H_

#include <cstdint>

#include "absl/types/span.h"

namespace kgw::net {

// Checksum of `bytes`. Crc32c("123456789") is 0xe3069283.
uint32_t Crc32c(absl::Span<const uint8_t> bytes);

// Checksum of the concatenation of the bytes that gave `crc` and `bytes`:
// ExtendCrc32c(Crc32c(a), b) == Crc32c(a + b), and Crc32c(empty) is 0.
uint32_t ExtendCrc32c(uint32_t crc, absl::Span<const uint8_t> bytes);

}  // namespace kgw::net

#endif  // KGW_COMMON_NET_CRC32C_H_
