// Port routing: port(b) = GATEWAY_PORT_START + (b - GATEWAY_MIN_BROKERID).
#ifndef KGW_AGENT_PORT_MAP_H_
#define KGW_AGENT_PORT_MAP_H_

#include <cstdint>
#include <string>

#include "agent/response_rewriter.h"

namespace kgw::agent {

struct PortMap {
  int port_start = 0;
  int32_t min_broker_id = 0;
  std::string advertised_host;

  int64_t PortFor(int32_t broker) const {
    return int64_t{port_start} + (int64_t{broker} - min_broker_id);
  }
  int32_t BrokerFor(int port) const {
    return static_cast<int32_t>(int64_t{min_broker_id} + (port - port_start));
  }
  // Where clients are told to find `broker`. A broker whose port would fall
  // outside [1, 65535] (a broker id below GATEWAY_MIN_BROKERID, say) is sent
  // to the first port, which forwards to any live broker: clients still never
  // see a broker address.
  AdvertisedAddress AddressFor(int32_t broker) const {
    const int64_t port = PortFor(broker);
    const bool usable = broker >= min_broker_id && port <= 65535;
    return {advertised_host, static_cast<int32_t>(usable ? port : port_start)};
  }
};

}  // namespace kgw::agent

#endif  // KGW_AGENT_PORT_MAP_H_
