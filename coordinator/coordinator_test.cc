#include "coordinator/coordinator.h"

#include "gtest/gtest.h"
#include "grpcpp/version_info.h"

namespace kgw::coordinator {
namespace {

#if GRPC_CPP_VERSION_MAJOR == 1 && GRPC_CPP_VERSION_MINOR == 51
TEST(GrpcExperimentsTest, TurnsOffReadChunksAndKeepsWhatTheOperatorSet) {
  EXPECT_EQ(GrpcExperimentsForCoordinator(nullptr), "-tcp_read_chunks");
  EXPECT_EQ(GrpcExperimentsForCoordinator(""), "-tcp_read_chunks");
  EXPECT_EQ(GrpcExperimentsForCoordinator("tcp_rcv_lowat"), "tcp_rcv_lowat,-tcp_read_chunks");
  // The operator's own word on the experiment stands, either way.
  EXPECT_EQ(GrpcExperimentsForCoordinator("tcp_read_chunks"), std::nullopt);
  EXPECT_EQ(GrpcExperimentsForCoordinator("a,-tcp_read_chunks"), std::nullopt);
}
#else
TEST(GrpcExperimentsTest, LeavesOtherGrpcVersionsAlone) {
  EXPECT_EQ(GrpcExperimentsForCoordinator(nullptr), std::nullopt);
  EXPECT_EQ(GrpcExperimentsForCoordinator("x"), std::nullopt);
}
#endif

}  // namespace
}  // namespace kgw::coordinator
