#include "agent/router.h"

#include <utility>

#include "glog/logging.h"

namespace kgw::agent {

Router::Router(PortMap ports, bool internal_load_balancing)
    : ports_(std::move(ports)), internal_load_balancing_(internal_load_balancing) {}

bool Router::Install(const v1::Assignment& a, std::string_view source, bool from_leader) {
  if (!control::Plausible(a)) {
    LOG_EVERY_N(ERROR, 10) << "refusing an assignment from " << source
                           << " that no coordinator can have computed (epoch " << a.epoch()
                           << ", revision " << a.revision() << ", by \"" << a.leader_node_id()
                           << "\")";
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (current_ && !control::IsNewer(a, *current_)) {
      if (!from_leader || a.leader_node_id() == current_->leader_node_id()) return false;
      LOG(WARNING) << "the leading coordinator " << a.leader_node_id() << " replaces an "
                   << "assignment of epoch " << current_->epoch() << " by \""
                   << current_->leader_node_id() << "\" with its own of epoch " << a.epoch();
    }
    current_ = a;
    RebuildLocked();
  }
  LOG(INFO) << "assignment epoch " << a.epoch() << " generation " << a.generation_id()
            << " revision " << a.revision()
            << " from " << source << " (computed by " << a.leader_node_id() << "): "
            << a.brokers_size() << " brokers over " << a.agents_size() << " agents";
  for (const auto& listener : listeners_) listener(a);
  return true;
}

void Router::SetLive(std::optional<absl::flat_hash_set<std::string>> live) {
  std::lock_guard<std::mutex> lock(mu_);
  live_ = std::move(live);
  RebuildLocked();
}

void Router::OnInstall(std::function<void(const v1::Assignment&)> listener) {
  listeners_.push_back(std::move(listener));
}

void Router::RebuildLocked() {
  if (!current_) return;
  index_ = std::make_shared<const control::RouteIndex>(*current_, live_ ? &*live_ : nullptr);
}

std::shared_ptr<const control::RouteIndex> Router::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return index_;
}

std::optional<v1::Assignment> Router::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

AdvertisedAddress Router::AddressFor(const control::RouteIndex* index, int32_t broker,
                                     std::string_view client_key) const {
  if (!internal_load_balancing_ || index == nullptr) return ports_.AddressFor(broker);
  const v1::AgentEndpoint* agent = index->Pick(broker, client_key);
  if (agent == nullptr) return ports_.AddressFor(broker);
  const int64_t port = control::PortFor(*agent, broker);
  if (port < 1 || port > 65535 || agent->advertised_host().empty()) {
    return ports_.AddressFor(broker);
  }
  return {agent->advertised_host(), static_cast<int32_t>(port)};
}

}  // namespace kgw::agent
