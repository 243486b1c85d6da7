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
// Everything else passes through as the bytes it arrived as.
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
