// agent/route with synthetic observations: the one router both backends
// feed (the daemon's kernel says which build each observation is in; for
// `run --session`, route/lineage works it out from forks), and the job
// hooks' begin/end. No capture runs here: the backends' own tests cover
// what they observe.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "agent/route/job_socket.h"
#include "agent/route/lineage.h"
#include "agent/route/router.h"
#include "common/unique_fd.h"
#include "common/unix_socket.h"
#include "tests/common/test_util.h"

using namespace bt;
using namespace bt::agent;

namespace {

constexpr uint64_t kRunner = 500;

// Identity variables by pid, as /proc/<pid>/environ would give them.
using Environments = std::map<uint64_t, attribution::Environment>;

attribution::Environment gitlab_job(const std::string& id) {
  return {{"GITLAB_CI", "true"},
          {"CI_JOB_ID", id},
          {"CI_JOB_NAME", "build"},
          {"CI_PROJECT_URL", "https://gitlab.example.com/g/p"}};
}

struct Trail {
  std::vector<events::Event> events;
  Environments env;
  route::Router router;

  explicit Trail(std::string mode = "daemon")
      : router(
            base(), [this](events::Event&& e) { events.push_back(std::move(e)); },
            route::Options{std::move(mode), 1, [this](uint64_t pid) { return env[pid]; }}) {}

  static enrich::Config base() {
    enrich::Config c;
    c.envelope.host = "ci-host";
    c.secret_rules = secrets::default_rules();
    return c;
  }
  template <typename T>
  std::vector<const events::Event*> of() const {
    std::vector<const events::Event*> out;
    for (const auto& e : events)
      if (std::holds_alternative<T>(e.body)) out.push_back(&e);
    return out;
  }
};

capture::Exec exec_of(uint64_t pid, const std::string& arg, uint64_t time_ns = 100) {
  capture::Exec x;
  x.time_ns = time_ns;
  x.pid = pid;
  x.exe = "/bin/sh";
  x.argv = {"sh", "-c", arg};
  x.cwd = "/builds/g/p";
  return x;
}

capture::InBuild in(uint64_t root) { return {{static_cast<uint32_t>(root), root * 10}, false, false}; }

capture::InBuild forked_by_runner(uint64_t root) {
  capture::InBuild where = in(root);
  where.starts_build = true;
  return where;
}

}  // namespace

TEST_CASE("router: a build starts at its runner's fork, is named by its first exec, ends with its root") {
  Trail t;
  t.env[601] = gitlab_job("77");
  t.router.on(capture::Fork{50, kRunner, 601, 6010}, forked_by_runner(601));
  // Before the first exec: held, then delivered in order.
  t.router.on(capture::Open{60, 601, "/root/.aws/credentials", false, std::nullopt}, in(601));
  CHECK(t.events.empty());
  t.router.on(exec_of(601, "make"), in(601));
  t.router.on(capture::Exit{300, 601, 0, 0, 0, 0, 0}, in(601));
  REQUIRE(t.of<events::BuildStart>().size() == 1);
  const events::Event& start = *t.of<events::BuildStart>()[0];
  CHECK(start.time_ns == 50);  // the runner's fork, not the exec
  CHECK(std::get<events::BuildStart>(start.body).mode == "daemon");
  REQUIRE(t.of<events::SecretAccess>().size() == 1);
  CHECK(t.of<events::SecretAccess>()[0]->build.id == "77");
  REQUIRE(t.of<events::BuildEnd>().size() == 1);
  for (const auto& e : t.events) CHECK(e.build.ci == "gitlab");
  CHECK(t.router.jobs_started() == 1);
}

TEST_CASE("router: the environment an exec carries wins over /proc; a later exec may name the build") {
  Trail t;
  capture::Exec first = exec_of(601, "bash --login");
  first.identity_env = std::vector<std::string>{};  // the login shell: no CI variables yet
  t.env[601] = gitlab_job("99");                    // /proc would say otherwise: not read
  t.router.on(capture::Fork{50, kRunner, 601, 6010}, forked_by_runner(601));
  t.router.on(first, in(601));
  CHECK(t.of<events::BuildStart>().empty());  // waits for a name
  t.router.on(capture::Fork{70, 601, 602, 6020}, in(601));
  t.env[602] = gitlab_job("8080");  // the job script's child: read from /proc
  t.router.on(exec_of(602, "true LATE-CHILD"), in(601));
  REQUIRE(t.of<events::BuildStart>().size() == 1);
  for (const auto& e : t.events) CHECK(e.build.id == "8080");  // held ones too
}

TEST_CASE("router: a build that never execs leaves no trail; record-all is one build outside runners") {
  Trail t;
  t.router.on(capture::Fork{50, kRunner, 601, 6010}, forked_by_runner(601));
  t.router.on(capture::Open{60, 601, "/root/.aws/credentials", false, std::nullopt}, in(601));
  t.router.on(capture::Exit{70, 601, 0, 0, 0, 0, 0}, in(601));
  CHECK(t.events.empty());
  // Processes outside builds (key {0, 0}): one unnamed build for all of them.
  t.router.on(exec_of(700, "cron job"), capture::InBuild{});
  t.router.on(exec_of(701, "another"), capture::InBuild{});
  t.router.end_all();
  CHECK(t.of<events::BuildStart>().size() == 1);
  CHECK(t.of<events::ProcessExec>().size() == 2);
  CHECK(t.of<events::BuildEnd>().size() == 1);
}

TEST_CASE("router: `job begin` spans the runner's later builds until `job end`; idle jobs expire") {
  Trail t;
  t.env[601] = t.env[611] = t.env[621] = gitlab_job("5");
  t.router.on(capture::Fork{50, kRunner, 601, 6010}, forked_by_runner(601));
  t.router.on(exec_of(601, "hook"), in(601));
  job::Request begin;
  begin.op = job::Op::kBegin;
  CHECK(t.router.begin_job(in(601).build, begin).ok);
  // A hook cannot rename a job its environment named.
  job::Request rename = begin;
  rename.id = "6";
  const job::Reply refused = t.router.begin_job(in(601).build, rename);
  CHECK_FALSE(refused.ok);
  CHECK(refused.message.find("does not rename") != std::string::npos);
  t.router.on(capture::Exit{60, 601, 0, 0, 0, 0, 0}, in(601));
  CHECK(t.of<events::BuildEnd>().empty());  // begun: the first step's exit does not end it
  // The next step: another child of the runner, the same job.
  t.router.on(capture::Fork{70, kRunner, 611, 6110}, forked_by_runner(611));
  t.router.on(exec_of(611, "step two"), in(611));
  CHECK(t.of<events::BuildStart>().size() == 1);
  CHECK(t.router.jobs_started() == 1);
  job::Request end;
  end.op = job::Op::kEnd;
  end.status = 3;
  CHECK(t.router.end_job(in(611).build, end).ok);
  REQUIRE(t.of<events::BuildEnd>().size() == 1);
  CHECK(std::get<events::BuildEnd>(t.of<events::BuildEnd>()[0]->body).exit_code == 3);
  CHECK_FALSE(t.router.end_job(in(611).build, end).ok);  // once
  // Begun and left without an end: expires once it has no process left.
  t.router.on(capture::Fork{80, kRunner, 621, 6210}, forked_by_runner(621));
  t.router.on(exec_of(621, "job three"), in(621));
  t.env[621] = gitlab_job("6");
  CHECK(t.router.begin_job(in(621).build, begin).ok);
  t.router.on(capture::Exit{90, 621, 0, 0, 0, 0, 0}, in(621));
  t.router.expire_jobs();  // job_idle_ns is 1 here
  CHECK(t.of<events::BuildEnd>().size() == 2);
}

TEST_CASE("router: `job begin` cannot give a build another build's id, by --id or by variables") {
  Trail t;
  constexpr uint64_t kOtherRunner = 510;
  t.env[601] = gitlab_job("5");
  t.router.on(capture::Fork{50, kRunner, 601, 6010}, forked_by_runner(601));
  t.router.on(exec_of(601, "the real job"), in(601));
  // Another build on the host, with no CI variables yet (its runner's
  // environment named nothing): it tries to pass itself off as job 5.
  t.router.on(capture::Fork{60, kOtherRunner, 701, 7010}, forked_by_runner(701));
  t.router.on(exec_of(701, "IMPOSTOR"), in(701));
  job::Request claim;
  claim.op = job::Op::kBegin;
  claim.id = "5";
  const job::Reply refused = t.router.begin_job(in(701).build, claim);
  CHECK_FALSE(refused.ok);
  CHECK(refused.message.find("id 5 is another build's on this host (gitlab build 5)") != std::string::npos);
  job::Request by_variables;
  by_variables.op = job::Op::kBegin;
  by_variables.env = gitlab_job("5");
  CHECK_FALSE(t.router.begin_job(in(701).build, by_variables).ok);
  // A begun job is known until it ends, even with none of its processes left.
  job::Request begin;
  begin.op = job::Op::kBegin;
  REQUIRE(t.router.begin_job(in(601).build, begin).ok);
  t.router.on(capture::Exit{70, 601, 0, 0, 0, 0, 0}, in(601));
  CHECK_FALSE(t.router.begin_job(in(701).build, claim).ok);
  // An id of its own is fine.
  claim.id = "impostor-own";
  CHECK(t.router.begin_job(in(701).build, claim).ok);
  t.router.on(capture::Exit{80, 701, 0, 0, 0, 0, 0}, in(701));
  t.router.end_all();
  bool saw = false;
  for (const auto* e : t.of<events::ProcessExec>()) {
    const auto& argv = std::get<events::ProcessExec>(e->body).argv;
    if (std::find(argv.begin(), argv.end(), "IMPOSTOR") == argv.end()) continue;
    saw = true;
    CHECK(e->build.id == "impostor-own");
  }
  CHECK(saw);
}

TEST_CASE("job socket: silent, slow and oversized clients never delay another's answer") {
  const std::string dir = testing::make_temp_dir("job-socket");
  const std::string path = dir + "/daemon.sock";
  route::JobSocket::Limits limits;
  limits.max_clients = 12;
  limits.max_clients_per_uid = 8;  // every client here is the same user
  limits.request_timeout = std::chrono::milliseconds(1500);
  limits.max_request_bytes = 1024;
  auto opened = route::JobSocket::open(path, limits);
  REQUIRE_MESSAGE(opened.ok(), opened.error().message);
  auto& socket = **opened;
  // The capture thread's part: answers between its polls.
  std::atomic<bool> stop{false};
  std::thread capture([&] {
    while (!stop) {
      socket.answer([](const job::Request&, const route::JobSocket::Peer& peer) {
        return job::Reply{true, "hello pid " + std::to_string(peer.pid)};
      });
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  auto connect_one = [&] {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
  };
  const std::string request = job::to_json(job::Request{}) + "\n";
  auto ask = [&](const std::string& line) {
    unix_socket::Exchange x;
    x.request = line;
    x.one_line = true;
    x.timeout = std::chrono::seconds(5);
    const auto t0 = std::chrono::steady_clock::now();
    auto reply = unix_socket::ask(path, x);
    const auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE_MESSAGE(reply.ok(), reply.error().message);
    return std::make_pair(job::parse_reply(*reply).value(), took);
  };

  // Another local user's clients: four that send nothing, one that sends a
  // byte every 100 ms and never ends its line.
  std::vector<UniqueFd> silent;
  for (int i = 0; i < 4; ++i) silent.push_back(connect_one());
  UniqueFd slow = connect_one();
  std::thread dribble([&] {
    for (int i = 0; i < 10 && !stop; ++i) {
      (void)!::send(slow.get(), "{", 1, MSG_NOSIGNAL);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  // A hook's request is answered at once all the same.
  for (int i = 0; i < 3; ++i) {
    const auto [reply, took] = ask(request);
    CHECK(reply.ok);
    CHECK(reply.message == "hello pid " + std::to_string(::getpid()));
    CHECK(took < std::chrono::milliseconds(500));
  }
  // A request over the size budget: a one-line error, at once.
  const auto [big, big_took] = ask(std::string(2000, ' ') + request);
  CHECK_FALSE(big.ok);
  CHECK(big.message.find("more than 1024 bytes") != std::string::npos);
  CHECK(big_took < std::chrono::milliseconds(500));
  // One user holding every connection it may: its next one is told the
  // daemon is busy, at once, instead of waiting in the backlog.
  for (int i = 0; i < 3; ++i) silent.push_back(connect_one());
  const auto [busy, busy_took] = ask(request);
  CHECK_FALSE(busy.ok);
  CHECK(busy.message.find("busy") != std::string::npos);
  CHECK(busy_took < std::chrono::milliseconds(500));
  // The silent ones are dropped at their deadline with a reason, which
  // frees their slots.
  char buf[256] = {0};
  timeval tv{3, 0};
  ::setsockopt(silent[0].get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const ssize_t n = ::recv(silent[0].get(), buf, sizeof buf - 1, 0);
  REQUIRE(n > 0);
  CHECK(std::string(buf).find("no request line within 1500 ms") != std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(ask(request).first.ok);
  stop = true;
  dribble.join();
  capture.join();
}

TEST_CASE("lineage: runners are found at exec, their children are builds, the service is not recorded") {
  Trail t("wrap");
  route::Lineage lineage(t.router, attribution::build_runners());
  t.env[601] = gitlab_job("42");
  capture::Exec service;
  service.pid = kRunner;
  service.exe = "/usr/bin/gitlab-runner";
  service.argv = {"gitlab-runner", "run"};
  lineage.on(capture::Fork{10, 1, kRunner, 5000});
  lineage.on(service);
  lineage.on(capture::Open{20, kRunner, "/etc/gitlab-runner/config.toml", false,
                           std::nullopt});  // the runner's own: not recorded
  lineage.on(capture::Fork{50, kRunner, 601, 6010});
  lineage.on(exec_of(601, "job script"));
  lineage.on(capture::Fork{60, 601, 602, 6020});
  lineage.on(exec_of(602, "child"));
  lineage.on(capture::Exit{70, 602, 0, 0, 0, 0, 0});
  lineage.on(capture::Exit{80, 601, 1, 0, 0, 0, 0});
  REQUIRE(t.of<events::BuildStart>().size() == 1);
  CHECK(std::get<events::BuildStart>(t.of<events::BuildStart>()[0]->body).mode == "wrap");
  CHECK(t.of<events::ProcessExec>().size() == 2);
  REQUIRE(t.of<events::BuildEnd>().size() == 1);
  CHECK(std::get<events::BuildEnd>(t.of<events::BuildEnd>()[0]->body).exit_code == 1);
  for (const auto& e : t.events) CHECK(e.build.id == "42");
  // A runner that execs another program is a runner no more.
  lineage.on(exec_of(kRunner, "not a runner now"));
  lineage.on(capture::Fork{90, kRunner, 603, 6030});
  lineage.on(exec_of(603, "outside"));
  CHECK(t.of<events::BuildStart>().size() == 1);
}
