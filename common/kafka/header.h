// Kafka framing and request/response headers.
//
// Every Kafka message travels as an int32 size followed by that many bytes:
// a header and then the body. Which header version precedes a body depends
// on the API and its version (flexible versions use the header versions
// with tagged fields), with one exception kept for compatibility by Kafka:
// ApiVersions responses always use response header v0, so that a client
// can parse the answer whatever version it asked for.
//
// Request header v1 and v2 both carry the client id as a classic int16-length
// string; v2 only adds the tagged-field section.
#ifndef KGW_COMMON_KAFKA_HEADER_H_
#define KGW_COMMON_KAFKA_HEADER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/kafka/wire/reader.h"
#include "common/kafka/wire/types.h"
#include "common/kafka/wire/writer.h"

namespace kgw::kafka {

inline constexpr size_t kFrameSizeBytes = 4;

// The size a frame declares in its first kFrameSizeBytes bytes at `p`
// (negative when the sender declared nonsense).
inline int32_t PeekFrameSize(const uint8_t* p) {
  return static_cast<int32_t>((uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
                              (uint32_t{p[2]} << 8) | p[3]);
}

// Appends a frame's size prefix to `out`.
inline void AppendFrameSize(std::vector<uint8_t>& out, uint32_t size) {
  const uint8_t bytes[kFrameSizeBytes] = {
      static_cast<uint8_t>(size >> 24), static_cast<uint8_t>(size >> 16),
      static_cast<uint8_t>(size >> 8), static_cast<uint8_t>(size)};
  out.insert(out.end(), bytes, bytes + kFrameSizeBytes);
}

// Looks for one complete frame at the front of `buffer`. Returns the frame's
// contents (header and body, without the size prefix) as a view into
// `buffer`, or nullopt when more bytes are needed. A negative size or one
// above `max_frame_size` is an error: the connection cannot be resynchronised.
absl::StatusOr<std::optional<absl::Span<const uint8_t>>> NextFrame(absl::Span<const uint8_t> buffer,
                                                                   int32_t max_frame_size);

// Writes a placeholder size and returns its offset; EndFrame fills it in
// with the number of bytes written since.
size_t BeginFrame(Writer& w);
void EndFrame(Writer& w, size_t mark);

// Header version for a request or response of `api_key` at `api_version`, or
// -1 when the codec does not support that API version.
int16_t RequestHeaderVersion(int16_t api_key, int16_t api_version);
int16_t ResponseHeaderVersion(int16_t api_key, int16_t api_version);

struct RequestHeader {
  int16_t request_api_key = 0;
  int16_t request_api_version = 0;
  int32_t correlation_id = 0;
  // Header v1+. Null is allowed in every version that has it.
  std::optional<std::string> client_id;
  // Header v2+.
  std::vector<RawTaggedField> unknown_tagged_fields;

  absl::Status Decode(Reader& r, int16_t header_version);
  void Encode(Writer& w, int16_t header_version) const;
  bool operator==(const RequestHeader&) const = default;
};

struct ResponseHeader {
  int32_t correlation_id = 0;
  // Header v1+.
  std::vector<RawTaggedField> unknown_tagged_fields;

  absl::Status Decode(Reader& r, int16_t header_version);
  void Encode(Writer& w, int16_t header_version) const;
  bool operator==(const ResponseHeader&) const = default;
};

// Appends one whole request frame (size, header, body) for `request` at
// `version` to `w`.
template <typename Request>
void EncodeRequestFrame(Writer& w, const Request& request, int16_t version,
                        int32_t correlation_id, const std::string& client_id) {
  const size_t mark = BeginFrame(w);
  RequestHeader header;
  header.request_api_key = Request::kApiKey;
  header.request_api_version = version;
  header.correlation_id = correlation_id;
  header.client_id = client_id;
  header.Encode(w, RequestHeaderVersion(Request::kApiKey, version));
  request.Encode(w, version);
  EndFrame(w, mark);
}

// Decodes a request header, choosing its version from the api key and version
// it starts with. Sets `header_version`. Fails with kUnimplemented for an
// API version the codec does not support (its header layout is unknowable;
// a gateway forwards such requests by their fixed first eight bytes).
absl::Status DecodeRequestHeader(Reader& r, RequestHeader* header, int16_t* header_version);

}  // namespace kgw::kafka

#endif  // KGW_COMMON_KAFKA_HEADER_H_
