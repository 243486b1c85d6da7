// Where clients reach one broker: the host and port the agent writes into
// the responses that carry broker addresses.
#ifndef KGW_AGENT_ADVERTISED_ADDRESS_H_
#define KGW_AGENT_ADVERTISED_ADDRESS_H_

#include <cstdint>
#include <string>

namespace kgw::agent {

struct AdvertisedAddress {
  std::string host;
  int32_t port = 0;
};

}  // namespace kgw::agent

#endif  // KGW_AGENT_ADVERTISED_ADDRESS_H_
