#include "common/assignment/rendezvous.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/types/span.h"

namespace kgw::assignment {
namespace {

constexpr uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;
constexpr uint32_t kDefaultCandidateWeight = 100;

uint64_t FnvByte(uint64_t h, unsigned char byte) { return (h ^ byte) * kFnvPrime; }

uint64_t FnvBytes(uint64_t h, std::string_view bytes) {
  for (char c : bytes) h = FnvByte(h, static_cast<unsigned char>(c));
  return h;
}

uint64_t SplitMix64Finalize(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t StableHash64(std::string_view a, std::string_view b) {
  uint64_t h = kFnvOffsetBasis;
  const uint64_t length = a.size();
  for (int shift = 0; shift < 64; shift += 8) {
    h = FnvByte(h, static_cast<unsigned char>(length >> shift));
  }
  h = FnvBytes(h, a);
  h = FnvBytes(h, b);
  return SplitMix64Finalize(h);
}

double RendezvousScore(std::string_view key, std::string_view node_id, uint32_t weight) {
  const uint64_t top53 = StableHash64(key, node_id) >> 11;
  const double u = (static_cast<double>(top53) + 0.5) / 9007199254740992.0;  // 2^53
  const double w = weight == 0 ? kDefaultCandidateWeight : weight;
  return -w / std::log(u);
}

std::string ClientKey(std::string_view client_id, std::string_view client_host) {
  std::string key = std::to_string(client_id.size());
  key.reserve(key.size() + 1 + client_id.size() + client_host.size());
  key += ':';
  key += client_id;
  key += client_host;
  return key;
}

int PickCandidate(std::string_view key, absl::Span<const Candidate> candidates) {
  int best = -1;
  double best_score = 0;
  for (int i = 0; i < static_cast<int>(candidates.size()); ++i) {
    const double score = RendezvousScore(key, candidates[i].node_id, candidates[i].weight);
    if (best < 0 || score > best_score ||
        (score == best_score && candidates[i].node_id < candidates[best].node_id)) {
      best = i;
      best_score = score;
    }
  }
  return best;
}

}  // namespace kgw::assignment
