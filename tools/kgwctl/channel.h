// The gRPC channel kgwctl talks to a coordinator over: plaintext, or TLS
// verified against KGWCTL_TLS_CA_FILE or the system's roots, presenting
// KGWCTL_TLS_CERT_FILE to coordinators that ask for a client certificate
// (mutual TLS). The token is
// not part of the channel: commands add it to each call (see commands.h), so
// it is sent over plaintext channels too, as coordinators on a private
// network expect.
#ifndef KGW_TOOLS_KGWCTL_CHANNEL_H_
#define KGW_TOOLS_KGWCTL_CHANNEL_H_

#include <memory>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "tools/kgwctl/kgwctl_config.h"

namespace kgw::kgwctl {

// InvalidArgument with a one-line message when the CA, certificate or key
// file cannot be read or holds no PEM certificate (key). Connecting happens
// lazily, on the first call.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const Options& options);

}  // namespace kgw::kgwctl

#endif  // KGW_TOOLS_KGWCTL_CHANNEL_H_
