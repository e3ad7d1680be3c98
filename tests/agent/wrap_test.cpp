// The wrap capture backend against real child processes: what it reports
// is compared with what the commands are known to do.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "agent/capture/proc/procfs.h"
#include "agent/capture/proc/stdio.h"
#include "agent/capture/wrap/connects.h"
#include "agent/capture/wrap/pidfd.h"
#include "agent/capture/wrap/tracer.h"
#include "common/fs.h"
#include "tests/common/test_util.h"

using namespace bt;
using namespace bt::agent;

namespace {

struct Recorder : capture::Sink {
  std::vector<capture::Fork> forks;
  std::vector<capture::Exec> execs;
  std::vector<capture::Exit> exits;
  std::vector<capture::Open> opens;
  std::vector<capture::Connect> connects;
  std::vector<capture::ProcessAccess> accesses;
  std::vector<capture::Dns> dns;
  std::vector<capture::FileWrite> writes;
  void on(const capture::Observation& o) override {
    std::visit(Overloaded{
                   [&](const capture::Fork& f) { forks.push_back(f); },
                   [&](const capture::Exec& e) { execs.push_back(e); },
                   [&](const capture::Exit& x) { exits.push_back(x); },
                   [&](const capture::Open& op) { opens.push_back(op); },
                   [&](const capture::Connect& c) { connects.push_back(c); },
                   [&](const capture::ProcessAccess& a) { accesses.push_back(a); },
                   [&](const capture::Dns& d) { dns.push_back(d); },
                   [&](const capture::FileWrite& w) { writes.push_back(w); },
               },
               o);
  }
  bool wants_open(std::string_view base) const override {
    return base == "credentials" || base == "environ" || base == "wrap-marker" || (watch_results && base == "mem");
  }
  // As the pipeline's: credential files and another process's memory have
  // their results watched.
  bool watch_results = false;
  bool wants_result(const capture::Open& o) const override {
    return watch_results && (o.path.ends_with("/credentials") || o.path.ends_with("/mem"));
  }

  const capture::Exec* exec_with_arg(const std::string& arg) const {
    for (const auto& e : execs)
      if (std::find(e.argv.begin(), e.argv.end(), arg) != e.argv.end()) return &e;
    return nullptr;
  }
  const capture::Exit* exit_of(uint64_t pid) const {
    for (const auto& x : exits)
      if (x.pid == pid) return &x;
    return nullptr;
  }
};

wrap::Outcome trace(Recorder& r, std::vector<std::string> command,
                    std::chrono::milliseconds linger = std::chrono::seconds(10), bool ptrace_tree = false) {
  wrap::Options o;
  o.command = std::move(command);
  o.linger = linger;
  o.ptrace_tree = ptrace_tree;
  auto t = wrap::Tracer::start(o, r);
  REQUIRE_MESSAGE(t.ok(), (t ? "" : t.error().message));
  return (*t)->trace();
}

std::string helper() {
  const char* h = std::getenv("BUILDTRAIL_WRAP_HELPER");
  REQUIRE(h != nullptr);
  return h;
}

}  // namespace

// The tree both ways: detached (the default on Linux 6.15+) and ptraced.
static void check_tree(bool ptrace_tree) {
  Recorder r;
  const auto out = trace(
      r, {"/bin/sh", "-c", "/bin/true one; /bin/echo two >/dev/null; (cd /tmp && /bin/ls -d .) >/dev/null; exit 3"},
      std::chrono::seconds(10), ptrace_tree);
  CHECK(out.exit_code == 3);
  CHECK(out.signal == 0);
  const capture::Exec* sh = r.exec_with_arg("-c");
  const capture::Exec* t = r.exec_with_arg("one");
  const capture::Exec* e = r.exec_with_arg("two");
  const capture::Exec* ls = r.exec_with_arg("-d");
  REQUIRE(sh);
  REQUIRE(t);
  REQUIRE(e);
  REQUIRE(ls);
  CHECK(t->exe == "/usr/bin/true");
  CHECK(t->ppid == sh->pid);
  CHECK(t->argv == std::vector<std::string>{"/bin/true", "one"});
  CHECK(ls->cwd == "/tmp");
  CHECK(t->start_ns > 0);
  REQUIRE(r.exit_of(t->pid));
  CHECK(r.exit_of(t->pid)->exit_code == 0);
  REQUIRE(r.exit_of(sh->pid));
  CHECK(r.exit_of(sh->pid)->exit_code == 3);
  // Every process that exec'd was seen being created first.
  for (const auto& x : r.execs)
    CHECK(std::any_of(r.forks.begin(), r.forks.end(), [&](const capture::Fork& f) { return f.child_pid == x.pid; }));
}

TEST_CASE("every exec of the tree is reported with argv, cwd, parent and exit") {
  REQUIRE(wrap::pidfd::exit_status_supported());  // CI's kernel: the detached tree
  check_tree(false);
}

TEST_CASE("the ptrace tree reports the same") { check_tree(true); }

TEST_CASE("the build can debug its own children: no process stays ptraced") {
  Recorder r;
  CHECK(trace(r, {helper(), "trace-child"}).exit_code == 0);
  // Under the ptrace tree it cannot (gdb, strace and LeakSanitizer fail).
  Recorder p;
  CHECK(trace(p, {helper(), "trace-child"}, std::chrono::seconds(10), true).exit_code == 1);
}

TEST_CASE("a signal that kills the build is its outcome") {
  Recorder r;
  const auto out = trace(r, {"/bin/sh", "-c", "kill -TERM $$"});
  CHECK(out.exit_code == -1);
  CHECK(out.signal == SIGTERM);
}

TEST_CASE("a daemonised grandchild and a double fork after the main process exited are traced") {
  Recorder r;
  const auto out = trace(r, {"/bin/sh", "-c",
                             "(sleep 0.3; /bin/echo daemonised >/dev/null) & "
                             "setsid /bin/sh -c '(sleep 0.4; exec /bin/echo doublefork >/dev/null) &' & "
                             "exit 0"});
  CHECK(out.exit_code == 0);
  CHECK(r.exec_with_arg("daemonised"));
  CHECK(r.exec_with_arg("doublefork"));
  CHECK(out.killed_after_linger == 0);
}

TEST_CASE("descendants still running after the linger time are killed and reported") {
  Recorder r;
  const auto out = trace(r, {"/bin/sh", "-c", "sleep 30 & exit 0"}, std::chrono::milliseconds(300));
  CHECK(out.killed_after_linger == 1);
  const capture::Exec* sleeper = r.exec_with_arg("30");
  REQUIRE(sleeper);
  REQUIRE(r.exit_of(sleeper->pid));
  CHECK(r.exit_of(sleeper->pid)->signal == SIGKILL);
}

TEST_CASE("exec from a thread, execveat and a static binary") {
  Recorder r;
  trace(r, {helper(), "thread-exec"});
  const capture::Exec* e = r.exec_with_arg("from-thread");
  REQUIRE(e);
  CHECK(e->exe == "/usr/bin/echo");
  // The static helper itself was reported as the first exec.
  CHECK(r.execs.front().exe == helper());

  Recorder v;
  const auto out = trace(v, {helper(), "execveat"});
  CHECK(out.exit_code == 0);
  REQUIRE(v.exec_with_arg("via-execveat"));
  CHECK(v.exec_with_arg("via-execveat")->exe == "/usr/bin/true");
}

TEST_CASE("opens are resolved against the cwd, so relative opens are seen") {
  const std::string home = testing::make_temp_dir("wrap-home");
  REQUIRE(system(("mkdir -p " + home + "/.aws && echo '[default]' > " + home + "/.aws/credentials").c_str()) == 0);
  Recorder r;
  trace(r, {"/bin/sh", "-c",
            "cat " + home + "/.aws/credentials >/dev/null; cd " + home +
                "/.aws && cat credentials >/dev/null && cat ./../.aws/credentials >/dev/null; "
                "echo x > " +
                home + "/wrap-marker"});
  std::vector<std::string> paths;
  for (const auto& o : r.opens) paths.push_back(o.path);
  CHECK(std::count(paths.begin(), paths.end(), home + "/.aws/credentials") == 3);
  auto marker = std::find_if(r.opens.begin(), r.opens.end(),
                             [](const capture::Open& o) { return o.path.ends_with("wrap-marker"); });
  REQUIRE(marker != r.opens.end());
  CHECK(marker->write);
  CHECK_FALSE(r.opens.front().write);
}

namespace {

// What the helper's open-calls mode should produce: open, creat, openat
// (O_RDWR), openat2 and an open from a thread on DIR/credentials, by the
// helper's process; not its O_DIRECTORY open of DIR/dir/credentials.
std::string check_open_calls(const Recorder& r, const std::string& dir) {
  const capture::Exec* helper_exec = r.exec_with_arg("open-calls");
  if (!helper_exec) return "no exec of the helper";
  std::vector<bool> writes;
  for (const auto& o : r.opens) {
    if (!o.path.starts_with(dir + "/")) continue;  // the asan runtime reads /proc/self/environ
    if (o.path != dir + "/credentials") return "unexpected open of " + o.path;
    if (o.pid != helper_exec->pid) return "open by pid " + std::to_string(o.pid) + ", not the helper";
    writes.push_back(o.write);
  }
  if (writes != std::vector<bool>{false, true, true, false, false})
    return std::to_string(writes.size()) + " opens, or their write flags, differ";
  return "";
}

std::string open_calls_dir() {
  const std::string dir = testing::make_temp_dir("wrap-opens");
  REQUIRE(system(("mkdir -p " + dir + "/dir/credentials && : > " + dir + "/credentials").c_str()) == 0);
  return dir;
}

}  // namespace

TEST_CASE("every open call is answered by user notification, threads' too; directories pass") {
  const std::string dir = open_calls_dir();
  Recorder r;
  const auto out = trace(r, {helper(), "open-calls", dir});
  CHECK(out.exit_code == 0);
  CHECK(check_open_calls(r, dir) == "");
  CHECK(out.notifications > 0);
}

TEST_CASE(
    "under a filter that already has a listener, opens and connects stop under ptrace and are still seen, with "
    "results") {
  // Only one filter of a process's chain may have a listener: a nested run
  // (or a container runtime's filter) forces the ptrace path.
  const std::string dir = open_calls_dir();
  const std::string helper_path = helper();
  int result[2];
  REQUIRE(::pipe(result) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    sock_filter code[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
                          BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_acct, 0, 1),
                          BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
                          BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    sock_fprog prog{static_cast<unsigned short>(std::size(code)), code};
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    const long listener = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    std::string verdict = listener < 0 ? "cannot install the outer filter" : "";
    if (verdict.empty()) {
      Recorder r;
      wrap::Options o;
      o.command = {helper_path, "open-calls", dir};
      auto t = wrap::Tracer::start(o, r);
      if (!t) {
        verdict = t.error().message;
      } else {
        const auto out = (*t)->trace();
        verdict = out.exit_code != 0       ? "helper failed"
                  : out.notifications != 0 ? "notifications under a listener"
                                           : check_open_calls(r, dir);
      }
    }
    if (verdict.empty()) {  // connects too: stopped at entry and at exit for the result
      Recorder r;
      wrap::Options o;
      o.command = {"/bin/bash", "-c", "(exec 4<>/dev/tcp/127.0.0.1/1) 2>/dev/null; true"};
      auto t = wrap::Tracer::start(o, r);
      if (!t) {
        verdict = t.error().message;
      } else {
        (*t)->trace();
        verdict = r.connects.size() != 1 ? std::to_string(r.connects.size()) + " connects"
                  : r.connects[0].daddr != "127.0.0.1" || r.connects[0].dport != 1 ? "wrong destination"
                  : r.connects[0].result != -ECONNREFUSED ? "result " + std::to_string(r.connects[0].result)
                                                          : "";
      }
    }
    if (verdict.empty()) {  // a secret open: resumed to its exit for the result
      Recorder r;
      r.watch_results = true;
      wrap::Options o;
      o.command = {"/bin/sh", "-c", "cat " + dir + "/missing/credentials 2>/dev/null; cat " + dir + "/credentials"};
      auto t = wrap::Tracer::start(o, r);
      if (!t) {
        verdict = t.error().message;
      } else {
        (*t)->trace();
        std::string seen;
        for (const auto& op : r.opens)
          if (op.path.starts_with(dir + "/"))
            seen += op.path.substr(dir.size()) + " " + std::to_string(op.result) + ";";
        const std::string want = "/missing/credentials " + std::to_string(-ENOENT) + ";/credentials 0;";
        if (seen != want) verdict = "secret opens: " + seen;
      }
    }
    (void)!::write(result[1], verdict.data(), verdict.size());
    ::_exit(0);
  }
  ::close(result[1]);
  std::string verdict;
  char buf[256];
  for (ssize_t n; (n = ::read(result[0], buf, sizeof buf)) > 0;) verdict.append(buf, static_cast<std::size_t>(n));
  ::close(result[0]);
  int st = 0;
  ::waitpid(child, &st, 0);
  CHECK(WIFEXITED(st));
  CHECK(verdict == "");
}

namespace {

// The build connects over TCP (and writes through the socket, which must
// be its own, connected), UDP, and to a closed IPv6 port.
void check_connects(const wrap::NotifierOptions& notifier) {
  const int tcp = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(tcp, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(tcp, 8) == 0);
  socklen_t len = sizeof a;
  ::getsockname(tcp, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string port = std::to_string(ntohs(a.sin_port));
  Recorder r;
  wrap::Options o;
  o.command = {"/bin/bash", "-c",
               "exec 3<>/dev/tcp/127.0.0.1/" + port +
                   "; echo through-the-socket >&3; "
                   "echo x >/dev/udp/127.0.0.2/9; (exec 4<>/dev/tcp/::1/1) 2>/dev/null; true"};
  o.notifier = notifier;
  auto t0 = wrap::Tracer::start(o, r);
  REQUIRE_MESSAGE(t0.ok(), (t0 ? "" : t0.error().message));
  const auto out = (*t0)->trace();
  CHECK(out.exit_code == 0);
  CHECK(out.notifications > 0);
  const int conn = ::accept(tcp, nullptr, nullptr);
  REQUIRE(conn >= 0);
  char buf[64] = {};
  CHECK(::read(conn, buf, sizeof buf - 1) > 0);
  CHECK(std::string(buf) == "through-the-socket\n");
  ::close(conn);
  ::close(tcp);
  REQUIRE(r.connects.size() >= 3);
  auto find = [&](const std::string& addr) {
    return std::find_if(r.connects.begin(), r.connects.end(),
                        [&](const capture::Connect& c) { return c.daddr == addr; });
  };
  auto t = find("127.0.0.1");
  REQUIRE(t != r.connects.end());
  CHECK(t->protocol == "tcp");
  CHECK(std::to_string(t->dport) == port);
  CHECK(t->result == 0);
  auto u = find("127.0.0.2");
  REQUIRE(u != r.connects.end());
  CHECK(u->protocol == "udp");
  CHECK(u->dport == 9);
  auto v6 = find("::1");
  REQUIRE(v6 != r.connects.end());
  CHECK(v6->result == -ECONNREFUSED);
}

}  // namespace

TEST_CASE("connects: TCP and UDP, IPv4 and IPv6, made for the build with their result") { check_connects({}); }

TEST_CASE("blocking connects on threads of their own (as to a remote host) behave the same") {
  wrap::NotifierOptions no_inline;
  no_inline.loopback_connects_inline = false;
  check_connects(no_inline);
}

TEST_CASE("reads of another process's memory and environment") {
  Recorder r;
  trace(r, {helper(), "vm-read"});
  REQUIRE(r.accesses.size() == 2);
  CHECK(r.accesses[0].access == "process_vm_readv");
  CHECK(r.accesses[1].access == "ptrace_attach");
  CHECK(r.accesses[0].target_pid == r.accesses[1].target_pid);

  Recorder e;
  trace(e, {"/bin/sh", "-c", "cat /proc/$PPID/environ >/dev/null 2>&1; true"});
  REQUIRE_FALSE(e.opens.empty());
  CHECK(e.opens[0].path == "/proc/" + std::to_string(::getpid()) + "/environ");
}

namespace {

// The helper's refused-opens mode, traced: each attempt it printed
// ("<path> <0 or -errno>") is an open recorded with that result, in order.
void check_failed_attempts(bool ptrace_tree) {
  const std::string dir = testing::make_temp_dir("wrap-refused");
  REQUIRE(system(("mkdir -p " + dir + "/home/.aws " + dir + "/locked/.aws && echo x > " + dir +
                  "/home/.aws/credentials && chmod 600 " + dir + "/home/.aws/credentials && echo x > " + dir +
                  "/locked/.aws/credentials")
                     .c_str()) == 0);
  Recorder r;
  r.watch_results = true;
  const std::string out = dir + "/attempts";
  const auto outcome = trace(r, {"/bin/sh", "-c", helper() + " refused-opens " + dir + " >" + out},
                             std::chrono::seconds(10), ptrace_tree);
  CHECK(outcome.exit_code == 0);
  std::vector<std::pair<std::string, int64_t>> printed, recorded;
  auto text = fs::read_file(out, 1 << 16);
  REQUIRE(text);
  for (std::size_t at = 0; at < text->size();) {
    const std::size_t end = text->find('\n', at);
    const std::string line = text->substr(at, end - at);
    const std::size_t space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    printed.emplace_back(line.substr(0, space), std::stoll(line.substr(space + 1)));
    at = end == std::string::npos ? text->size() : end + 1;
  }
  REQUIRE(printed.size() == 4);
  CHECK(printed[0].second == -ENOENT);
  CHECK(printed[1].second == 0);
  CHECK((printed[2].second == -EACCES || printed[2].second == -EPERM));
  CHECK((printed[3].second == -EACCES || printed[3].second == -EPERM));
  for (const auto& o : r.opens)
    if (o.path.starts_with(dir + "/") || o.path.ends_with("/mem")) recorded.emplace_back(o.path, o.result);
  const auto text_of = [](const std::vector<std::pair<std::string, int64_t>>& list) {
    std::string t;
    for (const auto& [path, result] : list) t += path + " " + std::to_string(result) + "\n";
    return t;
  };
  CHECK(text_of(recorded) == text_of(printed));
}

}  // namespace

TEST_CASE(
    "failed attempts: a credential open that is missing or refused, and another's memory refused, carry the errno") {
  check_failed_attempts(false);
}

TEST_CASE("the ptrace tree records the same results") { check_failed_attempts(true); }

TEST_CASE("a command that does not exist is a setup error, not a build") {
  Recorder r;
  wrap::Options o;
  o.command = {"/nonexistent/buildtrail-command"};
  auto t = wrap::Tracer::start(o, r);
  REQUIRE_FALSE(t.ok());
  CHECK(t.error().code == ErrorCode::kNotFound);
  CHECK(t.error().message.find("/nonexistent/buildtrail-command") != std::string::npos);
}

TEST_CASE("paths are folded lexically") {
  CHECK(procfs::join_path("/a/b", "../c/./d") == "/a/c/d");
  CHECK(procfs::join_path("/", "x//y/") == "/x/y");
  CHECK(procfs::join_path("/a", "/etc/../etc/passwd") == "/etc/passwd");
  CHECK(procfs::join_path("/", "../../..") == "/");
}

TEST_CASE("socket copies: the same caller's through a kept pidfd, never a dead or gone caller's") {
  int pair[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  int gate[2];
  REQUIRE(::pipe(gate) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    char c;
    (void)!::read(gate[0], &c, 1);  // holds pair[0] until told to go
    ::_exit(0);
  }
  wrap::SocketCopier copier;
  int validated = 0;
  auto valid = [&] {
    ++validated;
    return true;
  };
  bool leader = false;
  const int first = copier.copy(child, pair[0], &leader, valid);
  CHECK(first >= 0);
  CHECK(leader);
  const int again = copier.copy(child, pair[0], &leader, valid);
  CHECK(again >= 0);
  CHECK(validated == 2);  // each copy is proved the waiting caller's
  for (int fd : {first, again})
    if (fd >= 0) ::close(fd);
  // A caller that is no longer waiting: nothing is copied, nothing kept.
  wrap::SocketCopier refusing;
  CHECK(refusing.copy(child, pair[0], &leader, [] { return false; }) == -1);
  (void)!::write(gate[1], "x", 1);
  int status = 0;
  ::waitpid(child, &status, 0);
  // Dead and reaped: the kept pidfd copies nothing, and neither does a new one.
  CHECK(copier.copy(child, pair[0], &leader, valid) == -1);
  for (int fd : {pair[0], pair[1], gate[0], gate[1]}) ::close(fd);
}

TEST_CASE("stdio from /proc: a pipe, a named Unix socket's peer, /dev/null; a closed descriptor; a TCP peer") {
  const std::string dir = testing::make_temp_dir("wrap-stdio");
  // A listening Unix socket, its peer name the path; a TCP one on loopback.
  const int server = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  const std::string path = dir + "/peer.sock";
  std::snprintf(un.sun_path, sizeof(un.sun_path), "%s", path.c_str());
  REQUIRE(::bind(server, reinterpret_cast<sockaddr*>(&un), sizeof(un)) == 0);
  REQUIRE(::listen(server, 4) == 0);
  const int tcp_server = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(tcp_server, reinterpret_cast<sockaddr*>(&in), sizeof(in)) == 0);
  REQUIRE(::listen(tcp_server, 4) == 0);
  socklen_t len = sizeof(in);
  REQUIRE(::getsockname(tcp_server, reinterpret_cast<sockaddr*>(&in), &len) == 0);
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  int go[2], ready[2];
  REQUIRE(::pipe(go) == 0);
  REQUIRE(::pipe(ready) == 0);
  for (bool tcp : {false, true}) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      const int s = ::socket(tcp ? AF_INET : AF_UNIX, SOCK_STREAM, 0);
      const bool ok = tcp ? ::connect(s, reinterpret_cast<sockaddr*>(&in), sizeof(in)) == 0
                          : ::connect(s, reinterpret_cast<sockaddr*>(&un), sizeof(un)) == 0;
      const int null = ::open("/dev/null", O_RDONLY);
      if (!ok || ::dup2(pipe_fds[0], 0) < 0 || ::dup2(tcp ? s : null, 1) < 0 || ::dup2(tcp ? null : s, 2) < 0)
        ::_exit(1);
      if (tcp) ::close(2);
      if (::write(ready[1], "r", 1) != 1) ::_exit(1);
      char c;
      if (::read(go[0], &c, 1) != 1) ::_exit(1);
      ::_exit(0);
    }
    char c;
    REQUIRE(::read(ready[0], &c, 1) == 1);  // its descriptors are set up
    const auto s = procfs::read_stdio(child);
    struct stat st {};
    REQUIRE(::fstat(pipe_fds[0], &st) == 0);
    CHECK(s[0] == capture::StdioFd{"pipe", st.st_ino, ""});
    if (tcp) {
      CHECK(s[1].kind == "socket");
      CHECK(s[1].remote == "127.0.0.1:" + std::to_string(ntohs(in.sin_port)));
      CHECK(s[1].inode != 0);
      CHECK(s[2] == capture::StdioFd{"closed", 0, ""});
    } else {
      CHECK(s[1] == capture::StdioFd{"null", 0, ""});
      CHECK(s[2].kind == "socket");
      CHECK(s[2].remote == "unix:" + path);
    }
    REQUIRE(::write(go[1], "gg", 1) == 1);
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  for (int fd : {server, tcp_server, pipe_fds[0], pipe_fds[1], go[0], go[1], ready[0], ready[1]}) ::close(fd);
}

TEST_CASE("file writes: creates, truncates, renames, unlinks and chmod +x, resolved, in both trees") {
  for (const bool ptrace_tree : {false, true}) {
    CAPTURE(ptrace_tree);
    const std::string dir = testing::make_temp_dir("wrap-writes");
    Recorder r;
    const std::string script =
        "cd " + dir +
        " && echo a > new.txt && echo b > new.txt && echo c >> new.txt"
        " && mv new.txt moved.txt && chmod 0644 moved.txt && chmod +x moved.txt"
        " && truncate -s 1 moved.txt && /usr/bin/python3 -c \"import os; os.truncate('moved.txt', 0)\""
        " && rm moved.txt && cat /etc/hostname > /dev/null";
    const auto out = trace(r, {"/bin/sh", "-c", script}, std::chrono::seconds(10), ptrace_tree);
    CHECK(out.exit_code == 0);
    using Op = capture::FileWrite::Op;
    std::vector<std::string> seen;
    for (const auto& w : r.writes) {
      if (w.path.rfind(dir + "/", 0) != 0) continue;  // the shell's own (none expected), the loader's...
      CHECK(w.pid != 0);
      std::string line = std::to_string(static_cast<int>(w.op)) + " " + w.path.substr(dir.size() + 1);
      if (w.op == Op::open) line += w.created ? " created" : (w.flags & O_TRUNC) ? " trunc" : " write";
      if (!w.new_path.empty()) line += " -> " + w.new_path.substr(dir.size() + 1);
      if (w.op == Op::chmod) line += " " + std::to_string(w.flags & 0777);
      seen.push_back(line);
    }
    // chmod 0644 has no execute bit: the filter lets it through unseen.
    CHECK(seen == std::vector<std::string>{"0 new.txt created", "0 new.txt trunc", "0 new.txt write",
                                           "1 new.txt -> moved.txt", "3 moved.txt 493", "0 moved.txt write",
                                           "4 moved.txt", "2 moved.txt"});
  }
}
