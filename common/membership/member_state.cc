#include "common/membership/member_state.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/config/settings.h"

namespace kgw::membership {
namespace {

absl::Status CheckField(const char* name, const std::string& value, size_t max_length,
                        bool required) {
  if (required && value.empty()) return absl::InvalidArgumentError(absl::StrCat(name, " is empty"));
  if (value.size() > max_length) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " is ", value.size(), " bytes long; at most ", max_length, " allowed"));
  }
  // What configuration accepts for ids, hosts and racks.
  if (!config::IsVisibleAscii(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " holds spaces, control or non-ASCII characters"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateDescriptor(const v1::NodeDescriptor& d) {
  absl::Status s = CheckField("node_id", d.node_id(), kMaxNodeIdLength, true);
  if (s.ok()) s = CheckField("rack", d.rack(), kMaxRackLength, false);
  if (s.ok()) s = CheckField("version", d.version(), kMaxVersionLength, false);
  if (s.ok()) s = CheckField("grpc_endpoint", d.grpc_endpoint(), kMaxEndpointLength, false);
  const bool agent = d.role() == v1::NodeDescriptor::ROLE_AGENT ||
                     d.role() == v1::NodeDescriptor::ROLE_SIDECAR;
  if (s.ok()) s = CheckField("advertised_host", d.advertised_host(), kMaxHostLength, agent);
  if (!s.ok()) return s;
  if (!agent && d.role() != v1::NodeDescriptor::ROLE_COORDINATOR) {
    return absl::InvalidArgumentError(absl::StrCat("role ", d.role(), " is neither agent, "
                                                   "sidecar nor coordinator"));
  }
  if (d.weight() > kMaxWeight) {
    return absl::InvalidArgumentError(
        absl::StrCat("weight ", d.weight(), " is above the maximum of ", kMaxWeight));
  }
  if (agent && (d.port_start() < 1 || d.port_start() > 65535)) {
    return absl::InvalidArgumentError(absl::StrCat("port_start ", d.port_start(),
                                                   " is not a port"));
  }
  if (d.min_broker_id() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_broker_id ", d.min_broker_id(), " is negative"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::NodeDescriptor> ParseDescriptor(const std::vector<uint8_t>& metadata) {
  v1::NodeDescriptor d;
  if (!d.ParseFromArray(metadata.data(), static_cast<int>(metadata.size()))) {
    return absl::InvalidArgumentError("the metadata is not a node descriptor");
  }
  if (absl::Status s = ValidateDescriptor(d); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid node descriptor: ", s.message()));
  }
  if (d.role() == v1::NodeDescriptor::ROLE_SIDECAR) {
    return absl::InvalidArgumentError("a sidecar agent is never a member of the gateway group");
  }
  return d;
}

void SortMembers(std::vector<v1::Member>& members) {
  std::sort(members.begin(), members.end(), [](const v1::Member& a, const v1::Member& b) {
    return std::tie(a.node().node_id(), a.member_id()) <
           std::tie(b.node().node_id(), b.member_id());
  });
}

std::vector<v1::Member> DropDuplicateNodeIds(std::vector<v1::Member>& members) {
  std::vector<v1::Member> dropped;
  std::vector<v1::Member> kept;
  kept.reserve(members.size());
  for (v1::Member& m : members) {
    if (!kept.empty() && kept.back().node().node_id() == m.node().node_id()) {
      dropped.push_back(std::move(m));
    } else {
      kept.push_back(std::move(m));
    }
  }
  members = std::move(kept);
  return dropped;
}

v1::Membership MemberAssignment(int32_t generation_id, const std::vector<v1::Member>& members) {
  const v1::NodeDescriptor* leader = nullptr;
  for (const v1::Member& m : members) {
    if (m.node().role() == v1::NodeDescriptor::ROLE_COORDINATOR &&
        (leader == nullptr || m.node().node_id() < leader->node_id())) {
      leader = &m.node();
    }
  }
  v1::Membership out;
  out.set_generation_id(generation_id);
  out.set_member_count(static_cast<int32_t>(members.size()));
  out.set_coordinators_only(true);
  // The whole descriptor, so that every member can check its proof of the
  // cluster key; no member id.
  if (leader != nullptr) *out.add_members()->mutable_node() = *leader;
  return out;
}

}  // namespace kgw::membership
