#include "common/audit/audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/testing/wait_for.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace kgw::audit {
namespace {

using ::kgw::testing::WaitFor;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// A fresh directory under the test's temporary directory.
std::string MakeTempDir() {
  std::string templ = ::testing::TempDir() + "/kgw_audit_XXXXXX";
  const char* dir = ::mkdtemp(templ.data());
  EXPECT_NE(dir, nullptr) << "mkdtemp " << templ;
  return templ;
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The value of counter `name`{sink=`sink`}; -1 when there is none.
double Counter(prometheus::Registry& registry, const std::string& name, const std::string& sink) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        if (label.name == "sink" && label.value == sink) return metric.counter.value;
      }
    }
  }
  return -1;
}

AuditEvent Event(int n, EventType type = EventType::kConnectionOpen) {
  AuditEvent e;
  e.type = type;
  e.time = absl::FromUnixMillis(1700000000000 + n);
  e.node_id = "agent-1";
  e.listener_port = 9092;
  e.client_address = absl::StrCat("10.0.0.1:", 40000 + n);
  return e;
}

std::vector<std::string> JsonLines(const std::vector<AuditEvent>& events) {
  std::vector<std::string> lines;
  for (const AuditEvent& e : events) lines.push_back(ToJsonLine(e));
  return lines;
}

AuditLogOptions FileOptions(const std::string& path) {
  AuditLogOptions o;
  o.sinks = {"file"};
  o.file_path = path;
  return o;
}

class AuditLogTest : public ::testing::Test {
 protected:
  const std::string dir_ = MakeTempDir();
  const std::string path_ = dir_ + "/audit.log";
};

// ---- File sink ----

TEST_F(AuditLogTest, FileSinkWritesOneLinePerEventInOrder) {
  prometheus::Registry registry;
  auto log = AuditLog::Start(FileOptions(path_), &registry);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_TRUE((*log)->enabled());
  const std::vector<AuditEvent> events = {Event(1), Event(2, EventType::kConnectionClose),
                                          Event(3, EventType::kAuthentication)};
  for (const AuditEvent& e : events) (*log)->Record(e);
  log->reset();  // writes what is queued
  EXPECT_THAT(ReadLines(path_), ElementsAreArray(JsonLines(events)));
  const std::string all = ReadAll(path_);
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.back(), '\n');
  EXPECT_EQ(Counter(registry, "kgw_audit_events_total", "file"), 3);
  EXPECT_EQ(Counter(registry, "kgw_audit_events_dropped_total", "file"), 0);
  EXPECT_EQ(Counter(registry, "kgw_audit_write_failures_total", "file"), 0);
}

TEST_F(AuditLogTest, FileIsCreatedWithMode0640) {
  const mode_t umask_was = ::umask(022);
  auto log = AuditLog::Start(FileOptions(path_), nullptr);
  ::umask(umask_was);
  ASSERT_TRUE(log.ok()) << log.status();
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST_F(AuditLogTest, FileSinkAppendsToAnExistingFile) {
  { std::ofstream(path_) << "earlier line\n"; }
  auto log = AuditLog::Start(FileOptions(path_), nullptr);
  ASSERT_TRUE(log.ok()) << log.status();
  (*log)->Record(Event(1));
  log->reset();
  EXPECT_THAT(ReadLines(path_), ElementsAre("earlier line", ToJsonLine(Event(1))));
}

TEST_F(AuditLogTest, DestructorWritesEverythingQueued) {
  AuditLogOptions options = FileOptions(path_);
  options.queue_capacity = 100000;
  auto log = AuditLog::Start(options, nullptr);
  ASSERT_TRUE(log.ok()) << log.status();
  std::vector<AuditEvent> events;
  for (int i = 0; i < 5000; ++i) events.push_back(Event(i));
  for (const AuditEvent& e : events) (*log)->Record(e);
  log->reset();
  EXPECT_THAT(ReadLines(path_), ElementsAreArray(JsonLines(events)));
}

TEST_F(AuditLogTest, RecordFromManyThreadsKeepsEachThreadsOrder) {
  AuditLogOptions options = FileOptions(path_);
  options.queue_capacity = 100000;
  auto log = AuditLog::Start(options, nullptr);
  ASSERT_TRUE(log.ok()) << log.status();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < kPerThread; ++i) {
        AuditEvent e = Event(i);
        e.node_id = absl::StrCat("thread-", t);
        (*log)->Record(std::move(e));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ((*log)->dropped(), 0u);
  log->reset();
  std::vector<std::vector<std::string>> per_thread(kThreads);
  for (const std::string& line : ReadLines(path_)) {
    bool found = false;
    for (int t = 0; t < kThreads && !found; ++t) {
      if (line.find(absl::StrCat("\"nodeId\":\"thread-", t, "\"")) != std::string::npos) {
        per_thread[t].push_back(line);
        found = true;
      }
    }
    EXPECT_TRUE(found) << line;
  }
  for (int t = 0; t < kThreads; ++t) {
    std::vector<std::string> expected;
    for (int i = 0; i < kPerThread; ++i) {
      AuditEvent e = Event(i);
      e.node_id = absl::StrCat("thread-", t);
      expected.push_back(ToJsonLine(e));
    }
    EXPECT_THAT(per_thread[t], ElementsAreArray(expected)) << "thread " << t;
  }
}

TEST_F(AuditLogTest, FileWriteErrorsAreCountedAsFailures) {
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no writable /dev/full";
  prometheus::Registry registry;
  auto log = AuditLog::Start(FileOptions("/dev/full"), &registry);
  ASSERT_TRUE(log.ok()) << log.status();
  for (int i = 0; i < 3; ++i) (*log)->Record(Event(i));
  log->reset();
  EXPECT_EQ(Counter(registry, "kgw_audit_write_failures_total", "file"), 3);
  EXPECT_EQ(Counter(registry, "kgw_audit_events_total", "file"), 0);
}

// ---- Log rotation ----

TEST_F(AuditLogTest, ReopenFileAfterRenameWritesToANewFile) {
  auto log = AuditLog::Start(FileOptions(path_), nullptr);
  ASSERT_TRUE(log.ok()) << log.status();
  (*log)->Record(Event(1));
  ASSERT_TRUE(WaitFor([&] { return ReadLines(path_).size() == 1; }, absl::Seconds(10)));
  const std::string rotated = path_ + ".1";
  ASSERT_EQ(std::rename(path_.c_str(), rotated.c_str()), 0);
  (*log)->Record(Event(2));  // before ReopenFile: in either file
  (*log)->ReopenFile();
  (*log)->Record(Event(3));
  (*log)->Record(Event(4));
  log->reset();
  std::vector<std::string> old_lines = ReadLines(rotated);
  const std::vector<std::string> new_lines = ReadLines(path_);
  ASSERT_THAT(old_lines.size(), ::testing::AllOf(::testing::Ge(1u), ::testing::Le(2u)));
  EXPECT_EQ(old_lines[0], ToJsonLine(Event(1)));
  EXPECT_THAT(new_lines, ::testing::IsSupersetOf({ToJsonLine(Event(3)), ToJsonLine(Event(4))}));
  // Every event once, in order, across the two files.
  old_lines.insert(old_lines.end(), new_lines.begin(), new_lines.end());
  EXPECT_THAT(old_lines, ElementsAre(ToJsonLine(Event(1)), ToJsonLine(Event(2)),
                                     ToJsonLine(Event(3)), ToJsonLine(Event(4))));
}

TEST_F(AuditLogTest, ReopenFileThatFailsKeepsWritingToTheOldFile) {
  auto log = AuditLog::Start(FileOptions(path_), nullptr);
  ASSERT_TRUE(log.ok()) << log.status();
  (*log)->Record(Event(1));
  ASSERT_TRUE(WaitFor([&] { return ReadLines(path_).size() == 1; }, absl::Seconds(10)));
  const std::string rotated = path_ + ".1";
  ASSERT_EQ(std::rename(path_.c_str(), rotated.c_str()), 0);
  ASSERT_EQ(::mkdir(path_.c_str(), 0700), 0);  // a directory cannot be opened for writing
  (*log)->ReopenFile();
  (*log)->Record(Event(2));
  log->reset();
  EXPECT_THAT(ReadLines(rotated), ElementsAre(ToJsonLine(Event(1)), ToJsonLine(Event(2))));
}

TEST_F(AuditLogTest, ReopenFileWithoutAFileSinkDoesNothing) {
  std::vector<std::string> seen;
  auto log = AuditLog::StartForTest({}, nullptr, [&](const std::string& line) {
    seen.push_back(line);
    return absl::OkStatus();
  });
  ASSERT_TRUE(log.ok()) << log.status();
  (*log)->ReopenFile();
  (*log)->Record(Event(1));
  log->reset();
  EXPECT_THAT(seen, ElementsAre(ToJsonLine(Event(1))));
}

// ---- Queue bound ----

// A test sink that blocks on its first line until released.
class BlockingSink {
 public:
  AuditLog::LineSink Function() {
    return [this](const std::string& line) {
      if (!entered_.HasBeenNotified()) entered_.Notify();
      release_.WaitForNotification();
      std::lock_guard<std::mutex> lock(mu_);
      lines_.push_back(line);
      return absl::OkStatus();
    };
  }
  void WaitUntilBlocked() { entered_.WaitForNotification(); }
  void Release() { release_.Notify(); }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  absl::Notification entered_;
  absl::Notification release_;
  std::mutex mu_;
  std::vector<std::string> lines_;
};

TEST_F(AuditLogTest, FullQueueDropsNewEventsAndCountsThemForEverySink) {
  prometheus::Registry registry;
  BlockingSink sink;
  AuditLogOptions options = FileOptions(path_);
  options.queue_capacity = 1;
  auto log = AuditLog::StartForTest(options, &registry, sink.Function());
  ASSERT_TRUE(log.ok()) << log.status();

  (*log)->Record(Event(1));  // taken by the writer, which blocks in the test sink
  sink.WaitUntilBlocked();
  (*log)->Record(Event(2));  // waits in the queue
  const absl::Time before = absl::Now();
  for (int i = 3; i < 1003; ++i) (*log)->Record(Event(i));  // dropped
  EXPECT_LT(absl::Now() - before, absl::Seconds(1)) << "Record waited for the blocked sink";
  EXPECT_EQ((*log)->dropped(), 1000u);
  EXPECT_EQ(Counter(registry, "kgw_audit_events_dropped_total", "test"), 1000);
  EXPECT_EQ(Counter(registry, "kgw_audit_events_dropped_total", "file"), 1000);

  sink.Release();
  log->reset();
  EXPECT_THAT(sink.lines(), ElementsAre(ToJsonLine(Event(1)), ToJsonLine(Event(2))));
  EXPECT_THAT(ReadLines(path_), ElementsAre(ToJsonLine(Event(1)), ToJsonLine(Event(2))));
  EXPECT_EQ(Counter(registry, "kgw_audit_events_total", "test"), 2);
  EXPECT_EQ(Counter(registry, "kgw_audit_events_total", "file"), 2);
}

TEST_F(AuditLogTest, QueueHasRoomAgainOnceTheWriterCaughtUp) {
  BlockingSink sink;
  AuditLogOptions options;
  options.queue_capacity = 1;
  auto log = AuditLog::StartForTest(options, nullptr, sink.Function());
  ASSERT_TRUE(log.ok()) << log.status();
  (*log)->Record(Event(1));
  sink.WaitUntilBlocked();
  (*log)->Record(Event(2));
  (*log)->Record(Event(3));  // dropped
  sink.Release();
  ASSERT_TRUE(WaitFor([&] { return sink.lines().size() == 2; }, absl::Seconds(10)));
  (*log)->Record(Event(4));
  log->reset();
  EXPECT_THAT(sink.lines(),
              ElementsAre(ToJsonLine(Event(1)), ToJsonLine(Event(2)), ToJsonLine(Event(4))));
}

TEST_F(AuditLogTest, FailedTestSinkWritesAreCounted) {
  prometheus::Registry registry;
  int calls = 0;
  auto log = AuditLog::StartForTest({}, &registry, [&](const std::string&) {
    return ++calls % 2 == 0 ? absl::OkStatus() : absl::UnavailableError("down");
  });
  ASSERT_TRUE(log.ok()) << log.status();
  for (int i = 0; i < 5; ++i) (*log)->Record(Event(i));
  log->reset();
  EXPECT_EQ(calls, 5);
  EXPECT_EQ(Counter(registry, "kgw_audit_write_failures_total", "test"), 3);
  EXPECT_EQ(Counter(registry, "kgw_audit_events_total", "test"), 2);
}

// ---- stderr ----

TEST_F(AuditLogTest, StderrSinkWritesLinesToStandardError) {
  const std::string captured = dir_ + "/stderr";
  std::fflush(stderr);
  const int saved = ::dup(STDERR_FILENO);
  ASSERT_GE(saved, 0);
  const int fd = ::open(captured.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::dup2(fd, STDERR_FILENO), STDERR_FILENO);
  ::close(fd);
  absl::Status started;
  {
    AuditLogOptions options;
    options.sinks = {"stderr"};
    auto log = AuditLog::Start(options, nullptr);
    started = log.status();
    if (log.ok()) {
      (*log)->Record(Event(1));
      (*log)->Record(Event(2, EventType::kConnectionClose));
    }
  }  // destroyed: everything written
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ASSERT_TRUE(started.ok()) << started;
  const std::string out = ReadAll(captured);
  EXPECT_THAT(out, HasSubstr(ToJsonLine(Event(1)) + "\n"));
  EXPECT_THAT(out, HasSubstr(ToJsonLine(Event(2, EventType::kConnectionClose)) + "\n"));
}

// ---- Options ----

TEST(AuditLogOptionsTest, NoSinksMeansAuditOff) {
  const std::string path = MakeTempDir() + "/never";
  AuditLogOptions options;
  options.file_path = path;
  auto log = AuditLog::Start(options, nullptr);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_FALSE((*log)->enabled());
  (*log)->Record(Event(1));
  (*log)->ReopenFile();
  EXPECT_EQ((*log)->dropped(), 0u);
  log->reset();
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
}

absl::Status StartStatus(AuditLogOptions options) {
  return AuditLog::Start(std::move(options), nullptr).status();
}

TEST(AuditLogOptionsTest, UnknownSinkIsInvalid) {
  AuditLogOptions options;
  options.sinks = {"stderr", "syslog"};
  const absl::Status s = StartStatus(options);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("\"syslog\""));
  EXPECT_THAT(s.message(), HasSubstr("stderr, file and kafka"));
}

TEST(AuditLogOptionsTest, RepeatedSinkIsInvalid) {
  AuditLogOptions options;
  options.sinks = {"stderr", "stderr"};
  const absl::Status s = StartStatus(options);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("twice"));
}

TEST(AuditLogOptionsTest, ZeroQueueCapacityIsInvalid) {
  AuditLogOptions options;
  options.sinks = {"stderr"};
  options.queue_capacity = 0;
  const absl::Status s = StartStatus(options);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("capacity"));
}

TEST(AuditLogOptionsTest, FileSinkNeedsAPath) {
  const absl::Status s = StartStatus(FileOptions(""));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("file path"));
}

TEST(AuditLogOptionsTest, FileInAMissingDirectoryFailsClearly) {
  const std::string path = MakeTempDir() + "/missing/audit.log";
  const absl::Status s = StartStatus(FileOptions(path));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr(path));
  EXPECT_THAT(s.message(), HasSubstr("No such file or directory"));
}

TEST(AuditLogOptionsTest, FileThatIsADirectoryFailsClearly) {
  const std::string path = MakeTempDir();
  const absl::Status s = StartStatus(FileOptions(path));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("Is a directory"));
}

AuditLogOptions KafkaOptions() {
  AuditLogOptions o;
  o.sinks = {"kafka"};
  o.kafka.bootstrap_servers = {"127.0.0.1:1"};
  o.kafka.client.security_protocol = "PLAINTEXT";
  o.topic = "_kgw_test_auditlogs";
  return o;
}

TEST(AuditLogOptionsTest, KafkaSinkNeedsAValidTopicName) {
  AuditLogOptions options = KafkaOptions();
  options.topic = "";
  absl::Status s = StartStatus(options);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("topic"));

  options.topic = "audit logs";
  s = StartStatus(options);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("\"audit logs\""));

  options.topic = std::string(250, 'a');
  EXPECT_EQ(StartStatus(options).code(), absl::StatusCode::kInvalidArgument);
}

TEST(AuditLogOptionsTest, KafkaSinkNeedsBootstrapServers) {
  AuditLogOptions options = KafkaOptions();
  options.kafka.bootstrap_servers.clear();
  const absl::Status s = StartStatus(options);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("bootstrap"));
}

TEST(AuditLogOptionsTest, KafkaSinkRejectsANonsenseRetention) {
  AuditLogOptions options = KafkaOptions();
  options.retention_ms = 0;
  const absl::Status s = StartStatus(options);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("retention"));
}

TEST(AuditLogOptionsTest, KafkaSettingLibrdkafkaRefusesIsInvalid) {
  AuditLogOptions options = KafkaOptions();
  options.kafka.client.security_protocol = "CARRIER_PIGEON";
  const absl::Status s = StartStatus(options);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("security.protocol"));
}

TEST(AuditLogOptionsTest, BadFileOptionFailsEvenWithOtherSinksFine) {
  AuditLogOptions options = FileOptions("/nonexistent-kgw-dir/audit.log");
  options.sinks = {"stderr", "file"};
  EXPECT_EQ(StartStatus(options).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(AuditLogOptionsTest, StartForTestNeedsASink) {
  auto log = AuditLog::StartForTest({}, nullptr, nullptr);
  EXPECT_EQ(log.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kgw::audit
