// What the gateway group holds for each member, and the bounds that keep it
// small whatever the size of the fleet.
//
// Kafka stores, per member of a classic group, the member's metadata (here its
// NodeDescriptor) and the assignment the group leader gave it at SyncGroup.
// Both are bounded: a descriptor's fields are validated (ValidateDescriptor),
// and the assignment names only the leading coordinator, plus the size of the
// membership (MemberAssignment). The whole membership
// never travels through SyncGroup: coordinators read it with DescribeGroups,
// agents learn the fleet from the coordinators' assignment stream.
//
// Pure functions; any thread.
#ifndef KGW_COMMON_MEMBERSHIP_MEMBER_STATE_H_
#define KGW_COMMON_MEMBERSHIP_MEMBER_STATE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kgw/v1/node.pb.h"

namespace kgw::membership {

// Bounds of a descriptor's fields. GATEWAY_NODE_ID, GATEWAY_RACK_ID and
// GATEWAY_ADVERTISED_HOST are checked against the same bounds at start-up.
inline constexpr size_t kMaxNodeIdLength = 260;  // the default is host:port
inline constexpr size_t kMaxHostLength = 253;
inline constexpr size_t kMaxRackLength = 64;
inline constexpr size_t kMaxVersionLength = 32;
inline constexpr size_t kMaxEndpointLength = 260;
inline constexpr uint32_t kMaxWeight = 10000;

// Kafka keeps a classic group's whole state, every member's metadata and
// assignment, in one record of its offsets topic, whose size limit
// (max.message.bytes, 1 MB by default) therefore bounds the fleet: 350 to 400
// bytes per member with the cluster key (Kafka's own fields included), some
// 2,500 to 2,900 members. kMaxAssignmentBytes bounds one member's assignment: the
// leading coordinator's descriptor at the largest its fields allow.
inline constexpr size_t kMaxAssignmentBytes = 1024;

// OK when every field of `d` is within its bounds and makes sense for its
// role; otherwise InvalidArgument naming the field.
absl::Status ValidateDescriptor(const v1::NodeDescriptor& d);

// A member's metadata as a valid descriptor; InvalidArgument otherwise.
absl::StatusOr<v1::NodeDescriptor> ParseDescriptor(const std::vector<uint8_t>& metadata);

// Orders members by node id, then member id (the order every view uses).
void SortMembers(std::vector<v1::Member>& members);

// Keeps one member per node id in sorted `members` (the first: every member
// that reads the same membership keeps the same one) and returns the others.
// With static membership Kafka itself keeps node ids unique; a duplicate is a
// member without a group instance id (an older kgw, or a plain client).
std::vector<v1::Member> DropDuplicateNodeIds(std::vector<v1::Member>& members);

// The SyncGroup assignment of every member of a generation whose members are
// `members` (any order): the leading coordinator's descriptor (the smallest
// node id; with its proof of the cluster key, without member id) and the
// number of members. Its size depends on neither the number of agents nor of
// coordinators: each member's copy is stored in the group's one record, so
// naming every coordinator would cost the fleet its size times theirs. An
// agent needs only the leader, which streams it everything else; with none,
// the list is empty.
v1::Membership MemberAssignment(int32_t generation_id, const std::vector<v1::Member>& members);

}  // namespace kgw::membership

#endif  // KGW_COMMON_MEMBERSHIP_MEMBER_STATE_H_
