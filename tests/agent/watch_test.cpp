// The file watch list (agent/enrich/rules/watch), the hashing of written
// files (digest::file_state) against FIFOs, devices, symlinks and hostile
// names, and the pipeline's file_write and written_by from observations.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/enrich/pipeline.h"
#include "agent/enrich/rules/digest.h"
#include "agent/enrich/rules/watch.h"
#include "common/events/json.h"
#include "tests/common/test_util.h"

using namespace bt;
using namespace bt::agent;

namespace {

const std::string kEmptySha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string rule_of(const watch::Matcher& m, const std::string& path) {
  const watch::Rule* r = m.match(path);
  return r ? r->name : "";
}

struct Collected {
  std::vector<events::Event> events;
  enrich::Pipeline::Sink sink() {
    return [this](events::Event&& e) { events.push_back(std::move(e)); };
  }
  template <typename T>
  std::vector<const T*> bodies() const {
    std::vector<const T*> out;
    for (const auto& e : events)
      if (const T* b = std::get_if<T>(&e.body)) out.push_back(b);
    return out;
  }
};

enrich::Config config(std::vector<std::string> workspace = {}) {
  enrich::Config c;
  c.watch_rules = watch::default_rules();
  c.workspace_watch = std::move(workspace);
  return c;
}

capture::FileWrite open_write(uint64_t pid, const std::string& path, uint64_t flags, bool created) {
  capture::FileWrite w;
  w.time_ns = 1;
  w.pid = pid;
  w.op = capture::FileWrite::Op::open;
  w.path = path;
  w.flags = flags;
  w.created = created;
  return w;
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

}  // namespace

TEST_CASE("the default watch rules parse and match what the issue names") {
  watch::Matcher m(watch::default_rules(), {});
  CHECK(rule_of(m, "/home/u/repo/.github/workflows/ci.yml") == "ci-config");
  CHECK(rule_of(m, "/w/.gitlab-ci.yml") == "ci-config");
  CHECK(rule_of(m, "/w/Jenkinsfile") == "ci-config");
  CHECK(rule_of(m, "/w/.buildkite/hooks/pre-command") == "ci-config");
  CHECK(rule_of(m, "/w/azure-pipelines.yml") == "ci-config");
  CHECK(rule_of(m, "/home/u/.bashrc") == "shell-rc");
  CHECK(rule_of(m, "/home/u/.bash_history") == "shell-history");
  CHECK(rule_of(m, "/etc/cron.d/evil") == "cron");
  CHECK(rule_of(m, "/var/spool/cron/crontabs/root") == "cron");
  CHECK(rule_of(m, "/etc/systemd/system/x.service") == "systemd-unit");
  CHECK(rule_of(m, "/home/u/.config/systemd/user/default.target.wants/x.service") == "systemd-unit");
  CHECK(rule_of(m, "/root/.ssh/authorized_keys") == "ssh-authorized-keys");
  CHECK(rule_of(m, "/etc/ld.so.preload") == "ld-preload");
  CHECK(rule_of(m, "/etc/sudoers.d/ci") == "sudoers");
  CHECK(rule_of(m, "/usr/lib/python3/dist-packages/evil.pth") == "python-pth");
  CHECK(rule_of(m, "/home/u/.local/lib/python3.12/site-packages/x.pth") == "python-pth");
  CHECK(rule_of(m, "/etc/gitlab-runner/config.toml") == "ci-runner");
  CHECK(rule_of(m, "/etc/buildtrail/agent.toml") == "buildtrail");
  CHECK(rule_of(m, "/home/u/.local/state/buildtrail/agent.key") == "buildtrail");
  // Not watched: ordinary build output, look-alikes.
  CHECK(rule_of(m, "/w/build/main.o") == "");
  CHECK(rule_of(m, "/w/.github/workflows") == "");  // the folder itself
  CHECK(rule_of(m, "/w/not.bashrc") == "");
  CHECK(rule_of(m, "/etc/cron.d") == "");
  CHECK(rule_of(m, "/w/site-packages/x.pth.bak") == "");
  CHECK(rule_of(m, "relative/.bashrc") == "");
}

TEST_CASE("globs: *, ?, [...] stay in one component; ** spans any number") {
  CHECK(watch::glob_match("a/*/c", "a/b/c"));
  CHECK_FALSE(watch::glob_match("a/*/c", "a/b/x/c"));
  CHECK(watch::glob_match("a/**/c", "a/c"));
  CHECK(watch::glob_match("a/**/c", "a/b/x/c"));
  CHECK(watch::glob_match("a/**", "a/b/x/c"));
  CHECK_FALSE(watch::glob_match("a/**", "a"));
  CHECK(watch::glob_match("x?[0-9]", "xy7"));
  CHECK_FALSE(watch::glob_match("x?[0-9]", "x/7"));
  CHECK_FALSE(watch::glob_match("x[!a]", "xa"));
  CHECK(watch::glob_match("[", "["));  // a malformed set is literal
  CHECK(watch::glob_match("*.go", "main.go"));
  CHECK_FALSE(watch::glob_match("*.go", "cmd/main.go"));
  CHECK(watch::glob_match("**/*.go", "cmd/main.go"));
}

TEST_CASE("rule files and workspace globs: errors name the line or the glob") {
  auto ok = watch::parse_rules("# site\ndeploy /srv/deploy/**\n\nmk Makefile\n");
  REQUIRE(ok);
  REQUIRE(ok->size() == 2);
  CHECK(ok->at(0).name == "deploy");
  CHECK(ok->at(1).pattern == "Makefile");
  for (const char* bad : {"onlyname\n", "bad!name x\n", "x /a/\n", "x a//b\n", "x a**b\n", "workspace src/**\n"}) {
    auto r = watch::parse_rules(std::string("# c\n") + bad);
    CHECK_FALSE(r);
    if (!r) CHECK(r.error().message.find("line 2") != std::string::npos);
  }
  auto ws = watch::parse_workspace(" src/** , *.go,,");
  REQUIRE(ws);
  CHECK(*ws == std::vector<std::string>{"src/**", "*.go"});
  CHECK_FALSE(watch::parse_workspace("/etc/**"));
  CHECK_FALSE(watch::parse_workspace("../x"));
  CHECK_FALSE(watch::parse_workspace("a/../../x"));
  watch::Matcher m({}, *ws);
  CHECK(m.workspace_match("/w", "/w/src/a/b.c"));
  CHECK(m.workspace_match("/w/", "/w/main.go"));
  CHECK_FALSE(m.workspace_match("/w", "/w2/src/a.c"));
  CHECK_FALSE(m.workspace_match("/w", "/w/cmd/main.go"));
  CHECK_FALSE(m.workspace_match("/w", "/other/src/a.c"));
}

TEST_CASE("file_state never opens FIFOs or devices, names symlinks, bounds the hash") {
  const std::string dir = testing::make_temp_dir("watch-state");
  const auto fifo = dir + "/fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // A FIFO with no writer would block an open without O_NONBLOCK; a
  // hang fails the test by its timeout.
  const auto f = digest::file_state(fifo, 1 << 20);
  CHECK(f.type == "fifo");
  CHECK(f.sha256.empty());
  CHECK(digest::file_state("/dev/zero", 1 << 20).type == "char_device");
  CHECK(digest::file_state("/dev/null", 1 << 20).sha256.empty());
  CHECK(digest::file_state(dir + "/none", 1 << 20).type == "missing");
  CHECK(digest::file_state(dir, 1 << 20).type == "directory");

  write_file(dir + "/real", "");
  REQUIRE(::symlink((dir + "/real").c_str(), (dir + "/link").c_str()) == 0);
  const auto l = digest::file_state(dir + "/link", 1 << 20);
  CHECK(l.type == "symlink");
  CHECK(l.sha256.empty());
  const auto r = digest::file_state(dir + "/real", 1 << 20);
  CHECK(r.type == "regular");
  CHECK(r.sha256 == kEmptySha);

  write_file(dir + "/big", std::string(2000, 'x'));
  const auto big = digest::file_state(dir + "/big", 1000);
  CHECK(big.type == "regular");
  CHECK(big.size == 2000);
  CHECK(big.sha256.empty());

  // Names a build may choose: newlines, invalid UTF-8, 255 bytes.
  for (const std::string& name : {std::string("new\nline"), std::string("bad\xff\xfe"), std::string(255, 'n')}) {
    write_file(dir + "/" + name, "");
    const auto s = digest::file_state(dir + "/" + name, 1 << 20);
    CHECK(s.type == "regular");
    CHECK(s.sha256 == kEmptySha);
  }
}

TEST_CASE("pipeline: a watched write waits for its writer's exit and is hashed then") {
  const std::string home = testing::make_temp_dir("watch-pipeline");
  const std::string rc = home + "/.bashrc";
  Collected got;
  enrich::Pipeline p(config(), got.sink());
  p.build_start({"make"}, home, "wrap");
  p.on(capture::Fork{1, 1, 4242, 99});
  // Not watched: only remembered (provenance).
  p.on(open_write(4242, home + "/main.o", O_WRONLY | O_CREAT | O_TRUNC, true));
  p.on(open_write(4242, rc, O_WRONLY | O_CREAT | O_APPEND, true));
  CHECK(got.bodies<events::FileWrite>().empty());  // not closed yet
  write_file(rc, "");
  p.on(capture::Exit{2, 4242, 0, 0});
  const auto writes = got.bodies<events::FileWrite>();
  REQUIRE(writes.size() == 1);
  CHECK(writes[0]->operation == "create");
  CHECK(writes[0]->path == rc);
  CHECK(writes[0]->rule == "shell-rc");
  CHECK(writes[0]->flags == std::vector<std::string>{"wronly", "creat", "append"});
  CHECK(writes[0]->file_type == "regular");
  CHECK(writes[0]->sha256 == kEmptySha);
  // Before the exit event: the file was closed by then.
  CHECK(got.events.back().kind() == events::Kind::process_exit);
  for (const auto& e : got.events)
    if (e.kind() == events::Kind::file_write) CHECK(e.process.key == "4242-99");
}

TEST_CASE("pipeline: rename (both names), unlink, chmod +x; FIFOs on the list are not hashed") {
  const std::string dir = testing::make_temp_dir("watch-ops");
  const std::string wf = dir + "/.github/workflows";
  std::filesystem::create_directories(wf);
  Collected got;
  enrich::Pipeline p(config(), got.sink());
  p.build_start({"make"}, dir, "wrap");
  using Op = capture::FileWrite::Op;
  write_file(wf + "/ci.yml", "on: push\n");
  p.on(capture::FileWrite{1, 7, Op::rename, dir + "/tmp.yml", wf + "/ci.yml", 0, false, 0, 0});
  p.on(capture::FileWrite{2, 7, Op::unlink, wf + "/old.yml", "", 0, false, 0, 0});
  p.on(capture::FileWrite{3, 7, Op::chmod, dir + "/.git/hooks/pre-commit", "", 0644, false, 0, 0});  // no x bit
  p.on(capture::FileWrite{4, 7, Op::chmod, dir + "/.git/hooks/pre-push", "", 0755, false, 0, 0});
  const auto fifo = dir + "/.profile";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  p.on(open_write(7, fifo, O_WRONLY, false));
  p.on(capture::Exit{5, 7, 0, 0});
  const auto w = got.bodies<events::FileWrite>();
  REQUIRE(w.size() == 4);
  CHECK(w[0]->operation == "rename");
  CHECK(w[0]->path == dir + "/tmp.yml");
  CHECK(w[0]->new_path == wf + "/ci.yml");
  CHECK(w[0]->rule == "ci-config");
  CHECK(w[0]->sha256.size() == 64);
  CHECK(w[1]->operation == "unlink");
  CHECK(w[1]->sha256.empty());
  CHECK(w[2]->operation == "chmod_exec");
  CHECK(w[2]->flags == std::vector<std::string>{"0755"});
  CHECK(w[2]->rule == "git-hooks");
  CHECK(w[3]->operation == "write");
  CHECK(w[3]->file_type == "fifo");
  CHECK(w[3]->sha256.empty());
}

TEST_CASE("pipeline: the workspace watch reports files that existed before, not the build's own") {
  const std::string ws = testing::make_temp_dir("watch-ws");
  Collected got;
  enrich::Pipeline p(config({"src/**"}), got.sink());
  p.build_start({"make"}, ws, "wrap");
  p.on(open_write(9, ws + "/src/new.c", O_WRONLY | O_CREAT, true));      // created by the build
  p.on(open_write(9, ws + "/src/new.c", O_WRONLY | O_TRUNC, false));     // and rewritten: still its own
  p.on(open_write(9, ws + "/src/main.c", O_WRONLY | O_TRUNC, false));    // existed before
  p.on(open_write(9, ws + "/build/main.o", O_WRONLY | O_TRUNC, false));  // outside the globs
  p.build_end(0, 0);
  const auto w = got.bodies<events::FileWrite>();
  REQUIRE(w.size() == 1);
  CHECK(w[0]->path == ws + "/src/main.c");
  CHECK(w[0]->rule == "workspace");
  CHECK(w[0]->operation == "truncate");
  CHECK(w[0]->file_type == "missing");
}

TEST_CASE("pipeline: written_by names the writer of an executable, through a rename; the table is bounded") {
  const std::string dir = testing::make_temp_dir("watch-prov");
  Collected got;
  enrich::Config c = config();
  c.provenance_max = 2;
  enrich::Pipeline p(c, got.sink());
  p.build_start({"sh"}, dir, "wrap");
  p.on(capture::Fork{1, 1, 500, 11});
  p.on(capture::Fork{1, 1, 501, 12});
  using Op = capture::FileWrite::Op;
  p.on(open_write(500, dir + "/payload.tmp", O_WRONLY | O_CREAT, true));
  p.on(capture::FileWrite{2, 500, Op::rename, dir + "/payload.tmp", dir + "/payload", 0, false, 0, 0});
  p.on(capture::FileWrite{3, 500, Op::chmod, dir + "/payload", "", 0755, false, 0, 0});
  capture::Exec x;
  x.time_ns = 4;
  x.pid = 501;
  x.start_ns = 12;
  x.exe = dir + "/payload";
  x.argv = {"./payload"};
  x.cwd = dir;
  p.on(x);
  x.exe = "/bin/true";
  p.on(x);
  // Kernel-reported writer (daemon) wins.
  x.exe = dir + "/other";
  x.writer_pid = 777;
  x.writer_start_ns = 88;
  p.on(x);
  const auto execs = got.bodies<events::ProcessExec>();
  REQUIRE(execs.size() == 3);
  CHECK(execs[0]->written_by == "500-11");
  CHECK(execs[1]->written_by == "");
  CHECK(execs[2]->written_by == "777-88");
  // Two files fit; the third and fourth are lost and counted.
  p.on(open_write(500, dir + "/b", O_WRONLY | O_CREAT, true));
  p.on(open_write(500, dir + "/c", O_WRONLY | O_CREAT, true));
  p.on(open_write(500, dir + "/d", O_WRONLY | O_CREAT, true));
  p.build_end(0, 0);
  const auto losses = got.bodies<events::Loss>();
  REQUIRE(losses.size() == 1);
  REQUIRE(losses[0]->counts.size() == 1);
  CHECK(losses[0]->counts[0].first == "provenance_full");
  CHECK(losses[0]->counts[0].second == 2);
}

TEST_CASE("file_write events with hostile names encode as valid JSON and round-trip") {
  events::Event e;
  e.time_ns = 1;
  events::FileWrite f;
  f.operation = "write";
  f.path = std::string("/w/new\nline\x1b[31m\xff\xfe") + std::string(300, 'n');
  f.rule = "workspace";
  e.body = f;
  const std::string line = events::to_json(e);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find('\x1b') == std::string::npos);
  auto back = events::from_json(line);
  REQUIRE(back);
  CHECK(std::get<events::FileWrite>(back->body).rule == "workspace");
}
