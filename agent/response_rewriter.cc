#include "agent/response_rewriter.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/kafka/messages/all_messages.h"
#include "common/kafka/messages/api_registry.h"
#include "common/kafka/metadata_rewrite.h"
#include "common/kafka/node_endpoints.h"
#include "common/kafka/wire/reader.h"
#include "common/kafka/wire/writer.h"
#include "common/status/status_macros.h"

namespace kgw::agent {
namespace {

using kafka::Reader;
using kafka::Writer;

// APIs whose requests or responses the agent parses; their versions are
// capped to the codec's in ApiVersions answers.
constexpr int16_t kParsedApis[] = {
    kafka::ProduceResponse::kApiKey,          kafka::FetchResponse::kApiKey,
    kafka::MetadataResponse::kApiKey,         kafka::FindCoordinatorResponse::kApiKey,
    kafka::SaslHandshakeResponse::kApiKey,    kafka::ApiVersionsResponse::kApiKey,
    kafka::DescribeQuorumResponse::kApiKey,   kafka::DescribeClusterResponse::kApiKey,
    kafka::ShareFetchResponse::kApiKey,       kafka::ShareAcknowledgeResponse::kApiKey,
};

// First versions carrying KIP-951 NodeEndpoints.
constexpr int16_t kFirstProduceNodeEndpoints = 10;
constexpr int16_t kFirstFetchNodeEndpoints = 16;

bool IsParsed(int16_t api_key) {
  return std::find(std::begin(kParsedApis), std::end(kParsedApis), api_key) !=
         std::end(kParsedApis);
}

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
    absl::Span<const uint8_t> body, int16_t version, AddressFor address_for) {
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
    absl::Span<const uint8_t> body, int16_t version, AddressFor address_for) {
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
    absl::Span<const uint8_t> body, int16_t version, AddressFor address_for) {
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
    absl::Span<const uint8_t> body, int16_t version, AddressFor address_for) {
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
    absl::Span<const uint8_t> body, int16_t version, AddressFor address_for) {
  Response m;
  KGW_RETURN_IF_ERROR(DecodeWhole(body, version, &m));
  if (m.node_endpoints.empty()) return std::nullopt;
  RewriteEndpoints(m.node_endpoints, address_for);
  return EncodeBody(m, version);
}

absl::StatusOr<std::optional<std::vector<uint8_t>>> RewriteApiVersions(
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

}  // namespace

bool MayRewrite(int16_t api_key, int16_t api_version) {
  switch (api_key) {
    case kafka::ProduceResponse::kApiKey:
      return api_version >= kFirstProduceNodeEndpoints;
    case kafka::FetchResponse::kApiKey:
      return api_version >= kFirstFetchNodeEndpoints;
    case kafka::MetadataResponse::kApiKey:
    case kafka::FindCoordinatorResponse::kApiKey:
    case kafka::ApiVersionsResponse::kApiKey:
    case kafka::DescribeQuorumResponse::kApiKey:
    case kafka::DescribeClusterResponse::kApiKey:
    case kafka::ShareFetchResponse::kApiKey:
    case kafka::ShareAcknowledgeResponse::kApiKey:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<std::optional<std::vector<uint8_t>>> RewriteResponse(
    int16_t api_key, int16_t api_version, absl::Span<const uint8_t> body, AddressFor address_for,
    BrokersSeen brokers_seen) {
  switch (api_key) {
    case kafka::ProduceResponse::kApiKey:
      if (api_version < kFirstProduceNodeEndpoints) return std::nullopt;
      return RewriteNodeEndpointsIfAny<kafka::ProduceResponse>(body, api_version, address_for);
    case kafka::FetchResponse::kApiKey:
      if (api_version < kFirstFetchNodeEndpoints) return std::nullopt;
      return RewriteNodeEndpointsIfAny<kafka::FetchResponse>(body, api_version, address_for);
    case kafka::MetadataResponse::kApiKey:
      return RewriteMetadata(body, api_version, address_for, brokers_seen);
    case kafka::FindCoordinatorResponse::kApiKey:
      return RewriteFindCoordinator(body, api_version, address_for);
    case kafka::DescribeClusterResponse::kApiKey:
      return RewriteDescribeCluster(body, api_version, address_for);
    case kafka::DescribeQuorumResponse::kApiKey:
      return RewriteDescribeQuorum(body, api_version, address_for);
    case kafka::ShareFetchResponse::kApiKey:
      return RewriteShareResponse<kafka::ShareFetchResponse>(body, api_version, address_for);
    case kafka::ShareAcknowledgeResponse::kApiKey:
      return RewriteShareResponse<kafka::ShareAcknowledgeResponse>(body, api_version,
                                                                   address_for);
    case kafka::ApiVersionsResponse::kApiKey:
      return RewriteApiVersions(body, api_version);
    default:
      return std::nullopt;
  }
}

std::optional<VersionRange> IntersectApiVersions(int16_t api_key, VersionRange broker) {
  if (!IsParsed(api_key)) return broker;
  const kafka::ApiInfo* codec = kafka::FindApi(api_key);
  if (codec == nullptr) return broker;
  VersionRange r{std::max(broker.min_version, codec->min_version),
                 std::min(broker.max_version, codec->max_version)};
  if (r.min_version > r.max_version) return std::nullopt;
  return r;
}

}  // namespace kgw::agent
