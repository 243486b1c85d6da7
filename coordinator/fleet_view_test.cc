// The fleet view's data and who may read it, served by a real HttpServer on
// loopback; what the page draws is checked in a browser by the control-plane
// end-to-end test.
#include "coordinator/fleet_view.h"

#include <optional>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "asio.hpp"
#include "coordinator/fleet_assets.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kgw::coordinator {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

v1::Assignment TwoBrokersOneSet() {
  v1::Assignment a;
  a.set_generation_id(7);
  a.set_leader_node_id("coord-1");
  a.set_proof("secret-looking-proof");
  a.add_agent_sets()->add_agent_node_ids("agent-a");
  for (int id : {1, 2}) {
    v1::BrokerAssignment* b = a.add_brokers();
    b->set_broker_id(id);
    b->set_broker_rack("a");
    b->set_agent_set(1);
  }
  v1::AgentEndpoint* e = a.add_agents();
  e->set_node_id("agent-a");
  e->set_rack("a");
  return a;
}

TEST(FleetJsonTest, CarriesStatusNodesAndCompactAssignmentWithoutProofsOrPerBrokerLists) {
  v1::ClusterStatus status;
  status.set_cluster_id("prod");
  status.add_coordinators()->set_proof("coordinator-proof");
  v1::ListNodesResponse nodes;
  v1::NodeStatus* n = nodes.add_nodes();
  n->mutable_node()->set_node_id("agent-a");
  n->mutable_node()->set_proof("agent-proof");
  n->add_broker_ids(1);
  n->add_broker_ids(2);
  n->mutable_load()->set_connections(5);
  n->mutable_load()->add_brokers()->set_broker_id(1);

  const std::string json = FleetJson(status, nodes, TwoBrokersOneSet());

  EXPECT_THAT(json, HasSubstr(R"("cluster_id":"prod")"));
  EXPECT_THAT(json, HasSubstr(R"("connections":"5")"));
  EXPECT_THAT(json, HasSubstr(R"("agent_sets":[{"agent_node_ids":["agent-a"]}])"));
  EXPECT_THAT(json, HasSubstr(R"("agent_set":1)"));
  EXPECT_THAT(json, Not(ContainsRegex(R"re("proof":"[^"])re")));  // cleared: "proof":""
  EXPECT_THAT(json, HasSubstr(R"("broker_ids":[])"));
  EXPECT_THAT(json, HasSubstr(R"("brokers":[])"));  // the load's per-broker list
}

TEST(FleetJsonTest, NoAssignmentYetIsNull) {
  EXPECT_THAT(FleetJson({}, {}, std::nullopt), HasSubstr(R"("assignment":null)"));
}

TEST(FleetAccessTest, FollowsTheAdminApi) {
  CoordinatorConfig open;
  EXPECT_EQ(FleetAccessFor(open), FleetAccess::kOpen);

  CoordinatorConfig token;
  token.admin_token = "s3cret";
  token.grpc_tls.enabled = true;
  token.grpc_tls.client_auth = config::GrpcClientAuth::kRequire;
  EXPECT_EQ(FleetAccessFor(token), FleetAccess::kToken);

  CoordinatorConfig certificates_only;
  certificates_only.grpc_tls.enabled = true;
  certificates_only.grpc_tls.client_auth = config::GrpcClientAuth::kRequire;
  EXPECT_EQ(FleetAccessFor(certificates_only), FleetAccess::kDisabled);

  CoordinatorConfig optional_certificates = certificates_only;
  optional_certificates.grpc_tls.client_auth = config::GrpcClientAuth::kOptional;
  EXPECT_EQ(FleetAccessFor(optional_certificates), FleetAccess::kOpen);
}

TEST(FleetAssetsTest, ThePageLoadsNothingFromElsewhere) {
  // Every src and href names a file this coordinator serves.
  const std::string html(fleet_assets::kHtml);
  int references = 0;
  for (const std::string attribute : {" src=\"", " href=\""}) {
    for (size_t at = html.find(attribute); at != std::string::npos;
         at = html.find(attribute, at + 1), ++references) {
      const size_t from = at + attribute.size();
      EXPECT_THAT(html.substr(from, html.find('"', from) - from),
                  ::testing::AnyOf("fleet.css", "fleet.js"));
    }
  }
  // The script fetches only its data, and builds no HTML from strings.
  const std::string js(fleet_assets::kJs);
  EXPECT_THAT(js, HasSubstr("fetch('fleet.json'"));
  EXPECT_EQ(js.find("fetch(", js.find("fetch(") + 1), std::string::npos);
  EXPECT_THAT(js, Not(HasSubstr("innerHTML")));
  EXPECT_THAT(js, Not(HasSubstr("https://")));
  EXPECT_THAT(std::string(fleet_assets::kCss), Not(HasSubstr("url(")));
}

struct Answer {
  int status = 0;
  std::string head;
  std::string body;
};

// One request on a new connection, read until the server closes it.
Answer Get(int port, const std::string& path, const std::string& extra_headers = "") {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: localhost\r\n", extra_headers, "\r\n");
  asio::write(socket, asio::buffer(request));
  std::string raw;
  std::error_code ec;
  asio::read(socket, asio::dynamic_buffer(raw), ec);
  Answer answer;
  const size_t end = raw.find("\r\n\r\n");
  answer.head = raw.substr(0, end);
  answer.body = end == std::string::npos ? "" : raw.substr(end + 4);
  if (raw.size() > 12) answer.status = std::stoi(raw.substr(9, 3));
  return answer;
}

class FleetViewServerTest : public ::testing::Test {
 protected:
  void Serve(FleetAccess access, const std::string& token = "") {
    AddFleetView(server_, access, token, source_);
    ASSERT_TRUE(server_.Listen("127.0.0.1", 0).ok());
    port_ = server_.port();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  ControlState state_{ControlState::Options{.node_id = "coord-1", .cluster_id = "prod"},
                      [](const v1::Assignment&) { return absl::OkStatus(); }};
  FleetSource source_{state_, grpc::InsecureChannelCredentials()};
  asio::io_context io_;
  http::HttpServer server_{io_};
  std::thread thread_;
  int port_ = 0;
};

TEST_F(FleetViewServerTest, OpenViewServesPageAndDataWithAStrictPolicy) {
  Serve(FleetAccess::kOpen);

  Answer page = Get(port_, "/fleet");
  Answer data = Get(port_, "/fleet.json");

  EXPECT_EQ(page.status, 200);
  EXPECT_THAT(page.head, HasSubstr("Content-Type: text/html"));
  EXPECT_THAT(page.head, HasSubstr("Content-Security-Policy: default-src 'none'"));
  EXPECT_THAT(page.head, HasSubstr("Cache-Control: no-store"));
  EXPECT_THAT(page.body, HasSubstr("<script src=\"fleet.js\""));
  EXPECT_EQ(Get(port_, "/fleet.js").status, 200);
  EXPECT_THAT(Get(port_, "/fleet.css").head, HasSubstr("Content-Type: text/css"));
  EXPECT_EQ(data.status, 200);
  EXPECT_THAT(data.head, HasSubstr("Content-Type: application/json"));
  EXPECT_THAT(data.body, HasSubstr(R"("cluster_id":"prod")"));
  EXPECT_THAT(data.body, HasSubstr(R"("assignment":null)"));
}

TEST_F(FleetViewServerTest, WithATokenTheDataNeedsItAndThePageDoesNot) {
  Serve(FleetAccess::kToken, "s3cret");

  Answer none = Get(port_, "/fleet.json");
  Answer wrong = Get(port_, "/fleet.json", "Authorization: Bearer s3creT\r\n");
  Answer basic = Get(port_, "/fleet.json", "Authorization: Basic czNjcmV0\r\n");
  Answer right = Get(port_, "/fleet.json", "Authorization: Bearer s3cret\r\n");

  EXPECT_EQ(none.status, 401);
  EXPECT_THAT(none.head, HasSubstr("WWW-Authenticate: Bearer"));
  EXPECT_THAT(none.body, HasSubstr("needs its admin token"));
  EXPECT_THAT(none.body, Not(HasSubstr("prod")));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(basic.status, 401);
  EXPECT_EQ(right.status, 200);
  EXPECT_THAT(right.body, HasSubstr(R"("cluster_id":"prod")"));
  EXPECT_EQ(Get(port_, "/fleet").status, 200);  // no data in it
}

TEST_F(FleetViewServerTest, OffWhenOnlyClientCertificatesGuardTheAdminApi) {
  Serve(FleetAccess::kDisabled);

  Answer data = Get(port_, "/fleet.json", "Authorization: Bearer anything\r\n");

  EXPECT_EQ(data.status, 403);
  EXPECT_THAT(data.body, HasSubstr("set GATEWAY_ADMIN_TOKEN to turn it on"));
  EXPECT_THAT(data.body, Not(HasSubstr("prod")));
}

}  // namespace
}  // namespace kgw::coordinator
