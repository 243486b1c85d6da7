// Micro-benchmarks of the codec paths the agent runs per response:
//  - a Metadata rewrite (replace every broker's host and port) of a large
//    cluster, 100 brokers and 10,000 partitions, both through the full
//    decoder and through RewriteMetadataBrokers;
//  - the NodeEndpoints skim of a 1 MiB Fetch response, with and without the
//    tagged field, and the full decode + encode needed when it is present.
// Results and the machine they ran on are recorded in docs/benchmarks.md.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "common/kafka/messages/all_messages.h"
#include "common/kafka/metadata_rewrite.h"
#include "common/kafka/node_endpoints.h"
#include "common/kafka/wire/reader.h"
#include "common/kafka/wire/writer.h"

namespace kgw::kafka {
namespace {

constexpr int16_t kMetadataVersion = 12;
constexpr int16_t kFetchVersion = 17;

std::vector<uint8_t> LargeMetadataResponse() {
  MetadataResponse m;
  m.cluster_id = "kgw-benchmark-cluster";
  m.controller_id = 1;
  for (int b = 0; b < 100; ++b) {
    auto& broker = m.brokers.emplace_back();
    broker.node_id = b;
    broker.host = absl::StrCat("broker-", b, ".kafka.internal.example.com");
    broker.port = 9092;
    broker.rack = absl::StrCat("zone-", b % 3);
  }
  for (int t = 0; t < 100; ++t) {
    auto& topic = m.topics.emplace_back();
    topic.name = absl::StrCat("orders.events.v", t);
    topic.topic_id.bytes[0] = static_cast<uint8_t>(t);
    for (int p = 0; p < 100; ++p) {
      auto& part = topic.partitions.emplace_back();
      part.partition_index = p;
      part.leader_id = (t + p) % 100;
      part.leader_epoch = 7;
      part.replica_nodes = {(t + p) % 100, (t + p + 1) % 100, (t + p + 2) % 100};
      part.isr_nodes = part.replica_nodes;
    }
  }
  Writer w;
  m.Encode(w, kMetadataVersion);
  return w.Release();
}

void BM_MetadataRewrite100Brokers10kPartitions(benchmark::State& state) {
  const std::vector<uint8_t> bytes = LargeMetadataResponse();
  for (auto _ : state) {
    Reader r(absl::MakeConstSpan(bytes));
    MetadataResponse m;
    if (!m.Decode(r, kMetadataVersion).ok()) state.SkipWithError("decode failed");
    for (auto& broker : m.brokers) {
      broker.host = "agent-1.gateway.example.com";
      broker.port = 6969 + broker.node_id;
    }
    Writer w;
    m.Encode(w, kMetadataVersion);
    benchmark::DoNotOptimize(w.data().data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(bytes.size()));
  state.counters["response_bytes"] = static_cast<double>(bytes.size());
}
BENCHMARK(BM_MetadataRewrite100Brokers10kPartitions)->Unit(benchmark::kMicrosecond);

// The same rewrite through RewriteMetadataBrokers: brokers decoded and
// re-encoded, the rest validated by a walk and copied.
void BM_MetadataFastRewrite100Brokers10kPartitions(benchmark::State& state) {
  const std::vector<uint8_t> bytes = LargeMetadataResponse();
  for (auto _ : state) {
    auto out = RewriteMetadataBrokers(
        absl::MakeConstSpan(bytes), kMetadataVersion,
        [](MetadataResponse::MetadataResponseBroker& broker) {
          broker.host = "agent-1.gateway.example.com";
          broker.port = 6969 + broker.node_id;
        });
    if (!out.ok()) state.SkipWithError("rewrite failed");
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(bytes.size()));
}
BENCHMARK(BM_MetadataFastRewrite100Brokers10kPartitions)->Unit(benchmark::kMicrosecond);

// 16 partitions of 64 KiB of (opaque) record bytes: 1 MiB of records.
std::vector<uint8_t> FetchResponseOfOneMiB(bool with_node_endpoints, std::vector<uint8_t>* records) {
  records->assign(64 * 1024, 0xab);
  FetchResponse f;
  f.session_id = 42;
  auto& topic = f.responses.emplace_back();
  topic.topic_id.bytes[15] = 1;
  for (int p = 0; p < 16; ++p) {
    auto& part = topic.partitions.emplace_back();
    part.partition_index = p;
    part.high_watermark = 1'000'000;
    part.last_stable_offset = 1'000'000;
    part.log_start_offset = 0;
    part.records = absl::MakeConstSpan(*records);
  }
  if (with_node_endpoints) {
    for (int b = 1; b <= 3; ++b) {
      auto& e = f.node_endpoints.emplace_back();
      e.node_id = b;
      e.host = absl::StrCat("broker-", b, ".kafka.internal.example.com");
      e.port = 9092;
      e.rack = absl::StrCat("zone-", b);
    }
  }
  Writer w;
  f.Encode(w, kFetchVersion);
  return w.Release();
}

void BM_FetchSkim1MiB(benchmark::State& state) {
  std::vector<uint8_t> records;
  const std::vector<uint8_t> body = FetchResponseOfOneMiB(state.range(0) != 0, &records);
  for (auto _ : state) {
    auto found = FindNodeEndpoints(FetchResponse::kApiKey, kFetchVersion, absl::MakeConstSpan(body));
    if (!found.ok() || found->present != (state.range(0) != 0)) state.SkipWithError("bad skim");
    benchmark::DoNotOptimize(found);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_FetchSkim1MiB)->ArgName("node_endpoints")->Arg(0)->Arg(1);

void BM_FetchFullRewrite1MiB(benchmark::State& state) {
  std::vector<uint8_t> records;
  const std::vector<uint8_t> body = FetchResponseOfOneMiB(true, &records);
  for (auto _ : state) {
    Reader r(absl::MakeConstSpan(body));
    FetchResponse f;
    if (!f.Decode(r, kFetchVersion).ok()) state.SkipWithError("decode failed");
    for (auto& e : f.node_endpoints) {
      e.host = "agent-1.gateway.example.com";
      e.port = 6969 + e.node_id;
    }
    Writer w;
    f.Encode(w, kFetchVersion);
    benchmark::DoNotOptimize(w.data().data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_FetchFullRewrite1MiB);

}  // namespace
}  // namespace kgw::kafka

BENCHMARK_MAIN();
