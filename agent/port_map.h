// Port routing: port(b) = GATEWAY_PORT_START + (b - GATEWAY_MIN_BROKERID)
// (control::BrokerPort); or, with host routing, every broker at
// GATEWAY_PORT_START under its own name.
#ifndef KGW_AGENT_PORT_MAP_H_
#define KGW_AGENT_PORT_MAP_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "agent/advertised_address.h"
#include "agent/sni_route.h"
#include "common/control/broker_port.h"

namespace kgw::agent {

struct PortMap {
  int port_start = 0;
  int32_t min_broker_id = 0;
  std::string advertised_host;
  // Host routing: every broker on port_start, told apart by name.
  std::shared_ptr<const SniRoute> sni;

  int64_t PortFor(int32_t broker) const {
    return control::BrokerPort(port_start, min_broker_id, broker);
  }
  int32_t BrokerFor(int port) const {
    return static_cast<int32_t>(int64_t{min_broker_id} + (port - port_start));
  }
  // How many ports to serve: `configured` (GATEWAY_PORT_COUNT) when set,
  // else (max broker id - min) + 3, never past port 65535. Grows with the
  // cluster: a broker with a new highest id gets its port without a restart.
  int64_t PortCount(std::optional<int> configured, int32_t max_broker_id) const {
    if (configured) return *configured;
    const int64_t count = std::max<int64_t>(0, int64_t{max_broker_id} - min_broker_id) + 1 +
                          kSpareBootstrapPorts;
    return std::min<int64_t>(count, int64_t{65535} - port_start + 1);
  }
  // Ports beyond the highest broker's: bootstrap ports that survive a new
  // broker taking the next id.
  static constexpr int kSpareBootstrapPorts = 2;

  // Where clients are told to find `broker`. A broker whose port would fall
  // outside [1, 65535] (a broker id below GATEWAY_MIN_BROKERID, say) is sent
  // to the first port, which forwards to any live broker: clients still never
  // see a broker address.
  AdvertisedAddress AddressFor(int32_t broker) const {
    if (sni) return {sni->HostFor(broker), port_start};
    const int64_t port = PortFor(broker);
    const bool usable = broker >= min_broker_id && port <= 65535;
    return {advertised_host, static_cast<int32_t>(usable ? port : port_start)};
  }
};

}  // namespace kgw::agent

#endif  // KGW_AGENT_PORT_MAP_H_
