// kgw-agent at a trust boundary, against the real test cluster: TLS and mTLS
// towards clients (kcat, Kafka's Java client, librdkafka), SASL passing
// through TLS, host (SNI) routing, the PROXY protocol behind HAProxy, TLS
// towards the brokers, certificate reloads, the audit log, and bad input of
// each kind refused with its own message while healthy clients carry on.
//
// Each test starts its own agent on its own loopback address; certificates
// are made for the run (common/testing/test_certs.h).
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/testing/test_certs.h"
#include "common/testing/wait_for.h"
#include "gtest/gtest.h"
#include "librdkafka/rdkafka.h"
#include "openssl/err.h"
#include "openssl/ssl.h"
#include "tests/e2e/process_util.h"

namespace kgw::test {
namespace {

using ::kgw::testing::WaitFor;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kPort = 25969;  // every agent here, each on its own address
constexpr int kHttpPort = 25888;

struct Env {
  std::string agent_bin = EnvOr("KGW_AGENT_BIN", "");
  std::string source_dir = EnvOr("KGW_SOURCE_DIR", ".");
  std::string kafka_bootstrap = EnvOr("KGW_KAFKA_BOOTSTRAP", "");
  std::string kafka_sasl_bootstrap = EnvOr("KGW_KAFKA_SASL_BOOTSTRAP", "");
  std::string kafka_ssl_bootstrap = EnvOr("KGW_KAFKA_SSL_BOOTSTRAP", "");
  std::string kafka_sasl_ssl_bootstrap = EnvOr("KGW_KAFKA_SASL_SSL_BOOTSTRAP", "");
  std::string kafka_ca = EnvOr("KGW_KAFKA_CA_FILE", "");
  std::string kafka_libs = EnvOr("KGW_KAFKA_LIBS", "");
  std::string work_dir;
};

Env& E() {
  static Env* env = new Env;
  return *env;
}

std::string Path(const std::string& name) { return absl::StrCat(E().work_dir, "/", name); }

std::string UniqueTopic(const std::string& base) {
  return absl::StrCat(base, "-", getpid(), "-",
                      std::chrono::steady_clock::now().time_since_epoch().count() % 1000000);
}

std::string Java(const std::string& program, const std::string& args,
                 const std::string& jvm_options = "") {
  return absl::StrCat("java ", jvm_options, " -cp '", E().kafka_libs, "/*' '", E().source_dir,
                      "/tests/e2e/java/", program, "' ", args);
}

// An agent on its own loopback address, writing its audit log to a file.
struct Agent {
  std::string name;
  std::string host;
  std::unique_ptr<Child> process;

  std::string bootstrap() const { return absl::StrCat(host, ":", kPort); }
  std::string audit_path() const { return Path(name + "-audit.log"); }
  std::string Audit() const { return ReadFile(audit_path()); }
  std::string Log() const { return process ? process->Log() : ""; }
  // Lines of the audit log that contain every one of `parts`.
  std::vector<std::string> AuditLines(const std::vector<std::string>& parts) const {
    std::vector<std::string> found;
    for (absl::string_view line : absl::StrSplit(Audit(), '\n')) {
      bool all = !line.empty();
      for (const std::string& p : parts) all = all && absl::StrContains(line, p);
      if (all) found.emplace_back(line);
    }
    return found;
  }
};

void StartAgent(Agent& a, std::map<std::string, std::string> extra) {
  std::map<std::string, std::string> env = {
      {"KAFKA_BOOTSTRAP_SERVERS", E().kafka_bootstrap},
      {"GATEWAY_CLUSTER_ID", absl::StrCat("sec-", getpid(), "-", a.name)},
      {"GATEWAY_BIND_HOST", a.host},
      {"GATEWAY_ADVERTISED_HOST", a.host},
      {"GATEWAY_PORT_START", std::to_string(kPort)},
      {"GATEWAY_HTTP_PORT", std::to_string(kHttpPort)},
      // Alone in its gateway cluster: every broker is advertised at this agent.
      {"GATEWAY_FEATURE_FLAGS_INTERNAL_LOAD_BALANCING", "false"},
      {"GATEWAY_UPSTREAM_CONNECT_TIMEOUT", "5s"},
      {"GATEWAY_SHUTDOWN_DELAY_BETWEEN_BROKERS_MS", "0"},
      {"GATEWAY_AUDIT_LOG_SINKS", "file"},
      {"GATEWAY_AUDIT_LOG_FILE", a.audit_path()}};
  for (auto& [k, v] : extra) {
    if (v.empty()) {
      env.erase(k);
    } else {
      env[k] = v;
    }
  }
  a.process = std::make_unique<Child>(std::vector<std::string>{E().agent_bin}, env,
                                      Path(a.name + ".log"));
  ASSERT_TRUE(WaitReady(*a.process, a.host, kHttpPort, seconds(60)))
      << a.name << " never became ready:\n" << a.Log();
}

std::string TlsKcat(const Agent& a, const std::string& extra = "") {
  return absl::StrCat("kcat -b ", a.bootstrap(), " -X security.protocol=ssl -X ssl.ca.location=",
                      Path("ca.pem"), " ", extra);
}

// Produces `n` records to a new topic through `kcat` and reads them back.
void ProduceAndConsume(const std::string& kcat, const std::string& name, int n = 200) {
  const std::string topic = UniqueTopic(name);
  auto [produce_rc, produced] = Shell(
      absl::StrCat("seq 1 ", n, " | ", kcat, " -P -t ", topic, " -X acks=all"));
  ASSERT_EQ(produce_rc, 0) << produced;
  auto [consume_rc, consumed] =
      Shell(absl::StrCat(kcat, " -C -t ", topic, " -o beginning -e -q | wc -l"));
  ASSERT_EQ(consume_rc, 0) << consumed;
  EXPECT_EQ(absl::StripAsciiWhitespace(consumed), std::to_string(n)) << consumed;
}

double Metric(const Agent& a, absl::string_view series) {
  return MetricValue(kHttpPort, series, a.host.c_str());
}

// Sends `bytes` on a fresh TCP connection to `host`:`port` and returns once
// the agent closed it (true) or 10 s passed (false).
bool SendAndExpectClose(const std::string& host, int port, const std::string& bytes) {
  const int fd = ConnectLoopback(port, 0, host.c_str());
  if (fd < 0) return false;
  if (!bytes.empty() && write(fd, bytes.data(), bytes.size()) < 0) {
    close(fd);
    return false;
  }
  char buf[256];
  const auto give_up = std::chrono::steady_clock::now() + seconds(10);
  bool closed = false;
  while (!closed && std::chrono::steady_clock::now() < give_up) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    closed = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
  }
  close(fd);
  return closed;
}

// The bytes of an ApiVersions v0 request, a request every broker answers.
std::string ApiVersionsRequest(int32_t correlation_id) {
  std::string body;
  auto put16 = [&](int v) {
    body.push_back(static_cast<char>(v >> 8));
    body.push_back(static_cast<char>(v));
  };
  put16(18);  // ApiVersions
  put16(0);
  for (int shift = 24; shift >= 0; shift -= 8) {
    body.push_back(static_cast<char>(correlation_id >> shift));
  }
  put16(3);
  body += "e2e";
  std::string frame;
  const uint32_t size = static_cast<uint32_t>(body.size());
  for (int shift = 24; shift >= 0; shift -= 8) frame.push_back(static_cast<char>(size >> shift));
  return frame + body;
}

// A TLS connection made with OpenSSL directly, to hold one open across a
// certificate reload and to see which certificate the agent presents.
class TlsClient {
 public:
  TlsClient(const std::string& host, int port, const std::string& sni) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx_, Path("ca.pem").c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    fd_ = ConnectLoopback(port, 0, host.c_str());
    if (fd_ < 0) return;
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    if (!sni.empty()) SSL_set_tlsext_host_name(ssl_, sni.c_str());
    connected_ = SSL_connect(ssl_) == 1;
  }
  ~TlsClient() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) close(fd_);
    SSL_CTX_free(ctx_);
  }
  bool connected() const { return connected_; }
  std::string PeerCommonName() const {
    X509* cert = SSL_get1_peer_certificate(ssl_);
    if (cert == nullptr) return "";
    char cn[256] = {0};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
    X509_free(cert);
    return cn;
  }
  // Sends ApiVersions and reads the whole answer; true when it came back
  // with the right correlation id.
  bool RoundTrip(int32_t correlation_id) {
    const std::string request = ApiVersionsRequest(correlation_id);
    if (SSL_write(ssl_, request.data(), static_cast<int>(request.size())) <= 0) return false;
    uint8_t head[8];
    if (!ReadExactly(head, sizeof(head))) return false;
    const uint32_t size = (uint32_t{head[0]} << 24) | (uint32_t{head[1]} << 16) |
                          (uint32_t{head[2]} << 8) | head[3];
    const int32_t id = static_cast<int32_t>((uint32_t{head[4]} << 24) |
                                            (uint32_t{head[5]} << 16) |
                                            (uint32_t{head[6]} << 8) | head[7]);
    std::vector<uint8_t> rest(size - 4);
    return ReadExactly(rest.data(), rest.size()) && id == correlation_id;
  }

 private:
  bool ReadExactly(uint8_t* p, size_t n) {
    while (n > 0) {
      const int got = SSL_read(ssl_, p, static_cast<int>(n));
      if (got <= 0) return false;
      p += got;
      n -= static_cast<size_t>(got);
    }
    return true;
  }

  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool connected_ = false;
};

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Writes to connections the agent closed must fail, not kill the test.
    signal(SIGPIPE, SIG_IGN);
    ASSERT_FALSE(E().agent_bin.empty()) << "KGW_AGENT_BIN is not set";
    ASSERT_FALSE(E().kafka_bootstrap.empty())
        << "KGW_KAFKA_BOOTSTRAP is not set: start tests/kafka/kafka-cluster.sh --security and "
           "source its cluster.env";
    ASSERT_FALSE(E().kafka_ssl_bootstrap.empty()) << "the cluster was started without --security";
    if (!E().work_dir.empty()) return;  // a later suite: the certificates exist
    char dir[] = "/tmp/kgw-security-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    E().work_dir = dir;

    absl::StatusOr<testing::TestCa> ca = testing::TestCa::Create("kgw-e2e-ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ASSERT_TRUE(ca->WriteCertificate(Path("ca.pem")).ok());
    testing::CertSpec agent{.common_name = "kgw-e2e-agent",
                            .dns_names = {"*.kgw.test", "localhost"}};
    for (int i = 20; i < 40; ++i) agent.ips.push_back(absl::StrCat("127.0.0.", i));
    ASSERT_TRUE(ca->Issue(agent, Path("agent.pem"), Path("agent.key")).ok());
    agent.common_name = "kgw-e2e-agent-renewed";
    agent.not_after = absl::Hours(24 * 60);  // its expiry tells the two apart
    ASSERT_TRUE(ca->Issue(agent, Path("agent-renewed.pem"), Path("agent-renewed.key")).ok());
    testing::CertSpec client{.common_name = "kgw-e2e-client", .server = false, .client = true};
    ASSERT_TRUE(ca->Issue(client, Path("client.pem"), Path("client.key")).ok());
    testing::CertSpec expired = client;
    expired.common_name = "kgw-e2e-expired";
    expired.not_before = absl::Hours(-48);
    expired.not_after = absl::Hours(-24);
    ASSERT_TRUE(ca->Issue(expired, Path("expired.pem"), Path("expired.key")).ok());
    absl::StatusOr<testing::TestCa> other = testing::TestCa::Create("someone-else-ca");
    ASSERT_TRUE(other.ok()) << other.status();
    client.common_name = "kgw-e2e-stranger";
    ASSERT_TRUE(other->Issue(client, Path("stranger.pem"), Path("stranger.key")).ok());
  }

  std::map<std::string, std::string> TlsEnv(const std::string& protocol = "SSL") {
    return {{"GATEWAY_SECURITY_PROTOCOL", protocol},
            {"GATEWAY_SSL_CERT_FILE", Path("agent.pem")},
            {"GATEWAY_SSL_KEY_FILE", Path("agent.key")}};
  }
};

TEST_F(SecurityTest, TlsClientsReachEveryBrokerThroughTheAgent) {
  Agent a{"tls", "127.0.0.21", nullptr};
  StartAgent(a, TlsEnv());
  auto [rc, listing] = Shell(TlsKcat(a, "-L -t __none__"));
  ASSERT_EQ(rc, 0) << listing << a.Log();
  const std::map<int, std::string> brokers = KcatBrokers(listing);
  ASSERT_EQ(brokers.size(), 3u) << listing;
  for (const auto& [id, address] : brokers) {
    EXPECT_EQ(address, absl::StrCat(a.host, ":", kPort + id)) << listing;
  }
  ProduceAndConsume(TlsKcat(a), "tls-kcat");

  // Kafka's Java client, verifying the agent's certificate and host.
  auto [java_rc, java_out] = Shell(Java(
      "ExactlyOnceCheck.java",
      absl::StrCat(a.bootstrap(), " ", UniqueTopic("tls-java"), " 2000 security.protocol=SSL ",
                   "ssl.truststore.type=PEM ssl.truststore.location=", Path("ca.pem"))));
  EXPECT_EQ(java_rc, 0) << java_out;

  const std::vector<std::string> opened =
      a.AuditLines({"\"type\":\"CONNECTION\"", "\"event\":\"OPEN\"", "\"tlsVersion\":\"TLSv1."});
  EXPECT_FALSE(opened.empty()) << a.Audit();
  const std::vector<std::string> closed =
      a.AuditLines({"\"event\":\"CLOSE\"", "\"bytesFromClient\"", "\"closeReason\""});
  EXPECT_FALSE(closed.empty()) << a.Audit();
}

TEST_F(SecurityTest, PlaintextOnATlsPortIsRefusedClearlyAndHarmsNoOne) {
  Agent a{"tls-bad", "127.0.0.22", nullptr};
  StartAgent(a, TlsEnv());
  const double before = Metric(a, "kgw_agent_closed_for_bad_input_total{reason=\"tls\"}");
  EXPECT_TRUE(SendAndExpectClose(a.host, kPort, ApiVersionsRequest(1)));
  EXPECT_TRUE(WaitFor([&] { return absl::StrContains(a.Log(), "does not start with a TLS "
                                                              "handshake"); },
                      seconds(5)))
      << a.Log();
  EXPECT_TRUE(absl::StrContains(a.Log(), "a plaintext Kafka client on a TLS port?")) << a.Log();
  EXPECT_EQ(Metric(a, "kgw_agent_closed_for_bad_input_total{reason=\"tls\"}"), before + 1);
  // Meanwhile a healthy client works.
  auto [ok_rc, ok_out] = Shell(TlsKcat(a, "-L"));
  EXPECT_EQ(ok_rc, 0) << ok_out;
  EXPECT_EQ(HttpGet(kHttpPort, "/health/ready", a.host.c_str()).first, 200);
}

TEST_F(SecurityTest, MutualTlsRequiresATrustedUnexpiredClientCertificate) {
  Agent a{"mtls", "127.0.0.23", nullptr};
  std::map<std::string, std::string> env = TlsEnv();
  env["GATEWAY_SSL_CLIENT_AUTH"] = "REQUIRE";
  env["GATEWAY_SSL_CA_FILE"] = Path("ca.pem");
  StartAgent(a, env);
  auto with_cert = [&](const std::string& name) {
    return TlsKcat(a, absl::StrCat("-X ssl.certificate.location=", Path(name + ".pem"),
                                   " -X ssl.key.location=", Path(name + ".key")));
  };
  ProduceAndConsume(with_cert("client"), "mtls");
  EXPECT_FALSE(a.AuditLines({"\"clientCertificateSubject\":\"CN=kgw-e2e-client\""}).empty())
      << a.Audit();

  struct Refusal {
    std::string kcat;
    std::string logged;
  };
  for (const Refusal& r : std::vector<Refusal>{
           {TlsKcat(a), "peer did not return a certificate"},
           {with_cert("expired"), "certificate has expired"},
           {with_cert("stranger"), "unable to get local issuer certificate"},
       }) {
    auto [rc, out] = Shell(r.kcat + " -L -m 5");
    EXPECT_NE(rc, 0) << r.kcat << "\n" << out;
    EXPECT_TRUE(WaitFor([&] { return absl::StrContains(a.Log(), r.logged); }, seconds(5)))
        << r.logged << "\n" << a.Log();
  }
  EXPECT_TRUE(absl::StrContains(a.Log(), "bad TLS handshake")) << a.Log();
  // The Java client with a PEM key store.
  const std::string keystore = Path("client-keystore.pem");
  {
    std::ofstream out(keystore);
    out << ReadFile(Path("client.key")) << ReadFile(Path("client.pem"));
  }
  auto [java_rc, java_out] = Shell(Java(
      "ExactlyOnceCheck.java",
      absl::StrCat(a.bootstrap(), " ", UniqueTopic("mtls-java"), " 500 security.protocol=SSL ",
                   "ssl.truststore.type=PEM ssl.truststore.location=", Path("ca.pem"),
                   " ssl.keystore.type=PEM ssl.keystore.location=", keystore)));
  EXPECT_EQ(java_rc, 0) << java_out;
  // Healthy after all of it.
  ProduceAndConsume(with_cert("client"), "mtls-after");
}

TEST_F(SecurityTest, ScramOverTlsPassesThroughToTheBrokers) {
  Agent a{"sasl-ssl", "127.0.0.24", nullptr};
  std::map<std::string, std::string> env = TlsEnv("SASL_SSL");
  env["KAFKA_BOOTSTRAP_SERVERS"] = E().kafka_sasl_bootstrap;
  env["KAFKA_SECURITY_PROTOCOL"] = "SASL_PLAINTEXT";
  env["KAFKA_SASL_MECHANISM"] = "PLAIN";
  env["KAFKA_SASL_USERNAME"] = "admin";
  env["KAFKA_SASL_PASSWORD"] = "admin-secret";
  StartAgent(a, env);
  auto props = [&](const std::string& mechanism, const std::string& password) {
    return absl::StrCat(
        "security.protocol=SASL_SSL sasl.mechanism=", mechanism,
        " ssl.truststore.type=PEM ssl.truststore.location=", Path("ca.pem"),
        " 'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        "username=\"alice\" password=\"",
        password, "\";'");
  };
  for (const std::string mechanism : {"SCRAM-SHA-512", "SCRAM-SHA-256"}) {
    auto [rc, out] = Shell(Java("ExactlyOnceCheck.java",
                                absl::StrCat(a.bootstrap(), " ", UniqueTopic("sasl-ssl"), " 1000 ",
                                             props(mechanism, "alice-secret"))));
    EXPECT_EQ(rc, 0) << mechanism << "\n" << out << a.Log();
    EXPECT_FALSE(a.AuditLines({"\"type\":\"AUTHENTICATION\"",
                               absl::StrCat("\"saslMechanism\":\"", mechanism, "\""),
                               "\"principal\":\"alice\"", "\"success\":true"})
                     .empty())
        << mechanism << "\n" << a.Audit();
  }
  // A wrong password: the broker refuses, the audit log says so.
  auto [bad_rc, bad_out] = Shell(Java(
      "ExactlyOnceCheck.java",
      absl::StrCat(a.bootstrap(), " ", UniqueTopic("sasl-ssl-bad"), " 1 ",
                   props("SCRAM-SHA-512", "wrong"),
                   " request.timeout.ms=5000 default.api.timeout.ms=10000")));
  EXPECT_NE(bad_rc, 0) << bad_out;
  EXPECT_TRUE(WaitFor(
      [&] {
        return !a.AuditLines({"\"type\":\"AUTHENTICATION\"", "\"principal\":\"alice\"",
                              "\"success\":false"})
                    .empty();
      },
      seconds(5)))
      << a.Audit();
}

// OAUTHBEARER (Kafka's unsecured tokens) with the brokers demanding
// re-authentication every 2 s on that mechanism: both pass through, and the
// audit log shows connections that authenticated more than once.
TEST_F(SecurityTest, OauthBearerAndReauthenticationPassThrough) {
  Agent a{"oauth", "127.0.0.36", nullptr};
  StartAgent(a, {{"KAFKA_BOOTSTRAP_SERVERS", E().kafka_sasl_bootstrap},
                 {"KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"},
                 {"KAFKA_SASL_MECHANISM", "PLAIN"},
                 {"KAFKA_SASL_USERNAME", "admin"},
                 {"KAFKA_SASL_PASSWORD", "admin-secret"},
                 {"GATEWAY_SECURITY_PROTOCOL", "SASL_PLAINTEXT"}});
  auto [rc, out] = Shell(Java(
      "ExactlyOnceCheck.java",
      absl::StrCat(a.bootstrap(), " ", UniqueTopic("oauth"), " 20000 ",
                   "security.protocol=SASL_PLAINTEXT sasl.mechanism=OAUTHBEARER "
                   "'sasl.jaas.config=org.apache.kafka.common.security.oauthbearer."
                   "OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"alice\";'")));
  EXPECT_EQ(rc, 0) << out << a.Log();
  // Successful exchanges per connection (the client's address and port).
  std::map<std::string, int> per_connection;
  for (const std::string& line :
       a.AuditLines({"\"type\":\"AUTHENTICATION\"", "\"saslMechanism\":\"OAUTHBEARER\"",
                     "\"success\":true"})) {
    const size_t at = line.find("\"clientAddress\":\"");
    if (at != std::string::npos) {
      ++per_connection[line.substr(at, line.find('"', at + 17) - at)];
    }
  }
  int most = 0;
  for (const auto& [connection, count] : per_connection) most = std::max(most, count);
  EXPECT_GE(most, 2) << "no connection re-authenticated:\n" << a.Audit();
  EXPECT_TRUE(a.AuditLines({"\"success\":false"}).empty()) << a.Audit();
}

// librdkafka resolves every *.kgw.test name to the SNI agent's address.
int ResolveKgwTest(const char* node, const char* service, const struct addrinfo* hints,
                   struct addrinfo** res, void* /*opaque*/) {
  if (node == nullptr && service == nullptr && hints == nullptr) {
    if (res != nullptr && *res != nullptr) freeaddrinfo(*res);
    return 0;
  }
  const bool ours = node != nullptr && absl::EndsWith(node, ".kgw.test");
  return getaddrinfo(ours ? "127.0.0.25" : node, service, hints, res);
}

TEST_F(SecurityTest, HostRoutingReadsTheBrokerFromTheServerName) {
  Agent a{"sni", "127.0.0.25", nullptr};
  std::map<std::string, std::string> env = TlsEnv();
  env["GATEWAY_ROUTING_MECHANISM"] = "host";
  env["GATEWAY_SNI_BROKER_HOST_PATTERN"] = "broker{{nodeId}}.kgw.test";
  env["GATEWAY_SNI_BOOTSTRAP_HOST"] = "bootstrap.kgw.test";
  StartAgent(a, env);
  const std::string bootstrap = absl::StrCat("bootstrap.kgw.test:", kPort);

  // librdkafka: metadata names every broker by its host name on the one port,
  // and records produced with acks=all reach each partition's leader.
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [k, v] : std::map<std::string, std::string>{
           {"bootstrap.servers", bootstrap},
           {"security.protocol", "ssl"},
           {"ssl.ca.location", Path("ca.pem")},
           {"acks", "all"}}) {
    ASSERT_EQ(rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)), RD_KAFKA_CONF_OK)
        << err;
  }
  rd_kafka_conf_set_resolve_cb(conf, ResolveKgwTest);
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  ASSERT_NE(producer, nullptr) << err;
  const rd_kafka_metadata_t* md = nullptr;
  ASSERT_EQ(rd_kafka_metadata(producer, 1, nullptr, &md, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  std::map<int, std::string> brokers;
  for (int i = 0; i < md->broker_cnt; ++i) {
    brokers[md->brokers[i].id] = absl::StrCat(md->brokers[i].host, ":", md->brokers[i].port);
  }
  rd_kafka_metadata_destroy(md);
  ASSERT_EQ(brokers.size(), 3u);
  for (const auto& [id, address] : brokers) {
    EXPECT_EQ(address, absl::StrCat("broker", id, ".kgw.test:", kPort));
  }
  rd_kafka_destroy(producer);

  // Kafka's Java client, with the names in a hosts file of its own.
  const std::string hosts = Path("hosts");
  {
    std::ofstream out(hosts);
    out << "127.0.0.25 bootstrap.kgw.test broker1.kgw.test broker2.kgw.test broker3.kgw.test\n";
  }
  auto [java_rc, java_out] = Shell(
      Java("ExactlyOnceCheck.java",
           absl::StrCat(bootstrap, " ", UniqueTopic("sni-java"), " 2000 security.protocol=SSL ",
                        "ssl.truststore.type=PEM ssl.truststore.location=", Path("ca.pem")),
           "-Djdk.net.hosts.file=" + hosts));
  EXPECT_EQ(java_rc, 0) << java_out;
  EXPECT_TRUE(absl::StrContains(java_out, absl::StrCat("broker2.kgw.test:", kPort))) << java_out;
  EXPECT_FALSE(a.AuditLines({"\"sni\":\"broker2.kgw.test\"", "\"brokerId\":2"}).empty())
      << a.Audit();

  // Names that match nothing are refused with what was expected.
  for (const std::string& sni : {std::string("wrong.kgw.test"), std::string("broker99x.kgw.test")}) {
    TlsClient c(a.host, kPort, sni);
    EXPECT_FALSE(c.connected() && c.RoundTrip(7)) << sni;
  }
  EXPECT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(a.Log(), "unknown server name \"wrong.kgw.test\"; expected a "
                                          "name matching broker{{nodeId}}.kgw.test or the "
                                          "bootstrap host bootstrap.kgw.test");
      },
      seconds(5)))
      << a.Log();
  {
    TlsClient no_sni(a.host, kPort, "");
    EXPECT_FALSE(no_sni.connected() && no_sni.RoundTrip(8));
  }
  EXPECT_TRUE(WaitFor([&] { return absl::StrContains(a.Log(), "sent no server name"); },
                      seconds(5)))
      << a.Log();
  TlsClient healthy(a.host, kPort, "broker1.kgw.test");
  ASSERT_TRUE(healthy.connected());
  EXPECT_TRUE(healthy.RoundTrip(9));
}

TEST_F(SecurityTest, ANewCertificateServesNewConnectionsWithoutDroppingOldOnes) {
  Agent a{"reload", "127.0.0.26", nullptr};
  const std::string cert = Path("reload.pem");
  const std::string key = Path("reload.key");
  std::filesystem::copy_file(Path("agent.pem"), cert);
  std::filesystem::copy_file(Path("agent.key"), key);
  std::map<std::string, std::string> env = TlsEnv();
  env["GATEWAY_SSL_CERT_FILE"] = cert;
  env["GATEWAY_SSL_KEY_FILE"] = key;
  StartAgent(a, env);
  TlsClient before(a.host, kPort, "");
  ASSERT_TRUE(before.connected());
  EXPECT_EQ(before.PeerCommonName(), "kgw-e2e-agent");
  ASSERT_TRUE(before.RoundTrip(1));
  // Its expiry is exported (30 days out), for alerts.
  const auto days_left = [&] {
    return (Metric(a, "kgw_agent_tls_certificate_expiry_timestamp_seconds") -
            absl::ToUnixSeconds(absl::Now())) / 86400;
  };
  EXPECT_NEAR(days_left(), 30, 0.1);

  // Replaced the way tools do it: new files renamed into place.
  std::filesystem::copy_file(Path("agent-renewed.pem"), cert + ".new");
  std::filesystem::copy_file(Path("agent-renewed.key"), key + ".new");
  std::filesystem::rename(key + ".new", key);
  std::filesystem::rename(cert + ".new", cert);
  EXPECT_TRUE(WaitFor(
      [&] {
        TlsClient c(a.host, kPort, "");
        return c.connected() && c.PeerCommonName() == "kgw-e2e-agent-renewed";
      },
      seconds(30)))
      << a.Log();
  EXPECT_TRUE(before.RoundTrip(2)) << "the connection made before the reload was dropped";
  EXPECT_EQ(Metric(a, "kgw_agent_tls_certificate_reloads_total{result=\"ok\"}"), 1);
  EXPECT_NEAR(days_left(), 60, 0.1);  // the renewed certificate's

  // A broken replacement is refused; the certificate in force stays.
  { std::ofstream(cert) << "not a certificate\n"; }
  EXPECT_TRUE(WaitFor([&] { return absl::StrContains(a.Log(), "keeping the previous TLS "
                                                              "certificate"); },
                      seconds(30)))
      << a.Log();
  TlsClient after(a.host, kPort, "");
  ASSERT_TRUE(after.connected());
  EXPECT_EQ(after.PeerCommonName(), "kgw-e2e-agent-renewed");
  EXPECT_TRUE(after.RoundTrip(3));
}

// HAProxy in TCP mode sends a PROXY header (v1 or v2) to an agent that
// requires one; the agent logs and audits the client's own address.
class ProxyProtocolTest : public SecurityTest {
 protected:
  // HAProxy on `lb_host` forwarding each of the agent's ports from its own
  // source address 127.0.0.31.
  std::unique_ptr<Child> StartHaproxy(const std::string& name, const std::string& lb_host,
                                      const std::string& agent_host,
                                      const std::string& send_proxy) {
    const std::string config = Path(name + ".cfg");
    {
      std::ofstream cfg(config);
      cfg << "global\n  maxconn 500\n"
          << "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n"
          << "  timeout server 60s\n"
          << "frontend kafka\n  bind " << lb_host << ":" << kPort << "-" << kPort + 5
          << "\n  default_backend agent\n"
          << "backend agent\n  source 127.0.0.31\n  server a1 " << agent_host << " "
          << send_proxy << "\n";
    }
    auto haproxy = std::make_unique<Child>(
        std::vector<std::string>{"/usr/sbin/haproxy", "-db", "-f", config},
        std::map<std::string, std::string>{}, Path(name + "-haproxy.log"));
    EXPECT_TRUE(WaitFor([&] {
      const int fd = ConnectLoopback(kPort, 0, lb_host.c_str());
      if (fd >= 0) close(fd);
      return fd >= 0;
    }, seconds(10))) << ReadFile(Path(name + "-haproxy.log"));
    return haproxy;
  }
};

TEST_F(ProxyProtocolTest, TheClientsOwnAddressReachesTheAuditLog) {
  Agent a{"proxy", "127.0.0.27", nullptr};
  // The audit log goes to Kafka too.
  StartAgent(a, {{"GATEWAY_FEATURE_FLAGS_HAPROXY_PROTOCOL", "true"},
                 {"GATEWAY_ADVERTISED_HOST", "127.0.0.28"},
                 {"GATEWAY_AUDIT_LOG_SINKS", "file,kafka"}});
  for (const auto& [version, option, lb] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"v2", "send-proxy-v2", "127.0.0.28"}, {"v1", "send-proxy", "127.0.0.28"}}) {
    std::unique_ptr<Child> haproxy = StartHaproxy("haproxy-" + version, lb, a.host, option);
    const std::string kcat = absl::StrCat("kcat -b ", lb, ":", kPort);
    auto [rc, listing] = Shell(kcat + " -L -t __none__");
    ASSERT_EQ(rc, 0) << listing << a.Log();
    for (const auto& [id, address] : KcatBrokers(listing)) {
      EXPECT_EQ(address, absl::StrCat(lb, ":", kPort + id));
    }
    ProduceAndConsume(kcat, "proxy-" + version, 100);
    // kcat connects from 127.0.0.1; HAProxy reaches the agent from 127.0.0.31.
    const std::vector<std::string> lines = a.AuditLines(
        {"\"clientAddress\":\"127.0.0.31:", "\"proxySourceAddress\":\"127.0.0.1:",
         absl::StrCat("\"proxyDestinationAddress\":\"", lb, ":")});
    EXPECT_FALSE(lines.empty()) << version << "\n" << a.Audit();
    haproxy->Signal(SIGTERM);
    haproxy->Wait(seconds(10));
  }
  const std::string topic = absl::StrCat("_kgw_sec-", getpid(), "-proxy_auditlogs");
  EXPECT_TRUE(WaitFor(
      [&] {
        auto [rc, out] = Shell(absl::StrCat("kcat -b ", E().kafka_bootstrap, " -C -t ", topic,
                                            " -o beginning -e -q"));
        return rc == 0 && absl::StrContains(out, "\"proxySourceAddress\":\"127.0.0.1:") &&
               absl::StrContains(out, "\"event\":\"CLOSE\"");
      },
      seconds(30)))
      << "no audit events in " << topic << "\n" << a.Log();
}

TEST_F(ProxyProtocolTest, MissingOrGarbledHeadersAreRefusedClearly) {
  Agent a{"proxy-bad", "127.0.0.29", nullptr};
  StartAgent(a, {{"GATEWAY_FEATURE_FLAGS_HAPROXY_PROTOCOL", "true"},
                 {"GATEWAY_ADVERTISED_HOST", "127.0.0.30"}});
  std::unique_ptr<Child> haproxy =
      StartHaproxy("haproxy-healthy", "127.0.0.30", a.host, "send-proxy-v2");
  const std::string kcat = absl::StrCat("kcat -b 127.0.0.30:", kPort);
  // A direct Kafka client: no header.
  EXPECT_TRUE(SendAndExpectClose(a.host, kPort, ApiVersionsRequest(1)));
  EXPECT_TRUE(WaitFor([&] { return absl::StrContains(a.Log(), "(a Kafka request?)"); },
                      seconds(5)))
      << a.Log();
  EXPECT_TRUE(SendAndExpectClose(a.host, kPort, "GARBAGE IN PLACE OF A HEADER\r\n"));
  EXPECT_TRUE(SendAndExpectClose(a.host, kPort, "PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n"));
  EXPECT_TRUE(WaitFor([&] { return absl::StrContains(a.Log(), "not a PROXY protocol header"); },
                      seconds(5)))
      << a.Log();
  EXPECT_GE(Metric(a, "kgw_agent_closed_for_bad_input_total{reason=\"proxy\"}"), 3);
  ProduceAndConsume(kcat, "proxy-healthy", 50);
  // With a PROXY header, error lines name the original client.
  EXPECT_TRUE(SendAndExpectClose(
      a.host, kPort,
      "PROXY TCP4 192.0.2.7 198.51.100.9 40000 9092\r\n" + std::string("\xff\xff\xff\xff", 4)));
  EXPECT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(a.Log(), "(original source: 192.0.2.7:40000, original "
                                          "destination: 198.51.100.9:9092)");
      },
      seconds(5)))
      << a.Log();
  haproxy->Signal(SIGTERM);
  haproxy->Wait(seconds(10));
}

TEST_F(ProxyProtocolTest, AHeaderIsBadInputWhenTheFlagIsOff) {
  Agent a{"no-proxy", "127.0.0.32", nullptr};
  StartAgent(a, {});
  EXPECT_TRUE(SendAndExpectClose(a.host, kPort,
                                 "PROXY TCP4 192.0.2.7 198.51.100.9 40000 9092\r\n" +
                                     ApiVersionsRequest(1)));
  EXPECT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(a.Log(), "GATEWAY_FEATURE_FLAGS_HAPROXY_PROTOCOL is false");
      },
      seconds(5)))
      << a.Log();
  ProduceAndConsume(absl::StrCat("kcat -b ", a.bootstrap()), "no-proxy", 50);
}

// The agent's own TLS towards the brokers, with plaintext clients in front.
TEST_F(SecurityTest, UpstreamTlsServesPlaintextClients) {
  Agent a{"upstream-tls", "127.0.0.33", nullptr};
  StartAgent(a, {{"KAFKA_BOOTSTRAP_SERVERS", E().kafka_ssl_bootstrap},
                 {"KAFKA_SECURITY_PROTOCOL", "SSL"},
                 {"KAFKA_SSL_CA_FILE", E().kafka_ca}});
  ProduceAndConsume(absl::StrCat("kcat -b ", a.bootstrap()), "upstream-tls");
  auto [rc, out] = Shell(Java(
      "ExactlyOnceCheck.java", absl::StrCat(a.bootstrap(), " ", UniqueTopic("upstream-tls-java"),
                                            " 1000")));
  EXPECT_EQ(rc, 0) << out;
}

TEST_F(SecurityTest, UpstreamTlsWithScramPassesClientsScramThrough) {
  if (E().kafka_sasl_ssl_bootstrap.empty()) GTEST_SKIP() << "no SASL_SSL listener";
  Agent a{"upstream-sasl-ssl", "127.0.0.34", nullptr};
  StartAgent(a, {{"KAFKA_BOOTSTRAP_SERVERS", E().kafka_sasl_ssl_bootstrap},
                 {"KAFKA_SECURITY_PROTOCOL", "SASL_SSL"},
                 {"KAFKA_SSL_CA_FILE", E().kafka_ca},
                 {"KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"},
                 {"KAFKA_SASL_USERNAME", "admin"},
                 {"KAFKA_SASL_PASSWORD", "admin-secret"},
                 {"GATEWAY_SECURITY_PROTOCOL", "SASL_PLAINTEXT"}});
  auto [rc, out] = Shell(Java(
      "ExactlyOnceCheck.java",
      absl::StrCat(a.bootstrap(), " ", UniqueTopic("upstream-scram"), " 1000 ",
                   "security.protocol=SASL_PLAINTEXT sasl.mechanism=SCRAM-SHA-512 "
                   "'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule "
                   "required username=\"alice\" password=\"alice-secret\";'")));
  EXPECT_EQ(rc, 0) << out << a.Log();
}

TEST_F(SecurityTest, AnUntrustedBrokerCertificateIsNamedInTheLog) {
  Agent a{"upstream-untrusted", "127.0.0.35", nullptr};
  std::map<std::string, std::string> env = {{"KAFKA_BOOTSTRAP_SERVERS", E().kafka_ssl_bootstrap},
                                            {"KAFKA_SECURITY_PROTOCOL", "SSL"},
                                            {"KAFKA_SSL_CA_FILE", Path("ca.pem")}};
  env["GATEWAY_CLUSTER_ID"] = absl::StrCat("sec-", getpid(), "-", a.name);
  std::map<std::string, std::string> full = {
      {"GATEWAY_BIND_HOST", a.host},
      {"GATEWAY_ADVERTISED_HOST", a.host},
      {"GATEWAY_PORT_START", std::to_string(kPort)},
      {"GATEWAY_HTTP_PORT", std::to_string(kHttpPort)}};
  for (auto& [k, v] : env) full[k] = v;
  a.process = std::make_unique<Child>(std::vector<std::string>{E().agent_bin}, full,
                                      Path(a.name + ".log"));
  // It cannot read the cluster, so it never becomes ready, and says why.
  EXPECT_TRUE(WaitFor([&] { return absl::StrContains(a.Log(), "certificate verify failed"); },
                      seconds(30)))
      << a.Log();
  EXPECT_NE(HttpGet(kHttpPort, "/health/ready", a.host.c_str()).first, 200);
}

}  // namespace
}  // namespace kgw::test
