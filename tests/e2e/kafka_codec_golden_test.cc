// Golden bytes from a real broker: for every API the codec supports, at every
// version both the codec and the test cluster's brokers support, send a real
// request, take the broker's response frame and require that the codec
// decodes it completely and encodes it back to the very same bytes (tagged
// fields included). The requests are built to get interesting answers:
// records in Fetch, NodeEndpoints from a non-leader's Produce, coordinators,
// quorum listeners, SASL mechanisms.
//
// With KGW_GOLDEN_DIR set, every response is also written there as
// <Api>_v<version>_<n>.bin (the frame without its size prefix), e.g. to seed
// the fuzzers' corpora.
#include <array>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/kafka/header.h"
#include "common/kafka/messages/all_messages.h"
#include "common/kafka/messages/api_registry.h"
#include "common/kafka/wire/reader.h"
#include "common/kafka/wire/writer.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/kafka_test_connection.h"

namespace kgw::kafka {
namespace {

using test::Connection;

// --- what was checked, so the suite can prove it covered everything ---

std::map<int16_t, std::set<int16_t>>& Checked() {
  static auto* checked = new std::map<int16_t, std::set<int16_t>>();
  return *checked;
}

void Save(const std::string& name, int16_t version, const std::vector<uint8_t>& frame) {
  const char* dir = std::getenv("KGW_GOLDEN_DIR");
  if (dir == nullptr || *dir == '\0') return;
  static std::map<std::string, int> counts;
  std::string stem = absl::StrCat(name, "_v", version);
  std::ofstream out(absl::StrCat(dir, "/", stem, "_", counts[stem]++, ".bin"), std::ios::binary);
  out.write(reinterpret_cast<const char*>(frame.data()), static_cast<std::streamsize>(frame.size()));
}

// Sends `request`, decodes the response and checks it re-encodes byte for
// byte. Returns the decoded response for the caller to look into.
template <typename Request, typename Response>
std::optional<Response> RoundTrip(Connection& conn, const Request& request, int16_t version) {
  const std::string name(Response::kName);
  SCOPED_TRACE(absl::StrCat(name, " v", version));
  absl::StatusOr<std::vector<uint8_t>> frame = conn.Exchange(request, version);
  if (!frame.ok()) {
    ADD_FAILURE() << "no response: " << frame.status();
    return std::nullopt;
  }
  Save(name, version, *frame);
  Reader r(absl::MakeConstSpan(*frame));
  ResponseHeader header;
  int16_t header_version = ResponseHeaderVersion(Response::kApiKey, version);
  absl::Status s = header.Decode(r, header_version);
  if (!s.ok()) {
    ADD_FAILURE() << "header: " << s;
    return std::nullopt;
  }
  EXPECT_EQ(header.correlation_id, conn.last_correlation_id());
  Response response;
  s = response.Decode(r, version);
  if (!s.ok()) {
    ADD_FAILURE() << "decode: " << s;
    return std::nullopt;
  }
  EXPECT_EQ(r.remaining(), 0u) << "bytes left after the body";
  Writer w;
  header.Encode(w, header_version);
  response.Encode(w, version);
  std::vector<uint8_t> again(w.data().begin(), w.data().end());
  EXPECT_EQ(again, *frame) << "re-encoding differs from the broker's bytes";
  Checked()[Response::kApiKey].insert(version);
  return response;
}

// --- record batch v2 with one record, for Produce ---

uint32_t Crc32c(absl::Span<const uint8_t> data) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0x82F63B78u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (uint8_t b : data) crc = table[(crc ^ b) & 0xff] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

std::vector<uint8_t> OneRecordBatch(absl::string_view value) {
  Writer record;
  record.WriteInt8(0);     // attributes
  record.WriteVarlong(0);  // timestamp delta
  record.WriteVarint(0);   // offset delta
  record.WriteVarint(-1);  // null key
  record.WriteVarint(static_cast<int32_t>(value.size()));
  for (char c : value) record.WriteInt8(static_cast<int8_t>(c));
  record.WriteVarint(0);  // no headers

  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  Writer crc_part;  // attributes .. end: what the CRC covers
  crc_part.WriteInt16(0);   // attributes
  crc_part.WriteInt32(0);   // last offset delta
  crc_part.WriteInt64(now); // base timestamp
  crc_part.WriteInt64(now); // max timestamp
  crc_part.WriteInt64(-1);  // producer id
  crc_part.WriteInt16(-1);  // producer epoch
  crc_part.WriteInt32(-1);  // base sequence
  crc_part.WriteInt32(1);   // record count
  crc_part.WriteVarint(static_cast<int32_t>(record.size()));
  for (uint8_t b : record.data()) crc_part.WriteInt8(static_cast<int8_t>(b));

  Writer batch;
  batch.WriteInt64(0);  // base offset
  batch.WriteInt32(static_cast<int32_t>(4 + 1 + 4 + crc_part.size()));  // batch length
  batch.WriteInt32(-1);  // partition leader epoch
  batch.WriteInt8(2);    // magic
  batch.WriteUint32(Crc32c(crc_part.data()));
  for (uint8_t b : crc_part.data()) batch.WriteInt8(static_cast<int8_t>(b));
  return batch.Release();
}

// --- the cluster under test ---

struct Cluster {
  std::map<int32_t, std::string> brokers;  // node id -> host:port (PLAINTEXT)
  std::map<int16_t, std::pair<int16_t, int16_t>> broker_versions;  // api key -> [min, max]
  std::string topic;
  Uuid topic_id;
  int32_t leader = -1;  // of partition 0
};

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

// Versions of `api_key` that both the codec and the brokers support.
std::vector<int16_t> CommonVersions(const Cluster& c, int16_t api_key) {
  std::vector<int16_t> out;
  const ApiInfo* api = FindApi(api_key);
  auto it = c.broker_versions.find(api_key);
  if (api == nullptr || it == c.broker_versions.end()) return out;
  for (int16_t v = std::max(api->min_version, it->second.first);
       v <= std::min(api->max_version, it->second.second); ++v) {
    out.push_back(v);
  }
  return out;
}

class KafkaCodecGoldenTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::optional<std::string> bootstrap = Env("KGW_KAFKA_BOOTSTRAP");
    ASSERT_TRUE(bootstrap) << "KGW_KAFKA_BOOTSTRAP is not set: start the cluster with "
                              "tests/kafka/kafka-cluster.sh and source its cluster.env";
    cluster_ = new Cluster();
    std::vector<std::string> servers = absl::StrSplit(*bootstrap, ',');
    absl::StatusOr<Connection> conn = Connection::Open(servers.front());
    ASSERT_TRUE(conn.ok()) << conn.status();

    // ApiVersions v0 is understood by every broker; its answer bounds the rest.
    std::optional<ApiVersionsResponse> versions =
        RoundTrip<ApiVersionsRequest, ApiVersionsResponse>(*conn, ApiVersionsRequest(), 0);
    ASSERT_TRUE(versions);
    for (const auto& v : versions->api_keys) {
      cluster_->broker_versions[v.api_key] = {v.min_version, v.max_version};
    }

    // A fresh topic, auto-created through Metadata, with a leader for partition 0.
    std::random_device rd;
    cluster_->topic = absl::StrCat("kgw-golden-", rd() % 1000000000);
    MetadataRequest md;
    md.topics.emplace();
    md.topics->emplace_back().name = cluster_->topic;
    md.allow_auto_topic_creation = true;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline && cluster_->leader < 0) {
      std::optional<MetadataResponse> r = RoundTrip<MetadataRequest, MetadataResponse>(*conn, md, 12);
      ASSERT_TRUE(r);
      for (const auto& b : r->brokers) {
        cluster_->brokers[b.node_id] = absl::StrCat(b.host, ":", b.port);
      }
      for (const auto& t : r->topics) {
        if (t.error_code != 0) continue;
        cluster_->topic_id = t.topic_id;
        for (const auto& p : t.partitions) {
          if (p.partition_index == 0 && p.error_code == 0) cluster_->leader = p.leader_id;
        }
      }
      if (cluster_->leader < 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    ASSERT_GE(cluster_->leader, 0) << "topic " << cluster_->topic << " got no leader";
    ASSERT_EQ(cluster_->brokers.size(), 3u);
  }

  // acks=all Produce of `batch` (which must outlive the request) to
  // partition 0 of the test topic, named both ways so every version has it.
  static ProduceRequest ProduceToPartitionZero(const std::vector<uint8_t>& batch) {
    ProduceRequest req;
    req.acks = -1;
    req.timeout_ms = 10000;
    auto& td = req.topic_data.emplace_back();
    td.name = cluster_->topic;
    td.topic_id = cluster_->topic_id;
    auto& pd = td.partition_data.emplace_back();
    pd.index = 0;
    pd.records = absl::MakeConstSpan(batch);
    return req;
  }

  static Connection Open(int32_t broker) {
    absl::StatusOr<Connection> c = Connection::Open(cluster_->brokers.at(broker));
    CHECK(c.ok()) << c.status();
    return std::move(*c);
  }

  static Cluster* cluster_;
};

Cluster* KafkaCodecGoldenTest::cluster_ = nullptr;

TEST_F(KafkaCodecGoldenTest, ApiVersions) {
  Connection conn = Open(cluster_->leader);
  for (int16_t v : CommonVersions(*cluster_, ApiVersionsRequest::kApiKey)) {
    ApiVersionsRequest req;
    req.client_software_name = "kgw-golden";
    req.client_software_version = "1.0";
    std::optional<ApiVersionsResponse> r = RoundTrip<ApiVersionsRequest, ApiVersionsResponse>(conn, req, v);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->error_code, 0);
    EXPECT_FALSE(r->api_keys.empty());
  }
}

TEST_F(KafkaCodecGoldenTest, MetadataWithRacksAndTopics) {
  Connection conn = Open(cluster_->leader);
  for (int16_t v : CommonVersions(*cluster_, MetadataRequest::kApiKey)) {
    MetadataRequest req;
    req.topics.emplace();
    req.topics->emplace_back().name = cluster_->topic;
    req.allow_auto_topic_creation = false;
    req.include_topic_authorized_operations = true;
    std::optional<MetadataResponse> r = RoundTrip<MetadataRequest, MetadataResponse>(conn, req, v);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->brokers.size(), 3u) << "v" << v;
    if (v >= 12) {  // by topic id alone
      req.topics->front().name.reset();
      req.topics->front().topic_id = cluster_->topic_id;
      RoundTrip<MetadataRequest, MetadataResponse>(conn, req, v);
    }
    // All topics too (null list), to get internal topics and many partitions.
    req.topics.reset();
    RoundTrip<MetadataRequest, MetadataResponse>(conn, req, v);
  }
}

TEST_F(KafkaCodecGoldenTest, ProduceToLeaderAndToFollower) {
  std::vector<uint8_t> batch = OneRecordBatch("golden");
  const ProduceRequest req = ProduceToPartitionZero(batch);
  for (int16_t v : CommonVersions(*cluster_, ProduceRequest::kApiKey)) {
    for (const auto& [id, addr] : cluster_->brokers) {
      // The leader appends; the others answer NOT_LEADER_OR_FOLLOWER, and in
      // v10+ name the leader in NodeEndpoints.
      Connection conn = Open(id);
      std::optional<ProduceResponse> r = RoundTrip<ProduceRequest, ProduceResponse>(conn, req, v);
      ASSERT_TRUE(r);
      if (id != cluster_->leader && v >= 10) {
        EXPECT_FALSE(r->node_endpoints.empty()) << "follower gave no NodeEndpoints at v" << v;
      }
    }
  }
}

TEST_F(KafkaCodecGoldenTest, FetchRecordsFromEveryReplica) {
  {
    // Make sure there is something to fetch whatever order the tests run in.
    std::vector<uint8_t> batch = OneRecordBatch("fetch-me");
    const ProduceRequest req = ProduceToPartitionZero(batch);
    Connection conn = Open(cluster_->leader);
    std::vector<int16_t> pv = CommonVersions(*cluster_, ProduceRequest::kApiKey);
    ASSERT_FALSE(pv.empty());
    ASSERT_TRUE((RoundTrip<ProduceRequest, ProduceResponse>(conn, req, pv.back())));
  }
  for (int16_t v : CommonVersions(*cluster_, FetchRequest::kApiKey)) {
    FetchRequest req;
    req.max_wait_ms = 100;
    req.min_bytes = 1;
    auto& t = req.topics.emplace_back();
    t.topic = cluster_->topic;
    t.topic_id = cluster_->topic_id;
    auto& p = t.partitions.emplace_back();
    p.partition = 0;
    p.fetch_offset = 0;
    p.partition_max_bytes = 1 << 20;
    req.rack_id = "b";
    for (const auto& [id, addr] : cluster_->brokers) {
      Connection conn = Open(id);
      ASSERT_TRUE((RoundTrip<FetchRequest, FetchResponse>(conn, req, v)));
    }
  }
}

TEST_F(KafkaCodecGoldenTest, FindCoordinatorForGroupsAndTransactions) {
  Connection conn = Open(cluster_->leader);
  for (int16_t v : CommonVersions(*cluster_, FindCoordinatorRequest::kApiKey)) {
    for (int8_t key_type : {0, 1}) {
      FindCoordinatorRequest req;
      req.key = "kgw-golden-group";
      req.key_type = key_type;
      req.coordinator_keys = {"kgw-golden-group", "kgw-golden-other"};
      RoundTrip<FindCoordinatorRequest, FindCoordinatorResponse>(conn, req, v);
    }
  }
}

TEST_F(KafkaCodecGoldenTest, DescribeClusterAndQuorum) {
  Connection conn = Open(cluster_->leader);
  for (int16_t v : CommonVersions(*cluster_, DescribeClusterRequest::kApiKey)) {
    DescribeClusterRequest req;
    req.include_cluster_authorized_operations = true;
    req.endpoint_type = 1;
    std::optional<DescribeClusterResponse> r =
        RoundTrip<DescribeClusterRequest, DescribeClusterResponse>(conn, req, v);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->brokers.size(), 3u);
  }
  for (int16_t v : CommonVersions(*cluster_, DescribeQuorumRequest::kApiKey)) {
    DescribeQuorumRequest req;
    auto& t = req.topics.emplace_back();
    t.topic_name = "__cluster_metadata";
    t.partitions.emplace_back().partition_index = 0;
    RoundTrip<DescribeQuorumRequest, DescribeQuorumResponse>(conn, req, v);
  }
}

TEST_F(KafkaCodecGoldenTest, ClassicGroupProtocolRequests) {
  Connection conn = Open(cluster_->leader);
  for (int16_t v : CommonVersions(*cluster_, JoinGroupRequest::kApiKey)) {
    JoinGroupRequest req;
    req.group_id = "kgw-golden-group";
    req.session_timeout_ms = 10000;
    req.rebalance_timeout_ms = 10000;
    req.protocol_type = "kgw";
    auto& p = req.protocols.emplace_back();
    p.name = "kgw-v1";
    p.metadata = {1, 2, 3};
    req.reason = "golden";
    // Sent to a broker that may not coordinate the group: every answer is a
    // real response (NOT_COORDINATOR, MEMBER_ID_REQUIRED, ...) worth checking.
    RoundTrip<JoinGroupRequest, JoinGroupResponse>(conn, req, v);
  }
  for (int16_t v : CommonVersions(*cluster_, SyncGroupRequest::kApiKey)) {
    SyncGroupRequest req;
    req.group_id = "kgw-golden-group";
    req.generation_id = 1;
    req.member_id = "unknown-member";
    req.protocol_type = "kgw";
    req.protocol_name = "kgw-v1";
    RoundTrip<SyncGroupRequest, SyncGroupResponse>(conn, req, v);
  }
  for (int16_t v : CommonVersions(*cluster_, HeartbeatRequest::kApiKey)) {
    HeartbeatRequest req;
    req.group_id = "kgw-golden-group";
    req.generation_id = 1;
    req.member_id = "unknown-member";
    RoundTrip<HeartbeatRequest, HeartbeatResponse>(conn, req, v);
  }
  for (int16_t v : CommonVersions(*cluster_, LeaveGroupRequest::kApiKey)) {
    LeaveGroupRequest req;
    req.group_id = "kgw-golden-group";
    req.member_id = "unknown-member";
    req.members.emplace_back().member_id = "unknown-member";
    RoundTrip<LeaveGroupRequest, LeaveGroupResponse>(conn, req, v);
  }
  for (int16_t v : CommonVersions(*cluster_, DescribeGroupsRequest::kApiKey)) {
    // A group nobody joined: Dead and empty up to v5, GROUP_ID_NOT_FOUND from v6
    // (NOT_COORDINATOR from a broker that does not coordinate it).
    DescribeGroupsRequest req;
    req.groups = {"kgw-golden-no-such-group"};
    req.include_authorized_operations = true;
    std::optional<DescribeGroupsResponse> r =
        RoundTrip<DescribeGroupsRequest, DescribeGroupsResponse>(conn, req, v);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->groups.size(), 1u);
    EXPECT_EQ(r->groups[0].group_id, "kgw-golden-no-such-group");
  }
}

TEST_F(KafkaCodecGoldenTest, ShareGroupRequests) {
  Connection conn = Open(cluster_->leader);
  for (int16_t v : CommonVersions(*cluster_, ShareFetchRequest::kApiKey)) {
    ShareFetchRequest req;
    req.group_id = "kgw-golden-share";
    req.member_id = "AAAAAAAAAAAAAAAAAAAAAA";
    req.share_session_epoch = 0;
    req.max_wait_ms = 10;
    req.min_bytes = 1;
    req.max_bytes = 1 << 20;
    auto& t = req.topics.emplace_back();
    t.topic_id = cluster_->topic_id;
    t.partitions.emplace_back().partition_index = 0;
    RoundTrip<ShareFetchRequest, ShareFetchResponse>(conn, req, v);
  }
  for (int16_t v : CommonVersions(*cluster_, ShareAcknowledgeRequest::kApiKey)) {
    ShareAcknowledgeRequest req;
    req.group_id = "kgw-golden-share";
    req.member_id = "AAAAAAAAAAAAAAAAAAAAAA";
    req.share_session_epoch = 1;
    auto& t = req.topics.emplace_back();
    t.topic_id = cluster_->topic_id;
    t.partitions.emplace_back().partition_index = 0;
    RoundTrip<ShareAcknowledgeRequest, ShareAcknowledgeResponse>(conn, req, v);
  }
}

TEST_F(KafkaCodecGoldenTest, SaslHandshakeAndAuthenticate) {
  std::optional<std::string> sasl = Env("KGW_KAFKA_SASL_BOOTSTRAP");
  if (!sasl) GTEST_SKIP() << "cluster started without --security";
  std::string first = std::vector<std::string>(absl::StrSplit(*sasl, ',')).front();
  std::string user = Env("KGW_KAFKA_SASL_USER").value_or("");
  std::string password = Env("KGW_KAFKA_SASL_PASSWORD").value_or("");
  SaslHandshakeRequest hs;
  hs.mechanism = "PLAIN";
  const std::vector<int16_t> handshake_versions =
      CommonVersions(*cluster_, SaslHandshakeRequest::kApiKey);
  ASSERT_FALSE(handshake_versions.empty());
  for (int16_t hv : handshake_versions) {
    absl::StatusOr<Connection> conn = Connection::Open(first);
    ASSERT_TRUE(conn.ok()) << conn.status();
    std::optional<SaslHandshakeResponse> r =
        RoundTrip<SaslHandshakeRequest, SaslHandshakeResponse>(*conn, hs, hv);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->error_code, 0);
    EXPECT_THAT(r->mechanisms, testing::Contains("SCRAM-SHA-512"));
  }
  for (int16_t av : CommonVersions(*cluster_, SaslAuthenticateRequest::kApiKey)) {
    for (bool good_password : {true, false}) {
      absl::StatusOr<Connection> conn = Connection::Open(first);
      ASSERT_TRUE(conn.ok()) << conn.status();
      ASSERT_TRUE((RoundTrip<SaslHandshakeRequest, SaslHandshakeResponse>(
          *conn, hs, handshake_versions.back())));
      SaslAuthenticateRequest auth;
      std::string token =
          absl::StrCat(std::string(1, '\0'), user, std::string(1, '\0'),
                       good_password ? password : std::string("wrong"));
      auth.auth_bytes.assign(token.begin(), token.end());
      std::optional<SaslAuthenticateResponse> r =
          RoundTrip<SaslAuthenticateRequest, SaslAuthenticateResponse>(*conn, auth, av);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->error_code == 0, good_password);
    }
  }
}

// Runs last (gtest runs tests in declaration order within a suite): every API
// the codec knows and the brokers offer was checked at every common version.
TEST_F(KafkaCodecGoldenTest, ZzEveryCommonVersionWasChecked) {
  bool sasl = Env("KGW_KAFKA_SASL_BOOTSTRAP").has_value();
  for (const ApiInfo& api : SupportedApis()) {
    if (!sasl && (api.api_key == SaslHandshakeRequest::kApiKey ||
                  api.api_key == SaslAuthenticateRequest::kApiKey)) {
      continue;
    }
    std::vector<int16_t> common = CommonVersions(*cluster_, api.api_key);
    std::set<int16_t> want(common.begin(), common.end());
    EXPECT_EQ(Checked()[api.api_key], want) << api.name << " not checked at every common version";
    EXPECT_FALSE(want.empty()) << api.name << ": the brokers support no version the codec supports";
  }
}

}  // namespace
}  // namespace kgw::kafka
