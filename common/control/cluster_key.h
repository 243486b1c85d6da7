// The gateway cluster's shared key: what makes a gateway node one of ours.
//
// Everything that steers where clients go is authenticated with an HMAC-SHA256
// under a key only the gateway's own nodes hold (GATEWAY_CLUSTER_KEY_FILE):
//
// - a node's descriptor, as group member metadata: a member without a valid
//   proof does not count (no brokers, never a leader, never streamed from);
// - every assignment, as stored in the assignments topic and as streamed to
//   agents: agents and coordinators refuse one without a valid proof;
// - the first message of an agent's stream, over the descriptor and the time
//   it was sent, so it cannot be replayed later than kStreamProofWindow.
//
// Each proof names the key that made it (an id derived from the key), and a
// key file holds one or two keys: the first signs, all of them verify. So a
// key is rotated without restarting the fleet: add the new key second on every
// node, then put it first, then remove the old one; nodes read the file again
// when it changes (checked at most every 10 s).
//
// Each kind of proof covers a domain label and the cluster id too, so a proof
// made for one purpose or one gateway cluster is worth nothing in another.
//
// Thread-safe.
#ifndef KGW_COMMON_CONTROL_CLUSTER_KEY_H_
#define KGW_COMMON_CONTROL_CLUSTER_KEY_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config/gateway_settings.h"
#include "kgw/v1/assignment.pb.h"
#include "kgw/v1/node.pb.h"

namespace kgw::control {

// Keys shorter than this are refused: an HMAC key should carry 256 bits.
inline constexpr size_t kMinKeyLength = 32;
// How far an agent stream's first message may be from this node's clock.
inline constexpr absl::Duration kStreamProofWindow = absl::Minutes(2);

// One parsed key file.
struct ClusterKeys {
  struct Key {
    std::string id;      // 8 hex digits of the key's SHA-256
    std::string secret;  // the key as written in the file
  };
  std::vector<Key> keys;  // the first signs; every one verifies
};

// Parses a key file: one key per line (at least kMinKeyLength characters,
// e.g. `openssl rand -base64 48`), blank lines and lines starting with '#'
// ignored, one or two keys.
absl::StatusOr<ClusterKeys> ParseClusterKeys(const std::string& text);

class ClusterKey {
 public:
  // No key: nothing is signed and everything verifies (an unauthenticated
  // control plane, as before keys existed); the owner warns about it.
  ClusterKey() = default;
  ClusterKey(std::string cluster_id, ClusterKeys keys);

  // Reads `path` now (InvalidArgument naming the file when it cannot), and
  // again whenever the file changes; a file that stops parsing leaves the
  // keys in force and is logged.
  static absl::StatusOr<std::shared_ptr<ClusterKey>> FromFile(
      std::string cluster_id, std::string path, absl::Duration check_interval = absl::Seconds(10));

  bool enabled() const;

  // Stamps key_id and proof into `d` (nothing without a key).
  void SignDescriptor(v1::NodeDescriptor& d) const;
  // OK without a key or with a valid proof; Unauthenticated otherwise.
  absl::Status VerifyDescriptor(const v1::NodeDescriptor& d) const;

  void SignAssignment(v1::Assignment& a) const;
  absl::Status VerifyAssignment(const v1::Assignment& a) const;

  // The first message of an agent stream: its descriptor and sent_at_ms set,
  // key_id and proof stamped here.
  void SignStreamHello(v1::AgentMessage& m) const;
  // Also refuses a message sent more than kStreamProofWindow away from `now`.
  absl::Status VerifyStreamHello(const v1::AgentMessage& m, absl::Time now) const;

 private:
  struct Snapshot {
    std::string cluster_id;
    ClusterKeys keys;
  };
  std::shared_ptr<const Snapshot> Current() const;
  // HMAC-SHA256 of domain, cluster id and `payload` under the key `key_id`;
  // empty when there is no such key.
  static std::string Mac(const Snapshot& s, const ClusterKeys::Key& key, const char* domain,
                         const std::string& payload);
  static absl::Status Verify(const Snapshot& s, const char* what, const char* domain,
                             const std::string& payload, const std::string& key_id,
                             const std::string& proof);

  std::string path_;  // empty: keys never change
  absl::Duration check_interval_;
  mutable std::mutex mu_;
  mutable std::shared_ptr<const Snapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  mutable absl::Time next_check_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  mutable std::string file_stamp_ ABSL_GUARDED_BY(mu_);
};

// The key of GATEWAY_CLUSTER_KEY_FILE for this node, or no key (logged as a
// warning: any Kafka client that may join the group can pose as a node).
absl::StatusOr<std::shared_ptr<ClusterKey>> LoadClusterKey(
    const config::GatewayNodeConfig& node);

}  // namespace kgw::control

#endif  // KGW_COMMON_CONTROL_CLUSTER_KEY_H_
