#include "common/control/assignment_wire.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "openssl/sha.h"

namespace kgw::control {
namespace {

using Ids = google::protobuf::RepeatedPtrField<std::string>;

bool StrictlySorted(const Ids& ids) {
  return std::adjacent_find(ids.begin(), ids.end(), std::greater_equal<>()) == ids.end();
}

bool Canonical(const v1::Assignment& a) {
  for (int i = 1; i < a.agents_size(); ++i) {
    if (a.agents(i - 1).node_id() >= a.agents(i).node_id()) return false;
  }
  for (int i = 1; i < a.brokers_size(); ++i) {
    if (a.brokers(i - 1).broker_id() >= a.brokers(i).broker_id()) return false;
  }
  for (const v1::AgentSet& s : a.agent_sets()) {
    if (!StrictlySorted(s.agent_node_ids())) return false;
  }
  return true;
}

bool SameMessage(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  return a.SerializeAsString() == b.SerializeAsString();
}

// `from` and `to` are sorted by `key`: one merge finds the keys that went
// (into `removed`) and the entries new or changed (into `upserted`).
template <typename Entry, typename Key, typename Removed>
void DiffSorted(const google::protobuf::RepeatedPtrField<Entry>& from,
                const google::protobuf::RepeatedPtrField<Entry>& to, Key key, Removed* removed,
                google::protobuf::RepeatedPtrField<Entry>* upserted) {
  auto old = from.begin();
  for (const Entry& e : to) {
    for (; old != from.end() && key(*old) < key(e); ++old) removed->Add(key(*old));
    if (old != from.end() && key(*old) == key(e)) {
      if (!SameMessage(*old++, e)) *upserted->Add() = e;
    } else {
      *upserted->Add() = e;
    }
  }
  for (; old != from.end(); ++old) removed->Add(key(*old));
}

}  // namespace

const Ids& EligibleIds(const v1::Assignment& a, const v1::BrokerAssignment& broker) {
  static const Ids* const kNone = new Ids();
  if (broker.agent_set() == 0) return broker.agent_node_ids();
  if (broker.agent_set() < 0 || broker.agent_set() > a.agent_sets_size()) return *kNone;
  return a.agent_sets(broker.agent_set() - 1).agent_node_ids();
}

v1::Assignment Expanded(const v1::Assignment& a) {
  v1::Assignment out = a;
  out.clear_agent_sets();
  for (int i = 0; i < a.brokers_size(); ++i) {
    v1::BrokerAssignment* b = out.mutable_brokers(i);
    *b->mutable_agent_node_ids() = EligibleIds(a, a.brokers(i));
    b->clear_agent_set();
  }
  return out;
}

absl::flat_hash_map<std::string, std::vector<int32_t>> BrokersByAgent(const v1::Assignment& a) {
  absl::flat_hash_map<std::string, std::vector<int32_t>> out;
  for (const v1::BrokerAssignment& b : a.brokers()) {
    for (const std::string& id : EligibleIds(a, b)) out[id].push_back(b.broker_id());
  }
  return out;
}

std::string AssignmentDigest(const v1::Assignment& a) {
  const std::string bytes = a.SerializeAsString();
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

std::optional<v1::AssignmentDelta> MakeDelta(const v1::Assignment& from,
                                             const v1::Assignment& to) {
  if (!Canonical(from) || !Canonical(to)) return std::nullopt;
  v1::AssignmentDelta d;
  d.set_base_epoch(from.epoch());
  d.set_base_generation_id(from.generation_id());
  d.set_base_revision(from.revision());
  v1::Assignment* stamps = d.mutable_stamps();
  *stamps = to;
  stamps->clear_brokers();
  stamps->clear_agents();
  stamps->clear_agent_sets();

  DiffSorted(from.agents(), to.agents(), [](const v1::AgentEndpoint& e) { return e.node_id(); },
             d.mutable_removed_agents(), d.mutable_upserted_agents());
  DiffSorted(from.brokers(), to.brokers(),
             [](const v1::BrokerAssignment& b) { return b.broker_id(); },
             d.mutable_removed_brokers(), d.mutable_upserted_brokers());

  d.set_agent_set_count(to.agent_sets_size());
  static const Ids* const kEmpty = new Ids();
  for (int s = 0; s < to.agent_sets_size(); ++s) {
    const Ids& before = s < from.agent_sets_size() ? from.agent_sets(s).agent_node_ids() : *kEmpty;
    const Ids& after = to.agent_sets(s).agent_node_ids();
    if (std::equal(before.begin(), before.end(), after.begin(), after.end())) continue;
    v1::AgentSetEdit* edit = d.add_agent_set_edits();
    edit->set_index(s + 1);
    std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                        google::protobuf::RepeatedFieldBackInserter(edit->mutable_added()));
    std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                        google::protobuf::RepeatedFieldBackInserter(edit->mutable_removed()));
  }
  d.set_digest(AssignmentDigest(to));
  return d;
}

absl::StatusOr<v1::Assignment> ApplyDelta(const v1::Assignment& base,
                                          const v1::AssignmentDelta& delta) {
  if (delta.base_epoch() != base.epoch() || delta.base_generation_id() != base.generation_id() ||
      delta.base_revision() != base.revision()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the delta applies to epoch ", delta.base_epoch(), ", generation ",
        delta.base_generation_id(), ", revision ", delta.base_revision(), "; the one held is ",
        base.epoch(), "/", base.generation_id(), "/", base.revision()));
  }
  if (!Canonical(base)) {
    return absl::FailedPreconditionError("the assignment held is not in canonical order");
  }
  v1::Assignment out = delta.stamps();
  out.clear_brokers();
  out.clear_agents();
  out.clear_agent_sets();

  std::map<std::string, const v1::AgentEndpoint*> agents;
  for (const v1::AgentEndpoint& e : base.agents()) agents.emplace(e.node_id(), &e);
  for (const std::string& id : delta.removed_agents()) agents.erase(id);
  for (const v1::AgentEndpoint& e : delta.upserted_agents()) agents[e.node_id()] = &e;
  for (const auto& [id, e] : agents) *out.add_agents() = *e;

  std::map<int32_t, const v1::BrokerAssignment*> brokers;
  for (const v1::BrokerAssignment& b : base.brokers()) brokers.emplace(b.broker_id(), &b);
  for (int32_t id : delta.removed_brokers()) brokers.erase(id);
  for (const v1::BrokerAssignment& b : delta.upserted_brokers()) brokers[b.broker_id()] = &b;
  for (const auto& [id, b] : brokers) *out.add_brokers() = *b;

  // Every set is some broker's: more sets than brokers is no delta a
  // coordinator made.
  if (delta.agent_set_count() < 0 || delta.agent_set_count() > out.brokers_size()) {
    return absl::DataLossError(
        absl::StrCat("the delta names ", delta.agent_set_count(), " agent sets"));
  }
  for (int s = 0; s < delta.agent_set_count(); ++s) {
    v1::AgentSet* set = out.add_agent_sets();
    if (s < base.agent_sets_size()) *set = base.agent_sets(s);
  }
  for (const v1::AgentSetEdit& edit : delta.agent_set_edits()) {
    if (edit.index() < 1 || edit.index() > out.agent_sets_size()) {
      return absl::DataLossError(absl::StrCat("the delta edits agent set ", edit.index(), " of ",
                                              out.agent_sets_size()));
    }
    Ids* ids = out.mutable_agent_sets(edit.index() - 1)->mutable_agent_node_ids();
    std::set<std::string> members(ids->begin(), ids->end());
    for (const std::string& id : edit.removed()) members.erase(id);
    members.insert(edit.added().begin(), edit.added().end());
    ids->Clear();
    for (const std::string& id : members) ids->Add(std::string(id));
  }
  if (AssignmentDigest(out) != delta.digest()) {
    return absl::DataLossError(absl::StrCat(
        "the assignment rebuilt from the delta (epoch ", out.epoch(), ", generation ",
        out.generation_id(), ", revision ", out.revision(), ") does not match its digest"));
  }
  return out;
}

}  // namespace kgw::control
