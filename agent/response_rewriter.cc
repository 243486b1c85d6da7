#include "agent/response_rewriter.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/kafka/messages/all_messages.h"
#include "common/kafka/header.h"
#include "common/kafka/messages/api_registry.h"
#include "common/kafka/metadata_rewrite.h"
#include "common/kafka/node_endpoints.h"
#include "common/kafka/response_walk.h"
#include "common/kafka/wire/array_codec.h"
#include "common/kafka/wire/reader.h"
#include "common/kafka/wire/writer.h"
#include "common/status/status_macros.h"

namespace kgw::agent {
namespace {

using kafka::Reader;
using kafka::Writer;

template <typename Message>
absl::Status DecodeWhole(absl::Span<const uint8_t> body, int16_t version, Message* message) {
  Reader r(body);
  KGW_RETURN_IF_ERROR(message->Decode(r, version));
  if (r.remaining() != 0) {
    return absl::DataLossError(absl::StrCat(std::string(Message::kName), " v", version, ": ",
                                            r.remaining(), " bytes after the body"));
  }
  return absl::OkStatus();
}

template <typename Message>
std::vector<uint8_t> EncodeBody(const Message& message, int16_t version) {
  Writer w;
  message.Encode(w, version);
  return std::move(w).Release();
}

template <typename Endpoint>
void RewriteEndpoints(std::vector<Endpoint>& endpoints, AddressFor address_for) {
  for (Endpoint& e : endpoints) {
    AdvertisedAddress a = address_for(e.node_id);
    e.host = std::move(a.host);
    e.port = a.port;
  }
}

absl::StatusOr<std::optional<std::vector<uint8_t>>> RewriteMetadata(
    absl::Span<const uint8_t> body, int16_t version, AddressFor address_for,
    BrokersSeen brokers_seen) {
  std::vector<BrokerEndpoint> seen;
  KGW_ASSIGN_OR_RETURN(
      std::vector<uint8_t> out,
      kafka::RewriteMetadataBrokers(body, version,
                                    [&](kafka::MetadataResponse::MetadataResponseBroker& b) {
                                      seen.push_back({b.node_id, b.host, b.port, b.rack});
                                      AdvertisedAddress a = address_for(b.node_id);
                                      b.host = std::move(a.host);
                                      b.port = a.port;
                                    }));
  brokers_seen(seen);
  return out;
}

absl::StatusOr<std::optional<std::vector<uint8_t>>> RewriteFindCoordinator(
    absl::Span<const uint8_t> body, int16_t version, AddressFor address_for, BrokersSeen) {
  kafka::FindCoordinatorResponse m;
  KGW_RETURN_IF_ERROR(DecodeWhole(body, version, &m));
  // An error answer carries node id -1 and an empty host: left alone.
  bool changed = false;
  if (version <= 3) {
    if (m.node_id >= 0) {
      AdvertisedAddress a = address_for(m.node_id);
      m.host = std::move(a.host);
      m.port = a.port;
      changed = true;
    }
  } else {
    for (auto& c : m.coordinators) {
      if (c.node_id < 0) continue;
      AdvertisedAddress a = address_for(c.node_id);
      c.host = std::move(a.host);
      c.port = a.port;
      changed = true;
    }
  }
  if (!changed) return std::nullopt;
  return EncodeBody(m, version);
}

absl::StatusOr<std::optional<std::vector<uint8_t>>> RewriteDescribeCluster(
    absl::Span<const uint8_t> body, int16_t version, AddressFor address_for, BrokersSeen) {
  kafka::DescribeClusterResponse m;
  KGW_RETURN_IF_ERROR(DecodeWhole(body, version, &m));
  if (m.brokers.empty()) return std::nullopt;
  for (auto& b : m.brokers) {
    AdvertisedAddress a = address_for(b.broker_id);
    b.host = std::move(a.host);
    b.port = a.port;
  }
  return EncodeBody(m, version);
}

absl::StatusOr<std::optional<std::vector<uint8_t>>> RewriteDescribeQuorum(
    absl::Span<const uint8_t> body, int16_t version, AddressFor address_for, BrokersSeen) {
  kafka::DescribeQuorumResponse m;
  KGW_RETURN_IF_ERROR(DecodeWhole(body, version, &m));
  bool changed = false;
  for (auto& node : m.nodes) {
    for (auto& l : node.listeners) {
      AdvertisedAddress a = address_for(node.node_id);
      l.host = std::move(a.host);
      l.port = static_cast<uint16_t>(a.port);
      changed = true;
    }
  }
  if (!changed) return std::nullopt;
  return EncodeBody(m, version);
}

// Produce and Fetch: skim for NodeEndpoints; only a response that has them
// (leadership moved) is decoded and re-encoded.
template <typename Response>
absl::StatusOr<std::optional<std::vector<uint8_t>>> RewriteNodeEndpointsIfAny(
    absl::Span<const uint8_t> body, int16_t version, AddressFor address_for, BrokersSeen) {
  KGW_ASSIGN_OR_RETURN(kafka::NodeEndpointsLocation where,
                       kafka::FindNodeEndpoints(Response::kApiKey, version, body));
  if (!where.present) return std::nullopt;
  Response m;
  KGW_RETURN_IF_ERROR(DecodeWhole(body, version, &m));
  RewriteEndpoints(m.node_endpoints, address_for);
  return EncodeBody(m, version);
}

// ShareFetch and ShareAcknowledge: decoded whole (records stay views).
template <typename Response>
absl::StatusOr<std::optional<std::vector<uint8_t>>> RewriteShareResponse(
    absl::Span<const uint8_t> body, int16_t version, AddressFor address_for, BrokersSeen) {
  Response m;
  KGW_RETURN_IF_ERROR(DecodeWhole(body, version, &m));
  if (m.node_endpoints.empty()) return std::nullopt;
  RewriteEndpoints(m.node_endpoints, address_for);
  return EncodeBody(m, version);
}

absl::StatusOr<std::optional<std::vector<uint8_t>>> NarrowApiVersions(
    absl::Span<const uint8_t> body, int16_t version) {
  kafka::ApiVersionsResponse m;
  if (!DecodeWhole(body, version, &m).ok()) {
    // A broker answers a version it does not support with an error in v0
    // form (the client then retries lower). Such an answer lists the
    // broker's versions; it is narrowed like any other.
    if (!DecodeWhole(body, 0, &m).ok() || m.error_code == 0) {
      return absl::DataLossError(
          absl::StrCat("ApiVersionsResponse v", version, " cannot be parsed"));
    }
    version = 0;
  }
  bool changed = false;
  std::vector<kafka::ApiVersionsResponse::ApiVersion> kept;
  kept.reserve(m.api_keys.size());
  for (auto& api : m.api_keys) {
    std::optional<VersionRange> r =
        IntersectApiVersions(api.api_key, {api.min_version, api.max_version});
    if (!r) {
      changed = true;
      continue;
    }
    if (r->min_version != api.min_version || r->max_version != api.max_version) changed = true;
    api.min_version = r->min_version;
    api.max_version = r->max_version;
    kept.push_back(std::move(api));
  }
  if (!changed) return std::nullopt;
  m.api_keys = std::move(kept);
  return EncodeBody(m, version);
}

// Every client connection begins with ApiVersions, and a broker answers a
// given version with the same bytes each time (the correlation id is in the
// header, not the body). So each thread keeps the last few bodies it narrowed
// with their results, and a connection storm does not decode and encode the
// same list thousands of times a second. The narrowing depends on the body
// and the version alone; a broker that changes its answer (an upgrade) simply
// misses.
absl::StatusOr<std::optional<std::vector<uint8_t>>> RewriteApiVersions(
    absl::Span<const uint8_t> body, int16_t version, AddressFor, BrokersSeen) {
  struct Entry {
    int16_t version = -1;
    std::vector<uint8_t> body;
    std::optional<std::vector<uint8_t>> narrowed;
  };
  // A few: brokers of a cluster mid-upgrade answer differently, and clients
  // ask different versions. Far larger answers than Kafka's are not kept.
  constexpr size_t kEntries = 4;
  constexpr size_t kLargestKept = 4096;
  thread_local std::array<Entry, kEntries> memo;
  thread_local size_t next = 0;
  for (const Entry& e : memo) {
    if (e.version == version && absl::MakeConstSpan(e.body) == body) return e.narrowed;
  }
  absl::StatusOr<std::optional<std::vector<uint8_t>>> narrowed = NarrowApiVersions(body, version);
  if (narrowed.ok() && body.size() <= kLargestKept) {
    Entry& e = memo[next];
    next = (next + 1) % kEntries;
    e.version = version;
    e.body.assign(body.begin(), body.end());
    e.narrowed = *narrowed;
  }
  return narrowed;
}

using Rewriter = absl::StatusOr<std::optional<std::vector<uint8_t>>> (*)(
    absl::Span<const uint8_t> body, int16_t version, AddressFor, BrokersSeen);

// What the agent does with each API's responses; an API without a row passes
// through as opaque bytes, and may be cut through when large. Adding an API
// the agent must understand is adding a row.
struct ApiRule {
  int16_t api_key;
  // Its versions are capped to the codec's in ApiVersions answers, so that
  // every response the agent reads is one it can parse.
  bool capped;
  // From this version on, responses may carry broker addresses and are
  // given to `rewrite`; kNever: not rewritten.
  int16_t first_rewritten;
  Rewriter rewrite;
  // Read whole for the SASL watcher (not rewritten).
  bool watched;
};
constexpr int16_t kNever = std::numeric_limits<int16_t>::max();

constexpr ApiRule kApiRules[] = {
    // KIP-951 NodeEndpoints: Produce from v10, Fetch from v16.
    {kafka::ProduceResponse::kApiKey, true, 10, RewriteNodeEndpointsIfAny<kafka::ProduceResponse>,
     false},
    {kafka::FetchResponse::kApiKey, true, 16, RewriteNodeEndpointsIfAny<kafka::FetchResponse>,
     false},
    {kafka::MetadataResponse::kApiKey, true, 0, RewriteMetadata, false},
    {kafka::FindCoordinatorResponse::kApiKey, true, 0, RewriteFindCoordinator, false},
    {kafka::ApiVersionsResponse::kApiKey, true, 0, RewriteApiVersions, false},
    {kafka::DescribeQuorumResponse::kApiKey, true, 0, RewriteDescribeQuorum, false},
    {kafka::DescribeClusterResponse::kApiKey, true, 0, RewriteDescribeCluster, false},
    {kafka::ShareFetchResponse::kApiKey, true, 0,
     RewriteShareResponse<kafka::ShareFetchResponse>, false},
    {kafka::ShareAcknowledgeResponse::kApiKey, true, 0,
     RewriteShareResponse<kafka::ShareAcknowledgeResponse>, false},
    {kafka::SaslHandshakeResponse::kApiKey, true, kNever, nullptr, true},
    {kafka::SaslAuthenticateResponse::kApiKey, false, kNever, nullptr, true},
};

const ApiRule* FindRule(int16_t api_key) {
  for (const ApiRule& rule : kApiRules) {
    if (rule.api_key == api_key) return &rule;
  }
  return nullptr;
}

}  // namespace

bool MayRewrite(int16_t api_key, int16_t api_version) {
  const ApiRule* rule = FindRule(api_key);
  return rule != nullptr && api_version >= rule->first_rewritten;
}

bool WalksResponse(int16_t api_key, int16_t api_version) {
  return kafka::ResponseWalk::Walks(api_key, api_version);
}

namespace {

// Fills the room rewritten endpoints leave in a walked tail; no version of
// Fetch or ShareFetch defines this tag, so clients skip it as unknown.
constexpr uint32_t kFillerTag = 127;

template <typename Endpoint>
absl::Status DecodeEndpoints(Reader& r, int16_t version, std::vector<Endpoint>* out) {
  return kafka::internal::DecodeArray(r.Field("NodeEndpoints"), /*compact=*/true, version, out);
}

template <typename Endpoint>
std::vector<uint8_t> EncodeEndpoints(const std::vector<Endpoint>& endpoints, int16_t version) {
  Writer w;
  kafka::internal::EncodeArray(w, /*compact=*/true, version, endpoints);
  return w.Release();
}

// Fetch: NodeEndpoints is tag 0 of the tagged fields that make up the tail.
absl::StatusOr<std::optional<WalkedTail>> RewriteFetchTail(int16_t version,
                                                           absl::Span<const uint8_t> tail,
                                                           AddressFor address_for) {
  KGW_ASSIGN_OR_RETURN(std::optional<absl::Span<const uint8_t>> value,
                       kafka::FindTaggedField(tail, kafka::kNodeEndpointsTag));
  if (!value) return std::nullopt;
  Reader r(*value);
  r.BeginMessage("FetchResponse", version);
  std::vector<kafka::FetchResponse::NodeEndpoint> endpoints;
  KGW_RETURN_IF_ERROR(DecodeEndpoints(r, version, &endpoints));
  if (r.remaining() != 0) {
    return r.Invalid(absl::StrCat("NodeEndpoints left ", r.remaining(), " bytes unread"));
  }
  RewriteEndpoints(endpoints, address_for);
  const std::vector<uint8_t> rewritten = EncodeEndpoints(endpoints, version);
  WalkedTail out;
  absl::StatusOr<std::vector<uint8_t>> resized = kafka::ResizeTaggedSection(
      tail, kafka::kNodeEndpointsTag, rewritten, kFillerTag, tail.size());
  if (!resized.ok()) {
    out.endpoints_dropped = true;
    resized = kafka::ResizeTaggedSection(tail, kafka::kNodeEndpointsTag, std::nullopt,
                                         kFillerTag, tail.size());
  }
  KGW_RETURN_IF_ERROR(resized.status());
  out.bytes = *std::move(resized);
  return out;
}

// ShareFetch: the tail is the NodeEndpoints array, then the tagged fields,
// which take up whatever room the rewritten array leaves.
absl::StatusOr<std::optional<WalkedTail>> RewriteShareFetchTail(int16_t version,
                                                                absl::Span<const uint8_t> tail,
                                                                AddressFor address_for) {
  Reader r(tail);
  r.BeginMessage("ShareFetchResponse", version);
  std::vector<kafka::ShareFetchResponse::NodeEndpoint> endpoints;
  KGW_RETURN_IF_ERROR(DecodeEndpoints(r, version, &endpoints));
  if (endpoints.empty()) return std::nullopt;
  const absl::Span<const uint8_t> section = tail.subspan(r.position());
  RewriteEndpoints(endpoints, address_for);
  WalkedTail out;
  std::vector<uint8_t> array = EncodeEndpoints(endpoints, version);
  absl::StatusOr<std::vector<uint8_t>> rest =
      array.size() < tail.size()
          ? kafka::ResizeTaggedSection(section, kFillerTag, std::nullopt, kFillerTag,
                                       tail.size() - array.size())
          : absl::ResourceExhaustedError("the rewritten NodeEndpoints are too long");
  if (!rest.ok()) {
    out.endpoints_dropped = true;
    array = EncodeEndpoints(std::vector<kafka::ShareFetchResponse::NodeEndpoint>{}, version);
    rest = kafka::ResizeTaggedSection(section, kFillerTag, std::nullopt, kFillerTag,
                                      tail.size() - array.size());
  }
  KGW_RETURN_IF_ERROR(rest.status());
  out.bytes = std::move(array);
  out.bytes.insert(out.bytes.end(), rest->begin(), rest->end());
  return out;
}

}  // namespace

absl::StatusOr<std::optional<WalkedTail>> RewriteWalkedTail(int16_t api_key, int16_t api_version,
                                                            absl::Span<const uint8_t> tail,
                                                            AddressFor address_for) {
  if (!WalksResponse(api_key, api_version)) {
    return absl::InvalidArgumentError(
        absl::StrCat("api key ", api_key, " v", api_version, " responses are not walked"));
  }
  return api_key == kafka::ShareFetchResponse::kApiKey
             ? RewriteShareFetchTail(api_version, tail, address_for)
             : RewriteFetchTail(api_version, tail, address_for);
}

bool NeedsWholeResponse(int16_t api_key, int16_t api_version) {
  const ApiRule* rule = FindRule(api_key);
  return rule != nullptr && (rule->watched || api_version >= rule->first_rewritten);
}

absl::StatusOr<std::optional<std::vector<uint8_t>>> RewriteResponse(
    int16_t api_key, int16_t api_version, absl::Span<const uint8_t> body, AddressFor address_for,
    BrokersSeen brokers_seen) {
  const ApiRule* rule = FindRule(api_key);
  if (rule == nullptr || api_version < rule->first_rewritten) return std::nullopt;
  return rule->rewrite(body, api_version, address_for, brokers_seen);
}

absl::StatusOr<std::optional<std::vector<uint8_t>>> RewriteResponseFrame(
    int16_t api_key, int16_t api_version, absl::Span<const uint8_t> frame,
    AddressFor address_for, BrokersSeen brokers_seen) {
  if (!MayRewrite(api_key, api_version)) return std::nullopt;
  // ApiVersions answers always use header v0, whatever version was asked.
  const int16_t header_version = api_key == kafka::ApiVersionsResponse::kApiKey
                                     ? 0
                                     : kafka::ResponseHeaderVersion(api_key, api_version);
  if (header_version < 0) {
    return absl::UnimplementedError("the agent cannot parse this version");
  }
  Reader r(frame);
  kafka::ResponseHeader header;
  KGW_RETURN_IF_ERROR(header.Decode(r, header_version));
  const size_t header_size = r.position();
  KGW_ASSIGN_OR_RETURN(std::optional<std::vector<uint8_t>> body,
                       RewriteResponse(api_key, api_version, frame.subspan(header_size),
                                       address_for, brokers_seen));
  if (!body) return std::nullopt;
  std::vector<uint8_t> out;
  out.reserve(kafka::kFrameSizeBytes + header_size + body->size());
  kafka::AppendFrameSize(out, static_cast<uint32_t>(header_size + body->size()));
  out.insert(out.end(), frame.begin(), frame.begin() + static_cast<ptrdiff_t>(header_size));
  out.insert(out.end(), body->begin(), body->end());
  return out;
}

std::optional<VersionRange> IntersectApiVersions(int16_t api_key, VersionRange broker) {
  const ApiRule* rule = FindRule(api_key);
  if (rule == nullptr || !rule->capped) return broker;
  const kafka::ApiInfo* codec = kafka::FindApi(api_key);
  if (codec == nullptr) return broker;
  VersionRange r{std::max(broker.min_version, codec->min_version),
                 std::min(broker.max_version, codec->max_version)};
  if (r.min_version > r.max_version) return std::nullopt;
  return r;
}

}  // namespace kgw::agent
