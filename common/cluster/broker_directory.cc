#include "common/cluster/broker_directory.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/kafka/blocking_client.h"
#include "common/kafka/messages/metadata.h"
#include "common/tls/tls_context.h"
#include "glog/logging.h"

namespace kgw::cluster {
namespace {

// Version of the agent's own Metadata requests: every broker of Kafka 3.x
// and 4.x answers it.
constexpr int16_t kMetadataVersion = 12;
// Pause before retrying a failed refresh; doubles up to the interval.
constexpr absl::Duration kFirstRetry = absl::Milliseconds(500);

bool SameBroker(const BrokerEndpoint& a, const BrokerEndpoint& b) {
  return a.node_id == b.node_id && a.host == b.host && a.port == b.port && a.rack == b.rack;
}

std::string Describe(const std::vector<BrokerEndpoint>& brokers) {
  return absl::StrJoin(brokers, ", ", [](std::string* out, const BrokerEndpoint& b) {
    absl::StrAppend(out, b.node_id, "@", b.host, ":", b.port, b.rack ? "/" + *b.rack : "");
  });
}

}  // namespace

absl::StatusOr<OwnKafka> MakeOwnKafka(const config::GatewayNodeConfig& node,
                                      const config::KafkaClientConfig& kafka) {
  OwnKafka own{.bootstrap_servers = node.bootstrap_servers, .client = kafka};
  for (const std::string& hp : node.bootstrap_servers) {
    own.bootstrap.push_back(config::SplitHostPort(hp));
  }
  if (kafka.sasl) {
    own.sasl = kafka::SaslCredentials{kafka.sasl_mechanism, kafka.sasl_username,
                                      kafka.sasl_password};
  }
  absl::StatusOr<std::optional<kafka::ConnectionTls>> tls = OwnTls(kafka);
  if (!tls.ok()) return tls.status();
  own.tls = *std::move(tls);
  return own;
}

absl::StatusOr<std::optional<kafka::ConnectionTls>> OwnTls(const config::KafkaClientConfig& kafka) {
  if (!kafka.tls) return std::nullopt;
  absl::StatusOr<tls::SslCtxPtr> context = tls::NewClientContext({
      .ca_file = kafka.ssl_ca_file,
      .cert_file = kafka.ssl_cert_file,
      .key_file = kafka.ssl_key_file,
      .key_password = kafka.ssl_key_password,
      .verify_hostname = kafka.ssl_verify_hostname,
  });
  if (!context.ok()) return context.status();
  return kafka::ConnectionTls{.context = std::shared_ptr<SSL_CTX>(*std::move(context)),
                              .verify_hostname = kafka.ssl_verify_hostname};
}

const BrokerEndpoint* ClusterSnapshot::Find(int32_t node_id) const {
  auto it = std::lower_bound(brokers.begin(), brokers.end(), node_id,
                             [](const BrokerEndpoint& b, int32_t id) { return b.node_id < id; });
  return it != brokers.end() && it->node_id == node_id ? &*it : nullptr;
}

bool ClusterSnapshot::Lacks(const std::vector<BrokerEndpoint>& seen) const {
  for (const BrokerEndpoint& b : seen) {
    const BrokerEndpoint* known = Find(b.node_id);
    if (known == nullptr || known->host != b.host || known->port != b.port) return true;
  }
  return false;
}

std::shared_ptr<const ClusterSnapshot> BrokerDirectory::Get() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snapshot_;
}

void BrokerDirectory::Set(ClusterSnapshot snapshot) {
  std::sort(snapshot.brokers.begin(), snapshot.brokers.end(),
            [](const BrokerEndpoint& a, const BrokerEndpoint& b) { return a.node_id < b.node_id; });
  auto next = std::make_shared<const ClusterSnapshot>(std::move(snapshot));
  std::vector<std::function<void(const ClusterSnapshot&)>> listeners;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const bool changed =
        !std::equal(snapshot_->brokers.begin(), snapshot_->brokers.end(), next->brokers.begin(),
                    next->brokers.end(), SameBroker);
    snapshot_ = next;
    if (!changed) return;
    listeners = listeners_;
  }
  LOG(INFO) << "brokers: " << Describe(next->brokers);
  for (const auto& listener : listeners) listener(*next);
}

void BrokerDirectory::OnChange(std::function<void(const ClusterSnapshot&)> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listeners_.push_back(std::move(listener));
}

MetadataRefresher::MetadataRefresher(BrokerDirectory& directory, Options options)
    : directory_(directory), options_(std::move(options)) {}

MetadataRefresher::~MetadataRefresher() { Stop(); }

void MetadataRefresher::Start() { loop_.Start([this] { Run(); }); }

void MetadataRefresher::Stop() { loop_.Stop(); }

void MetadataRefresher::RefreshSoon() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    refresh_requested_ = true;
  }
  loop_.Wake();
}

void MetadataRefresher::Run() {
  absl::Duration retry = kFirstRetry;
  while (true) {
    const bool ok = RefreshOnce();
    const absl::Duration wait = ok ? options_.interval : retry;
    retry = ok ? kFirstRetry : std::min(retry * 2, options_.interval);
    std::unique_lock<std::mutex> lock(mu_);
    if (loop_.Wait(lock, wait, [this] { return refresh_requested_; })) return;
    refresh_requested_ = false;
  }
}

bool MetadataRefresher::RefreshOnce() {
  // Known brokers first (the bootstrap list may name a load balancer or be
  // partly gone), then the bootstrap servers; start where the last one
  // answered so a dead broker is not asked first every time.
  std::vector<config::HostPort> addresses;
  for (const BrokerEndpoint& b : directory_.Get()->brokers) addresses.push_back({b.host, b.port});
  addresses.insert(addresses.end(), options_.kafka.bootstrap.begin(),
                   options_.kafka.bootstrap.end());
  std::string errors;
  for (size_t i = 0; i < addresses.size(); ++i) {
    const config::HostPort& a = addresses[(next_address_ + i) % addresses.size()];
    absl::StatusOr<kafka::BlockingConnection> connection = kafka::BlockingConnection::Connect(
        a.host, a.port, options_.timeout, options_.client_id, options_.kafka.tls);
    kafka::MetadataResponse response;
    absl::Status status = connection.status();
    if (status.ok() && options_.kafka.sasl) {
      status = connection->Authenticate(*options_.kafka.sasl);
    }
    if (status.ok()) {
      kafka::MetadataRequest request;  // no topics: brokers and cluster id only
      request.allow_auto_topic_creation = false;
      status = connection->Call(request, kMetadataVersion, &response);
    }
    if (status.ok() && response.brokers.empty()) {
      status = absl::UnavailableError(absl::StrCat(a.host, ":", a.port, " listed no brokers"));
    }
    if (!status.ok()) {
      absl::StrAppend(&errors, errors.empty() ? "" : "; ", status.message());
      continue;
    }
    next_address_ = (next_address_ + i) % addresses.size();
    ClusterSnapshot snapshot;
    snapshot.cluster_id = response.cluster_id;
    for (const auto& b : response.brokers) {
      snapshot.brokers.push_back({b.node_id, b.host, b.port, b.rack});
    }
    directory_.Set(std::move(snapshot));
    return true;
  }
  LOG(WARNING) << "cannot refresh cluster metadata: " << errors;
  return false;
}

}  // namespace kgw::cluster
