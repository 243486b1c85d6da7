// What the agent changes in broker responses before a client sees them.
//
// Clients must only ever learn agent addresses, so every response that
// carries a broker's host and port is rewritten: Metadata, FindCoordinator,
// DescribeCluster, DescribeQuorum, and the KIP-951 NodeEndpoints of Produce,
// Fetch, ShareFetch and ShareAcknowledge. Node ids and racks stay as the
// broker said. ApiVersions answers are narrowed to the versions the codec can
// parse for the APIs the agent parses, so no client negotiates a version the
// agent would have to forward blind.
//
// What is done with each API is one table in response_rewriter.cc (whether
// its versions are capped, from which version it is rewritten and how,
// whether the SASL watcher reads it): adding an API the agent must understand
// is adding a row. Everything else passes through as the bytes it arrived as.
#ifndef KGW_AGENT_RESPONSE_REWRITER_H_
#define KGW_AGENT_RESPONSE_REWRITER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "agent/advertised_address.h"
#include "common/cluster/broker_directory.h"

namespace kgw::agent {

using cluster::BrokerEndpoint;

// Maps a node id to the address clients must use for it.
using AddressFor = absl::FunctionRef<AdvertisedAddress(int32_t node_id)>;

// Called with the brokers of every Metadata response before they are
// rewritten, so the agent learns brokers as clients do.
using BrokersSeen = absl::FunctionRef<void(const std::vector<BrokerEndpoint>&)>;

// True when responses to `api_key` at `api_version` must be parsed: the
// agent may rewrite them. Cheap; called for every request.
bool MayRewrite(int16_t api_key, int16_t api_version);

// Whether the agent needs responses to `api_key` at `api_version` whole:
// it may rewrite them, or the SASL watcher reads them. Others pass through
// as opaque bytes and may be cut through.
bool NeedsWholeResponse(int16_t api_key, int16_t api_version);

// Whether a large response to `api_key` at `api_version` is cut through
// following its structure (kafka::ResponseWalk) instead of being assembled
// whole: Fetch from v16 and ShareFetch, whose NodeEndpoints end the response.
bool WalksResponse(int16_t api_key, int16_t api_version);

// The tail of a walked response (what kafka::ResponseWalk leaves at its
// end), as the client gets it: nullopt when it carries no NodeEndpoints
// (forwarded unchanged); otherwise the same number of bytes (the frame's size
// has gone out already) with NodeEndpoints rewritten, or, when the rewritten
// ones would not fit, left out (emptied for ShareFetch, where the field is
// not optional): a client without them asks for metadata, as before KIP-951.
// Errors as for RewriteResponse.
struct WalkedTail {
  std::vector<uint8_t> bytes;
  bool endpoints_dropped = false;
};
absl::StatusOr<std::optional<WalkedTail>> RewriteWalkedTail(int16_t api_key, int16_t api_version,
                                                            absl::Span<const uint8_t> tail,
                                                            AddressFor address_for);

// A response frame (header and body, without the size prefix) as the agent
// forwards it: the whole new frame with its size prefix, or nullopt when the
// frame is to be forwarded unchanged. Errors as for RewriteResponse, plus a
// header that does not parse.
absl::StatusOr<std::optional<std::vector<uint8_t>>> RewriteResponseFrame(
    int16_t api_key, int16_t api_version, absl::Span<const uint8_t> frame,
    AddressFor address_for, BrokersSeen brokers_seen);

// The rewritten body of a response (after its header), or nullopt when the
// body is to be forwarded unchanged. Errors are the codec's, naming message,
// version and field: the response cannot be parsed, and forwarding it
// unchanged could leak a broker address, so the caller closes the connection.
absl::StatusOr<std::optional<std::vector<uint8_t>>> RewriteResponse(
    int16_t api_key, int16_t api_version, absl::Span<const uint8_t> body, AddressFor address_for,
    BrokersSeen brokers_seen);

// The agent's answer to an ApiVersions response: for every API the agent
// parses, the broker's version range intersected with the codec's (the API is
// dropped when they do not overlap); other APIs are left as the broker said.
// Exposed for tests.
struct VersionRange {
  int16_t min_version;
  int16_t max_version;
};
std::optional<VersionRange> IntersectApiVersions(int16_t api_key, VersionRange broker);

}  // namespace kgw::agent

#endif  // KGW_AGENT_RESPONSE_REWRITER_H_
