// What every client session of an agent shares: its configuration, routing,
// metrics, limits and TLS contexts. One SessionEnv is built by the agent and
// outlives its sessions; sessions and their handshakes only read it.
#ifndef KGW_AGENT_SESSION_ENV_H_
#define KGW_AGENT_SESSION_ENV_H_

#include <functional>
#include <vector>

#include "agent/agent_config.h"
#include "agent/agent_metrics.h"
#include "agent/api_versions_cache.h"
#include "agent/broker_health.h"
#include "agent/buffer_budget.h"
#include "agent/log_limiter.h"
#include "agent/port_map.h"
#include "agent/router.h"
#include "agent/sni_route.h"
#include "agent/tls_server.h"
#include "common/audit/audit_log.h"
#include "common/cluster/broker_directory.h"
#include "openssl/ssl.h"

namespace kgw::agent {

using cluster::BrokerDirectory;
using cluster::BrokerEndpoint;
using cluster::ClusterSnapshot;
using cluster::MetadataRefresher;

// All members are safe to use from any worker.
struct SessionEnv {
  const AgentConfig* config;
  const PortMap* ports;
  const Router* router;
  BrokerDirectory* directory;
  AgentMetrics* metrics;
  const TlsServer* tls_server = nullptr;  // clients speak TLS when set
  SSL_CTX* upstream_tls = nullptr;        // brokers are reached over TLS when set
  bool upstream_verify_hostname = true;   // the broker's certificate must name its host
  const SniRoute* sni = nullptr;          // host routing when set
  audit::AuditLog* audit = nullptr;       // audit events are recorded when set
  // Shared by every session's request buffers; unlimited when null.
  BufferBudget* request_budget = nullptr;
  // Bounds the log lines about bad input and refusals; all are logged when null.
  LogLimiter* log_limiter = nullptr;
  // Brokers the agent could not reach lately; none are avoided when null.
  BrokerHealth* broker_health = nullptr;
  // Answers a connection's first ApiVersions without the broker when set
  // (GATEWAY_ANSWER_API_VERSIONS).
  ApiVersionsCache* api_versions = nullptr;
  // A broker could not be reached: the broker list may have changed.
  std::function<void()> broker_unreachable;
  // Brokers named by a Metadata response that passed through.
  std::function<void(const std::vector<BrokerEndpoint>&)> brokers_seen;
};

}  // namespace kgw::agent

#endif  // KGW_AGENT_SESSION_ENV_H_
