// Child processes and small network probes for end-to-end tests: start a
// program with extra environment variables and its output in a file, run a
// shell command and capture its output, ask an HTTP endpoint, list the TCP
// peers of a process.
#ifndef KGW_TESTS_E2E_PROCESS_UTIL_H_
#define KGW_TESTS_E2E_PROCESS_UTIL_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/testing/wait_for.h"

extern char** environ;

namespace kgw::test {

inline std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A child process whose stdout and stderr go to `log_path`. It is killed
// when the test process ends, however that happens.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
        const std::string& log_path)
      : log_path_(log_path) {
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string entry = *e;
      std::string name = entry.substr(0, entry.find('='));
      if (env.count(name) == 0) env_strings.push_back(entry);
    }
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    // Emptied here, before fork: a Log() read right after the constructor
    // never sees what an earlier run left in the file.
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    pid_ = fork();
    if (pid_ == 0) {
      // Servers started by a test stop with it, even when it crashes.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      std::vector<char*> envp;
      for (auto& e : env_strings) envp.push_back(e.data());
      envp.push_back(nullptr);
      execve(args[0], args.data(), envp.data());
      _exit(127);
    }
    if (fd >= 0) close(fd);
  }
  Child(const Child&) = delete;
  ~Child() {
    if (running()) {
      kill(pid_, SIGKILL);
      Wait(std::chrono::seconds(10));
    }
  }

  pid_t pid() const { return pid_; }
  bool running() {
    if (exit_status_) return false;
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) exit_status_ = status;
    return !exit_status_;
  }
  // The exit code (128 + signal when killed), or nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout) {
    const auto give_up = std::chrono::steady_clock::now() + timeout;
    while (running()) {
      if (std::chrono::steady_clock::now() >= give_up) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (WIFEXITED(*exit_status_)) return WEXITSTATUS(*exit_status_);
    return 128 + WTERMSIG(*exit_status_);
  }
  void Signal(int sig) { kill(pid_, sig); }
  std::string Log() const { return ReadFile(log_path_); }

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  std::string log_path_;
};

// A number from /proc/<pid>/status (`field` with its colon, e.g. "VmRSS:";
// sizes are in KiB); -1 when it cannot be read.
inline int64_t ProcStatus(pid_t pid, absl::string_view field) {
  for (absl::string_view line : absl::StrSplit(ReadFile(absl::StrCat("/proc/", pid, "/status")),
                                               '\n')) {
    if (!absl::ConsumePrefix(&line, field)) continue;
    absl::string_view number = absl::StripAsciiWhitespace(line);
    number = number.substr(0, number.find(' '));
    int64_t n = -1;
    if (absl::SimpleAtoi(number, &n)) return n;
  }
  return -1;
}

// Runs `command` with sh; returns its exit code and stdout+stderr.
inline std::pair<int, std::string> Shell(const std::string& command) {
  std::string output;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) output.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// A plain TCP connection to `host`:`port` (a loopback IPv4 address; with
// SO_RCVBUF set before connecting when `receive_buffer` > 0); -1 on failure.
inline int ConnectLoopback(int port, int receive_buffer = 0, const char* host = "127.0.0.1") {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (receive_buffer > 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host, &a.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

// Status code and body of GET http://host:port/path; status 0 when unreachable.
inline std::pair<int, std::string> HttpGet(int port, const std::string& path,
                                           const char* host = "127.0.0.1") {
  int fd = ConnectLoopback(port, 0, host);
  if (fd < 0) return {0, ""};
  std::string request = absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: localhost\r\n\r\n");
  if (write(fd, request.data(), request.size()) < 0) {
    close(fd);
    return {0, ""};
  }
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) response.append(buf, n);
  close(fd);
  int status = 0;
  std::vector<std::string> first = absl::StrSplit(response.substr(0, response.find('\r')), ' ');
  if (first.size() < 2 || !absl::SimpleAtoi(first[1], &status)) return {0, response};
  const size_t body = response.find("\r\n\r\n");
  return {status, body == std::string::npos ? "" : response.substr(body + 4)};
}

// The value of one Prometheus series (`name{labels}` as exported) on
// host:http_port's /metrics; 0 when it is not there.
inline double MetricValue(int http_port, absl::string_view series,
                          const char* host = "127.0.0.1") {
  const std::string body = HttpGet(http_port, "/metrics", host).second;
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (absl::ConsumePrefix(&line, series) && absl::ConsumePrefix(&line, " ")) {
      double v = 0;
      if (absl::SimpleAtod(line, &v)) return v;
    }
  }
  return 0;
}

// True once `process` answers 200 on /health/ready at host:http_port within
// `timeout`; false at once if it exits first.
inline bool WaitReady(Child& process, const std::string& host, int http_port,
                      std::chrono::seconds timeout) {
  return ::kgw::testing::WaitFor(
             [&] {
               return !process.running() ||
                      HttpGet(http_port, "/health/ready", host.c_str()).first == 200;
             },
             timeout) &&
         process.running();
}

// Broker id -> "host:port" from kcat's metadata listing (`kcat -L`), whose
// lines read "  broker 1 at 127.0.0.2:31970 (controller)".
inline std::map<int, std::string> KcatBrokers(const std::string& listing) {
  std::map<int, std::string> brokers;
  for (absl::string_view line : absl::StrSplit(listing, '\n')) {
    std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    int id;
    if (words.size() >= 4 && words[0] == "broker" && words[2] == "at" &&
        absl::SimpleAtoi(words[1], &id)) {
      brokers[id] = std::string(words[3]);
    }
  }
  return brokers;
}

// Remote ports of the established TCP connections of process `pid`.
inline std::vector<int> PeerPortsOf(pid_t pid) {
  auto [rc, out] = Shell("ss -tnpH state established");
  std::vector<int> ports;
  const std::string needle = absl::StrCat("pid=", pid, ",");
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (line.find(needle) == absl::string_view::npos) continue;
    std::vector<absl::string_view> cols = absl::StrSplit(line, ' ', absl::SkipEmpty());
    // Recv-Q Send-Q Local Peer Process
    if (cols.size() < 4) continue;
    absl::string_view peer = cols[3];
    int port;
    if (absl::SimpleAtoi(peer.substr(peer.rfind(':') + 1), &port)) ports.push_back(port);
  }
  return ports;
}

}  // namespace kgw::test

#endif  // KGW_TESTS_E2E_PROCESS_UTIL_H_
