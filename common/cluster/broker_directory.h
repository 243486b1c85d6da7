// A gateway node's view of the backing cluster's brokers, and the thread that
// keeps it current.
//
// BrokerDirectory holds an immutable snapshot that any thread reads without
// blocking writers for long; the MetadataRefresher replaces it from a
// Metadata request every refresh interval, and at once when a client's
// Metadata response (seen on the data path) names brokers the snapshot does
// not have, so brokers added later get their ports within moments.
#ifndef KGW_COMMON_CLUSTER_BROKER_DIRECTORY_H_
#define KGW_COMMON_CLUSTER_BROKER_DIRECTORY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config/gateway_settings.h"
#include "common/config/settings.h"
#include "common/kafka/blocking_client.h"
#include "common/kafka/sasl.h"
#include "common/sync/background_loop.h"

namespace kgw::cluster {

// A broker as a Metadata response describes it (its real address).
struct BrokerEndpoint {
  int32_t node_id = 0;
  std::string host;
  int32_t port = 0;
  std::optional<std::string> rack;
};

struct ClusterSnapshot {
  std::vector<BrokerEndpoint> brokers;  // sorted by node id
  std::optional<std::string> cluster_id;

  const BrokerEndpoint* Find(int32_t node_id) const;
  // True when `seen` names a broker this snapshot lacks or places elsewhere.
  bool Lacks(const std::vector<BrokerEndpoint>& seen) const;
};

// How this node's own code reaches Kafka: its group member, its metadata
// refresher, and (through librdkafka) its internal topics and audit log;
// never its clients' traffic. Made once per process (MakeOwnKafka) and
// shared, so every connection authenticates alike and one TLS context serves
// them all.
struct OwnKafka {
  std::vector<std::string> bootstrap_servers;  // KAFKA_BOOTSTRAP_SERVERS, as configured
  std::vector<config::HostPort> bootstrap;     // the same, as addresses
  std::optional<kafka::SaslCredentials> sasl;  // set: authenticate every connection
  std::optional<kafka::ConnectionTls> tls;     // set: every connection over TLS
  config::KafkaClientConfig client;            // KAFKA_*, for librdkafka's configuration
};

// The node's OwnKafka from its settings. InvalidArgument naming the file when
// a CA, certificate or key file cannot be loaded (see OwnTls).
absl::StatusOr<OwnKafka> MakeOwnKafka(const config::GatewayNodeConfig& node,
                                      const config::KafkaClientConfig& kafka);
// The TLS of this node's own connections (KAFKA_SSL_*); nullopt without TLS.
// InvalidArgument naming the file when a CA, certificate or key file cannot
// be loaded (see tls::NewClientContext).
absl::StatusOr<std::optional<kafka::ConnectionTls>> OwnTls(const config::KafkaClientConfig& kafka);

class BrokerDirectory {
 public:
  // Never null; empty until the first successful refresh.
  std::shared_ptr<const ClusterSnapshot> Get() const;
  // Replaces the snapshot; calls the change listeners (on this thread) when
  // the broker list differs.
  void Set(ClusterSnapshot snapshot);
  // Registered before the refresher starts.
  void OnChange(std::function<void(const ClusterSnapshot&)> listener);

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const ClusterSnapshot> snapshot_ = std::make_shared<ClusterSnapshot>();
  std::vector<std::function<void(const ClusterSnapshot&)>> listeners_;
};

// Polls the cluster's metadata on a thread of its own with blocking,
// deadline-bounded connections (off the data path).
class MetadataRefresher {
 public:
  struct Options {
    OwnKafka kafka;  // bootstrap, SASL and TLS
    absl::Duration interval = absl::Seconds(30);
    absl::Duration timeout = absl::Seconds(10);
    std::string client_id = "kgw";
  };
  MetadataRefresher(BrokerDirectory& directory, Options options);
  ~MetadataRefresher();  // stops the thread

  void Start();
  void Stop();
  // Asks for a refresh now (from any thread).
  void RefreshSoon();

 private:
  void Run();
  // One Metadata round trip against the first address that answers.
  bool RefreshOnce();

  BrokerDirectory& directory_;
  const Options options_;
  std::mutex mu_;
  bool refresh_requested_ = false;  // under mu_
  sync::BackgroundLoop loop_{mu_};
  size_t next_address_ = 0;
};

}  // namespace kgw::cluster

#endif  // KGW_COMMON_CLUSTER_BROKER_DIRECTORY_H_
