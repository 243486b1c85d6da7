// How an assignment travels: its compact form and the deltas between two.
//
// A kgw.v1.Assignment names each distinct set of eligible agents once
// (agent_sets) and every broker points at its set, so its size grows with
// brokers plus agents. Records of earlier versions list each broker's agents
// itself; EligibleIds reads both forms.
//
// On an agent's stream the coordinator sends the whole assignment first and
// then, for each newer one, only what changed (MakeDelta). The agent applies
// it to the one it holds (ApplyDelta), which checks the result against the
// digest the coordinator computed, so a delta can never silently yield an
// assignment the coordinator did not make. The cluster key's proof travels in
// the delta and is verified on the result as on any assignment.
//
// Deltas rely on the canonical order BuildAssignment produces: agents sorted
// by node id, brokers by broker id, each agent set sorted. MakeDelta declines
// (nullopt: send the whole assignment) for anything else.
//
// Pure functions; any thread. Depends only on the protos and OpenSSL, so that
// kgwctl can read assignments without the rest of the control plane.
#ifndef KGW_COMMON_CONTROL_ASSIGNMENT_WIRE_H_
#define KGW_COMMON_CONTROL_ASSIGNMENT_WIRE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "kgw/v1/assignment.pb.h"

namespace kgw::control {

// The node ids of the agents eligible for `broker` (one of `a`'s brokers):
// its agent set, or its own list in a record that has none. An index out of
// range names nobody.
const google::protobuf::RepeatedPtrField<std::string>& EligibleIds(
    const v1::Assignment& a, const v1::BrokerAssignment& broker);

// `a` with every broker's eligible agents listed in agent_node_ids and no
// agent_sets: the form people read (kgwctl). Its size is brokers × agents.
v1::Assignment Expanded(const v1::Assignment& a);

// Node id -> the ids of the brokers `a` makes it eligible for, in `a`'s order.
absl::flat_hash_map<std::string, std::vector<int32_t>> BrokersByAgent(const v1::Assignment& a);

// SHA-256 of `a` serialized.
std::string AssignmentDigest(const v1::Assignment& a);

// What turns `from` into `to`; nullopt when either is not in canonical order.
std::optional<v1::AssignmentDelta> MakeDelta(const v1::Assignment& from,
                                             const v1::Assignment& to);

// `base` with `delta` applied. FailedPrecondition when `delta` was made for
// another assignment than `base`; DataLoss when the result does not match
// the digest or an edit does not fit.
absl::StatusOr<v1::Assignment> ApplyDelta(const v1::Assignment& base,
                                          const v1::AssignmentDelta& delta);

}  // namespace kgw::control

#endif  // KGW_COMMON_CONTROL_ASSIGNMENT_WIRE_H_
