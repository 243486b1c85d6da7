// Weighted rendezvous (highest random weight) hashing: which of a broker's eligible agents
// (assignment.h) serves a given client.
//
// Every agent and coordinator must pick the same agent for the same client, so the hash is
// defined here byte for byte and does not depend on the process, build or machine (absl::Hash is
// seeded per process and must not be used for this). Each candidate gets a score from the hash of
// (client key, node id) and its weight; the highest score wins. With weights w_i a key lands on
// candidate i with probability w_i / sum(w), and removing a candidate moves only the keys that
// were on it. All functions are pure and may be called from any thread.
#ifndef KGW_COMMON_ASSIGNMENT_RENDEZVOUS_H_
#define KGW_COMMON_ASSIGNMENT_RENDEZVOUS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/types/span.h"

namespace kgw::assignment {

struct Candidate {
  std::string_view node_id;
  // 0 means 100, as for Agent::weight.
  uint32_t weight = 100;
};

// 64-bit FNV-1a (offset basis 0xcbf29ce484222325, prime 0x100000001b3) over: the length of `a`
// as 8 bytes little-endian, the bytes of `a`, the bytes of `b`; then the splitmix64 finaliser
// z ^= z >> 30; z *= 0xbf58476d1ce4e5b9; z ^= z >> 27; z *= 0x94d049bb133111eb; z ^= z >> 31.
// The length prefix keeps ("ab", "c") and ("a", "bc") apart.
uint64_t StableHash64(std::string_view a, std::string_view b);

// -weight / ln(u), with u = (h + 0.5) / 2^53 in (0, 1) and h the top 53 bits of
// StableHash64(key, node_id). (53 bits because a double holds no more: with all 64, u would round
// to 1 for the largest hashes.) Weight 0 means 100.
double RendezvousScore(std::string_view key, std::string_view node_id, uint32_t weight);

// The rendezvous key of a client: its decimal client id length, ':', the client id, then the
// client's host. Pass the host as an IP address without port, so that every connection of a
// client from one machine maps to the same agent.
std::string ClientKey(std::string_view client_id, std::string_view client_host);

// Index in `candidates` of the highest-scoring candidate for `key`; ties go to the smaller node
// id, then the smaller index. -1 when `candidates` is empty.
int PickCandidate(std::string_view key, absl::Span<const Candidate> candidates);

}  // namespace kgw::assignment

#endif  // KGW_COMMON_ASSIGNMENT_RENDEZVOUS_H_
