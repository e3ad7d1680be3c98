// What the incident emulations and the Atomic Red Team runner share: a
// collector that detects, builds run under the real `buildtrail-agent run`
// and delivered to it over loopback, the alerts raised on each build, and
// loopback peers an attack talks to (an HTTP server, a DNS server).
#pragma once

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "collector/store/store.h"
#include "tests/agent/capture_fixtures.h"
#include "tests/collector/collector_process.h"

namespace bt::testing::incidents {

// GitHub Actions' environment for a build whose run id is `run_id`
// (its build id is "<run_id>.1").
inline std::string github_env(const std::string& run_id, const std::string& home) {
  return "env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=" + home + " GITHUB_ACTIONS=true GITHUB_RUN_ID=" + run_id +
         " GITHUB_RUN_ATTEMPT=1 GITHUB_RUN_NUMBER=7 GITHUB_WORKFLOW=ci GITHUB_JOB=build"
         " GITHUB_REPOSITORY=example/app GITHUB_SERVER_URL=https://github.com"
         " GITHUB_SHA=0123456789abcdef0123456789abcdef01234567 RUNNER_NAME=runner-1 ";
}

// GitHub's variables for a build of `branch` (a push to it, or a pull
// request from it).
inline std::string branch_env(const std::string& branch, bool pull_request) {
  if (pull_request)
    return "GITHUB_EVENT_NAME=pull_request GITHUB_REF=refs/pull/12/merge GITHUB_REF_NAME=12/merge GITHUB_HEAD_REF=" +
           branch + " GITHUB_BASE_REF=main ";
  return "GITHUB_EVENT_NAME=push GITHUB_REF=refs/heads/" + branch + " GITHUB_REF_NAME=" + branch + " ";
}

// A collector that detects with the pack (and `extra` serve arguments),
// and an agent state folder every build of the fixture shares.
struct Sensor {
  CollectorData d;
  CollectorProcess c;
  std::string token;
  std::string home;
  explicit Sensor(const char* tag, std::vector<std::string> extra = {})
      : d(tag), c(d.data, std::move(extra)), token(d.token(1000)), home(d.root + "/home") {
    REQUIRE(c.running());
    REQUIRE(run_command("mkdir -p " + home).exit_code == 0);
  }

  // Runs `script` with bash as a build step under `buildtrail-agent run`
  // (in `cwd` when given, with `agent_args` before `--`, `env` added to the
  // CI environment: "GITHUB_REF_NAME=main "); returns the output.
  CommandResult build(const std::string& run_id, const std::string& script, const std::string& agent_args = "",
                      const std::string& cwd = "", const std::string& env = "") const {
    const std::string file = d.root + "/step-" + run_id + ".sh";
    std::ofstream(file) << script << "\n";
    return run_command((cwd.empty() ? "" : "cd " + cwd + " && ") + github_env(run_id, home) + env +
                       capture::agent_bin() + " run --state-dir " + d.root + "/state --collector " + c.url("") +
                       " --enroll-token " + token + " --batch-max-age-ms 100 " + agent_args + " -- /bin/bash " + file);
  }

  // Waits until the detector has taken every stored batch.
  bool detected_all(int timeout_ms = 20000) const {
    for (int waited = 0; waited < timeout_ms; waited += 50) {
      auto st = collector::store::open_sqlite(d.data, {true, 5000}).value();
      auto last = st->batches_after(0, 1000000).value();
      const int64_t cursor = st->cursor("detect.batches").value();
      if (!last.empty() && cursor == last.back().position) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // The build record of the CI build "<run_id>.1", or 0.
  int64_t build_ref(const std::string& run_id) const {
    auto st = collector::store::open_sqlite(d.data, {true, 5000}).value();
    collector::store::BuildFilter f;
    f.ci_build_id = run_id + ".1";
    auto rows = st->builds(f).value();
    return rows.empty() ? 0 : rows.front().id;
  }

  // The rule ids of the alerts whose evidence is in that build, once its
  // build_end is stored and the detector has caught up (correlations and
  // late batches included).
  std::multiset<std::string> rules_of(const std::string& run_id) const {
    int64_t ref = 0;
    for (int waited = 0; waited < 20000; waited += 50) {
      ref = build_ref(run_id);
      if (ref != 0) {
        auto st = collector::store::open_sqlite(d.data, {true, 5000}).value();
        const auto row = st->build(ref).value();
        if (row && row->ended) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE_MESSAGE(ref != 0, "no build record for " << run_id);
    REQUIRE(detected_all());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    REQUIRE(detected_all());
    std::multiset<std::string> out;
    auto store = collector::store::open_sqlite(d.data, {true, 5000}).value();
    collector::store::AlertFilter f;
    f.build = ref;
    f.limit = 1000000;  // every one of them (a build's own), not the first thousand of the store
    const std::vector<collector::store::Alert> alerts = store->alerts(f).value();
    for (const auto& a : alerts) out.insert(a.rule_id);
    return out;
  }
};

// A loopback HTTP/1.0 server on `address` (any port): answers every
// request with `body` and keeps what was sent to it.
struct HttpServer {
  int fd = -1;
  int port = 0;
  std::string address;
  std::thread thread;
  std::atomic<int> requests{0};
  std::string received;  // every request, headers and body (read by the test after the build)
  explicit HttpServer(std::string body, const std::string& addr = "127.0.0.1") : address(addr) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, addr.c_str(), &a.sin_addr);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 16) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    thread = std::thread([this, body] {
      for (;;) {
        const int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        std::string req;
        char buf[4096];
        std::size_t want = std::string::npos;
        for (;;) {
          const auto head_end = req.find("\r\n\r\n");
          if (head_end != std::string::npos && want == std::string::npos) {
            std::size_t length = 0;
            const auto cl = req.find("ontent-Length:");
            if (cl != std::string::npos && cl < head_end) length = std::stoul(req.substr(cl + 14));
            want = head_end + 4 + length;
          }
          if (want != std::string::npos && req.size() >= want) break;
          const ssize_t n = ::recv(c, buf, sizeof buf, 0);
          if (n <= 0) break;
          req.append(buf, static_cast<std::size_t>(n));
        }
        received += req;
        const std::string resp = "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                                 "\r\nConnection: close\r\n\r\n" + body;
        (void)!::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
        ::close(c);
        ++requests;
      }
    });
  }
  std::string url(const std::string& path) const { return "http://" + address + ":" + std::to_string(port) + path; }
  ~HttpServer() {
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
    thread.join();
  }
};

// Whether this process may bind 127.0.0.77:53 (capture::DnsServer's
// address): root, and nobody else holding it.
inline bool can_serve_dns() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(53);
  ::inet_pton(AF_INET, "127.0.0.77", &a.sin_addr);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

inline std::string join(const std::multiset<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : " ") + x;
  return out.empty() ? "(none)" : out;
}

}  // namespace bt::testing::incidents
