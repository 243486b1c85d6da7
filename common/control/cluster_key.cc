#include "common/control/cluster_key.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "glog/logging.h"
#include "openssl/crypto.h"
#include "openssl/evp.h"
#include "openssl/hmac.h"
#include "openssl/sha.h"

namespace kgw::control {
namespace {

constexpr char kNodeDomain[] = "kgw-node-v1";
constexpr char kAssignmentDomain[] = "kgw-assignment-v1";
constexpr char kStreamDomain[] = "kgw-agent-stream-v1";

std::string KeyId(const std::string& secret) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), 4));
}

// What identifies a version of the key file: a rename into place, a rewrite
// in place and Kubernetes' symlink swap of a mounted Secret all change it.
std::string FileStamp(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return "";
  return absl::StrCat(st.st_dev, ":", st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".",
                      st.st_mtim.tv_nsec);
}

absl::StatusOr<ClusterKeys> ReadKeyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read key file ", path));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<ClusterKeys> keys = ParseClusterKeys(text.str());
  if (!keys.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("key file ", path, ": ", keys.status().message()));
  }
  return keys;
}

}  // namespace

absl::StatusOr<ClusterKeys> ParseClusterKeys(const std::string& text) {
  ClusterKeys out;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    if (line.size() < kMinKeyLength) {
      return absl::InvalidArgumentError(absl::StrCat("the key on line ", line_number, " has ",
                                                     line.size(), " characters; at least ",
                                                     kMinKeyLength, " are needed"));
    }
    ClusterKeys::Key key{.id = "", .secret = std::string(line)};
    key.id = KeyId(key.secret);
    for (const ClusterKeys::Key& k : out.keys) {
      if (k.id == key.id) {
        return absl::InvalidArgumentError(
            absl::StrCat("the key on line ", line_number, " is there twice"));
      }
    }
    out.keys.push_back(std::move(key));
  }
  if (out.keys.empty()) return absl::InvalidArgumentError("no key in it");
  if (out.keys.size() > 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        out.keys.size(), " keys; at most two (the one that signs, and one more during a "
                         "rotation)"));
  }
  return out;
}

ClusterKey::ClusterKey(std::string cluster_id, ClusterKeys keys)
    : snapshot_(std::make_shared<Snapshot>(
          Snapshot{.cluster_id = std::move(cluster_id), .keys = std::move(keys)})) {}

absl::StatusOr<std::shared_ptr<ClusterKey>> ClusterKey::FromFile(std::string cluster_id,
                                                                 std::string path,
                                                                 absl::Duration check_interval) {
  const std::string stamp = FileStamp(path);
  absl::StatusOr<ClusterKeys> keys = ReadKeyFile(path);
  if (!keys.ok()) return keys.status();
  auto key = std::make_shared<ClusterKey>(std::move(cluster_id), *std::move(keys));
  key->path_ = std::move(path);
  key->check_interval_ = check_interval;
  std::lock_guard<std::mutex> lock(key->mu_);
  key->file_stamp_ = stamp;
  key->next_check_ = absl::Now() + check_interval;
  return key;
}

std::shared_ptr<const ClusterKey::Snapshot> ClusterKey::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (path_.empty() || absl::Now() < next_check_) return snapshot_;
  next_check_ = absl::Now() + check_interval_;
  const std::string stamp = FileStamp(path_);
  if (stamp == file_stamp_) return snapshot_;
  file_stamp_ = stamp;
  absl::StatusOr<ClusterKeys> keys = ReadKeyFile(path_);
  if (!keys.ok()) {
    LOG(ERROR) << keys.status().message() << "; keeping the keys read before";
    return snapshot_;
  }
  std::string ids;
  for (const ClusterKeys::Key& k : keys->keys) absl::StrAppend(&ids, ids.empty() ? "" : ", ", k.id);
  LOG(INFO) << "read the cluster keys again from " << path_ << ": " << ids << " (signing with "
            << keys->keys.front().id << ")";
  snapshot_ = std::make_shared<Snapshot>(
      Snapshot{.cluster_id = snapshot_->cluster_id, .keys = *std::move(keys)});
  return snapshot_;
}

bool ClusterKey::enabled() const { return Current() != nullptr; }

std::string ClusterKey::Mac(const Snapshot& s, const ClusterKeys::Key& key, const char* domain,
                            const std::string& payload) {
  const std::string message = absl::StrCat(domain, std::string(1, '\0'), s.cluster_id,
                                           std::string(1, '\0'), payload);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.secret.data(), static_cast<int>(key.secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &length);
  return std::string(reinterpret_cast<const char*>(out), length);
}

absl::Status ClusterKey::Verify(const Snapshot& s, const char* what, const char* domain,
                                const std::string& payload, const std::string& key_id,
                                const std::string& proof) {
  if (proof.empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat(what, " carries no proof of the cluster key"));
  }
  for (const ClusterKeys::Key& k : s.keys.keys) {
    if (k.id != key_id) continue;
    const std::string expected = Mac(s, k, domain, payload);
    if (proof.size() == expected.size() &&
        CRYPTO_memcmp(proof.data(), expected.data(), expected.size()) == 0) {
      return absl::OkStatus();
    }
    return absl::UnauthenticatedError(
        absl::StrCat(what, " has a proof that key ", key_id, " did not make"));
  }
  return absl::UnauthenticatedError(
      absl::StrCat(what, " is signed with key \"", absl::CEscape(key_id.substr(0, 16)),
                   "\", which this node does not hold"));
}

void ClusterKey::SignDescriptor(v1::NodeDescriptor& d) const {
  std::shared_ptr<const Snapshot> s = Current();
  d.clear_proof();
  d.clear_key_id();
  if (!s) return;
  d.set_key_id(s->keys.keys.front().id);
  d.set_proof(Mac(*s, s->keys.keys.front(), kNodeDomain, d.SerializeAsString()));
}

absl::Status ClusterKey::VerifyDescriptor(const v1::NodeDescriptor& d) const {
  std::shared_ptr<const Snapshot> s = Current();
  if (!s) return absl::OkStatus();
  v1::NodeDescriptor unsigned_copy = d;
  unsigned_copy.clear_proof();
  return Verify(*s, "the node descriptor", kNodeDomain, unsigned_copy.SerializeAsString(),
                d.key_id(), d.proof());
}

void ClusterKey::SignAssignment(v1::Assignment& a) const {
  std::shared_ptr<const Snapshot> s = Current();
  a.clear_proof();
  a.clear_key_id();
  if (!s) return;
  a.set_key_id(s->keys.keys.front().id);
  a.set_proof(Mac(*s, s->keys.keys.front(), kAssignmentDomain, a.SerializeAsString()));
}

absl::Status ClusterKey::VerifyAssignment(const v1::Assignment& a) const {
  std::shared_ptr<const Snapshot> s = Current();
  if (!s) return absl::OkStatus();
  v1::Assignment unsigned_copy = a;
  unsigned_copy.clear_proof();
  return Verify(*s, "the assignment", kAssignmentDomain, unsigned_copy.SerializeAsString(),
                a.key_id(), a.proof());
}

void ClusterKey::SignStreamHello(v1::AgentMessage& m) const {
  std::shared_ptr<const Snapshot> s = Current();
  m.clear_proof();
  m.clear_key_id();
  if (!s) return;
  m.set_key_id(s->keys.keys.front().id);
  m.set_proof(Mac(*s, s->keys.keys.front(), kStreamDomain,
                  absl::StrCat(m.node().SerializeAsString(), std::string(1, '\0'),
                               m.sent_at_ms())));
}

absl::Status ClusterKey::VerifyStreamHello(const v1::AgentMessage& m, absl::Time now) const {
  std::shared_ptr<const Snapshot> s = Current();
  if (!s) return absl::OkStatus();
  const absl::Duration skew = absl::FromUnixMillis(m.sent_at_ms()) - now;
  if (skew > kStreamProofWindow || skew < -kStreamProofWindow) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the stream's first message was sent ", absl::FormatDuration(absl::AbsDuration(skew)),
        " away from this node's clock (at most ", absl::FormatDuration(kStreamProofWindow),
        " allowed): a replay, or clocks that need synchronising"));
  }
  return Verify(*s, "the stream's first message", kStreamDomain,
                absl::StrCat(m.node().SerializeAsString(), std::string(1, '\0'), m.sent_at_ms()),
                m.key_id(), m.proof());
}

absl::StatusOr<std::shared_ptr<ClusterKey>> LoadClusterKey(
    const config::GatewayNodeConfig& node) {
  if (node.cluster_key_file.empty()) {
    LOG(WARNING) << "GATEWAY_CLUSTER_KEY_FILE is not set: the control plane is not "
                 << "authenticated, and any Kafka client allowed to join group " << node.group_id
                 << " or to write its assignments topic can steer where clients go (see "
                 << "docs/security.md)";
    return std::make_shared<ClusterKey>();
  }
  absl::StatusOr<std::shared_ptr<ClusterKey>> key =
      ClusterKey::FromFile(node.cluster_id, node.cluster_key_file);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid GATEWAY_CLUSTER_KEY_FILE: ", key.status().message()));
  }
  return key;
}

}  // namespace kgw::control
