#include "tools/kgwctl/commands.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/config/program.h"
#include "common/control/assignment_wire.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "tools/kgwctl/format.h"

namespace kgw::kgwctl {
namespace {

// Coordinators name each set of eligible agents once; people (and scripts
// reading --json) see every broker's agents listed with the broker.
template <typename Response>
void Readable(Response&) {}
void Readable(v1::Assignment& a) { a = control::Expanded(a); }
void Readable(v1::DrainAgentResponse& r) { Readable(*r.mutable_assignment()); }

enum class Command {
  kStatus,
  kNodes,
  kBrokers,
  kAssignment,
  kWatch,
  kExplain,
  kDrain,
  kResume,
  kVersion
};

struct CommandInfo {
  absl::string_view name;
  Command command;
  absl::string_view arguments;  // usage after the name
  absl::string_view help;
};

constexpr CommandInfo kCommands[] = {
    {"status", Command::kStatus, "", "the cluster: leader, generations, coordinators, counts"},
    {"nodes", Command::kNodes, "", "agents and coordinators with health, load and brokers"},
    {"brokers", Command::kBrokers, "", "the Kafka brokers and the agents that serve each"},
    {"assignment", Command::kAssignment, "", "which agents serve each broker, and drained agents"},
    {"watch", Command::kWatch, "", "print each new assignment as it is published, until stopped"},
    {"explain", Command::kExplain, "<broker-id> [--client-id ID] [--client-host IP]",
     "which agent a client is sent to for a broker, and why"},
    {"drain", Command::kDrain, "<node-id>", "give an agent no brokers (it keeps its connections)"},
    {"resume", Command::kResume, "<node-id>", "give a drained agent brokers again"},
    {"version", Command::kVersion, "", "print the version of this kgwctl"},
};

std::string Usage(const CommandInfo& info) {
  return info.arguments.empty() ? absl::StrCat("kgwctl ", info.name)
                                : absl::StrCat("kgwctl ", info.name, " ", info.arguments);
}

std::string CommandList() {
  std::vector<absl::string_view> names;
  for (const CommandInfo& info : kCommands) names.push_back(info.name);
  return absl::StrJoin(names, ", ");
}

// What a command was asked to act on, after its arguments were checked.
struct Invocation {
  const CommandInfo* info = nullptr;
  int32_t broker_id = 0;
  std::string node_id;
};

absl::StatusOr<Invocation> ParseInvocation(const std::vector<std::string>& args) {
  if (args.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("missing command; one of: ", CommandList()));
  }
  Invocation inv;
  for (const CommandInfo& info : kCommands) {
    if (info.name == args[0]) inv.info = &info;
  }
  if (inv.info == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown command \"", args[0], "\"; one of: ", CommandList()));
  }
  const size_t wanted = inv.info->arguments.empty() ? 0 : 1;
  auto usage_error = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(what, "; usage: ", Usage(*inv.info)));
  };
  if (args.size() - 1 < wanted) {
    return usage_error(
        absl::StrCat(inv.info->name, " needs ",
                     inv.info->command == Command::kExplain ? "a broker id" : "a node id"));
  }
  if (args.size() - 1 > wanted) {
    return usage_error(absl::StrCat("unexpected argument \"", args[wanted + 1], "\""));
  }
  switch (inv.info->command) {
    case Command::kExplain:
      if (!absl::SimpleAtoi(args[1], &inv.broker_id) || inv.broker_id < 0) {
        return usage_error(
            absl::StrCat("invalid broker id \"", args[1], "\": expected an integer >= 0"));
      }
      break;
    case Command::kDrain:
    case Command::kResume:
      if (args[1].empty()) return usage_error("empty node id");
      inv.node_id = args[1];
      break;
    default:
      break;
  }
  return inv;
}

// One command's calls on the Admin stub and what it prints.
class Session {
 public:
  Session(const Options& options, v1::Admin::StubInterface& stub, std::ostream& out,
          std::ostream& err)
      : options_(options), stub_(stub), out_(out), err_(err) {}

  int Run(const Invocation& inv);

 private:
  // Token metadata on every call; the per-call deadline on unary calls.
  void Prepare(grpc::ClientContext& ctx, bool with_deadline) const {
    if (with_deadline) ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
    if (!options_.token.empty()) {
      ctx.AddMetadata("authorization", absl::StrCat("Bearer ", options_.token));
    }
  }

  // Makes one unary call: `call(ctx, response)`; prints the response as JSON
  // or as `format(response)`. `not_found` explains NOT_FOUND, when known.
  template <typename Response, typename Call, typename Format>
  int Unary(absl::string_view rpc, Call call, Format format, absl::string_view not_found = "") {
    grpc::ClientContext ctx;
    Prepare(ctx, /*with_deadline=*/true);
    Response response;
    grpc::Status status = call(&ctx, &response);
    if (!status.ok()) return Fail(rpc, status, ctx.peer(), not_found);
    Readable(response);
    return Show(response, format(response)) ? config::kExitOk : config::kExitFailure;
  }

  int Watch();

  // Prints `message` as one line of JSON, or `text`. False when the message
  // cannot be printed as JSON (reported on err_).
  bool Show(const google::protobuf::Message& message, const std::string& text);
  // `peer` is the failed call's ClientContext::peer(): the resolved address
  // ("ipv4:10.0.0.1:6900") once the call had a connection, else the channel's
  // target; so an UNAVAILABLE the coordinator itself returned ("no assignment
  // published yet") is not reported as a connection failure.
  int Fail(absl::string_view rpc, const grpc::Status& status, absl::string_view peer,
           absl::string_view not_found = "");
  // "<message> (<CODE>)", on one line.
  static std::string Detail(const grpc::Status& status);
  // Why no connection could be made, with what to change when the cause is
  // TLS: a verification failure, TLS on one side only, or a coordinator that
  // closes the connection right after the handshake, which is how a server
  // that requires a client certificate refuses one under TLS 1.3.
  std::string ConnectionFailure(const grpc::Status& status, const std::string& detail) const;
  std::string Where() const { return absl::StrCat("coordinator at ", options_.coordinator); }

  const Options& options_;
  v1::Admin::StubInterface& stub_;
  std::ostream& out_;
  std::ostream& err_;
};

int Session::Run(const Invocation& inv) {
  switch (inv.info->command) {
    case Command::kStatus:
      return Unary<v1::ClusterStatus>(
          "GetStatus",
          [&](grpc::ClientContext* ctx, v1::ClusterStatus* r) {
            return stub_.GetStatus(ctx, v1::GetStatusRequest(), r);
          },
          FormatClusterStatus);
    case Command::kNodes:
      return Unary<v1::ListNodesResponse>(
          "ListNodes",
          [&](grpc::ClientContext* ctx, v1::ListNodesResponse* r) {
            return stub_.ListNodes(ctx, v1::ListNodesRequest(), r);
          },
          FormatNodes);
    case Command::kBrokers:
      return Unary<v1::ListBrokersResponse>(
          "ListBrokers",
          [&](grpc::ClientContext* ctx, v1::ListBrokersResponse* r) {
            return stub_.ListBrokers(ctx, v1::ListBrokersRequest(), r);
          },
          FormatBrokers);
    case Command::kAssignment:
      return Unary<v1::Assignment>(
          "GetAssignment",
          [&](grpc::ClientContext* ctx, v1::Assignment* r) {
            return stub_.GetAssignment(ctx, v1::GetAssignmentRequest(), r);
          },
          FormatAssignment);
    case Command::kWatch:
      return Watch();
    case Command::kExplain: {
      v1::ExplainRouteRequest request;
      request.set_broker_id(inv.broker_id);
      request.set_client_id(options_.client_id);
      request.set_client_host(options_.client_host);
      return Unary<v1::ExplainRouteResponse>(
          "ExplainRoute",
          [&](grpc::ClientContext* ctx, v1::ExplainRouteResponse* r) {
            return stub_.ExplainRoute(ctx, request, r);
          },
          FormatExplain, absl::StrCat("no route to broker ", inv.broker_id, " (", Where(), ")"));
    }
    case Command::kDrain:
    case Command::kResume: {
      const bool drain = inv.info->command == Command::kDrain;
      v1::DrainAgentRequest request;
      request.set_node_id(inv.node_id);
      return Unary<v1::DrainAgentResponse>(
          drain ? "DrainAgent" : "ResumeAgent",
          [&](grpc::ClientContext* ctx, v1::DrainAgentResponse* r) {
            return drain ? stub_.DrainAgent(ctx, request, r) : stub_.ResumeAgent(ctx, request, r);
          },
          [&](const v1::DrainAgentResponse& r) { return FormatDrainResult(r, inv.node_id, drain); },
          absl::StrCat("no agent \"", inv.node_id, "\" in the gateway cluster (", Where(), ")"));
    }
    case Command::kVersion:
      out_ << config::VersionLine("kgwctl") << std::endl;
      return config::kExitOk;
  }
  return config::kExitBadConfig;  // not reached: every command is handled above
}

int Session::Watch() {
  // The stream has no deadline; the timeout bounds the wait for the first
  // assignment, which the coordinator sends at once.
  grpc::ClientContext ctx;
  Prepare(ctx, /*with_deadline=*/false);
  absl::Mutex mu;
  bool settled = false;  // first assignment or end of stream
  bool gave_up = false;
  std::thread watchdog([&] {
    mu.LockWhenWithTimeout(absl::Condition(&settled), options_.timeout);
    if (!settled) {
      gave_up = true;
      ctx.TryCancel();
    }
    mu.Unlock();
  });
  auto settle = [&] {
    absl::MutexLock lock(&mu);
    settled = true;
  };

  std::unique_ptr<grpc::ClientReaderInterface<v1::Assignment>> reader =
      stub_.WatchAssignment(&ctx, v1::GetAssignmentRequest());
  v1::Assignment assignment;
  int received = 0;
  bool printed = true;
  while (printed && reader->Read(&assignment)) {
    Readable(assignment);
    if (received++ == 0) {
      settle();
    } else if (!options_.json) {
      out_ << "\n";
    }
    printed = Show(assignment, FormatAssignment(assignment));
  }
  settle();
  if (!printed) ctx.TryCancel();
  grpc::Status status = reader->Finish();
  watchdog.join();
  if (!printed) return config::kExitFailure;
  if (gave_up && received == 0) {
    err_ << "kgwctl: no assignment from " << Where() << " within "
         << absl::FormatDuration(options_.timeout) << std::endl;
    return config::kExitFailure;
  }
  if (!status.ok() && received == 0) return Fail("WatchAssignment", status, ctx.peer());
  const std::string after =
      absl::StrCat(" after ", received, received == 1 ? " assignment" : " assignments");
  if (!status.ok()) {
    err_ << "kgwctl: the watch stream from " << Where() << " failed" << after << ": "
         << Detail(status) << std::endl;
  } else {
    err_ << "kgwctl: the " << Where() << " closed the watch stream" << after << std::endl;
  }
  return config::kExitFailure;
}

bool Session::Show(const google::protobuf::Message& message, const std::string& text) {
  if (!options_.json) {
    out_ << text << std::flush;
    return true;
  }
  google::protobuf::util::JsonPrintOptions json;
  json.always_print_primitive_fields = true;
  json.preserve_proto_field_names = true;
  std::string line;
  if (auto status = google::protobuf::util::MessageToJsonString(message, &line, json);
      !status.ok()) {
    err_ << "kgwctl: cannot print " << message.GetTypeName() << " as JSON: " << status.ToString()
         << std::endl;
    return false;
  }
  out_ << line << std::endl;
  return true;
}

std::string Session::Detail(const grpc::Status& status) {
  const std::string code =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
  // The coordinator's message goes on the same line, whatever it contains.
  const std::string message = absl::StrReplaceAll(status.error_message(), {{"\n", " "}});
  return message.empty() ? absl::StrCat("(", code, ")") : absl::StrCat(message, " (", code, ")");
}

std::string Session::ConnectionFailure(const grpc::Status& status,
                                       const std::string& detail) const {
  const std::string& message = status.error_message();
  const bool closed =
      absl::StrContains(message, "Socket closed") || absl::StrContains(message, "Connection reset");
  if (options_.tls && closed) {
    return options_.tls_cert_file.empty()
               ? absl::StrCat("the ", Where(),
                              " refused the TLS connection: it requires a client certificate; "
                              "set KGWCTL_TLS_CERT_FILE and KGWCTL_TLS_KEY_FILE: ",
                              detail)
               : absl::StrCat("the ", Where(),
                              " refused the TLS connection: it does not accept the client "
                              "certificate in KGWCTL_TLS_CERT_FILE (signed by a CA it does not "
                              "trust, expired, or not for client authentication): ",
                              detail);
  }
  std::string hint;
  if (!options_.tls && closed) {
    hint = "; if the coordinator serves TLS (GATEWAY_GRPC_TLS=true), add --tls";
  } else if (options_.tls && absl::StrContains(message, "wrong version number")) {
    hint = "; the coordinator does not serve TLS on this port: drop --tls";
  } else if (options_.tls && absl::StrContains(message, "certificate verify failed")) {
    hint = options_.tls_ca_file.empty()
               ? "; the system's roots do not verify the coordinator's certificate: set "
                 "KGWCTL_TLS_CA_FILE to the CA that signed it"
               : "; KGWCTL_TLS_CA_FILE does not hold the CA that signed the coordinator's "
                 "certificate";
  } else if (options_.tls && absl::StrContains(message, "not in peer certificate")) {
    hint = "; the coordinator's certificate does not name the host in KGWCTL_COORDINATOR";
  }
  return absl::StrCat("cannot reach ", Where(), ": ", detail, hint);
}

int Session::Fail(absl::string_view rpc, const grpc::Status& status, absl::string_view peer,
                  absl::string_view not_found) {
  const std::string detail = Detail(status);
  std::string line;
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      line = peer.empty() || peer == options_.coordinator
                 ? ConnectionFailure(status, detail)
                 : absl::StrCat("the ", Where(), " could not answer ", rpc, ": ", detail);
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      line = absl::StrCat("no answer from ", Where(), " within ",
                          absl::FormatDuration(options_.timeout), ": ", detail);
      break;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      line = options_.token.empty()
                 ? absl::StrCat("the ", Where(), " requires an admin token for ", rpc,
                                "; set KGWCTL_TOKEN: ", detail)
                 : absl::StrCat("the ", Where(), " refused the admin token (KGWCTL_TOKEN) for ",
                                rpc, ": ", detail);
      break;
    case grpc::StatusCode::NOT_FOUND:
      line = not_found.empty() ? absl::StrCat(rpc, " at ", Where(), ": ", detail)
                               : absl::StrCat(not_found, ": ", detail);
      break;
    case grpc::StatusCode::UNIMPLEMENTED:
      line =
          absl::StrCat("the ", Where(), " does not implement ", rpc, " (an older kgw?): ", detail);
      break;
    default:
      line = absl::StrCat(rpc, " failed at ", Where(), ": ", detail);
      break;
  }
  err_ << "kgwctl: " << line << std::endl;
  return config::kExitFailure;
}

}  // namespace

std::string CommandHelp() {
  constexpr size_t kWidth = 12;  // longer usages put their help on the next line
  std::string out = "Commands:\n";
  for (const CommandInfo& info : kCommands) {
    std::string usage = Usage(info).substr(absl::string_view("kgwctl ").size());
    if (usage.size() <= kWidth) {
      absl::StrAppend(&out, "  ", usage, std::string(kWidth - usage.size() + 2, ' '), info.help,
                      "\n");
    } else {
      absl::StrAppend(&out, "  ", usage, "\n", std::string(kWidth + 4, ' '), info.help, "\n");
    }
  }
  return out;
}

int RunCommand(const Options& options, v1::Admin::StubInterface& stub, std::ostream& out,
               std::ostream& err) {
  absl::StatusOr<Invocation> inv = ParseInvocation(options.args);
  if (!inv.ok()) {
    err << "kgwctl: " << inv.status().message() << std::endl;
    return config::kExitBadConfig;
  }
  return Session(options, stub, out, err).Run(*inv);
}

}  // namespace kgw::kgwctl
