// What only root can test: a spool on a filesystem that fills up (a tmpfs
// the test mounts), and a build run as another user. In the privileged
// suite (tests/privileged_main.cpp): skipped without root.
#include <doctest/doctest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "common/events/examples.h"
#include "common/events/json.h"
#include "common/fs.h"
#include "tests/agent/capture_fixtures.h"
#include "tests/agent/transport_fixtures.h"

using namespace bt;
using namespace bt::testing;
using namespace bt::testing::capture;
namespace sfs = std::filesystem;

TEST_CASE("spool on a tiny full filesystem: the agent stays up, reports loss, recovers") {
  Setup s;
  CollectorProcess c(s.data);
  const std::string tok = s.token();
  REQUIRE(fs::make_dirs(s.state, 0700).ok());
  REQUIRE(::mount("tmpfs", s.state.c_str(), "tmpfs", 0, "size=1m,mode=0700") == 0);
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{s.state};

  const std::string fifo = s.root + "/events.fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    const std::string state = "--state-dir=" + s.state, ev = "--events=" + fifo, coll = "--collector=" + c.url(""),
                      t = "--enroll-token=" + tok;
    ::execl(s.agent_bin.c_str(), s.agent_bin.c_str(), "replay", ev.c_str(), state.c_str(), coll.c_str(), t.c_str(),
            "--batch-max-age-ms=100", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  FILE* w = std::fopen(fifo.c_str(), "w");
  REQUIRE(w);
  auto send = [&](int n) {
    for (int i = 0; i < n; ++i) {
      auto e = events::example_event(events::Kind::process_exec);
      std::fprintf(w, "%s\n", events::to_json(e).c_str());
    }
    std::fflush(w);
  };
  send(50);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  // Fill the filesystem.
  const std::string filler = s.state + "/filler";
  run_command("dd if=/dev/zero of=" + filler + " bs=4k 2>/dev/null");
  send(200);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  CHECK(::kill(pid, 0) == 0);  // still up
  sfs::remove(filler);
  send(50);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  std::fclose(w);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  const auto evs = s.archived_events();
  const uint64_t lost = loss_count(evs, "spool_write_error");
  CHECK(lost > 0);
  CHECK(count_kind(evs, events::Kind::process_exec) + lost >= 300);
}

TEST_CASE("a build run as a non-root user is captured") {
  const std::string root = testing::make_temp_dir("run-user");
  REQUIRE(system(("chown 65534:65534 " + root).c_str()) == 0);
  const std::string out = root + "/events.jsonl";
  auto r =
      testing::run_command("setpriv --reuid=65534 --regid=65534 --clear-groups " + agent_bin() + " run --state-dir " +
                           root + "/state --events-out " + out + " -- /bin/sh -c '/usr/bin/id -u; exit 4'");
  INFO(r.output);
  CHECK(r.exit_code == 4);
  const auto evs = read_events(out);
  bool saw_id = false;
  for (const auto& e : evs)
    if (e.kind() == events::Kind::process_exec && e.process.exe == "/usr/bin/id") {
      saw_id = true;
      CHECK(e.process.uid == 65534);
    }
  CHECK(saw_id);
}
