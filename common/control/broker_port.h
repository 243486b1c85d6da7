// The gateway's one port formula: an agent serves broker b on
// port_start + (b - min_broker_id), its GATEWAY_PORT_START and
// GATEWAY_MIN_BROKERID. The agent applies it to itself (agent/port_map.h),
// the assignment to the other agents (control::PortFor).
#ifndef KGW_COMMON_CONTROL_BROKER_PORT_H_
#define KGW_COMMON_CONTROL_BROKER_PORT_H_

#include <cstdint>

namespace kgw::control {

// 64-bit: the result may fall outside [1, 65535]; callers decide what then.
inline int64_t BrokerPort(int64_t port_start, int64_t min_broker_id, int32_t broker) {
  return port_start + (int64_t{broker} - min_broker_id);
}

}  // namespace kgw::control

#endif  // KGW_COMMON_CONTROL_BROKER_PORT_H_
