// How kgwctl shows the admin API's messages to a person: aligned tables with
// upper-case headers and "key: value" blocks. Cells never contain two
// spaces in a row, so a script can split rows on runs of two or more spaces;
// scripts should rather use --json.
//
// Pure functions of their arguments; callable from any thread.
#ifndef KGW_TOOLS_KGWCTL_FORMAT_H_
#define KGW_TOOLS_KGWCTL_FORMAT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "kgw/v1/admin.pb.h"
#include "kgw/v1/assignment.pb.h"

namespace kgw::kgwctl {

// Left-aligned columns separated by two spaces, no trailing blanks.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  // Missing cells are blank; an empty cell is shown as "-".
  void AddRow(std::vector<std::string> cells);
  // Every line starts with `indent` and ends with '\n'.
  std::string Render(absl::string_view indent = "") const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// "1-3,5,7-8" for {1, 2, 3, 5, 7, 8} (sorted, duplicates dropped); "-" when empty.
std::string FormatBrokerIds(absl::Span<const int32_t> broker_ids);
// 0, 512, 1.5KiB, 12.0MiB, 3.2GiB.
std::string FormatBytesPerSecond(double bytes_per_second);
// "2024-05-01 12:00:00.250 UTC"; "-" for 0 (never computed).
std::string FormatUtcMillis(int64_t ms_since_epoch);
// host:port with IPv6 hosts in brackets; "-" when the host is empty.
std::string FormatHostPort(absl::string_view host, int32_t port);

std::string FormatClusterStatus(const v1::ClusterStatus& status);
std::string FormatNodes(const v1::ListNodesResponse& nodes);
std::string FormatBrokers(const v1::ListBrokersResponse& brokers);
std::string FormatAssignment(const v1::Assignment& assignment);
std::string FormatExplain(const v1::ExplainRouteResponse& route);
// After DrainAgent (`drained`) or ResumeAgent of `node_id`: one line naming
// the new assignment, then the brokers the agent serves in it.
std::string FormatDrainResult(const v1::DrainAgentResponse& response, absl::string_view node_id,
                              bool drained);

}  // namespace kgw::kgwctl

#endif  // KGW_TOOLS_KGWCTL_FORMAT_H_
