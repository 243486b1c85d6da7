#include "coordinator/fleet_view.h"

#include <chrono>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "coordinator/fleet_assets.h"
#include "coordinator/services.h"
#include "glog/logging.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "kgw/v1/admin.grpc.pb.h"

namespace kgw::coordinator {
namespace {

// Every answer: never cached (the data changes, and the page must match the
// binary), never sniffed, never framed, and allowed to load only from here.
std::vector<std::pair<std::string, std::string>> CommonHeaders() {
  return {{"Cache-Control", "no-store"},
          {"X-Content-Type-Options", "nosniff"},
          {"Referrer-Policy", "no-referrer"},
          {"Content-Security-Policy",
           "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
           "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"}};
}

http::Response Asset(std::string content_type, std::string_view body) {
  return http::Response{.content_type = std::move(content_type),
                        .body = std::string(body),
                        .headers = CommonHeaders()};
}

http::Response JsonError(int status, absl::string_view message) {
  http::Response r{.status = status,
                   .content_type = "application/json",
                   .body = absl::StrCat("{\"error\":\"", message, "\"}\n"),
                   .headers = CommonHeaders()};
  // Bearer, not Basic: a browser must not pop up its own password prompt.
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"kgw\"");
  return r;
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  if (auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
      !status.ok()) {
    // Only invalid UTF-8 in a string field gets here; show the rest.
    LOG_EVERY_N(WARNING, 100) << "fleet view: cannot print " << message.GetTypeName()
                              << " as JSON: " << status.ToString();
    return "null";
  }
  return out;
}

}  // namespace

FleetAccess FleetAccessFor(const CoordinatorConfig& config) {
  if (!config.admin_token.empty()) return FleetAccess::kToken;
  if (config.grpc_tls.enabled && config.grpc_tls.client_auth == config::GrpcClientAuth::kRequire) {
    return FleetAccess::kDisabled;
  }
  return FleetAccess::kOpen;
}

std::string FleetJson(v1::ClusterStatus status, v1::ListNodesResponse nodes,
                      std::optional<v1::Assignment> assignment) {
  for (v1::NodeDescriptor& c : *status.mutable_coordinators()) c.clear_proof();
  for (v1::NodeStatus& n : *nodes.mutable_nodes()) {
    n.mutable_node()->clear_proof();
    n.clear_broker_ids();
    n.mutable_load()->clear_brokers();
  }
  if (assignment) assignment->clear_proof();
  return absl::StrCat("{\"status\":", ToJson(status), ",\"nodes\":", ToJson(nodes),
                      ",\"assignment\":", assignment ? ToJson(*assignment) : "null", "}\n");
}

struct FleetSource::Call {
  grpc::ClientContext context;
  v1::ListNodesRequest request;
  v1::ListNodesResponse response;
};

FleetSource::FleetSource(ControlState& state,
                         std::shared_ptr<grpc::ChannelCredentials> credentials)
    : state_(state), credentials_(std::move(credentials)) {}

FleetSource::~FleetSource() {
  std::unique_lock lock(mu_);
  for (Call* call : calls_) call->context.TryCancel();
  ended_.wait(lock, [this] { return calls_.empty(); });
}

std::shared_ptr<grpc::Channel> FleetSource::ChannelTo(const std::string& endpoint) {
  std::lock_guard lock(mu_);
  if (channel_ == nullptr || channel_endpoint_ != endpoint) {
    channel_ = grpc::CreateChannel(endpoint, credentials_);
    channel_endpoint_ = endpoint;
  }
  return channel_;
}

void FleetSource::Json(std::function<void(std::string)> done) {
  std::optional<std::string> leader = state_.LeaderEndpoint();
  if (state_.IsLeader() || !leader || leader->empty()) {
    done(FleetJson(state_.Status(), state_.Nodes(), state_.Current()));
    return;
  }
  auto stub = v1::Admin::NewStub(ChannelTo(*leader));
  auto* call = new Call;
  call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  {
    std::lock_guard lock(mu_);
    calls_.insert(call);
  }
  stub->async()->ListNodes(
      &call->context, &call->request, &call->response,
      [this, call, done = std::move(done)](grpc::Status status) {
        done(FleetJson(state_.Status(), status.ok() ? call->response : state_.Nodes(),
                       state_.Current()));
        std::lock_guard lock(mu_);
        calls_.erase(call);
        delete call;
        ended_.notify_all();
      });
}

void AddFleetView(http::HttpServer& server, FleetAccess access, std::string token,
                  FleetSource& source) {
  server.Handle("/fleet", [] { return Asset("text/html; charset=utf-8", fleet_assets::kHtml); });
  server.Handle("/fleet.css", [] { return Asset("text/css; charset=utf-8", fleet_assets::kCss); });
  server.Handle("/fleet.js",
                [] { return Asset("text/javascript; charset=utf-8", fleet_assets::kJs); });
  server.HandleAsync("/fleet.json", [access, token = std::move(token), &source](
                                         const http::Request& request, http::Responder respond) {
    switch (access) {
      case FleetAccess::kDisabled:
        return respond(JsonError(
            403,
            "the fleet view is off: the admin API takes only client certificates, which this "
            "HTTP port cannot check; set GATEWAY_ADMIN_TOKEN to turn it on"));
      case FleetAccess::kToken:
        if (!BearerTokenMatches(request.Header("authorization").value_or(""), token)) {
          return respond(
              JsonError(401, "this coordinator needs its admin token for the fleet view"));
        }
        break;
      case FleetAccess::kOpen:
        break;
    }
    source.Json([respond = std::move(respond)](std::string json) {
      respond(http::Response{.content_type = "application/json",
                             .body = std::move(json),
                             .headers = CommonHeaders()});
    });
  });
}

}  // namespace kgw::coordinator
