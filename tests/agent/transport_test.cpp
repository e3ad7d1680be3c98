// The real buildtrail-agent binary against the real collector process, on
// loopback: outages, crashes, full spools and disks, Retry-After, TLS.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "collector/store/store.h"
#include "common/events/json.h"
#include "tests/agent/transport_fixtures.h"
#include "tests/collector/collector_process.h"
#include "tests/common/terminal.h"
#include "tests/common/test_pki.h"

using namespace bt;
using namespace bt::testing;
namespace sfs = std::filesystem;

namespace {

// A one-shot HTTP responder on loopback for answers the real collector
// would not give on demand. Records when each request arrived.
struct FakeCollector {
  int fd = -1;
  uint16_t port = 0;
  std::vector<std::string> answers;
  std::vector<std::chrono::steady_clock::time_point> arrivals;
  std::thread thread;
  explicit FakeCollector(std::vector<std::string> a) : answers(std::move(a)) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    ::listen(fd, 8);
    // The last answer repeats for any further request.
    thread = std::thread([this] {
      for (std::size_t i = 0;; ++i) {
        const std::string& answer = answers[std::min(i, answers.size() - 1)];
        int c = ::accept(fd, nullptr, nullptr);
        if (c < 0) return;
        std::string req;
        char buf[65536];
        // Read headers and the body announced by Content-Length.
        std::size_t need = std::string::npos;
        while (true) {
          ssize_t n = ::recv(c, buf, sizeof buf, 0);
          if (n <= 0) break;
          req.append(buf, static_cast<std::size_t>(n));
          auto hdr_end = req.find("\r\n\r\n");
          if (hdr_end != std::string::npos && need == std::string::npos) {
            auto cl = req.find("Content-Length: ");
            need = hdr_end + 4 + (cl == std::string::npos ? 0 : std::stoul(req.substr(cl + 16)));
          }
          if (need != std::string::npos && req.size() >= need) break;
        }
        arrivals.push_back(std::chrono::steady_clock::now());
        ::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
        ::close(c);
      }
    });
  }
  ~FakeCollector() {
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
    if (thread.joinable()) thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

}  // namespace

TEST_CASE("collector down: 10,000 events spooled, then delivered exactly once") {
  Setup s;
  const std::string tok = s.token();
  // Learn a free port, then take the collector down.
  CollectorProcess c(s.data);
  const std::string url = "http://" + c.address();
  c.stop(SIGTERM);

  auto r = s.agent("replay --synthetic 10000 --collector " + url + " --enroll-token " + tok +
                   " --flush-timeout 1 --batch-max-bytes 65536");
  CHECK_MESSAGE(r.exit_code == 1, r.output);  // left in the spool
  CHECK(sfs::exists(s.state + "/spool/00000000000000000001.btb"));

  REQUIRE(c.start());
  r = s.agent("flush --collector " + url + " --enroll-token " + tok);
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK(sfs::is_empty(s.state + "/spool") == false);  // chain, lock files remain
  for (auto& p : sfs::directory_iterator(s.state + "/spool")) CHECK(p.path().extension() != ".btb");

  const auto evs = s.archived_events();
  CHECK(synthetic_events(evs) == 10000);
  CHECK(s.findings().empty());
  // The whole archive verifies offline as one chain.
  std::string files;
  for (auto& p : sfs::recursive_directory_iterator(s.data + "/archive"))
    if (p.is_regular_file()) files += " " + p.path().string();
  auto v = run_command(build_path("collector/buildtrail-collector") + " verify --quiet --pubkey " + s.state +
                       "/agent.pub" + files);
  CHECK_MESSAGE(v.exit_code == 0, v.output);
}

TEST_CASE("kill -9 of the agent while sending, then restart: no duplicate, no gap") {
  Setup s;
  CollectorProcess c(s.data);
  const std::string tok = s.token();
  const std::string url = c.url("");
  // Spool many small batches while the collector is unreachable for this agent.
  auto r = s.agent("replay --synthetic 40000 --batch-max-bytes 16384");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const auto spooled = sfs::directory_iterator(s.state + "/spool");
  std::size_t batches = 0;
  for (auto& p : spooled) batches += p.path().extension() == ".btb";
  REQUIRE(batches > 50);

  for (int round = 0; round < 3; ++round) {
    pid_t pid = ::fork();
    if (pid == 0) {
      const std::string state = "--state-dir=" + s.state, coll = "--collector=" + url, t = "--enroll-token=" + tok;
      ::execl(s.agent_bin.c_str(), s.agent_bin.c_str(), "flush", state.c_str(), coll.c_str(), t.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + 100 * round));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  r = s.agent("flush --flush-timeout 120 --collector " + url + " --enroll-token " + tok);
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  const auto evs = s.archived_events();
  CHECK(synthetic_events(evs) == 40000);
  CHECK(s.stats().batches >= batches);  // plus the flush runs' own agent_start/stop batches
  CHECK(s.findings().empty());
}

TEST_CASE("spool limit: the collector receives a loss event counting every dropped event") {
  Setup s;
  const std::string tok = s.token();
  auto r = s.agent("replay --synthetic 6000 --batch-max-bytes 8192 --spool-max-bytes 40000");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CollectorProcess c(s.data);
  r = s.agent("flush --collector " + c.url("") + " --enroll-token " + tok);
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  const auto evs = s.archived_events();
  const uint64_t stored = synthetic_events(evs);
  const uint64_t lost = loss_count(evs, "spool_full");
  CHECK(stored < 6000);
  CHECK(lost > 0);
  // Every event produced is either stored or counted lost: 6000 synthetic
  // plus agent_start/agent_stop of each of the two runs. (Loss events are
  // the report itself, not produced events.)
  const uint64_t non_loss = evs.size() - count_kind(evs, events::Kind::loss);
  CHECK(non_loss + lost == 6000 + 4);
  CHECK(no_chain_findings(s.findings()));
}

TEST_CASE("a corrupt spool file is quarantined and reported to the collector") {
  Setup s;
  const std::string tok = s.token();
  auto r = s.agent("replay --synthetic 3000 --batch-max-bytes 16384");
  REQUIRE(r.exit_code == 0);
  const std::string victim = s.state + "/spool/00000000000000000002.btb";
  auto bytes = fs::read_file(victim, 1 << 20).value();
  bytes[300] ^= 0x55;
  sfs::remove(victim);
  REQUIRE(fs::write_new_file(victim, bytes, 0600).ok());

  CollectorProcess c(s.data);
  r = s.agent("flush --collector " + c.url("") + " --enroll-token " + tok);
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK(r.output.find("quarantined corrupt spool file 00000000000000000002.btb") != std::string::npos);
  CHECK(sfs::exists(s.state + "/spool/quarantine/00000000000000000002.btb"));
  const auto evs = s.archived_events();
  const uint64_t lost = loss_count(evs, "spool_corrupt");
  CHECK(lost > 0);
  CHECK(synthetic_events(evs) + lost >= 3000);
  // The hole in the chain is visible at the collector as exactly one gap.
  int gaps = 0;
  for (const auto& f : s.findings()) gaps += f.kind == collector::store::FindingKind::kGap;
  CHECK(gaps == 1);
}

TEST_CASE("Retry-After from the collector is honoured") {
  Setup s;
  auto r = s.agent("replay --synthetic 10");
  REQUIRE(r.exit_code == 0);
  FakeCollector fake(
      {"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
       "HTTP/1.1 200 OK\r\nContent-Length: 20\r\nConnection: close\r\n\r\n{\"status\":\"stored\"}\n"});
  r = s.agent("flush --collector " + fake.url());
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  REQUIRE(fake.arrivals.size() >= 2);
  CHECK(fake.arrivals[1] - fake.arrivals[0] >= std::chrono::seconds(2));
}

TEST_CASE("a rejected batch is set aside with a clear log line, not retried for ever") {
  Setup s;
  auto r = s.agent("replay --synthetic 10");
  REQUIRE(r.exit_code == 0);
  FakeCollector fake({"HTTP/1.1 409 Conflict\r\nContent-Length: 16\r\nConnection: close\r\n\r\n{\"error\":\"fork\"}"});
  r = s.agent("flush --collector " + fake.url() + " --flush-timeout 2");
  CHECK(r.output.find("collector rejected batch 1 with 409") != std::string::npos);
  CHECK(sfs::exists(s.state + "/spool/rejected/00000000000000000001.btb"));
}

namespace {

std::size_t batches_in(const std::string& dir) {
  std::size_t n = 0;
  if (!sfs::exists(dir)) return 0;
  for (const auto& p : sfs::directory_iterator(dir)) n += p.path().extension() == ".btb";
  return n;
}

// A collector on TLS that requires client certificates from the test CA.
CollectorProcess mtls_collector(const std::string& data, const std::string& pki) {
  return CollectorProcess(
      data, {"--tls-cert", pki + "/server.pem", "--tls-key", pki + "/server.key", "--client-ca", pki + "/ca.pem"});
}

}  // namespace

TEST_CASE("403 for a missing client certificate pauses sending and keeps every batch; with it, all arrive") {
  Setup s;
  TestPki certs;
  const std::string pki = certs.dir;
  CollectorProcess c = mtls_collector(s.data, pki);
  REQUIRE(c.running());
  const std::string url = "https://" + c.address() + " --tls-ca-file " + pki + "/ca.pem";
  const std::string client_cert = " --tls-client-cert " + pki + "/client.pem --tls-client-key " + pki + "/client.key";
  // Enrolled and delivering with the certificate.
  REQUIRE(s.agent("replay --synthetic 40").exit_code == 0);
  auto first = s.agent("flush --collector " + url + " --enroll-token " + s.token() + client_cert);
  REQUIRE_MESSAGE(first.exit_code == 0, first.output);

  // Then without it (a lost or expired certificate): the collector answers 403.
  REQUIRE(s.agent("replay --synthetic 60").exit_code == 0);
  const std::size_t waiting = batches_in(s.state + "/spool");
  REQUIRE(waiting > 0);
  const auto t0 = std::chrono::steady_clock::now();
  auto refused = s.agent("flush --collector " + url + " --flush-timeout 60");
  INFO(refused.output);
  CHECK(refused.exit_code == 1);
  CHECK(refused.output.find("collector refuses this agent (403") != std::string::npos);
  CHECK(refused.output.find("sending paused, every batch stays in the spool") != std::string::npos);
  CHECK(refused.output.find("rejected") == std::string::npos);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(30));  // no wait for the flush timeout
  CHECK(batches_in(s.state + "/spool/rejected") == 0);
  CHECK(batches_in(s.state + "/spool") >= waiting);  // kept, plus this run's own batch

  // The certificate back: everything arrives, and nothing was counted lost.
  auto again = s.agent("flush --collector " + url + client_cert);
  CHECK_MESSAGE(again.exit_code == 0, again.output);
  CHECK(batches_in(s.state + "/spool") == 0);
  const auto evs = s.archived_events();
  CHECK(synthetic_events(evs) == 100);
  CHECK(count_kind(evs, events::Kind::loss) == 0);
  CHECK(no_chain_findings(s.findings()));
}

TEST_CASE("a running agent the collector refuses (401/403) says so in status, keeps its batches, and probes rarely") {
  Setup s;
  FakeCollector fake(
      {"HTTP/1.1 403 Forbidden\r\nContent-Length: 19\r\nConnection: close\r\n\r\n{\"error\":\"revoked\"}"});
  const std::string fifo = s.root + "/events.fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    const std::string state = "--state-dir=" + s.state, ev = "--events=" + fifo, coll = "--collector=" + fake.url();
    ::execl(s.agent_bin.c_str(), s.agent_bin.c_str(), "replay", ev.c_str(), state.c_str(), coll.c_str(),
            "--batch-max-age-ms=100", "--backoff-base-ms=50", "--backoff-cap-ms=700", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  FILE* w = std::fopen(fifo.c_str(), "w");
  REQUIRE(w);
  for (int i = 0; i < 5; ++i)
    std::fprintf(w, "%s\n", events::to_json(events::example_event(events::Kind::process_exec)).c_str());
  std::fflush(w);
  std::string out;
  for (int i = 0; i < 100 && out.find("\"sending_paused\":true") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    out = s.agent("status").output;
  }
  CHECK_MESSAGE(out.find("\"sending_paused\":true") != std::string::npos, out);
  CHECK(out.find("sending paused, every batch stays in the spool") != std::string::npos);
  CHECK(out.find("\"rejected\":0") != std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(1600));
  std::fclose(w);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WEXITSTATUS(status) == 1);  // not delivered
  // Offered again after the longest backoff, not hammered.
  CHECK(fake.arrivals.size() >= 2);
  CHECK(fake.arrivals.size() <= 6);
  CHECK(batches_in(s.state + "/spool") >= 1);
  CHECK(batches_in(s.state + "/spool/rejected") == 0);
}

TEST_CASE("status prints the running agent's counters") {
  Setup s;
  // A long replay from a pipe that stays open keeps the agent running.
  const std::string fifo = s.root + "/events.fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    const std::string state = "--state-dir=" + s.state, ev = "--events=" + fifo;
    ::execl(s.agent_bin.c_str(), s.agent_bin.c_str(), "replay", ev.c_str(), state.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  FILE* w = std::fopen(fifo.c_str(), "w");
  REQUIRE(w);
  for (int i = 0; i < 5; ++i) {
    auto e = events::example_event(events::Kind::process_exec);
    std::fprintf(w, "%s\n", events::to_json(e).c_str());
  }
  std::fflush(w);
  std::string out;
  for (int i = 0; i < 100 && out.find("\"events_in\":6") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    out = s.agent("status").output;
  }
  CHECK_MESSAGE(out.find("\"events_in\":6") != std::string::npos, out);  // agent_start + 5
  CHECK(out.find("\"spool_bytes\":") != std::string::npos);
  struct stat st {};
  REQUIRE(::stat((s.state + "/agent.sock").c_str(), &st) == 0);
  CHECK((st.st_mode & 0077) == 0);
  std::fclose(w);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("TLS and mTLS to the collector; a wrong CA is refused with a clear error") {
  Setup s;
  TestPki certs;
  const std::string pki = certs.dir;
  CollectorProcess c = mtls_collector(s.data, pki);
  REQUIRE(c.running());
  const std::string url = "https://" + c.address();
  const std::string tok = s.token();
  REQUIRE(s.agent("replay --synthetic 100").exit_code == 0);

  auto wrong = s.agent("flush --collector " + url + " --enroll-token " + tok + " --tls-ca-file " + pki +
                       "/other.pem --tls-client-cert " + pki + "/client.pem --tls-client-key " + pki +
                       "/client.key --flush-timeout 1");
  CHECK(wrong.exit_code == 1);
  CHECK_MESSAGE(
      (wrong.output.find("SSL") != std::string::npos || wrong.output.find("certificate") != std::string::npos),
      wrong.output);

  auto ok = s.agent("flush --collector " + url + " --enroll-token " + tok + " --tls-ca-file " + pki +
                    "/ca.pem --tls-client-cert " + pki + "/client.pem --tls-client-key " + pki + "/client.key");
  CHECK_MESSAGE(ok.exit_code == 0, ok.output);
  CHECK(synthetic_events(s.archived_events()) == 100);
}

TEST_CASE("an idle agent sends heartbeats so a silent agent can be told from a dead one") {
  Setup s;
  const std::string fifo = s.root + "/idle.fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    const std::string state = "--state-dir=" + s.state, ev = "--events=" + fifo;
    ::execl(s.agent_bin.c_str(), s.agent_bin.c_str(), "replay", ev.c_str(), state.c_str(), "--heartbeat-s=1",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  FILE* w = std::fopen(fifo.c_str(), "w");
  REQUIRE(w);
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));  // idle
  std::fclose(w);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  // No collector: everything is in the spool; read it back with the agent's key.
  auto key = crypto::load_public_key(s.state + "/agent.pub").value();
  uint64_t heartbeats = 0;
  for (auto& p : sfs::directory_iterator(s.state + "/spool")) {
    if (p.path().extension() != ".btb") continue;
    auto opened = batch::open(crypto::as_bytes(fs::read_file(p.path(), 1 << 20).value()), key);
    REQUIRE(opened.ok());
    REQUIRE(batch::for_each_event(*opened,
                                  [&](events::Event&& e) { heartbeats += e.kind() == events::Kind::agent_heartbeat; }));
  }
  CHECK(heartbeats >= 2);
}

// Issue 17, item 13: what the agent prints of text it did not write. A
// collector (or whoever answers in its place) chooses its reply body, and
// the daemon's reply to `job` names the job from CI variables.
TEST_CASE("hostile replies reach the agent's log, status and job output escaped") {
  Setup s;
  const std::string hostile(kHostile);
  const std::string reply = "HTTP/1.1 403 Forbidden\r\nContent-Length: " + std::to_string(hostile.size()) +
                            "\r\nConnection: close\r\n\r\n" + hostile;
  FakeCollector fake({reply});
  const std::string fifo = s.root + "/events.fifo", log = s.root + "/agent.log";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    FILE* f = std::fopen(log.c_str(), "w");
    if (f) ::dup2(fileno(f), 2);
    const std::string state = "--state-dir=" + s.state, ev = "--events=" + fifo, coll = "--collector=" + fake.url();
    ::execl(s.agent_bin.c_str(), s.agent_bin.c_str(), "replay", ev.c_str(), state.c_str(), coll.c_str(),
            "--batch-max-age-ms=100", "--backoff-base-ms=50", "--backoff-cap-ms=700", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  FILE* w = std::fopen(fifo.c_str(), "w");
  REQUIRE(w);
  std::fprintf(w, "%s\n", events::to_json(events::example_event(events::Kind::process_exec)).c_str());
  std::fflush(w);
  std::string status;
  for (int i = 0; i < 100 && status.find("\"sending_paused\":true") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    status = s.agent("status").output;
  }
  std::fclose(w);
  int exit = 0;
  ::waitpid(pid, &exit, 0);
  // status: still JSON, the reply in it escaped.
  CHECK_MESSAGE(terminal_unsafe(status).empty(), terminal_unsafe(status) << "\n" << status);
  CHECK_MESSAGE(status.find("(403: x\\u001B[2J\\rFAKE\\nverified 9 batches: 9 ok\\u007F\\u2028\\u2029\\u202Eevil\\u009B"
                            "1m\\uFFFD)") != std::string::npos,
                status);
  // The log: one line per message, the reply escaped.
  const std::string text = fs::read_file(log, 1 << 20).value();
  CHECK_MESSAGE(terminal_unsafe(text).empty(), terminal_unsafe(text) << "\n" << text);
  CHECK_MESSAGE(text.find("collector refuses this agent (403: x\\x1b[2J\\x0dFAKE\\x0averified 9 batches: 9 "
                          "ok\\x7f\\u{2028}\\u{2029}\\u{202e}evil\\u{009b}1m\\xff)") != std::string::npos,
                text);
  CHECK(text.find("\nverified 9") == std::string::npos);

  // `job`: a daemon socket that answers with hostile text.
  const std::string sock = s.root + "/job.sock";
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 2) == 0);
  std::thread daemon([&] {
    const int c = ::accept(fd, nullptr, nullptr);
    if (c < 0) return;
    char buf[4096];
    (void)::recv(c, buf, sizeof buf, 0);
    const std::string answer =
        "{\"ok\":true,\"message\":\"job x\\u001b[2J\\rFAKE\\u2028\\u202eevil\\u009b1m begun\"}\n";
    (void)::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
    ::close(c);
  });
  auto job = run_command("timeout 30 " + s.agent_bin + " job begin --id x --daemon-socket " + sock);
  daemon.join();
  ::close(fd);
  CHECK_MESSAGE(job.exit_code == 0, job.output);
  CHECK_MESSAGE(terminal_unsafe(job.output).empty(), job.output);
  // (job_protocol already makes line breaks spaces; the rest is escaped.)
  CHECK(job.output == "job x\\x1b[2J FAKE\\u{2028}\\u{202e}evil\\u{009b}1m begun\n");

  // An unknown command is quoted back escaped.
  auto unknown = run_command(s.agent_bin + " \"$(printf 'x\\033[2J\\342\\200\\256')\"");
  CHECK(unknown.exit_code == 2);
  CHECK(terminal_unsafe(unknown.output).empty());
  CHECK(unknown.output.find("unknown command 'x\\x1b[2J\\u{202e}'") != std::string::npos);
}
