// The daemon's user-space pieces that need no kernel: the secret-file
// filter the kernel applies (a superset of the rules), and the ring-buffer
// record decoder, which emits observations.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "agent/capture/ebpf/decode.h"
#include "agent/capture/ebpf/filter.h"
#include "agent/capture/ebpf/record.h"
#include "agent/capture/stdio.h"
#include "agent/enrich/rules/secrets.h"
#include "agent/enrich/rules/watch.h"

using namespace bt::agent;

namespace {

std::pair<std::string, std::string> last_two(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string name = path.substr(slash + 1);
  const std::string dir = path.substr(0, slash);
  return {dir.substr(dir.rfind('/') + 1), name};
}

bool passes(const ebpf::OpenFilter& f, const std::string& path) {
  const auto [parent, name] = last_two(path);
  return ebpf::filter_passes(f, parent, name);
}

template <typename T>
std::vector<uint8_t> bytes_of(const T& fixed, const std::string& tail = "") {
  std::vector<uint8_t> out(sizeof(T) + tail.size());
  std::memcpy(out.data(), &fixed, sizeof(T));
  std::memcpy(out.data() + sizeof(T), tail.data(), tail.size());
  return out;
}

}  // namespace

TEST_CASE("the kernel's secret-file filter lets through every path a rule matches") {
  const auto& rules = secrets::default_rules();
  const auto filter = ebpf::compile_filter(secrets::patterns(rules));
  CHECK_FALSE(filter.any_name);
  CHECK(filter.globs.size() <= BT_GLOBS_MAX);
  const secrets::Matcher matcher(rules);
  // One concrete path per default pattern ('*' filled in), under a home.
  int checked = 0;
  for (const auto& r : rules) {
    if (r.pattern.empty() || r.pattern[0] == '!') continue;
    std::string p = r.pattern;
    for (std::size_t star; (star = p.find('*')) != std::string::npos;) p.replace(star, 1, "x1");
    const std::string path = p[0] == '/' ? p : "/home/ci/" + p;
    INFO(path);
    if (!matcher.match(path)) continue;  // e.g. a filled-in glob an exclusion removes
    CHECK(passes(filter, path));
    ++checked;
  }
  CHECK(checked > 50);
  // What a build opens all the time does not pass.
  for (const char* path : {"/usr/include/stdio.h", "/work/app/package.json", "/work/app/src/config",
                           "/usr/lib/x86_64-linux-gnu/libc.so.6", "/work/app/.git/config", "/tmp/cc1.s"})
    CHECK_MESSAGE(!passes(filter, path), path);
  // Other processes' memory and environment.
  CHECK(passes(filter, "/proc/42/environ"));
  CHECK(passes(filter, "/proc/42/mem"));
}

TEST_CASE("filter: site rules with globs, and a rule that can match any name") {
  auto extra = secrets::parse_rules("site-key ci_runner .site/*.key\nall-in-vault ci_runner /vault/*\n");
  REQUIRE(extra);
  auto f = ebpf::compile_filter(secrets::patterns(*extra));
  CHECK(passes(f, "/home/x/.site/deploy.key"));
  CHECK_FALSE(passes(f, "/home/x/.site/deploy.pub"));
  CHECK_FALSE(passes(f, "/home/x/other/deploy.key"));
  CHECK(passes(f, "/vault/anything"));  // parent "vault", any name
  auto wide = secrets::parse_rules("everything ci_runner *\n");
  REQUIRE(wide);
  CHECK(ebpf::compile_filter(secrets::patterns(*wide)).any_name);
}

TEST_CASE("decode: an exec record with paths, argv and environment") {
  const std::string tail = std::string("/usr/bin/gcc\0/work\0gcc\0-c\0x.c\0CI=true\0", 38);
  bt_exec x{};
  x.h.kind = BT_EXEC;
  x.h.flags = BT_F_ENV;
  x.h.size = static_cast<uint32_t>(sizeof(x) + tail.size());
  x.h.tgid = 77;
  x.h.root_tgid = 70;
  x.h.root_start_ns = 5;
  x.exe_len = 13;
  x.cwd_len = 6;
  x.argv_len = 11;
  x.env_len = 8;
  x.uid = 1000;
  x.ppid = 70;
  x.h.time_ns = 1000;
  const ebpf::Clock clock;
  auto r = ebpf::decode(bytes_of(x, tail), clock);
  REQUIRE(r);
  const auto* o = std::get_if<ebpf::Observed>(&*r);
  REQUIRE(o);
  const auto* e = std::get_if<capture::Exec>(&o->what);
  REQUIRE(e);
  CHECK(e->exe == "/usr/bin/gcc");
  CHECK(e->cwd == "/work");
  CHECK(e->argv == std::vector<std::string>{"gcc", "-c", "x.c"});
  CHECK(e->identity_env == std::vector<std::string>{"CI=true"});
  CHECK(o->where.build == capture::BuildKey{70, 5});
  CHECK_FALSE(o->where.joined);
  CHECK(e->uid == 1000);
  CHECK(e->pid == 77);
  CHECK(e->time_ns == clock.wall_ns(1000));
}

TEST_CASE("decode: each kind's observation, and records with nothing to report") {
  const ebpf::Clock clock;
  bt_fork f{};
  f.h.kind = BT_FORK;
  f.h.flags = BT_F_NEW_BUILD;
  f.h.size = sizeof(f);
  f.h.tgid = 9;
  f.h.start_ns = 123456789;
  f.parent_tgid = 3;
  auto r = ebpf::decode(bytes_of(f), clock);
  REQUIRE(r);
  const auto& forked = std::get<ebpf::Observed>(*r);
  CHECK(forked.where.starts_build);
  CHECK(std::get<capture::Fork>(forked.what).parent_pid == 3);
  CHECK(std::get<capture::Fork>(forked.what).child_start_ns == clock.start_ns(123456789));

  bt_exit x{};
  x.h.kind = BT_EXIT;
  x.h.size = sizeof(x);
  x.exit_code = 9;  // killed by SIGKILL
  x.utime_ns = 1500000000;
  x.stime_ns = 20000000;
  x.maxrss_bytes = 64 << 20;
  r = ebpf::decode(bytes_of(x), clock);
  REQUIRE(r);
  const auto& exit = std::get<capture::Exit>(std::get<ebpf::Observed>(*r).what);
  CHECK(exit.exit_code == -1);
  CHECK(exit.signal == 9);
  CHECK(exit.user_ns == 1500000000);
  CHECK(exit.system_ns == 20000000);
  CHECK(exit.peak_rss_bytes == 64 << 20);
  x.exit_code = 3 << 8;
  r = ebpf::decode(bytes_of(x), clock);
  CHECK(std::get<capture::Exit>(std::get<ebpf::Observed>(*r).what).exit_code == 3);

  bt_connect c{};
  c.h.kind = BT_CONNECT;
  c.h.size = sizeof(c);
  c.family = AF_INET;
  c.sock_type = SOCK_STREAM;
  c.dport = 443;
  const uint8_t ip[4] = {203, 0, 113, 9};
  std::memcpy(c.daddr, ip, 4);
  r = ebpf::decode(bytes_of(c), clock);
  REQUIRE(r);
  const auto& connect = std::get<capture::Connect>(std::get<ebpf::Observed>(*r).what);
  CHECK(connect.daddr == "203.0.113.9");
  CHECK(connect.protocol == "tcp");
  CHECK(connect.dport == 443);
  c.sock_type = SOCK_RAW;  // neither TCP nor UDP
  r = ebpf::decode(bytes_of(c), clock);
  CHECK(std::holds_alternative<ebpf::Nothing>(*r));

  bt_proc_access a{};
  a.h.kind = BT_PROC_ACCESS;
  a.h.flags = BT_F_PTRACE;
  a.h.size = sizeof(a);
  a.target.tgid = 44;  // BT_F_TARGET_KNOWN unset: the kernel could not look it up
  r = ebpf::decode(bytes_of(a), clock);
  CHECK(std::get<capture::ProcessAccess>(std::get<ebpf::Observed>(*r).what).access == "ptrace_attach");
  CHECK_FALSE(std::get<capture::ProcessAccess>(std::get<ebpf::Observed>(*r).what).target);
  a.result = -1;  // refused: nothing was read
  r = ebpf::decode(bytes_of(a), clock);
  CHECK(std::holds_alternative<ebpf::Nothing>(*r));

  bt_dns d{};
  d.h.kind = BT_DNS;
  d.h.size = sizeof(d) + 3;
  d.payload_len = 3;  // not a DNS message
  r = ebpf::decode(bytes_of(d, "abc"), clock);
  CHECK(std::holds_alternative<ebpf::Nothing>(*r));

  bt_runner n{};
  n.h.kind = BT_RUNNER;
  n.h.flags = BT_F_RUNNER_CONFIRMED;
  n.h.size = sizeof(n);
  n.h.tgid = 600;
  r = ebpf::decode(bytes_of(n), clock);
  REQUIRE(r);
  CHECK(std::get<ebpf::RunnerExec>(*r).pid == 600);
  CHECK(std::get<ebpf::RunnerExec>(*r).confirmed);
}

TEST_CASE(
    "decode: a failed open is its name made absolute against the folder the kernel resolved it in, with the errno") {
  const ebpf::Clock clock;
  const auto record = [](const std::string& name, const std::string& dir, int32_t result, uint16_t flags = 0) {
    bt_open_failed o{};
    o.h.kind = BT_OPEN_FAILED;
    o.h.flags = flags;
    o.h.tgid = 77;
    o.result = result;
    o.path_len = static_cast<uint16_t>(name.size() + 1);
    o.dir_len = static_cast<uint16_t>(dir.empty() ? 0 : dir.size() + 1);
    const std::string tail = name + '\0' + (dir.empty() ? "" : dir + '\0');
    o.h.size = static_cast<uint32_t>(sizeof(o) + tail.size());
    return bytes_of(o, tail);
  };
  auto r = ebpf::decode(record("../.aws/./credentials", "/home/u/src", -ENOENT), clock);
  REQUIRE(r);
  const auto& open = std::get<capture::Open>(std::get<ebpf::Observed>(*r).what);
  CHECK(open.pid == 77);
  CHECK(open.path == "/home/u/.aws/credentials");
  CHECK(open.result == -ENOENT);
  CHECK_FALSE(open.write);
  CHECK_FALSE(open.target);
  r = ebpf::decode(record("/proc/4242/mem", "", -EACCES, BT_F_WRITE), clock);
  REQUIRE(r);
  const auto& proc = std::get<capture::Open>(std::get<ebpf::Observed>(*r).what);
  CHECK(proc.path == "/proc/4242/mem");
  CHECK(proc.result == -EACCES);
  CHECK(proc.write);
  // A relative name whose folder is not known: nothing to report.
  r = ebpf::decode(record("credentials", "", -ENOENT), clock);
  REQUIRE(r);
  CHECK(std::holds_alternative<ebpf::Nothing>(*r));
  // Malformed: no error, a name beyond the record.
  CHECK_FALSE(ebpf::decode(record("/x", "", 0), clock));
  auto torn = record("/home/u/.aws/credentials", "", -ENOENT);
  torn.resize(torn.size() - 4);
  reinterpret_cast<bt_header*>(torn.data())->size = static_cast<uint32_t>(torn.size());
  CHECK_FALSE(ebpf::decode(torn, clock));
}

namespace {

// A runner as the kernel describes another process (bt_target), and the
// checks that the decoder kept every fact of it.
const std::string kRunnerExe("/opt/runner/bin/Runner.Worker\0", 30);
bt_target runner_target() {
  bt_target t{};
  t.tgid = 4242;
  t.start_ns = 123456789;
  std::memcpy(t.comm, "Runner.Worker", 13);
  t.exe_len = static_cast<uint16_t>(kRunnerExe.size());
  return t;
}
void check_runner_target(const std::optional<capture::ProcTarget>& t, const ebpf::Clock& clock) {
  REQUIRE(t);
  CHECK(t->pid == 4242);
  CHECK(t->start_ns == clock.start_ns(123456789));
  CHECK(t->comm == "Runner.Worker");
  CHECK(t->exe == "/opt/runner/bin/Runner.Worker");
  CHECK(t->runner);
}

}  // namespace

TEST_CASE("decode: an open of another process's /proc file carries its target as the kernel saw it") {
  const ebpf::Clock clock;
  const std::string path("/proc/4242/mem\0", 15);
  bt_proc_open p{};
  p.h.kind = BT_PROC_OPEN;
  p.h.flags = BT_F_TARGET_RUNNER;
  p.h.size = static_cast<uint32_t>(sizeof(p) + path.size() + kRunnerExe.size());
  p.h.tgid = 77;
  p.target = runner_target();
  p.path_len = static_cast<uint32_t>(path.size());
  auto r = ebpf::decode(bytes_of(p, path + kRunnerExe), clock);
  REQUIRE(r);
  const auto& open = std::get<capture::Open>(std::get<ebpf::Observed>(*r).what);
  CHECK(open.pid == 77);
  CHECK(open.path == "/proc/4242/mem");
  CHECK_FALSE(open.write);
  check_runner_target(open.target, clock);
  // A target without an executable (a kernel thread): exe empty.
  p.target.exe_len = 0;
  p.h.flags = 0;
  p.h.size = static_cast<uint32_t>(sizeof(p) + path.size());
  r = ebpf::decode(bytes_of(p, path), clock);
  REQUIRE(r);
  const auto& bare = std::get<capture::Open>(std::get<ebpf::Observed>(*r).what);
  REQUIRE(bare.target);
  CHECK(bare.target->exe.empty());
  CHECK_FALSE(bare.target->runner);
  // An executable beyond the record.
  p.target.exe_len = 200;
  r = ebpf::decode(bytes_of(p, path), clock);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("target exe") != std::string::npos);
}

TEST_CASE("decode: ptrace attach and process_vm_readv carry their target as the kernel saw it") {
  const ebpf::Clock clock;
  bt_proc_access a{};
  a.h.kind = BT_PROC_ACCESS;
  a.h.flags = BT_F_TARGET_KNOWN | BT_F_TARGET_RUNNER;
  a.h.size = static_cast<uint32_t>(sizeof(a) + kRunnerExe.size());
  a.h.tgid = 77;
  a.target = runner_target();
  auto r = ebpf::decode(bytes_of(a, kRunnerExe), clock);
  REQUIRE(r);
  const auto& access = std::get<capture::ProcessAccess>(std::get<ebpf::Observed>(*r).what);
  CHECK(access.pid == 77);
  CHECK(access.access == "process_vm_readv");
  CHECK(access.target_pid == 4242);
  check_runner_target(access.target, clock);
  // An executable beyond the record.
  a.target.exe_len = 200;
  r = ebpf::decode(bytes_of(a, kRunnerExe), clock);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("target exe") != std::string::npos);
}

TEST_CASE("decode: malformed records are errors that say what is wrong") {
  const ebpf::Clock clock;
  CHECK_FALSE(ebpf::decode(std::vector<uint8_t>(10), clock));
  bt_exec x{};
  x.h.kind = BT_EXEC;
  x.h.size = sizeof(x);
  x.exe_len = 4000;  // beyond the record
  auto r = ebpf::decode(bytes_of(x), clock);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("exec path") != std::string::npos);
  bt_open o{};
  o.h.kind = BT_OPEN;
  o.h.size = sizeof(o) + 100;  // claims more than there is
  CHECK_FALSE(ebpf::decode(bytes_of(o), clock));
  bt_header h{};
  h.kind = 99;
  h.size = sizeof(h);
  auto unknown = ebpf::decode(bytes_of(h), clock);
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message.find("unknown kind 99") != std::string::npos);
}

TEST_CASE("decode: an exec's standard descriptors, told apart as the wrap backend tells them") {
  bt_exec x{};
  x.h.kind = BT_EXEC;
  x.h.size = sizeof(x);
  x.h.tgid = 77;
  auto fd = [](uint32_t mode, uint32_t major, uint32_t minor, uint64_t ino) {
    bt_stdio d{};
    d.mode = mode;
    d.rdev = major << 20 | minor;
    d.ino = ino;
    return d;
  };
  // A pipe in, a TCP socket out, a pseudo-terminal for errors.
  x.stdio[0] = fd(S_IFIFO | 0600, 0, 0, 4401);
  x.stdio[1] = fd(S_IFSOCK | 0777, 0, 0, 9001);
  x.stdio[1].family = AF_INET;
  x.stdio[1].port = 4444;
  const uint8_t lo[4] = {127, 0, 0, 1};
  std::memcpy(x.stdio[1].addr, lo, 4);
  x.stdio[2] = fd(S_IFCHR | 0620, 136, 3, 6);
  const ebpf::Clock clock;
  auto stdio_of = [&](const bt_exec& rec) {
    auto r = ebpf::decode(bytes_of(rec), clock);
    REQUIRE(r);
    return std::get<capture::Exec>(std::get<ebpf::Observed>(*r).what).stdio;
  };
  auto s = stdio_of(x);
  CHECK(s[0] == capture::StdioFd{"pipe", 4401, ""});
  CHECK(s[1] == capture::StdioFd{"socket", 9001, "127.0.0.1:4444"});
  CHECK(s[2] == capture::StdioFd{"tty", 0, ""});
  // /dev/null, a file, closed; an IPv6 peer; a socket not connected; a disk.
  x.stdio[0] = fd(S_IFCHR | 0666, 1, 3, 5);
  x.stdio[1] = fd(S_IFREG | 0644, 0, 0, 77);
  x.stdio[2] = fd(0, 0, 0, 0);
  s = stdio_of(x);
  CHECK(s[0] == capture::StdioFd{"null", 0, ""});
  CHECK(s[1] == capture::StdioFd{"file", 0, ""});
  CHECK(s[2] == capture::StdioFd{"closed", 0, ""});
  x.stdio[0] = fd(S_IFSOCK | 0777, 0, 0, 12);
  x.stdio[0].family = AF_INET6;
  x.stdio[0].port = 443;
  x.stdio[0].addr[0] = 0x20;
  x.stdio[0].addr[1] = 0x01;
  x.stdio[0].addr[15] = 1;
  x.stdio[1] = fd(S_IFSOCK | 0777, 0, 0, 13);
  x.stdio[1].family = AF_UNIX;
  x.stdio[2] = fd(S_IFBLK | 0660, 8, 0, 3);
  s = stdio_of(x);
  CHECK(s[0] == capture::StdioFd{"socket", 12, "[2001::1]:443"});
  CHECK(s[1] == capture::StdioFd{"socket", 13, ""});  // a Unix socket whose peer has no name
  CHECK(s[2] == capture::StdioFd{"other", 0, ""});
  // A Unix socket's peer by path, and an abstract one; a length beyond the
  // field is cut to it.
  const std::string journal = "/run/systemd/journal/stdout";
  std::memcpy(x.stdio[1].path, journal.c_str(), journal.size() + 1);
  x.stdio[1].path_len = static_cast<uint32_t>(journal.size() + 1);
  x.stdio[2] = x.stdio[1];
  std::memcpy(x.stdio[2].path, "\0bus\nx", 6);
  x.stdio[2].path_len = 6;
  x.stdio[0] = x.stdio[1];
  std::memset(x.stdio[0].path, 'a', sizeof(x.stdio[0].path));
  x.stdio[0].path_len = 4096;
  s = stdio_of(x);
  CHECK(s[1].remote == "unix:" + journal);
  CHECK(s[2].remote == "unix:@bus\nx");
  CHECK(s[0].remote == "unix:" + std::string(BT_SUN_PATH_MAX, 'a'));
  // The kinds, as both backends tell them: /dev/tty, the console, ptmx and
  // virtual consoles are terminals; /dev/zero and anonymous inodes are not.
  CHECK(capture::stdio_kind(S_IFCHR, 5, 0) == "tty");
  CHECK(capture::stdio_kind(S_IFCHR, 4, 1) == "tty");
  CHECK(capture::stdio_kind(S_IFCHR, 1, 5) == "other");
  CHECK(capture::stdio_kind(0600, 0, 0) == "other");
  CHECK(capture::stdio_kind(S_IFDIR | 0755, 0, 0) == "file");
}

TEST_CASE("decode: file records -- a write-open, a rename by relative names, and malformed ones") {
  const ebpf::Clock clock;
  bt_file f{};
  f.h.kind = BT_FILE;
  f.h.tgid = 77;
  f.op = BT_FOP_OPEN;
  f.created = 1;
  f.flags = 01101;
  f.dev = (8u << 20) | 3;
  f.ino = 99;
  std::string tail = std::string("/w/.bashrc") + '\0';
  f.path_len = static_cast<uint16_t>(tail.size());
  f.h.size = static_cast<uint32_t>(sizeof(f) + tail.size());
  auto r = ebpf::decode(bytes_of(f, tail), clock);
  REQUIRE(r);
  const auto& open = std::get<capture::FileWrite>(std::get<ebpf::Observed>(*r).what);
  CHECK(open.op == capture::FileWrite::Op::open);
  CHECK(open.path == "/w/.bashrc");
  CHECK(open.created);
  CHECK(open.pid == 77);
  CHECK(open.dev == makedev(8, 3));
  CHECK(open.ino == 99);

  // rename("tmp", "../x/new\nname") in /w/a: resolved against the folders the kernel sent.
  f = bt_file{};
  f.h.kind = BT_FILE;
  f.op = BT_FOP_RENAME;
  const std::string parts[] = {"tmp", "/w/a", "../x/new\nname", "/w/a"};
  tail.clear();
  for (const auto& p : parts) tail += p + '\0';
  f.path_len = 4;
  f.dir_len = 5;
  f.path2_len = 14;
  f.dir2_len = 5;
  f.h.size = static_cast<uint32_t>(sizeof(f) + tail.size());
  r = ebpf::decode(bytes_of(f, tail), clock);
  REQUIRE(r);
  const auto& mv = std::get<capture::FileWrite>(std::get<ebpf::Observed>(*r).what);
  CHECK(mv.path == "/w/a/tmp");
  CHECK(mv.new_path == "/w/x/new\nname");

  // A length beyond the record, a relative name without its folder, an unknown op.
  f.dir2_len = 200;
  CHECK_FALSE(ebpf::decode(bytes_of(f, tail), clock));
  f.dir2_len = 0;
  f.path2_len = 14;
  f.h.size = static_cast<uint32_t>(sizeof(f) + 4 + 5 + 14);
  CHECK_FALSE(ebpf::decode(bytes_of(f, tail.substr(0, 4 + 5 + 14)), clock));
  f.h.size = static_cast<uint32_t>(sizeof(f) + tail.size());
  f.op = 99;
  CHECK_FALSE(ebpf::decode(bytes_of(f, tail), clock));
}

TEST_CASE("watch filter: the kernel's superset passes every watched path and few others") {
  const auto f = ebpf::compile_watch_filter(watch::patterns(watch::default_rules(), {"src/**", "*.go"}));
  CHECK_FALSE(f.any);
  CHECK(f.globs.size() <= BT_GLOBS_MAX);
  watch::Matcher m(watch::default_rules(), {"src/**", "*.go"});
  for (const char* p : {"/w/.github/workflows/ci.yml", "/home/u/.bashrc", "/home/u/.zsh_history", "/etc/cron.d/x",
                        "/etc/systemd/system/a/b.service", "/w/.buildkite/hooks/pre-command",
                        "/usr/lib/python3/site-packages/x.pth", "/root/.ssh/authorized_keys", "/etc/ld.so.preload",
                        "/var/lib/jenkins/config.xml", "/w/src/a/b/c.c", "/w/main.go", "/etc/buildtrail/agent.toml"}) {
    CAPTURE(p);
    CHECK((m.match(p) != nullptr || std::string(p).find("/w/") == 0));
    CHECK(ebpf::watch_passes(f, p));
  }
  // A build tree's ordinary output stays in the kernel.
  for (const char* p : {"/tmp/storm/d1/f1.txt", "/w/build/obj/main.o", "/w/target/report.xml", "/w/lib/x.pth"}) {
    CAPTURE(p);
    CHECK_FALSE(ebpf::watch_passes(f, p));
  }
}
